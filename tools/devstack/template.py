"""Load a SAM/CloudFormation template and resolve its intrinsic functions locally."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import yaml

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
PARTITION = "aws"
URL_SUFFIX = "amazonaws.com"

_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")


class TemplateError(Exception):
    """The template uses something the local stack cannot resolve."""


# ---------------------------------------------------------------- loading


class CfnLoader(yaml.SafeLoader):  # type: ignore[misc,unused-ignore]  # PyYAML ships no type hints
    """A SafeLoader that reads CloudFormation short tags (!Ref, !Sub, …) as their long forms."""


# CloudFormation reads unquoted dates as strings; YAML 1.1 would make them datetime objects.
CfnLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

_SHORT_TAGS = [
    *("Ref", "Condition", "GetAtt", "Sub", "If", "Equals", "Not", "And", "Or", "Join", "Select", "Split"),
    *("FindInMap", "Base64", "GetAZs", "ImportValue", "Cidr", "Length", "ToJsonString", "Transform"),
]


def _construct_node(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_mapping(node, deep=True)


def _short_tag_constructor(name: str) -> Callable[[yaml.SafeLoader, yaml.Node], dict[str, Any]]:
    key = name if name in ("Ref", "Condition") else f"Fn::{name}"

    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        value = _construct_node(loader, node)
        if name == "GetAtt" and isinstance(value, str):
            # "Resource.Attribute" — the attribute itself may contain dots (Endpoint.Address).
            value = value.split(".", 1)
        return {key: value}

    return construct


for _tag in _SHORT_TAGS:
    CfnLoader.add_constructor(f"!{_tag}", _short_tag_constructor(_tag))

_INTRINSIC_KEYS = {"Ref", "Condition", *(f"Fn::{name}" for name in _SHORT_TAGS)}


def load_yaml(text: str) -> Any:
    """Parse CloudFormation YAML (short tags included) into plain Python values."""
    return yaml.load(text, Loader=CfnLoader)  # CfnLoader is a SafeLoader


def merge_globals(global_props: Mapping[str, Any], local_props: Mapping[str, Any]) -> dict[str, Any]:
    """Merge SAM Globals into a resource's properties: maps merge, lists concatenate, scalars are overridden."""
    merged: dict[str, Any] = dict(global_props)
    for key, value in local_props.items():
        current = merged.get(key)
        if isinstance(current, Mapping) and isinstance(value, Mapping) and not _is_intrinsic(value):
            merged[key] = merge_globals(current, value)
        elif isinstance(current, list) and isinstance(value, list):
            merged[key] = current + value
        else:
            merged[key] = value
    return merged


def _is_intrinsic(value: Any) -> bool:
    return isinstance(value, Mapping) and len(value) == 1 and next(iter(value)) in _INTRINSIC_KEYS


@dataclass(frozen=True)
class Template:
    """A parsed template and the folder its relative paths (CodeUri, ContentUri) start from."""

    path: Path
    body: dict[str, Any]

    @property
    def base_dir(self) -> Path:
        """The folder that holds the template."""
        return self.path.parent

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        """Resources by logical id, in template order."""
        return dict(self.body.get("Resources") or {})

    @property
    def transforms(self) -> list[str]:
        """The Transform entry as a list (it may be a single string)."""
        transform = self.body.get("Transform") or []
        return [transform] if isinstance(transform, str) else list(transform)

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        """Resources of one type, by logical id."""
        return {lid: res for lid, res in self.resources.items() if res.get("Type") == resource_type}

    def properties(self, logical_id: str) -> dict[str, Any]:
        """A resource's properties with the SAM Globals of its kind merged in."""
        resource = self.resources[logical_id]
        props = dict(resource.get("Properties") or {})
        section = _GLOBALS_SECTION.get(str(resource.get("Type")))
        if section is None:
            return props
        return merge_globals((self.body.get("Globals") or {}).get(section) or {}, props)


_GLOBALS_SECTION = {
    "AWS::Serverless::Function": "Function",
    "AWS::Serverless::Api": "Api",
    "AWS::Serverless::HttpApi": "HttpApi",
    "AWS::Serverless::SimpleTable": "SimpleTable",
    "AWS::Serverless::StateMachine": "StateMachine",
    "AWS::Serverless::LayerVersion": "LayerVersion",
}


def load_template(path: str | Path) -> Template:
    """Read a template file."""
    path = Path(path).resolve()
    body = load_yaml(path.read_text(encoding="utf-8"))
    if not isinstance(body, dict) or not isinstance(body.get("Resources"), dict):
        raise TemplateError(f"{path} is not a CloudFormation template (no Resources)")
    if any(str(key).startswith("Fn::ForEach") for key in body["Resources"]):
        raise TemplateError("Fn::ForEach (AWS::LanguageExtensions) is not supported by the local stack")
    return Template(path=path, body=body)


# ---------------------------------------------------------------- resolving


class AttributeSource(Protocol):
    """Where Ref and Fn::GetAtt of resources are answered (the provisioned resources)."""

    def __contains__(self, logical_id: object) -> bool: ...

    def ref(self, logical_id: str) -> Any: ...

    def get_att(self, logical_id: str, attribute: str) -> Any: ...


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE: Any = _NoValue()


def referenced_names(value: Any) -> set[str]:
    """Logical names a value refers to through Ref, Fn::GetAtt or Fn::Sub (parameters and pseudo params too)."""
    names: set[str] = set()
    if isinstance(value, list):
        for item in value:
            names |= referenced_names(item)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if key == "Ref" and isinstance(item, str):
                names.add(item.split(".", 1)[0])  # SAM's MyApi.Stage refers to MyApi
            elif key == "Fn::GetAtt":
                target = item.split(".", 1)[0] if isinstance(item, str) else item[0]
                if isinstance(target, str):
                    names.add(target)
            elif key == "Fn::Sub":
                text, variables = (item, {}) if isinstance(item, str) else (item[0], item[1])
                for match in _SUB_VARIABLE.finditer(text):
                    name = match.group(1)
                    if not name.startswith("!") and name.split(".", 1)[0] not in variables:
                        names.add(name.split(".", 1)[0])
                names |= referenced_names(variables)
            else:
                names |= referenced_names(item)
    return names


class Resolver:
    """Evaluates intrinsic functions against parameters, pseudo parameters, conditions and resources."""

    def __init__(
        self,
        template: Template,
        *,
        stack_name: str,
        parameters: Mapping[str, Any] | None = None,
        resources: AttributeSource | None = None,
        imports: Mapping[str, Any] | None = None,
    ) -> None:
        self.template = template
        self.stack_name = stack_name
        self.resources = resources
        self.imports = dict(imports or {})
        self.parameters = self._parameter_values(dict(parameters or {}))
        self.pseudo = {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::StackName": stack_name,
            "AWS::StackId": f"arn:{PARTITION}:cloudformation:{REGION}:{ACCOUNT_ID}:stack/{stack_name}/local",
            "AWS::Partition": PARTITION,
            "AWS::URLSuffix": URL_SUFFIX,
            "AWS::NotificationARNs": [],
        }
        self._conditions: dict[str, bool] = {}

    def _parameter_values(self, overrides: dict[str, Any]) -> dict[str, Any]:
        declared: dict[str, Any] = self.template.body.get("Parameters") or {}
        unknown = set(overrides) - set(declared)
        if unknown:
            raise TemplateError(f"unknown parameter(s): {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {}
        for name, spec in declared.items():
            if name in overrides:
                value = overrides[name]
            elif "Default" in spec:
                value = spec["Default"]
            else:
                raise TemplateError(f"parameter {name} has no Default; pass a value for it")
            allowed = spec.get("AllowedValues")
            if allowed is not None and str(value) not in [str(v) for v in allowed]:
                raise TemplateError(f"parameter {name}={value!r} is not one of {allowed}")
            # CloudFormation hands every parameter over as a string (lists as lists of strings).
            if str(spec.get("Type", "String")).startswith(("List<", "CommaDelimitedList")):
                values[name] = [item.strip() for item in value] if isinstance(value, list) else str(value).split(",")
            else:
                values[name] = _to_string(value)
        return values

    # ------------------------------------------------------------ conditions

    def condition(self, name: str) -> bool:
        """Evaluate a named condition from the Conditions section."""
        if name not in self._conditions:
            conditions = self.template.body.get("Conditions") or {}
            if name not in conditions:
                raise TemplateError(f"unknown condition {name}")
            self._conditions[name] = bool(self.resolve(conditions[name]))
        return self._conditions[name]

    def is_enabled(self, logical_id: str) -> bool:
        """Whether a resource exists under the current conditions."""
        condition = self.template.resources[logical_id].get("Condition")
        return condition is None or self.condition(condition)

    # ------------------------------------------------------------ values

    def resolve(self, value: Any) -> Any:
        """Resolve every intrinsic function inside a value; AWS::NoValue entries disappear."""
        if isinstance(value, list):
            return [item for item in (self.resolve(v) for v in value) if item is not NO_VALUE]
        if not isinstance(value, Mapping):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref":
                return self.ref(argument)
            if key == "Condition" and isinstance(argument, str):
                return self.condition(argument)
            if key.startswith("Fn::"):
                return self._function(key, argument)
        resolved = {key: self.resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not NO_VALUE}

    def ref(self, name: str) -> Any:
        """Resolve Ref: a parameter, a pseudo parameter or a resource."""
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name.endswith(".Stage") and name.split(".", 1)[0] in self.template.resources:
            return self._api_stage(name.split(".", 1)[0])
        if name.endswith((".Alias", ".Version")) and name.rsplit(".", 1)[0] in self.template.resources:
            return self._published(*name.rsplit(".", 1))
        return self._resource_source(name).ref(name)

    def _published(self, function: str, kind: str) -> Any:
        """SAM's ``!Ref MyFunction.Alias`` / ``.Version`` (AutoPublishAlias): the ARN qualified by alias or version.

        The local stack publishes no versions; its invokers map the qualified ARN back to the function.
        """
        if self.template.resources[function].get("Type") != "AWS::Serverless::Function":
            raise TemplateError(f"Ref {function}.{kind}: {function} is not an AWS::Serverless::Function")
        alias = self.template.properties(function).get("AutoPublishAlias")
        if alias is None:
            raise TemplateError(f"Ref {function}.{kind}: {function} has no AutoPublishAlias")
        qualifier = self.resolve(alias) if kind == "Alias" else "1"
        return f"{self.get_att(function, 'Arn')}:{qualifier}"

    def _api_stage(self, api: str) -> Any:
        """SAM's ``!Ref MyApi.Stage``: the stage name of an AWS::Serverless::Api."""
        if self.template.resources[api].get("Type") != "AWS::Serverless::Api":
            raise TemplateError(f"Ref {api}.Stage: {api} is not an AWS::Serverless::Api")
        return self.resolve(self.template.properties(api).get("StageName", "Prod"))

    def get_att(self, logical_id: str, attribute: str) -> Any:
        """Resolve Fn::GetAtt of a resource."""
        return self._resource_source(logical_id).get_att(logical_id, attribute)

    def _resource_source(self, logical_id: str) -> AttributeSource:
        if logical_id not in self.template.resources:
            raise TemplateError(f"reference to unknown name {logical_id}")
        if self.resources is None or logical_id not in self.resources:
            raise TemplateError(f"resource {logical_id} is referenced before it exists")
        return self.resources

    def sub(self, text: str, variables: Mapping[str, Any] | None = None) -> str:
        """Resolve Fn::Sub: ${Name}, ${Resource.Attribute} and the ${!Literal} escape."""
        own = {name: self.resolve(value) for name, value in (variables or {}).items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in own:
                value = own[name]
            elif "." in name and name.split(".", 1)[0] in self.template.resources:
                value = self.get_att(*name.split(".", 1))
            else:
                value = self.ref(name)
            if isinstance(value, (list, dict)):
                raise TemplateError(f"Fn::Sub variable ${{{name}}} is not a string")
            return _to_string(value)

        return _SUB_VARIABLE.sub(replace, text)

    def _function(self, key: str, argument: Any) -> Any:
        handler = _FUNCTIONS.get(key)
        if handler is None:
            raise TemplateError(f"{key} is not supported by the local stack")
        return handler(self, argument)

    def _fn_get_att(self, argument: Any) -> Any:
        parts = argument.split(".", 1) if isinstance(argument, str) else list(argument)
        if len(parts) != 2:
            raise TemplateError(f"malformed Fn::GetAtt {argument!r}")
        return self.get_att(str(parts[0]), str(self.resolve(parts[1])))

    def _fn_sub(self, argument: Any) -> str:
        if isinstance(argument, str):
            return self.sub(argument)
        text, variables = argument
        return self.sub(text, variables)

    def _fn_if(self, argument: Any) -> Any:
        name, when_true, when_false = argument
        return self.resolve(when_true if self.condition(name) else when_false)

    def _fn_equals(self, argument: Any) -> bool:
        left, right = (self.resolve(item) for item in argument)
        return _to_string(left) == _to_string(right)

    def _fn_find_in_map(self, argument: Any) -> Any:
        map_name, top, second = (self.resolve(item) for item in argument[:3])
        mappings = self.template.body.get("Mappings") or {}
        try:
            return mappings[map_name][top][second]
        except KeyError:
            if len(argument) > 3 and isinstance(argument[3], Mapping) and "DefaultValue" in argument[3]:
                return self.resolve(argument[3]["DefaultValue"])
            raise TemplateError(f"Fn::FindInMap: no {map_name}/{top}/{second}") from None

    def _fn_import_value(self, argument: Any) -> Any:
        name = self.resolve(argument)
        if name not in self.imports:
            raise TemplateError(f"Fn::ImportValue {name!r}: no such export in the local stack")
        return self.imports[name]


_FUNCTIONS: dict[str, Callable[[Resolver, Any], Any]] = {
    "Fn::GetAtt": Resolver._fn_get_att,
    "Fn::Sub": Resolver._fn_sub,
    "Fn::If": Resolver._fn_if,
    "Fn::Equals": Resolver._fn_equals,
    "Fn::Not": lambda r, arg: not r.resolve(arg[0]),
    "Fn::And": lambda r, arg: all(r.resolve(item) for item in arg),
    "Fn::Or": lambda r, arg: any(r.resolve(item) for item in arg),
    "Fn::Join": lambda r, arg: str(r.resolve(arg[0])).join(_to_string(item) for item in r.resolve(arg[1])),
    "Fn::Select": lambda r, arg: r.resolve(arg[1])[int(r.resolve(arg[0]))],
    "Fn::Split": lambda r, arg: str(r.resolve(arg[1])).split(str(r.resolve(arg[0]))),
    "Fn::FindInMap": Resolver._fn_find_in_map,
    "Fn::Base64": lambda r, arg: base64.b64encode(str(r.resolve(arg)).encode()).decode(),
    "Fn::GetAZs": lambda r, arg: [f"{REGION}{zone}" for zone in "abc"],
    "Fn::ImportValue": Resolver._fn_import_value,
    "Fn::Length": lambda r, arg: len(r.resolve(arg)),
    "Fn::ToJsonString": lambda r, arg: json.dumps(r.resolve(arg), separators=(",", ":")),
}


def _to_string(value: Any) -> str:
    """Render a scalar the way CloudFormation does (booleans in lower case)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def to_env_value(value: Any) -> str:
    """Render a resolved value as an environment variable."""
    return _to_string(value)
