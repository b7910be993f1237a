"""Generate the API's OpenAPI document from the route functions' own declarations, and its ``webhooks`` (what
webhook integrations receive) from the code that sends them (openapi_webhooks.py).

`python tools/openapi.py` rewrites openapi.json; `--check` fails when the committed file is stale.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn, Server
from email_validator import SPECIAL_USE_DOMAIN_NAMES
from openapi_webhooks import document_webhooks

from integrations.providers.github import LABEL_PATTERN, MAX_LABELS
from integrations.providers.registry import PROVIDERS
from integrations.providers.webhook import MAX_HEADER_VALUE, MAX_HEADERS, RESERVED_HEADERS

ROOT = Path(__file__).resolve().parents[1]
DOCUMENT = ROOT / "openapi.json"


def routers() -> list[Router]:
    """Every route function's Router, loaded from functions/*/app.py."""
    found = []
    for path in sorted((ROOT / "functions").glob("*/app.py")):
        spec = importlib.util.spec_from_file_location(f"openapi_{path.parent.name}", path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        if isinstance(getattr(module, "router", None), Router):
            found.append(module.router)
    return found


def _drop_powertools_422(document: dict[str, Any]) -> dict[str, Any]:
    # Powertools documents its own 422 body for validated routes; this API answers 400 with its
    # error body instead (integrations.api.resolver), which each route declares.
    for operations in document["paths"].values():
        for operation in operations.values():
            operation["responses"].pop("422", None)
    schemas = document["components"]["schemas"]
    for name in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
        if f'"#/components/schemas/{name}"' not in json.dumps(document["paths"]):
            schemas.pop(name, None)
    return document


def _document_integration_ids(document: dict[str, Any]) -> dict[str, Any]:
    # The routes take the id as a plain string and refuse anything but a UUID themselves
    # (integrations.api.resolver.integration_id), so that a malformed id answers the error body, not Powertools' own.
    for operations in document["paths"].values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path" and parameter["name"] == "id":
                    parameter["description"] = "The integration's id; anything but a UUID answers 400"
                    parameter["schema"] = {"type": "string", "format": "uuid", "title": "Id"}
                if parameter["in"] == "path" and parameter["name"] == "logId":
                    parameter["description"] = "A delivery log entry's id; anything but a UUID answers 400"
                    parameter["schema"] = {"type": "string", "format": "uuid", "title": "Logid"}
    return document


def _any_case(text: str) -> str:
    # JSON Schema regexes (ECMA 262) have no inline (?i) flag.
    # (The names hold only letters, dots and hyphens: a dot is escaped, a hyphen needs no escaping.)
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else "\\." if c == "." else c for c in text)


# What check_destination_url accepts, short of DNS: https, an ASCII host (RFC 3986 reg-name: no user info; IDNs in
# their xn-- form) with an optional port, no whitespace as Python's str.isspace() sees it. Regex engines disagree on
# \s (ECMA's leaves out \x1c-\x1f and \x85, which Python counts), so the set is spelled out. The path is not held
# to RFC 3986, so the document does not claim `format: uri`.
_NO_SPACE = r"[^\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]"
_HOST = r"[A-Za-z0-9._~%!$&'()*+,;=-]+(?::[0-9]{1,4})?"
_HTTPS_URL = {"type": "string", "maxLength": 2048, "pattern": f"^https://{_HOST}(?:[/?#]{_NO_SPACE}*)?$"}
# email-validator refuses the special-use domains (RFC 6761: .test, .invalid, .local, …), which never receive mail.
_EMAIL = {
    "type": "string",
    "format": "email",
    "maxLength": 254,
    "not": {"pattern": "[@.](?:" + "|".join(_any_case(name) for name in SPECIAL_USE_DOMAIN_NAMES) + ")$"},
}
# What the providers' validators check beyond their fields' types (integrations/providers/*.py), in JSON Schema.
_FIELD_RULES: dict[tuple[str, str], dict[str, Any]] = {
    ("slack", "webhookUrl"): {**_HTTPS_URL, "pattern": rf"^https://hooks\.slack(?:-gov)?\.com/{_NO_SPACE}*$"},
    ("webhook", "url"): _HTTPS_URL,
    ("webhook", "secret"): {
        "anyOf": [
            {"type": "string", "minLength": 1, "maxLength": 256, "not": {"pattern": "^whsec_"}},
            {
                "type": "string",
                "maxLength": 256,
                "pattern": "^whsec_(?:[A-Za-z0-9+/]{4}){5,}(?:[A-Za-z0-9+/]{4}|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2}==)$",
                "description": "whsec_ and the base64 of at least 16 bytes",
            },
            {"type": "null"},
        ]
    },
    ("webhook", "headers"): {
        "anyOf": [
            {
                "type": "object",
                "maxProperties": MAX_HEADERS,
                "propertyNames": {
                    "pattern": r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$",
                    "not": {
                        "pattern": "^(?:"
                        + "|".join(_any_case(name) + "$" for name in sorted(RESERVED_HEADERS))
                        + "|"
                        + _any_case("webhook-")
                        + ")"
                    },
                },
                "additionalProperties": {
                    "type": "string",
                    "maxLength": MAX_HEADER_VALUE,
                    "pattern": r"^[\x01-\x09\x0b\x0c\x0e-\x7f]*$",
                },
            },
            {"type": "null"},
        ]
    },
    ("jira", "baseUrl"): _HTTPS_URL,
    ("teams", "webhookUrl"): {
        **_HTTPS_URL,
        "pattern": rf"^https://[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.(?:logic\.azure\.com|powerplatform\.com)"
        rf"(?::[0-9]{{1,4}})?(?:[/?#]{_NO_SPACE}*)?$",
    },
    ("discord", "webhookUrl"): {
        **_HTTPS_URL,
        "pattern": r"^https://(?:ptb\.|canary\.)?discord(?:app)?\.com/api(?:/v[0-9]{1,2})?/webhooks/[0-9]{1,20}"
        r"/[A-Za-z0-9_-]{1,100}$",
    },
    ("google_chat", "webhookUrl"): {
        **_HTTPS_URL,
        "pattern": rf"^https://chat\.googleapis\.com/v1/spaces/[A-Za-z0-9_-]{{1,100}}/messages"
        rf"\?key={_NO_SPACE[:-1]}&#]+&token={_NO_SPACE[:-1]}&#]+$",
    },
    ("github", "apiUrl"): {
        "anyOf": [
            {
                **_HTTPS_URL,
                "pattern": rf"^https://(?:(?:api\.github\.com|api\.[a-z0-9-]+\.ghe\.com)/?|{_HOST}/api/v3/?)$",
            },
            {"type": "null"},
        ]
    },
    ("github", "repository"): {
        "type": "string",
        "pattern": r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$",
        "not": {"pattern": r"/\.\.?$"},
    },
    ("github", "labels"): {
        "anyOf": [
            {
                "type": "array",
                "items": {"type": "string", "minLength": 1, "maxLength": 50, "pattern": LABEL_PATTERN},
                "maxItems": MAX_LABELS,
                "uniqueItems": True,
            },
            {"type": "null"},
        ]
    },
    ("splunk", "url"): {**_HTTPS_URL, "pattern": rf"^https://{_HOST}(?:/services/collector(?:/event)?)?/?$"},
    ("jira", "email"): _EMAIL,
    ("email", "recipients"): {"type": "array", "items": _EMAIL, "minItems": 1, "maxItems": 50, "uniqueItems": True},
}
# Email's digest mode is sent when a scan ends, so it needs a scan-end subscription (Email.check).
_EMAIL_DIGEST_RULE = {
    "if": {
        "properties": {"config": {"properties": {"digestMode": {"const": True}}, "required": ["digestMode"]}},
        "required": ["config"],
    },
    "then": {"properties": {"enabledEvents": {"contains": {"enum": ["scan.completed", "scan.failed"]}}}},
}


def _provider_schema(provider_id: str, model: type[Any]) -> dict[str, Any]:
    schema: dict[str, Any] = model.model_json_schema()
    for name, field in schema["properties"].items():
        rule = _FIELD_RULES.get((provider_id, name))
        if rule is not None:
            kept = {key: field[key] for key in ("title", "description", "default") if key in field}
            schema["properties"][name] = {**rule, **kept}
    return schema


def _document_providers(document: dict[str, Any]) -> dict[str, Any]:
    # The create body is one shape per provider (credentials, config and enabledEvents depend on it), which the
    # request model checks in code (integrations.api.service); the document states each shape, chosen by `provider`.
    schemas = document["components"]["schemas"]
    common = schemas["CreateIntegrationRequest"]
    variants = {}
    for provider in PROVIDERS.values():
        name = f"Create{provider.__name__}IntegrationRequest"
        properties = dict(common["properties"])
        properties["provider"] = {**properties["provider"], "const": provider.id}
        properties["provider"].pop("enum")
        properties["credentials"] = {
            **_provider_schema(provider.id, provider.credentials),
            "title": "Credentials",
            "description": f"{provider.name} credentials",
        }
        config = _provider_schema(provider.id, provider.config)
        config_required = bool(config.get("required"))
        properties["config"] = {
            **(config if config_required else {"anyOf": [config, {"type": "null"}]}),
            "title": "Config",
            "description": f"{provider.name} configuration" + ("" if config_required else " (optional)"),
        }
        events = properties["enabledEvents"]
        properties["enabledEvents"] = {**events, "items": {**events["items"], "enum": list(provider.supported_events)}}
        variant: dict[str, Any] = {
            **common,
            "title": name,
            "description": f"Create a {provider.name} integration",
            "properties": properties,
            "required": [*common["required"], *(["config"] if config_required else [])],
        }
        if provider.id == "email":
            variant.update(_EMAIL_DIGEST_RULE)
        variants[provider.id] = name
        schemas[name] = variant
    schemas["CreateIntegrationRequest"] = {
        "title": "CreateIntegrationRequest",
        "description": "One shape per provider, chosen by `provider` (see the providers endpoint)",
        "oneOf": [{"$ref": f"#/components/schemas/{name}"} for name in variants.values()],
        "discriminator": {
            "propertyName": "provider",
            "mapping": {pid: f"#/components/schemas/{name}" for pid, name in variants.items()},
        },
    }
    return document


def operation_id(function_name: str) -> str:
    """The one rule for operationIds: the route function's name in camelCase (``create_integration`` →
    ``createIntegration``), so generated clients get methods named after what they do."""
    first, *rest = function_name.split("_")
    return first + "".join(word[:1].upper() + word[1:] for word in rest)


def _name_operations(document: dict[str, Any], app: APIGatewayRestResolver) -> dict[str, Any]:
    # Powertools names an operation after its function, path and method (create_integration_v1_integrations_post),
    # which clients turn into method names. Its routes (private to Powertools, but the only place that holds the
    # function behind each operation) give us the function's name instead.
    functions = {route.operation_id: route.func.__name__ for route in app._static_routes + app._dynamic_routes}
    seen: set[str] = set()
    for operations in document["paths"].values():
        for operation in operations.values():
            name = operation_id(functions[operation["operationId"]])
            if name in seen:
                raise ValueError(f"two operations would share the operationId {name!r}: rename a route function")
            seen.add(name)
            operation["operationId"] = name
    return document


def generate() -> str:
    """The OpenAPI document as formatted JSON."""
    app = APIGatewayRestResolver(enable_validation=True)
    for router in routers():
        app.include_router(router)
    raw = app.get_openapi_json_schema(
        title="Apviso Integrations API",
        version="1.0.0",
        description="Connect Slack, signed webhooks, Jira, PagerDuty, email, Microsoft Teams, Discord, Google Chat, "
        "GitHub Issues and Splunk HEC to scans, and inspect deliveries.",
        servers=[Server(url="https://apviso.com/api/v1", description="Production")],
        security_schemes={"ApiKey": APIKey(name="X-API-Key", in_=APIKeyIn.header)},
        security=[{"ApiKey": []}],
    )
    document = _document_providers(_document_integration_ids(_drop_powertools_422(json.loads(raw))))
    document = document_webhooks(_name_operations(document, app))
    return json.dumps(document, indent=2, sort_keys=False) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if openapi.json differs from the code")
    args = parser.parse_args()
    document = generate()
    if args.check:
        if not DOCUMENT.exists() or DOCUMENT.read_text() != document:
            print("openapi.json is stale: run `make openapi` and commit it", file=sys.stderr)
            return 1
        print("openapi.json is up to date")
        return 0
    DOCUMENT.write_text(document)
    print(f"wrote {DOCUMENT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
