"""The SSRF guard on the wire: refused destinations never get a connection, the checked address is the one
connected to, redirects are never followed, and TLS still verifies the URL's host name."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from integrations.platform import settings
from integrations.providers import http
from integrations.providers.jira import Jira
from integrations.providers.slack import Slack
from integrations.providers.webhook import Webhook
from tests.providers.fakes import FakeReceiver, Reply, make_delivery, send_context
from tests.security.destinations import FORBIDDEN, Forbidden
from tests.security.network import PUBLIC_V4, CountingListener, FakeNetwork
from tests.security.tls import TlsReceiver, make_ca_and_server_cert


def _delivery_settings(monkeypatch: pytest.MonkeyPatch, allow_local: bool) -> None:
    monkeypatch.setenv("ALLOW_LOCAL_DESTINATIONS", "true" if allow_local else "false")
    monkeypatch.setenv("EMAIL_SENDER", "alerts@apviso.test")
    settings.load.cache_clear()


@pytest.fixture(autouse=True)
def _fresh_session() -> Iterator[None]:
    # No pooled connection survives from one test to the next.
    http._session.cache_clear()
    yield
    http._session.cache_clear()


@pytest.fixture
def guard_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """As in production: ALLOW_LOCAL_DESTINATIONS=false."""
    _delivery_settings(monkeypatch, allow_local=False)


@pytest.fixture
def guard_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """As the local stack and the provider tests run: ALLOW_LOCAL_DESTINATIONS=true."""
    _delivery_settings(monkeypatch, allow_local=True)


@pytest.fixture
def receiver() -> Iterator[FakeReceiver]:
    with FakeReceiver() as fake:
        yield fake


def _port(receiver: FakeReceiver) -> int:
    return int(receiver.url.rsplit(":", 1)[1])


@pytest.mark.usefixtures("guard_on")
@pytest.mark.parametrize("destination", FORBIDDEN, ids=lambda d: d.id)
def test_a_forbidden_destination_fails_permanently_without_a_connection(
    destination: Forbidden, network: FakeNetwork, listener: CountingListener
) -> None:
    destination.install(network)
    with pytest.raises(http.DestinationRefused) as refused:
        http.post(destination.url(listener.port), json_body={"probe": True})
    assert str(refused.value).startswith(f"Destination address is not allowed ({destination.reason}")
    assert refused.value.retryable is False
    outcome = http.outcome_from_transport_error(refused.value)
    assert (outcome.success, outcome.retryable, outcome.response_code) == (False, False, None)
    assert network.connects == []
    assert listener.accepted() == 0


@pytest.mark.usefixtures("guard_on")
@pytest.mark.parametrize("provider", [Webhook, Slack, Jira], ids=lambda p: p.id)
def test_every_provider_with_a_user_chosen_url_is_guarded(
    provider: Any, network: FakeNetwork, listener: CountingListener, log_output: Any
) -> None:
    """Each sender reports the refusal as a failed, not retried outcome with the safe error, and it is logged."""
    network.add("hooks.slack.com", "127.0.0.1")  # the one host a Slack URL may name, pointed inward
    base = f"https://hooks.slack.com:{listener.port}"
    credentials = {
        "webhook": {"url": f"{base}/hook"},
        "slack": {"webhookUrl": f"{base}/services/T0/B0/secret-path-token"},
        "jira": {"baseUrl": base, "email": "bot@team.example", "apiToken": "jira-token-123"},
    }[provider.id]
    config = {"projectKey": "SEC"} if provider.id == "jira" else None
    outcome = provider.send(make_delivery(provider, credentials, config), send_context(ALLOW_LOCAL_DESTINATIONS=False))
    assert (outcome.success, outcome.retryable, outcome.response_code) == (False, False, None)
    assert outcome.error == "Destination address is not allowed (loopback)"
    assert network.connects == [] and listener.accepted() == 0
    [line] = [json.loads(line) for line in log_output.getvalue().splitlines() if "Refused outbound" in line]
    assert (line["level"], line["reason"], line["address"]) == ("WARNING", "loopback", "127.0.0.1")
    assert "secret-path-token" not in log_output.getvalue() and "hooks.slack.com" not in log_output.getvalue()


@pytest.mark.usefixtures("guard_on")
def test_a_name_that_does_not_resolve_at_delivery_is_a_retryable_failure(network: FakeNetwork) -> None:
    with pytest.raises(http.TransportError) as failed:
        http.post("https://gone.invalid/hook", json_body={})
    assert not isinstance(failed.value, http.DestinationRefused)
    assert str(failed.value) == "Provider host name could not be resolved"
    assert http.outcome_from_transport_error(failed.value).retryable is True
    assert network.lookups == ["gone.invalid"] and network.connects == []


@pytest.mark.usefixtures("guard_on")
def test_a_public_destination_is_reached_at_the_address_that_was_checked(
    network: FakeNetwork, receiver: FakeReceiver
) -> None:
    network.add("receiver.example", PUBLIC_V4)
    network.route(PUBLIC_V4, ("127.0.0.1", _port(receiver)))  # "the Internet": a public address served here
    response = http.post(f"http://receiver.example:{_port(receiver)}/hook", json_body={"ok": True})
    assert response.status == 200
    assert network.connects == [(PUBLIC_V4, _port(receiver))]
    assert receiver.last.headers["host"] == f"receiver.example:{_port(receiver)}"  # Host keeps the name


@pytest.mark.usefixtures("guard_on")
def test_dns_rebinding_the_connection_uses_the_single_answer_that_was_checked(
    network: FakeNetwork, receiver: FakeReceiver, listener: CountingListener
) -> None:
    """The attacker's name answers public to the first lookup and loopback to every later one."""
    answers = iter([(PUBLIC_V4,)])
    network.names["rebind.example"] = lambda: next(answers, ("127.0.0.1",))
    network.route(PUBLIC_V4, ("127.0.0.1", _port(receiver)))
    url = f"http://rebind.example:{listener.port}/hook"  # the port a second, rebound lookup would reach
    assert http.post(url, json_body={}).status == 200
    assert network.lookups == ["rebind.example"], "resolved once: checked and connected with the same answer"
    assert network.connects == [(PUBLIC_V4, listener.port)]
    # A new connection resolves again, gets the loopback answer, and is refused before connecting.
    http._session.cache_clear()
    with pytest.raises(http.DestinationRefused, match=r"\(loopback\)"):
        http.post(url, json_body={})
    assert network.connects == [(PUBLIC_V4, listener.port)]
    assert listener.accepted() == 0


@pytest.mark.usefixtures("guard_on")
def test_a_public_receiver_redirecting_inward_is_not_followed(
    network: FakeNetwork, receiver: FakeReceiver, listener: CountingListener
) -> None:
    network.add("receiver.example", PUBLIC_V4)
    network.route(PUBLIC_V4, ("127.0.0.1", _port(receiver)))
    for location in (f"http://127.0.0.1:{listener.port}/", f"http://169.254.169.254:{listener.port}/latest"):
        receiver.script(Reply(302, headers={"Location": location}))
        response = http.post(f"http://receiver.example:{_port(receiver)}/hook", json_body={})
        assert response.status == 302
        outcome = http.outcome_from_response(response)
        assert (outcome.success, outcome.retryable) == (False, False)
        assert "redirect" in (outcome.error or "")
    assert {peer for peer, _ in network.connects} == {PUBLIC_V4}
    assert listener.accepted() == 0


@pytest.mark.usefixtures("guard_off")
def test_redirects_are_never_followed_even_where_local_destinations_are_allowed(
    network: FakeNetwork, receiver: FakeReceiver, listener: CountingListener
) -> None:
    receiver.script(Reply(307, headers={"Location": f"http://127.0.0.1:{listener.port}/second-hop"}))
    assert http.post(receiver.url + "/hook", json_body={}).status == 307
    assert [port for _, port in network.connects] == [_port(receiver)]
    assert listener.accepted() == 0


@pytest.mark.usefixtures("guard_off")
def test_allow_local_destinations_turns_the_guard_off(receiver: FakeReceiver, listener: CountingListener) -> None:
    assert http.post(receiver.url + "/hook", json_body={}).status == 200
    with pytest.raises(http.TransportError) as failed:  # reached, not refused: the listener never answers
        http.request("GET", f"http://127.0.0.1:{listener.port}/", deadline=http.attempt_deadline(0.2))
    assert not isinstance(failed.value, http.DestinationRefused)
    assert listener.accepted() == 1


@pytest.mark.usefixtures("guard_on")
def test_tls_to_a_pinned_address_verifies_the_certificate_and_sends_sni_for_the_host_name(
    network: FakeNetwork, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ca, cert, key = make_ca_and_server_cert(tmp_path, "receiver.example")
    network.add("receiver.example", PUBLIC_V4)
    with TlsReceiver(cert, key) as server:
        network.route(PUBLIC_V4, ("127.0.0.1", _port(server)))
        url = f"https://receiver.example:{_port(server)}/hook"
        monkeypatch.setattr(http._session(), "verify", str(ca))
        assert http.post(url, json_body={}).status == 200
        assert server.server_names == ["receiver.example"]  # SNI: the name, not the pinned address
        assert server.last.headers["host"] == f"receiver.example:{_port(server)}"
        assert network.connects == [(PUBLIC_V4, _port(server))]


@pytest.mark.usefixtures("guard_on")
@pytest.mark.parametrize("trust", ["system store", "certificate for another name"])
def test_tls_over_a_pinned_address_still_refuses_a_certificate_it_cannot_verify(
    trust: str, network: FakeNetwork, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ca, cert, key = make_ca_and_server_cert(
        tmp_path, "receiver.example" if trust == "system store" else "other.example"
    )
    network.add("receiver.example", PUBLIC_V4)
    with TlsReceiver(cert, key) as server:
        network.route(PUBLIC_V4, ("127.0.0.1", _port(server)))
        if trust != "system store":
            monkeypatch.setattr(http._session(), "verify", str(ca))
        with pytest.raises(http.TransportError, match="TLS handshake failed"):
            http.post(f"https://receiver.example:{_port(server)}/hook", json_body={})
        assert server.requests == []


def test_proxies_are_refused_because_the_proxy_would_resolve_the_name() -> None:
    with pytest.raises(requests.exceptions.InvalidProxyURL):
        http._guarded_adapter()().proxy_manager_for("http://proxy.internal:3128")
    assert http._session().trust_env is False
    assert all(isinstance(http._session().get_adapter(u), http._guarded_adapter()) for u in ("http://x", "https://x"))
