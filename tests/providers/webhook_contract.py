"""openapi.json's ``webhooks`` as a receiver checks them: the fake webhook receivers refuse any request that differs
from the committed document's entry for its ``type`` (body schema, headers), so the document cannot drift from
what receivers get."""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from typing import Any

import jsonschema
from jsonschema.exceptions import best_match

from tests.conftest import ROOT

DOCUMENT: dict[str, Any] = json.loads((ROOT / "openapi.json").read_text())


@cache
def _validator(event_type: str) -> jsonschema.Draft202012Validator:
    schema = DOCUMENT["webhooks"][event_type]["post"]["requestBody"]["content"]["application/json"]["schema"]
    return jsonschema.Draft202012Validator({**schema, "components": DOCUMENT["components"]})


def body_problems(parsed: Any) -> list[str]:
    """How this (parsed) body differs from openapi.json's webhook body for its type; empty when it matches."""
    event_type = parsed.get("type") if isinstance(parsed, dict) else None
    if not isinstance(event_type, str) or event_type not in DOCUMENT["webhooks"]:
        return [f"openapi.json has no webhook for the body's type {event_type!r}"]
    # best_match descends into an anyOf's reasons, so that a wrong field is named rather than its parent.
    return [
        f"body {best.json_path}: {best.message}"
        for best in (best_match([error]) for error in _validator(event_type).iter_errors(parsed))
        if best is not None
    ]


def problems(body: bytes, headers: Mapping[str, str]) -> list[str]:
    """How this request differs from openapi.json's webhook for its type (body and headers); empty when it matches."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return ["the body is not JSON"]
    found = body_problems(parsed)
    if found and found[0].startswith("openapi.json has no webhook"):
        return found
    event_type = parsed["type"]
    sent = {name.lower(): value for name, value in headers.items()}
    operation = DOCUMENT["webhooks"][event_type]["post"]
    content_type = sent.get("content-type", "").split(";")[0].strip()
    if content_type not in operation["requestBody"]["content"]:
        found.append(f"header Content-Type: {content_type!r} is not a documented media type")
    for parameter in operation["parameters"]:
        value = sent.get(parameter["name"].lower())
        if value is None:
            if parameter["required"]:
                found.append(f"header {parameter['name']}: missing")
            continue
        found += [
            f"header {parameter['name']}: {error.message}"
            for error in jsonschema.Draft202012Validator(parameter["schema"]).iter_errors(value)
        ]
    return found
