"""template.yaml's deploy-time choices: log retention, the pinned Powertools layer, and checkov's reasoned skips."""

from __future__ import annotations

import re

import pytest

from devstack.provision import plan
from devstack.template import load_template
from tests.conftest import ROOT

TEMPLATE = load_template(ROOT / "template.yaml")


@pytest.mark.parametrize(
    ("parameters", "days"),
    [
        ({}, 14),
        ({"Environment": "prod"}, 365),
        ({"LogRetentionDays": "90"}, 90),
        ({"Environment": "prod", "LogRetentionDays": "3653"}, 3653),
    ],
)
def test_log_retention_is_the_environments_unless_overridden(parameters: dict[str, str], days: int) -> None:
    resolver = plan(TEMPLATE, "st", parameters).resolver
    assert resolver is not None
    groups = TEMPLATE.of_type("AWS::Logs::LogGroup")
    assert "ApiAccessLogGroup" in groups
    for logical_id in groups:
        assert int(resolver.resolve(TEMPLATE.properties(logical_id)["RetentionInDays"])) == days, logical_id


def _pinned(requirements: str, package: str) -> str:
    [version] = re.findall(rf"^{re.escape(package)}(?:\[[^\]]*\])?==([^\s;#]+)", requirements, re.M)
    return str(version)


def test_the_powertools_layer_is_the_version_the_tests_run_against() -> None:
    parameter = TEMPLATE.body["Parameters"]["PowertoolsLayerArn"]
    assert parameter["Type"] == "AWS::SSM::Parameter::Value<String>"
    match = re.fullmatch(r"/aws/service/powertools/python/arm64/python3\.13/(\d+\.\d+\.\d+)", parameter["Default"])
    assert match, parameter["Default"]
    layer_version = match.group(1)
    assert _pinned((ROOT / "requirements" / "dev.in").read_text(), "aws-lambda-powertools") == layer_version
    assert _pinned((ROOT / "requirements" / "dev.txt").read_text(), "aws-lambda-powertools") == layer_version
    # The domain layer does not ship its own Powertools: the public layer's is the one.
    assert "aws-lambda-powertools" not in (ROOT / "layers" / "domain" / "requirements.txt").read_text()
    # and the functions run on the architecture and runtime the parameter's path names
    function_globals = TEMPLATE.body["Globals"]["Function"]
    assert function_globals["Architectures"] == ["arm64"]
    assert function_globals["Runtime"] == "python3.13"


def test_every_checkov_skip_says_why() -> None:
    lines = (ROOT / ".checkov.yaml").read_text().splitlines()
    start = lines.index("skip-check:") + 1
    entries = [line for line in lines[start:] if line.startswith("  - ")]
    assert entries
    for entry in entries:
        match = re.fullmatch(r"  - (CKV2?_AWS_\d+)  # (.{20,})", entry)
        assert match, f"a skip without a reason: {entry!r}"
