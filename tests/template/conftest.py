"""The template as CloudFormation would deploy it, for each parameter set CI checks (tools/transform_template.py).

The transform runs in the tools virtualenv (SAM CLI's language extensions and samtranslator), as a subprocess:
`make test` has just written `.aws-sam/transformed/` (`make template-check`), and those files are used when they
are newer than the template and the transform; otherwise the fixture transforms into a temporary folder itself.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from transform_template import CONFIGS

from devstack.template import NO_VALUE, Resolver, Template

ROOT = Path(__file__).resolve().parents[2]
TOOLS_PYTHON = ROOT / ".venv-tools" / "bin" / "python"
SCRIPT = ROOT / "tools" / "transform_template.py"
MADE_BY_MAKE = ROOT / ".aws-sam" / "transformed"


@dataclass(frozen=True)
class Deployed:
    """One transformed template and what CloudFormation would make of it for its parameter values."""

    name: str
    body: dict[str, Any]
    parameters: Mapping[str, str]
    resolver: Resolver

    def condition(self, name: str) -> bool:
        """A condition of the template, for these parameter values."""
        return self.resolver.condition(name)

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        """The resources that exist (their Condition true), with every Fn::If decided and AWS::NoValue dropped."""
        return {
            logical_id: self.decide(resource)
            for logical_id, resource in self.body["Resources"].items()
            if "Condition" not in resource or self.condition(resource["Condition"])
        }

    @property
    def outputs(self) -> dict[str, dict[str, Any]]:
        """The outputs that exist, decided like the resources."""
        return {
            key: self.decide(output)
            for key, output in (self.body.get("Outputs") or {}).items()
            if "Condition" not in output or self.condition(output["Condition"])
        }

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        """Existing resources of one type."""
        return {lid: res for lid, res in self.resources.items() if res["Type"] == resource_type}

    def decide(self, value: Any) -> Any:
        """Fn::If replaced by its branch for these parameters, AWS::NoValue removed; everything else kept."""
        if isinstance(value, list):
            return [item for item in (self.decide(v) for v in value) if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if list(value) == ["Fn::If"]:
            name, when_true, when_false = value["Fn::If"]
            return self.decide(when_true if self.condition(name) else when_false)
        if value == {"Ref": "AWS::NoValue"}:
            return NO_VALUE
        decided = {key: self.decide(item) for key, item in value.items()}
        return {key: item for key, item in decided.items() if item is not NO_VALUE}

    def resolve(self, value: Any) -> Any:
        """A value with its parameters, pseudo parameters, Fn::Sub, Fn::Select… resolved (no resource refs)."""
        return self.resolver.resolve(value)


def _fresh(folder: Path) -> bool:
    files = [folder / f"{name}.json" for name in CONFIGS]
    if not all(path.is_file() for path in files):
        return False
    inputs = max(path.stat().st_mtime for path in (ROOT / "template.yaml", SCRIPT))
    return min(path.stat().st_mtime for path in files) > inputs


@pytest.fixture(scope="session")
def transformed_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with one transformed template per parameter set, up to date with template.yaml."""
    if _fresh(MADE_BY_MAKE):
        return MADE_BY_MAKE
    if not TOOLS_PYTHON.exists():
        pytest.fail(f"{TOOLS_PYTHON} is missing: run `make setup` (the transform needs SAM CLI)")
    out = tmp_path_factory.mktemp("transformed")
    subprocess.run([str(TOOLS_PYTHON), str(SCRIPT), "--out", str(out)], check=True, capture_output=True, cwd=ROOT)
    return out


@pytest.fixture(scope="session")
def deployed(transformed_dir: Path) -> dict[str, Deployed]:
    """Every parameter set's transformed template, by config name (dev, prod, console-off)."""
    result = {}
    for name, parameters in CONFIGS.items():
        path = transformed_dir / f"{name}.json"
        body = json.loads(path.read_text())
        resolver = Resolver(Template(path=path, body=body), stack_name="apviso-integrations", parameters=parameters)
        result[name] = Deployed(name, body, parameters, resolver)
    return result
