"""Every example request of the seed document, replayed as written, answers the documented status and shape.

The requests are the seed's own (tests/fixtures/seed_examples.json: each curl's method, path and body), with a
local API key and the created integration's id for ``:id``. The Slack webhook URL is the seed's
(``https://hooks.slack.com/services/T00000000/...``), reached with the SSRF guard on, as in production: the fake
network routes Slack's name to a local HTTPS Slack trusted by a throwaway certificate authority.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from integrations.providers import http
from tests.conftest import SEED, seed_catalog_as_decided
from tests.integration.conftest import Api
from tests.providers.fakes import Reply
from tests.security.network import PUBLIC_V4, FakeNetwork
from tests.security.tls import TlsReceiver, make_ca_and_server_cert

# The status each example answers: the seed shows bodies only; 201 for a create is the design's.
STATUS = {("POST", "/v1/integrations"): 201}
# Fields beyond the seed's, after its own (docs/delivery-logs.md).
ADDITIONS = {"logs_response": ["nextCursor"]}
# Fields beyond the seed's in each item of a list (docs/recovery.md: each log entry shows its attempt number).
ITEM_ADDITIONS = {"logs_response": ["attempt"]}


@pytest.fixture
def slack(network: FakeNetwork, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TlsReceiver]:
    """hooks.slack.com, answering ``ok`` as Slack does, over TLS that the service verifies."""
    ca, cert, key = make_ca_and_server_cert(tmp_path, "hooks.slack.com")
    network.add("hooks.slack.com", PUBLIC_V4)
    with TlsReceiver(cert, key) as server:
        network.route(PUBLIC_V4, ("127.0.0.1", int(server.url.rsplit(":", 1)[1])))
        monkeypatch.setattr(http._session(), "verify", str(ca))
        yield server


def same_shape(ours: Any, documented: Any, where: str = "body") -> None:
    """The same keys in the same order, recursively; lists of items shaped like the documented ones; each value of
    the documented JSON type, or null (a value the example shows filled may still be empty here, e.g. no delivery
    yet)."""
    if isinstance(documented, dict):
        assert isinstance(ours, dict) and list(ours) == list(documented), f"{where}: {list(ours)} != {list(documented)}"
        for key in documented:
            same_shape(ours[key], documented[key], f"{where}.{key}")
    elif isinstance(documented, list):
        assert isinstance(ours, list), where
        for i, item in enumerate(ours):
            same_shape(item, documented[0], f"{where}[{i}]") if documented else None
    elif documented is not None and ours is not None:
        assert type(ours) is type(documented), f"{where}: {ours!r} is not like {documented!r}"


def test_every_example_request_of_the_seed_answers_as_documented(api: Api, slack: TlsReceiver) -> None:
    slack.script(Reply(200, "ok"))  # the test delivery
    integration_id = ""
    answers: dict[str, Any] = {}
    # In the seed's order, except that the delete comes last: the test route needs a live integration.
    for example in sorted(SEED["example_requests"], key=lambda example: example["method"] == "DELETE"):
        method, path = example["method"], example["path"].replace(":id", integration_id)
        body = SEED[example["body"]] if "body" in example else None
        reply = api.request(method, path, body)
        documented = SEED[example["response"]]

        assert reply.status == STATUS.get((method, example["path"]), 200), (method, path, reply.body)
        additions = ADDITIONS.get(example["response"], [])
        item_additions = dict.fromkeys(ITEM_ADDITIONS.get(example["response"], []))
        items = {k: [{**v[0], **item_additions}] for k, v in documented.items() if item_additions and k == "data"}
        same_shape(reply.body, {**documented, **items, **dict.fromkeys(additions)})
        answers[example["response"]] = reply.body
        if example["response"] == "create_response":
            integration_id = reply.body["id"]

    seed_providers = seed_catalog_as_decided()["providers"]
    assert answers["providers_response"]["providers"][: len(seed_providers)] == seed_providers  # then those added
    fields = ("provider", "name", "enabled", "enabledEvents", "minimumSeverity")
    created, updated = answers["create_response"], answers["update_response"]
    assert {f: created[f] for f in fields} == {f: SEED["create_response"][f] for f in fields}
    assert created in answers["list_response"]["data"]
    assert {f: updated[f] for f in fields} == {f: SEED["update_response"][f] for f in fields}, "Slack takes finding.new"
    assert answers["delete_response"] == SEED["delete_response"]
    assert {k: v for k, v in answers["test_response"].items() if k not in ("deliveredAt", "responseTime")} == {
        "success": True,
        "message": "Test event delivered successfully",
        "responseCode": 200,
    }
    assert slack.last.path == "/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"
    [entry] = answers["logs_response"]["data"]
    assert (entry["status"], entry["responseCode"], entry["error"]) == ("success", 200, None)
    assert answers["logs_response"]["pagination"] == {"page": 1, "limit": 20, "total": 1, "totalPages": 1}
