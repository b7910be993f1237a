"""Operator command for API keys, kept under its old name: the same as ``tools/ops.py`` (which also has
the dead-letter queue and integration subcommands).

  python tools/apikeys.py --stack apviso-integrations-dev issue --account acct_123
  python tools/apikeys.py --stack apviso-integrations-dev list --account acct_123
  python tools/apikeys.py --stack apviso-integrations-dev revoke --account acct_123 --key-id 3f9c0a1b2c4d
"""

from __future__ import annotations

import sys

from ops import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
