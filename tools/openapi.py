"""Generate the API's OpenAPI document from the route functions' own declarations.

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
    # error body instead (integrations.api), which each route declares.
    for operations in document["paths"].values():
        for operation in operations.values():
            operation["responses"].pop("422", None)
    schemas = document["components"]["schemas"]
    for name in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
        if f'"#/components/schemas/{name}"' not in json.dumps(document["paths"]):
            schemas.pop(name, None)
    return document


def generate() -> str:
    """The OpenAPI document as formatted JSON."""
    app = APIGatewayRestResolver(enable_validation=True)
    for router in routers():
        app.include_router(router)
    raw = app.get_openapi_json_schema(
        title="Apviso Integrations API",
        version="1.0.0",
        description="Connect Slack, signed webhooks, Jira, PagerDuty and email to scans, and inspect deliveries.",
        servers=[Server(url="https://apviso.com/api/v1", description="Production")],
        security_schemes={"ApiKey": APIKey(name="X-API-Key", in_=APIKeyIn.header)},
        security=[{"ApiKey": []}],
    )
    return json.dumps(_drop_powertools_422(json.loads(raw)), indent=2, sort_keys=False) + "\n"


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
