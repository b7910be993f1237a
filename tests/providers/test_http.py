"""The outbound HTTP layer's own classification of failures no provider answers."""

from __future__ import annotations

import pytest

from integrations import http


def test_a_host_no_resolver_accepts_fails_for_good_without_echoing_the_url() -> None:
    url = "https://" + "a" * 64 + ".example/hook-secret-path"
    with pytest.raises(http.TransportError) as raised:
        http.post(url, json_body={})
    assert raised.value.retryable is False
    assert str(raised.value) == "The destination URL's host is not a valid name"
    outcome = http.outcome_from_transport_error(raised.value)
    assert (outcome.success, outcome.retryable) == (False, False)
