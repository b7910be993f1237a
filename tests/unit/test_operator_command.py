"""The operator command is installed into the virtualenv and runs from there with no environment set-up."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import ops
import pytest

COMMAND = Path(sys.executable).parent / "integrations-ops"


def subcommands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command path of the parser, e.g. ('keys', 'issue')."""
    found: list[tuple[str, ...]] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += [(*prefix, name), *subcommands(sub, (*prefix, name))]
    return found


@pytest.mark.parametrize("path", [(), *subcommands(ops.parser())], ids=lambda path: " ".join(path) or "top")
def test_every_subcommand_has_help_from_the_installed_command(path: tuple[str, ...]) -> None:
    done = subprocess.run(
        [str(COMMAND), *path, "--help"], env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: integrations-ops" + "".join(f" {part}" for part in path))


def test_key_commands_live_under_keys_only() -> None:
    with pytest.raises(SystemExit):
        ops.parser().parse_args(["issue", "--account", "acct_1"])
    assert ops.parser().parse_args(["keys", "issue", "--account", "acct_1"]).action == "issue"
