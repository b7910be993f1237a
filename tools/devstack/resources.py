"""What each logical id of a template becomes: physical name, Ref, ARN and attributes."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from devstack.template import ACCOUNT_ID, PARTITION, REGION, Resolver, TemplateError, to_env_value

# The property that names a resource, when the template chooses the physical name itself.
NAME_PROPERTY = {
    "AWS::DynamoDB::Table": "TableName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::Events::EventBus": "Name",
    "AWS::Events::Rule": "Name",
    "AWS::SecretsManager::Secret": "Name",
    "AWS::SSM::Parameter": "Name",
    "AWS::Serverless::Function": "FunctionName",
    "AWS::Serverless::LayerVersion": "LayerName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::IAM::Role": "RoleName",
}


@dataclass
class ResourceRecord:
    """What a logical id became: its physical name, what Ref returns, its ARN and other attributes."""

    logical_id: str
    type: str
    name: str
    ref: str
    arn: str
    attributes: dict[str, str] = field(default_factory=dict)
    status: str = "planned"  # created | served | ignored | unsupported


class Resources(Mapping[str, ResourceRecord]):
    """The provisioned resources by logical id; answers Ref and Fn::GetAtt for the resolver."""

    def __init__(self) -> None:
        self._records: dict[str, ResourceRecord] = {}
        self.resolver: Resolver | None = None

    def __getitem__(self, logical_id: str) -> ResourceRecord:
        return self._records[logical_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._records)

    def __len__(self) -> int:
        return len(self._records)

    def add(self, record: ResourceRecord) -> None:
        """Record a resource."""
        self._records[record.logical_id] = record

    def ref(self, logical_id: str) -> str:
        """What Ref returns for a resource."""
        return self[logical_id].ref

    def arn(self, logical_id: str) -> str:
        """A resource's ARN."""
        return self[logical_id].arn

    def get_att(self, logical_id: str, attribute: str) -> str:
        """What Fn::GetAtt returns for a resource attribute."""
        record = self[logical_id]
        if attribute == "Arn":
            return record.arn
        if attribute not in record.attributes:
            raise TemplateError(f"{logical_id} ({record.type}) has no attribute {attribute} in the local stack")
        return record.attributes[attribute]

    def of_type(self, resource_type: str) -> list[ResourceRecord]:
        """Records of one resource type, in creation order."""
        return [record for record in self._records.values() if record.type == resource_type]

    def by_arn(self, arn: str) -> ResourceRecord | None:
        """The record with this ARN, if any (a function's ARN qualified by an alias or version names the function)."""
        parts = arn.split(":")
        if parts[2:3] == ["lambda"] and parts[5:6] == ["function"] and len(parts) == 8:
            arn = ":".join(parts[:7])
        return next((record for record in self._records.values() if record.arn == arn), None)

    def logical_id_of(self, raw: Any, what: str) -> str:
        """The logical id behind an unresolved Ref / Fn::GetAtt, or behind a literal ARN of a known resource."""
        if isinstance(raw, Mapping) and "Ref" in raw:
            return function_of(str(raw["Ref"]))
        if isinstance(raw, Mapping) and "Fn::GetAtt" in raw:
            target = raw["Fn::GetAtt"]
            return str(target.split(".", 1)[0] if isinstance(target, str) else target[0])
        record = self.by_arn(str(raw))
        if record is None:
            raise TemplateError(f"{what}: {raw!r} is not a resource of this template")
        return record.logical_id


# SAM's references to what AutoPublishAlias makes of a function: its alias and its published version. The local
# stack has no versions: each function runs its one code, so both stand for the function itself.
PUBLISHED_SUFFIXES = (".Alias", ".Version")


def function_of(name: str) -> str:
    """The logical id behind SAM's ``MyFunction.Alias`` / ``MyFunction.Version`` (any other name unchanged)."""
    for suffix in PUBLISHED_SUFFIXES:
        if name.endswith(suffix):
            return name.removesuffix(suffix)
    return name


def _arn(service: str, resource: str, *, region: str = REGION) -> str:
    return f"arn:{PARTITION}:{service}:{region}:{ACCOUNT_ID}:{resource}"


def _identity(resource_type: str, name: str) -> tuple[str, str, dict[str, str]]:
    """Ref, ARN and attributes a resource of this type and name has (before any AWS call)."""
    if resource_type == "AWS::DynamoDB::Table":
        return name, _arn("dynamodb", f"table/{name}"), {}
    if resource_type == "AWS::SQS::Queue":
        url = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT_ID}/{name}"
        arn = _arn("sqs", name)
        return url, arn, {"QueueName": name, "QueueUrl": url}
    if resource_type == "AWS::SNS::Topic":
        arn = _arn("sns", name)
        return arn, arn, {"TopicArn": arn, "TopicName": name}
    if resource_type == "AWS::Events::EventBus":
        return name, _arn("events", f"event-bus/{name}"), {"Name": name}
    if resource_type == "AWS::Events::Rule":
        return name, _arn("events", f"rule/{name}"), {}
    if resource_type in ("AWS::SecretsManager::Secret", "AWS::SNS::Subscription"):
        arn = _arn(resource_type.split("::")[1].lower(), name)
        return arn, arn, {}
    if resource_type == "AWS::Serverless::Function":
        return name, _arn("lambda", f"function:{name}"), {}
    if resource_type == "AWS::Serverless::LayerVersion":
        arn = _arn("lambda", f"layer:{name}:1")
        return arn, arn, {}
    if resource_type == "AWS::Serverless::Api":
        # The local API id also appears in methodArn: arn:aws:execute-api:…:local/<stage>/<METHOD>/<path>.
        return "local", _arn("execute-api", "local"), {"RootResourceId": "root"}
    if resource_type == "AWS::CloudFront::Distribution":
        # Not emulated (the local stack serves console/ itself), but its domain name resolves for references.
        return name, f"arn:{PARTITION}:cloudfront::{ACCOUNT_ID}:distribution/{name}", {"DomainName": f"{name}.invalid"}
    if resource_type.startswith("AWS::IAM::"):
        return name, f"arn:{PARTITION}:iam::{ACCOUNT_ID}:{resource_type.split('::')[2].lower()}/{name}", {}
    return name, _arn(resource_type.split("::")[1].lower(), name), {}


def physical_name(logical_id: str, resource: Mapping[str, Any], resolver: Resolver, stack_name: str) -> str:
    """The physical name: the template's own name property if set, else {stack_name}-{LogicalId}."""
    resource_type = str(resource.get("Type"))
    props = resource.get("Properties") or {}
    name_property = NAME_PROPERTY.get(resource_type)
    if name_property and name_property in props:
        return str(resolver.resolve(props[name_property]))
    name = f"{stack_name}-{logical_id}"
    if resource_type == "AWS::SQS::Queue" and to_env_value(resolver.resolve(props.get("FifoQueue", False))) == "true":
        name += ".fifo"
    return name


def describe(logical_id: str, resource: Mapping[str, Any], resolver: Resolver, stack_name: str) -> ResourceRecord:
    """The record a resource gets, computed from the template alone."""
    resource_type = str(resource.get("Type"))
    name = physical_name(logical_id, resource, resolver, stack_name)
    ref, arn, attributes = _identity(resource_type, name)
    return ResourceRecord(logical_id, resource_type, name, ref, arn, attributes)
