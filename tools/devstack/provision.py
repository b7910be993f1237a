"""Create the resources a template declares, in dependency order, in moto (server or in-process)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from devstack.creators import CREATORS, ClientFactory, ClientSource, client_factory
from devstack.resources import NAME_PROPERTY, Resources, describe
from devstack.template import Resolver, Template, TemplateError, load_template, referenced_names

log = logging.getLogger(__name__)

DEFAULT_STACK_NAME = "integrations-local"

# Run by the local stack itself (functions, the API, the layer on sys.path), so nothing to create.
SERVED_TYPES = frozenset({"AWS::Serverless::Function", "AWS::Serverless::Api", "AWS::Serverless::LayerVersion"})
# Permissions, monitoring and plumbing that have no effect on a local run.
IGNORED_PREFIXES = (
    "AWS::IAM::",
    "AWS::CloudWatch::",
    "AWS::Logs::",
    "AWS::Lambda::",
    "AWS::ApiGateway::",
    "AWS::KMS::",
    "AWS::XRay::",
    "AWS::SQS::QueuePolicy",
    "AWS::SNS::TopicPolicy",
    "AWS::Events::ApiDestination",
    "AWS::Events::Connection",
    "AWS::CloudFormation::WaitConditionHandle",
    # The console's hosting: the local stack serves console/ at /console/ from the API's own origin.
    "AWS::CloudFront::",
    "AWS::S3::Bucket",
)


def _kind(resource_type: str) -> str:
    if resource_type in CREATORS:
        return "created"
    if resource_type in SERVED_TYPES:
        return "served"
    if resource_type.startswith(IGNORED_PREFIXES):
        return "ignored"
    return "unsupported"


def creation_order(template: Template, resolver: Resolver) -> list[str]:
    """Enabled logical ids ordered so that every resource comes after the ones it refers to."""
    resources = {lid: res for lid, res in template.resources.items() if resolver.is_enabled(lid)}
    depends: dict[str, set[str]] = {}
    for lid, resource in resources.items():
        # Only what gets resolved counts: properties of created resources, the name property of the others.
        props = resource.get("Properties") or {}
        if _kind(str(resource.get("Type"))) != "created":
            props = {key: props[key] for key in (NAME_PROPERTY.get(str(resource.get("Type"))),) if key in props}
        explicit = resource.get("DependsOn") or []
        names = referenced_names(props) | set([explicit] if isinstance(explicit, str) else explicit)
        depends[lid] = {name for name in names if name in resources and name != lid}
    order: list[str] = []
    placed: set[str] = set()
    while len(order) < len(resources):
        ready = [lid for lid in resources if lid not in placed and depends[lid] <= placed]
        if not ready:
            cycle = sorted(set(resources) - placed)
            raise TemplateError(f"circular references between {', '.join(cycle)}")
        order.extend(ready)
        placed.update(ready)
    return order


def _as_template(template: Template | str | Path) -> Template:
    return template if isinstance(template, Template) else load_template(template)


def plan(
    template: Template | str | Path,
    stack_name: str = DEFAULT_STACK_NAME,
    parameters: Mapping[str, Any] | None = None,
) -> Resources:
    """The records provision() would produce, computed without any AWS call."""
    return _build(_as_template(template), None, stack_name, parameters)


def provision(
    template: Template | str | Path,
    session_or_clients: ClientSource = None,
    stack_name: str = DEFAULT_STACK_NAME,
    parameters: Mapping[str, Any] | None = None,
) -> Resources:
    """Create every resource the template declares and return what each logical id became."""
    return _build(_as_template(template), client_factory(session_or_clients), stack_name, parameters)


def _build(
    template: Template, client: ClientFactory | None, stack_name: str, parameters: Mapping[str, Any] | None
) -> Resources:
    resources = Resources()
    resolver = Resolver(template, stack_name=stack_name, parameters=parameters, resources=resources)
    resources.resolver = resolver
    for logical_id in creation_order(template, resolver):
        resource = template.resources[logical_id]
        record = describe(logical_id, resource, resolver, stack_name)
        record.status = _kind(record.type)
        if record.status == "created" and client is None:
            record.status = "planned"
        elif client is not None and record.status == "created":
            props = resolver.resolve(resource.get("Properties") or {})
            try:
                CREATORS[record.type](client, record, props)
            except Exception as error:
                raise TemplateError(f"creating {logical_id} ({record.type}) failed: {error}") from error
            log.debug("created %s %s", record.type, record.name)
        elif record.status == "unsupported":
            log.warning("%s (%s) is not emulated by the local stack; skipped", logical_id, record.type)
        resources.add(record)
    return resources
