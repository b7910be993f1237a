"""The seed's flows through a client that openapi-python-client generated from openapi.json (run by
test_generated_client.py with the tools virtualenv's Python, where the client's dependencies are).

Reads {"client_dir", "url", "key", "receiver_url", "create_request", "update_request"} as JSON on stdin and prints
what each step answered: its status, the generated model the answer was parsed into, and that model as a dict.
"""

from __future__ import annotations

import json
import sys
from typing import Any

given = json.load(sys.stdin)
sys.path.insert(0, given["client_dir"])  # the freshly generated package, not an installed one

from apviso_client import AuthenticatedClient  # noqa: E402
from apviso_client.api.integrations import (  # noqa: E402
    create_integration,
    delete_integration,
    list_delivery_logs,
    list_integrations,
    list_providers,
    test_integration,
    update_integration,
)
from apviso_client.models import (  # noqa: E402
    CreateSlackIntegrationRequest,
    CreateWebhookIntegrationRequest,
    UpdateIntegrationRequest,
)

client = AuthenticatedClient(base_url=given["url"], token=given["key"], prefix="", auth_header_name="X-API-Key")
transcript: list[dict[str, Any]] = []


def step(name: str, response: Any) -> Any:
    """Record one answer; returns its parsed model."""
    parsed = response.parsed
    transcript.append(
        {
            "step": name,
            "status": int(response.status_code),
            "model": type(parsed).__name__,
            "body": parsed.to_dict() if hasattr(parsed, "to_dict") else None,
        }
    )
    return parsed


with client:
    step("list providers", list_providers.sync_detailed(client=client))
    slack = step(
        "create the seed's Slack integration",
        create_integration.sync_detailed(
            client=client, body=CreateSlackIntegrationRequest.from_dict(given["create_request"])
        ),
    )
    webhook_request = {
        "provider": "webhook",
        "name": "Signed receiver",
        "credentials": {"url": given["receiver_url"], "secret": given["webhook_secret"]},
        "enabledEvents": ["finding.critical", "scan.completed"],
    }
    webhook = step(
        "create a webhook integration",
        create_integration.sync_detailed(
            client=client, body=CreateWebhookIntegrationRequest.from_dict(webhook_request)
        ),
    )
    step("list", list_integrations.sync_detailed(client=client))
    step(
        "update with the seed's PATCH",
        update_integration.sync_detailed(
            slack.id, client=client, body=UpdateIntegrationRequest.from_dict(given["update_request"])
        ),
    )
    step("test the webhook", test_integration.sync_detailed(webhook.id, client=client))
    step("its logs", list_delivery_logs.sync_detailed(webhook.id, client=client, page=1, limit=20))
    step("delete the Slack integration", delete_integration.sync_detailed(slack.id, client=client))
    step("delete the webhook integration", delete_integration.sync_detailed(webhook.id, client=client))
    step("list again", list_integrations.sync_detailed(client=client))

print(json.dumps(transcript))
