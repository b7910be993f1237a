"""The outbound HTTP layer's own classification of failures no provider answers."""

from __future__ import annotations

import pytest

from integrations.providers import http
from tests.providers.fakes import FakeReceiver, Reply


def test_a_host_no_resolver_accepts_fails_for_good_without_echoing_the_url() -> None:
    url = "https://" + "a" * 64 + ".example/hook-secret-path"
    with pytest.raises(http.TransportError) as raised:
        http.post(url, json_body={})
    assert raised.value.retryable is False
    assert str(raised.value) == "The destination URL's host is not a valid name"
    outcome = http.outcome_from_transport_error(raised.value)
    assert (outcome.success, outcome.retryable) == (False, False)


def test_a_receivers_cookie_is_never_sent_back() -> None:
    # The session is shared by every account's deliveries: a cookie kept from one would reach the next.
    with FakeReceiver() as receiver:
        receiver.script(Reply(200, headers={"Set-Cookie": "session=account-a; Path=/"}), Reply(200))
        http.post(f"{receiver.url}/a", json_body={})
        http.post(f"{receiver.url}/b", json_body={})
    first, second = receiver.requests
    assert "cookie" not in first.headers and "cookie" not in second.headers
