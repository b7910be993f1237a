"""Check that a built layer ships every module compiled for python3.13, in the form Lambda can use as it is.

Lambda mounts the layer read-only at /opt, so a module without its .pyc is compiled again at every cold start,
and a timestamp-checked .pyc is compared with a source whose time the zip did not keep. So every ``.py`` must
have its ``__pycache__/<name>.cpython-313.pyc``, hash-based and unchecked (PEP 552 flags = 0b01), with the hash
of the source beside it (a stale .pyc would load code the source no longer holds).

    python tools/layer_bytecode.py .aws-sam/build/DomainLayer/python
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

# CPython 3.13's bytecode magic (every 3.13.x release has it): the runtime's interpreter, not necessarily this one.
MAGIC_313 = (3571).to_bytes(2, "little") + b"\r\n"
TAG = "cpython-313"
UNCHECKED_HASH_FLAGS = 0b01  # bit 0: hash-based; bit 1 (check_source) clear


def problem(source: Path) -> str | None:
    """Why ``source`` has no usable python3.13 bytecode, or None when it has."""
    compiled = source.parent / "__pycache__" / f"{source.stem}.{TAG}.pyc"
    if not compiled.is_file():
        return "no .pyc"
    header = compiled.read_bytes()[:16]
    if header[:4] != MAGIC_313:
        return f"not python3.13 bytecode (magic {header[:4].hex()})"
    flags = int.from_bytes(header[4:8], "little")
    if flags != UNCHECKED_HASH_FLAGS:
        return f"invalidation flags {flags:#04b}, not unchecked-hash (0b01)"
    if header[8:16] != importlib.util.source_hash(source.read_bytes()):
        return "stale: compiled from another version of the source"
    return None


def check(layer: Path) -> list[str]:
    """One line per module of ``layer`` without usable bytecode (empty when every module has it)."""
    sources = sorted(layer.rglob("*.py"))
    if not sources:
        return [f"{layer}: no modules (not a built layer?)"]
    return [f"{source.relative_to(layer)}: {why}" for source in sources if (why := problem(source))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("layer", type=Path, help="the layer's python/ folder, as Lambda mounts it at /opt/python")
    args = parser.parse_args(argv)
    failures = check(args.layer)
    for line in failures:
        print(line, file=sys.stderr)
    modules = sum(1 for _ in args.layer.rglob("*.py"))
    if failures:
        print(f"{len(failures)} of {modules} modules lack python3.13 unchecked-hash bytecode", file=sys.stderr)
        return 1
    print(f"{modules} modules, each with its python3.13 unchecked-hash .pyc")
    return 0


if __name__ == "__main__":
    sys.exit(main())
