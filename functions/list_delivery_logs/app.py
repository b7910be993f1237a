"""GET /v1/integrations/{id}/logs — the integration's delivery attempts, newest first, 30 days back."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.utilities.typing import LambdaContext

from integrations.api import service
from integrations.api.resolver import account_id, build_app, error_responses, integration_id
from integrations.catalog import DeliveryStatus
from integrations.models.delivery_logs import DeliveryLogsResponse, LoggedEvent
from integrations.platform import snapstart
from integrations.platform.observability import logger, tracer
from integrations.storage import delivery_logs

router = Router()


@router.get(
    "/v1/integrations/<id>/logs",
    summary="Get delivery logs",
    description=(
        "Each delivery attempt with its status, response code and time, and error; kept 30 days. Filter by status "
        "and event; totals count the filtered entries. Walk many pages with nextCursor (constant cost per page)."
    ),
    responses={200: {"description": "One page of delivery log entries"}, **error_responses(400, 404)},
    tags=["Integrations"],
)
def list_delivery_logs(
    id: str,  # noqa: A002 - the seed's name
    page: Annotated[int, Query(ge=1, description="Page number (not used with cursor)")] = 1,
    limit: Annotated[int, Query(ge=1, le=100, description="Entries per page (max 100)")] = 20,
    status: Annotated[DeliveryStatus | None, Query(description="Only attempts with this status")] = None,
    event: Annotated[LoggedEvent | None, Query(description="Only attempts of this event type")] = None,
    cursor: Annotated[
        str | None,
        Query(min_length=1, max_length=1024, pattern="^[A-Za-z0-9_-]+$", description="A previous answer's nextCursor"),
    ] = None,
) -> DeliveryLogsResponse:
    record = service.from_environment().get_readable(account_id(router), integration_id(id))
    store = delivery_logs.from_environment()
    return delivery_logs.logs_page(store, record.id, page, limit, status=status, event=event, cursor=cursor)


app = build_app(router)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)


# SnapStart: done before the snapshot instead of at the first request, ending with a priming request
# (integrations.platform.snapstart).
snapstart.prepare(
    service.from_environment,
    delivery_logs.from_environment,
    snapstart.clients("dynamodb"),
    # The page's Query, which the priming request (an unknown integration) does not reach.
    snapstart.query_nothing(lambda: delivery_logs.from_environment().table_name, "integrationId"),
    snapstart.invoke(
        lambda_handler,
        snapstart.api_request("GET", f"/v1/integrations/{snapstart.PRIMING_ID}/logs"),
        times=snapstart.REPEAT,
    ),
)
