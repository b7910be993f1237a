"""The committed OpenAPI document is valid, current, and documents the error body the API really answers."""

from __future__ import annotations

import json

import openapi
from openapi_spec_validator import validate

from tests.conftest import ROOT


def test_committed_document_is_generated_from_the_current_code() -> None:
    assert (ROOT / "openapi.json").read_text() == openapi.generate(), "run `make openapi`"


def test_document_is_valid_openapi() -> None:
    validate(json.loads((ROOT / "openapi.json").read_text()))


def test_every_operation_documents_its_errors_with_the_error_body_and_no_powertools_422() -> None:
    document = json.loads(openapi.generate())
    operations = [op for path in document["paths"].values() for op in path.values()]
    assert len(operations) == 9  # the seed's seven, redeliver and recover
    for operation in operations:
        responses = operation["responses"]
        assert "422" not in responses
        assert {"401", "403", "429", "500"} <= set(responses)
        for status, response in responses.items():
            if status.startswith(("4", "5")):
                assert response["content"]["application/json"]["schema"] == {
                    "$ref": "#/components/schemas/ErrorResponse"
                }
    assert document["components"]["securitySchemes"]["ApiKey"] == {
        "type": "apiKey",
        "name": "X-API-Key",
        "in": "header",
    }
