"""Providers' own JSON schemas (vendored under ``tests/fixtures/``, origins in their NOTICE files), for the fakes.

Each schema is checked once against its draft's meta-schema with ``jsonschema`` and compiled with
``jsonschema-rs``: validating an Atlassian document takes it a quarter of a millisecond where ``jsonschema``
takes about 115 ms (ADF's nodes are ``anyOf`` alternatives), which the fakes could not afford inside the
provider tests' 0.25 s read timeouts.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import jsonschema
import jsonschema_rs

from tests.conftest import ROOT

FIXTURES = ROOT / "tests" / "fixtures"


@cache
def validator(fixture: str) -> jsonschema_rs.Validator:
    """The schema in ``tests/fixtures/<fixture>``, checked against its meta-schema and compiled."""
    schema = json.loads((FIXTURES / fixture).read_text())
    jsonschema.validators.validator_for(schema).check_schema(schema)
    return jsonschema_rs.validator_for(schema)


def problems(fixture: str, instance: Any) -> list[str]:
    """Why the schema in ``tests/fixtures/<fixture>`` rejects ``instance`` (empty when it accepts it)."""
    return [_deepest(error) for error in validator(fixture).iter_errors(instance)]


def _deepest(error: jsonschema_rs.ValidationError) -> str:
    """The error's most specific cause, as ``path: message``.

    Schemas list node kinds as alternatives (``anyOf``, ``oneOf``): the alternative that got furthest into the
    instance names the rule it breaks better than "not valid under any of the schemas".
    """
    alternatives = (jsonschema_rs.ValidationErrorKind.AnyOf, jsonschema_rs.ValidationErrorKind.OneOfNotValid)
    while isinstance(error.kind, alternatives) and error.kind.context:
        causes = [cause for alternative in error.kind.context for cause in alternative]
        error = max(causes, key=lambda cause: len(cause.instance_path))
    return f"{'/'.join(map(str, error.instance_path)) or '.'}: {error.message}"[:300]
