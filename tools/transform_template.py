"""Transform template.yaml offline into the CloudFormation that CloudFormation itself would deploy.

Run with the tools virtualenv (SAM CLI and its translator): `.venv-tools/bin/python tools/transform_template.py`.
For each parameter set in CONFIGS it does what the template's two transforms do at deploy, in their order:

1. AWS::LanguageExtensions, through SAM CLI's own implementation of it (`samcli.lib.cfn_language_extensions`,
   the code `sam build` and `sam validate` use): with the parameter values known, it resolves the Fn::If of
   DeletionPolicy / UpdateReplacePolicy and of the resources' properties whose conditions depend on parameters
   only (CORS and the gateway responses without the console, the alarms' actions), Fn::FindInMap, Fn::ForEach.
   samtranslator alone leaves those to SAM, which cannot handle them (an Fn::If is no DeletionPolicy).
   It leaves the SAM-only Globals section alone (decided after, below).
2. AWS::Serverless-2016-10-31, through samtranslator, with local CodeUri/ContentUri replaced by placeholder
   S3 locations as `sam validate` does (no upload, no AWS call).

Resources and outputs whose condition is false for the parameter set are left out, and the Fn::If of the
Globals decided, as CloudFormation would at deploy: each result is what the stack would hold. The results
(`<out>/<config>.json`) are what checkov, cfn-lint and tests/template read.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / ".aws-sam" / "transformed"

REGION = "us-east-1"
# What samtranslator asks boto for when not given; the stack's name and account stay for CloudFormation to fill.
TRANSLATOR_PSEUDO_PARAMETERS = {"AWS::Region": REGION, "AWS::Partition": "aws"}

# The parameter sets CI checks: a dev stack with the console and an e-mailed alarm topic of its own, production
# notifying an existing topic, and the default (console off, as a fresh account deploys first).
CONFIGS: dict[str, dict[str, str]] = {
    "dev": {"Environment": "dev", "DeployConsole": "true", "AlarmEmail": "oncall@example.com"},
    "prod": {
        "Environment": "prod",
        "DeployConsole": "true",
        "AlarmTopicArn": "arn:aws:sns:us-east-1:123456789012:oncall",
        "ManageApiGatewayLogsRole": "false",
        "SnapStart": "PublishedVersions",  # as samconfig.toml's prod parameters
    },
    "console-off": {},
}

_PLACEHOLDER_S3 = {"Bucket": "placeholder-bucket", "Key": "placeholder-key"}
_LOCAL_ARTIFACTS = {
    "AWS::Serverless::Function": "CodeUri",
    "AWS::Serverless::LayerVersion": "ContentUri",
}


def load(path: Path) -> dict[str, Any]:
    """Read the template as CloudFormation does (short tags become their long forms)."""
    from samcli.yamlhelper import yaml_parse

    body = yaml_parse(path.read_text(encoding="utf-8"))
    if not isinstance(body, dict):
        raise SystemExit(f"{path} is not a template")
    return body


def language_extensions(template: dict[str, Any], parameters: dict[str, str]) -> dict[str, Any]:
    """AWS::LanguageExtensions for these parameter values, by SAM CLI's implementation of it.

    Its default pipeline also resolves Fn::Sub, and in SAM CLI 1.170 a Fn::Sub that names a resource
    (`${Api}`) comes out as a plain string with the placeholder in it. Resolving Fn::Sub, Fn::Join, Fn::Select,
    Fn::Split and Fn::Base64 early changes nothing CloudFormation would not do itself at deploy, so this
    pipeline leaves them to CloudFormation and resolves only what SAM needs resolved before it runs.
    """
    from samcli.lib.cfn_language_extensions import api as le
    from samcli.lib.cfn_language_extensions import resolvers
    from samcli.lib.cfn_language_extensions.models import ResolutionMode, TemplateProcessingContext
    from samcli.lib.cfn_language_extensions.pipeline import ProcessingPipeline
    from samcli.lib.cfn_language_extensions.processors import (
        DeletionPolicyProcessor,
        ForEachProcessor,
        TemplateParsingProcessor,
        UpdateReplacePolicyProcessor,
    )

    context = TemplateProcessingContext(
        fragment=copy.deepcopy(template), parameter_values=dict(parameters), resolution_mode=ResolutionMode.PARTIAL
    )
    resolver = resolvers.IntrinsicResolver(context)
    for kind in (
        resolvers.ConditionResolver,
        resolvers.FnIfResolver,
        resolvers.FnRefResolver,
        resolvers.FnLengthResolver,
        resolvers.FnFindInMapResolver,
        resolvers.FnToJsonStringResolver,
    ):
        resolver.register_resolver(kind)
    pipeline = ProcessingPipeline(
        [
            TemplateParsingProcessor(),
            ForEachProcessor(intrinsic_resolver=resolver),
            le.IntrinsicResolverProcessor(resolver),
            DeletionPolicyProcessor(),
            UpdateReplacePolicyProcessor(),
        ]
    )
    body: dict[str, Any] = pipeline.process_template(context)
    # What a false condition leaves out, CloudFormation never creates: drop it rather than lint the partial
    # resolution the extensions leave of it (a subscription without its topic). The SAM-only Globals keep their
    # Fn::If, which CloudFormation decides at deploy; decide them here too, so that nothing refers to what was
    # dropped (the console's origin in the functions' environment).
    decided: dict[str, bool] = context.resolved_conditions
    for section in ("Resources", "Outputs"):
        entries = body.get(section) or {}
        for key in [k for k, entry in entries.items() if decided.get(entry.get("Condition", "")) is False]:
            del entries[key]
    if "Globals" in body:
        body["Globals"] = _decide(body["Globals"], decided)
    # The language extensions are done; what remains is the SAM transform's input.
    body["Transform"] = [t for t in _transforms(body) if t != "AWS::LanguageExtensions"]
    return body


_NO_VALUE = {"Ref": "AWS::NoValue"}


def _decide(value: Any, conditions: dict[str, bool]) -> Any:
    """Each Fn::If replaced by its branch for the decided conditions, AWS::NoValue entries removed."""
    if isinstance(value, list):
        return [item for item in (_decide(v, conditions) for v in value) if item != _NO_VALUE]
    if not isinstance(value, dict):
        return value
    if list(value) == ["Fn::If"] and value["Fn::If"][0] in conditions:
        name, when_true, when_false = value["Fn::If"]
        return _decide(when_true if conditions[name] else when_false, conditions)
    decided = {key: _decide(item, conditions) for key, item in value.items()}
    return {key: item for key, item in decided.items() if item != _NO_VALUE}


def transform(template: dict[str, Any], parameters: dict[str, str]) -> dict[str, Any]:
    """The template as CloudFormation would have it after both transforms, for these parameter values."""
    import boto3
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    body = language_extensions(template, parameters)
    for resource in (body.get("Resources") or {}).values():
        artifact = _LOCAL_ARTIFACTS.get(str(resource.get("Type")))
        if artifact and isinstance((resource.get("Properties") or {}).get(artifact), str):
            resource["Properties"][artifact] = dict(_PLACEHOLDER_S3)

    def no_managed_policy_lookups() -> dict[str, str]:
        raise SystemExit("the template names a managed policy by name: the offline transform cannot look it up")

    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name=REGION))
    values = {**TRANSLATOR_PSEUDO_PARAMETERS, **parameters}
    result: dict[str, Any] = translator.translate(
        body, parameter_values=values, get_managed_policy_map=no_managed_policy_lookups
    )
    return result


def _transforms(body: dict[str, Any]) -> list[str]:
    transform = body.get("Transform") or []
    return [transform] if isinstance(transform, str) else list(transform)


def main(argv: list[str] | None = None) -> int:
    """Write one transformed template per parameter set."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--template", type=Path, default=ROOT / "template.yaml")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for <config>.json")
    parser.add_argument("--config", action="append", choices=sorted(CONFIGS), help="only these (repeatable)")
    args = parser.parse_args(argv)
    # samtranslator warns about feature toggles and unpublished metrics of its own: not about the template.
    logging.basicConfig(level=logging.ERROR)
    template = load(args.template)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.config or CONFIGS:
        result = transform(template, CONFIGS[name])
        path = args.out / f"{name}.json"
        path.write_text(json.dumps(result, indent=1, sort_keys=False) + "\n", encoding="utf-8")
        print(f"{path}: {len(result['Resources'])} resources")
    return 0


if __name__ == "__main__":
    sys.exit(main())
