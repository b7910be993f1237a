"""POST /v1/integrations/{id}/test — send a clearly marked test event now and report what happened."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.utilities.typing import LambdaContext

from integrations.api import service, test_event
from integrations.api.resolver import account_id, build_app, error_responses, integration_id
from integrations.delivery import dispatch
from integrations.models.testing import TestResult
from integrations.platform import clock, settings, snapstart
from integrations.platform.observability import logger, tracer
from integrations.providers import http, registry

router = Router()


@router.post(
    "/v1/integrations/<id>/test",
    summary="Test integration connection",
    description="Sends a test event (marked as a test) synchronously and reports the provider's answer.",
    responses={
        200: {
            "description": "The test result; success is false with an error when it failed",
            "content": {"application/json": {"model": TestResult}},
        },
        **error_responses(400, 404),
    },
    tags=["Integrations"],
)
def test_integration(id: str) -> Response[dict[str, Any]]:  # noqa: A002 - the seed's name
    record = service.from_environment().get_live(account_id(router), integration_id(id))
    outcome, delivered_at = dispatch.from_environment().deliver_test(record, test_event.sample(record.accountId))
    # Serialized here, not by Powertools, which would keep `"error": null` on success.
    body = test_event.result(outcome, delivered_at).model_dump(mode="json")
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=body)


app = build_app(router)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)


# SnapStart: done before the snapshot instead of at the first request, ending with a priming request
# (integrations.platform.snapstart).
snapstart.prepare(
    service.from_environment,
    registry.load_all,  # every provider a request may name
    clock.new_id,  # loads the id generator, which only a request that makes an id imports
    dispatch.from_environment,
    http.prepare,
    snapstart.clients("dynamodb", "secretsmanager", "sesv2"),
    snapstart.missing_secret(lambda name: service.from_environment().vault.read(name, None)),
    # The log entry's writes, which the priming request (no such integration) does not reach.
    snapstart.update_changing_nothing(lambda: dispatch.from_environment().logs.table_name, "integrationId"),
    snapstart.batch_write_changing_nothing(lambda: dispatch.from_environment().logs.table_name, "integrationId"),
    # The state a provider's send may keep (a finding's Jira or GitHub issue, an email digest).
    snapstart.put_changing_nothing(
        lambda: settings.load(settings.DispatchSettings).provider_state_table, "key", sort=None
    ),
    snapstart.invoke(
        lambda_handler,
        snapstart.api_request("POST", f"/v1/integrations/{snapstart.PRIMING_ID}/test"),
        times=snapstart.REPEAT,
    ),
)
