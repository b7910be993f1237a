"""The committed OpenAPI document is valid, current, and documents the error body the API really answers."""

from __future__ import annotations

import json
import re

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


def test_every_operation_has_a_stable_readable_operation_id() -> None:
    document = json.loads(openapi.generate())
    ids = {
        f"{path} {method}": op["operationId"] for path, ops in document["paths"].items() for method, op in ops.items()
    }
    assert len(set(ids.values())) == len(ids), "unique"
    assert all(re.fullmatch(r"[a-z]+(?:[A-Z][a-z]*)*", name) for name in ids.values()), ids
    assert (
        ids.items()
        >= {
            "/v1/integrations/providers get": "listProviders",
            "/v1/integrations get": "listIntegrations",
            "/v1/integrations post": "createIntegration",
            "/v1/integrations/{id} patch": "updateIntegration",
            "/v1/integrations/{id} delete": "deleteIntegration",
            "/v1/integrations/{id}/test post": "testIntegration",
            "/v1/integrations/{id}/logs get": "listDeliveryLogs",
            "/v1/integrations/{id}/logs/{logId}/redeliver post": "redeliverDelivery",
        }.items()
    )


def test_the_operation_id_rule_is_the_route_functions_name_in_camel_case() -> None:
    assert openapi.operation_id("recover_deliveries") == "recoverDeliveries"
    assert openapi.operation_id("list_providers") == "listProviders"
    assert openapi.operation_id("status") == "status"
