"""The domain package's layers (integrations/__init__.py): every import runs downward or within a layer."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "layers" / "domain" / "integrations"
# Lowest first. A module imports only from its own layer or a lower one.
LAYERS = ["platform", "vocabulary", "providers", "models", "storage", "delivery", "api"]
TOP_LEVEL = {"catalog": "vocabulary", "events": "vocabulary", "models": "models"}


def layer_of(module: str) -> str:
    """``integrations.delivery.dispatch`` -> ``delivery``; a top-level module by the table above."""
    parts = module.split(".")
    assert parts[0] == "integrations" and len(parts) > 1, module
    head = parts[1]
    if head in LAYERS:
        return head
    assert head in TOP_LEVEL, f"integrations.{head} belongs to no layer: add it to a subpackage or to TOP_LEVEL"
    return TOP_LEVEL[head]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def runtime_imports(tree: ast.Module) -> list[tuple[int, str]]:
    """The package's modules imported at run time: imports under ``if TYPE_CHECKING:`` are annotations only."""
    type_only = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and ast.unparse(block.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING")
        for statement in block.body
        for node in ast.walk(statement)
    }
    found = []
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("integrations"):
            for alias in node.names:  # `from integrations.delivery import dispatch` imports the module itself
                candidate = f"{node.module}.{alias.name}"
                is_module = (PACKAGE.parent / candidate.replace(".", "/")).with_suffix(".py").exists()
                found.append((node.lineno, candidate if is_module else str(node.module)))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names if alias.name.startswith("integrations.")]
        assert not (isinstance(node, ast.ImportFrom) and node.level), "absolute imports only"
    return found


def test_every_import_runs_down_the_layers() -> None:
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = module_name(path)
        if module == "integrations":
            continue
        own = LAYERS.index(layer_of(module))
        for line, imported in runtime_imports(ast.parse(path.read_text())):
            if imported != "integrations" and LAYERS.index(layer_of(imported)) > own:
                upward.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {imported}")
    assert upward == []


def test_the_check_sees_an_upward_import() -> None:
    # The rule can fail: a provider importing the delivery pipeline would be reported.
    tree = ast.parse("from integrations.delivery import dispatch\nfrom integrations.platform.clock import now\n")
    imported = [name for _, name in runtime_imports(tree)]
    assert imported == ["integrations.delivery.dispatch", "integrations.platform.clock"]
    assert LAYERS.index(layer_of(imported[0])) > LAYERS.index(layer_of("integrations.providers.slack"))


def test_type_only_imports_are_not_run_time_dependencies() -> None:
    tree = ast.parse("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from integrations.api import service\n")
    assert runtime_imports(tree) == []


def loaded_with(imports: str, prefix: str) -> list[str]:
    """The modules under ``prefix`` that a fresh interpreter has loaded after ``import <imports>``."""
    probe = f"import sys, {imports}; print(sorted(m for m in sys.modules if m.startswith({prefix!r})))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    loaded: list[str] = ast.literal_eval(done.stdout.strip())
    return loaded


def test_the_service_loads_the_providers_only_where_it_validates() -> None:
    # The list, delete and logs routes import the service but never need a provider (docs/cold-starts.md).
    assert loaded_with("integrations.api.service", "integrations.providers") == []


def test_what_a_provider_reports_back_loads_no_provider() -> None:
    # The delivery-log store and health import providers.delivery only: the package loads no provider module with it.
    loaded = loaded_with("integrations.storage.delivery_logs, integrations.delivery.health", "integrations.providers")
    assert loaded == ["integrations.providers", "integrations.providers.delivery"]


def test_the_dispatcher_loads_none_of_the_apis_models() -> None:
    # Writing a delivery log entry needs no response model: only what shows entries imports them (the logs route).
    assert loaded_with("integrations.delivery.dispatch, integrations.delivery.batch", "integrations.models") == []
