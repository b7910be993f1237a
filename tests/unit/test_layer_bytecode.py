"""tools/layer_bytecode.py: the build check accepts only unchecked-hash python3.13 bytecode that matches its source."""

from __future__ import annotations

import py_compile
import sys
from pathlib import Path

import layer_bytecode
import pytest

pytestmark = pytest.mark.skipif(sys.version_info[:2] != (3, 13), reason="compiles with this interpreter: 3.13 only")


def _module(folder: Path, name: str, mode: py_compile.PycInvalidationMode | None) -> Path:
    source = folder / f"{name}.py"
    source.write_text(f"VALUE = {name!r}\n")
    if mode is not None:
        py_compile.compile(
            str(source), cfile=str(folder / "__pycache__" / f"{name}.cpython-313.pyc"), invalidation_mode=mode
        )
    return source


def test_unchecked_hash_bytecode_passes(tmp_path: Path) -> None:
    _module(tmp_path, "good", py_compile.PycInvalidationMode.UNCHECKED_HASH)
    assert layer_bytecode.check(tmp_path) == []
    assert layer_bytecode.main([str(tmp_path)]) == 0


@pytest.mark.parametrize(
    ("mode", "why"),
    [
        (None, "no .pyc"),
        (py_compile.PycInvalidationMode.TIMESTAMP, "invalidation flags 0b00"),
        (py_compile.PycInvalidationMode.CHECKED_HASH, "invalidation flags 0b11"),
    ],
)
def test_missing_or_checked_bytecode_fails(
    tmp_path: Path, mode: py_compile.PycInvalidationMode | None, why: str
) -> None:
    _module(tmp_path, "good", py_compile.PycInvalidationMode.UNCHECKED_HASH)
    _module(tmp_path, "bad", mode)
    [line] = layer_bytecode.check(tmp_path)
    assert line.startswith(f"bad.py: {why}")
    assert layer_bytecode.main([str(tmp_path)]) == 1


def test_bytecode_of_another_source_is_stale(tmp_path: Path) -> None:
    source = _module(tmp_path, "changed", py_compile.PycInvalidationMode.UNCHECKED_HASH)
    source.write_text("VALUE = 'edited after the build'\n")
    assert layer_bytecode.check(tmp_path) == ["changed.py: stale: compiled from another version of the source"]


def test_other_python_versions_bytecode_fails(tmp_path: Path) -> None:
    _module(tmp_path, "old", py_compile.PycInvalidationMode.UNCHECKED_HASH)
    compiled = tmp_path / "__pycache__" / "old.cpython-313.pyc"
    data = bytearray(compiled.read_bytes())
    data[:2] = (3495).to_bytes(2, "little")  # python3.12's magic
    compiled.write_bytes(bytes(data))
    [line] = layer_bytecode.check(tmp_path)
    assert "not python3.13 bytecode" in line


def test_an_empty_folder_is_not_a_layer(tmp_path: Path) -> None:
    assert layer_bytecode.check(tmp_path) == [f"{tmp_path}: no modules (not a built layer?)"]
