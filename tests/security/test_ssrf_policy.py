"""The SSRF policy on its own: which addresses are refused, how literals are read, how names are resolved."""

from __future__ import annotations

from ipaddress import ip_address
from urllib.parse import urlsplit

import pytest

from integrations.providers import ssrf
from tests.security.destinations import FORBIDDEN, Forbidden
from tests.security.network import PUBLIC_V4, PUBLIC_V6, FakeNetwork


def test_the_matrix_is_large_and_covers_literals_ipv6_and_names() -> None:
    assert len(FORBIDDEN) >= 30
    assert len({d.id for d in FORBIDDEN}) == len(FORBIDDEN)
    assert sum(1 for d in FORBIDDEN if d.host.startswith("[")) >= 10
    assert sum(1 for d in FORBIDDEN if d.dns) >= 8


@pytest.mark.parametrize("destination", FORBIDDEN, ids=lambda d: d.id)
def test_every_forbidden_destination_is_refused_with_its_reason(destination: Forbidden, network: FakeNetwork) -> None:
    destination.install(network)
    host = urlsplit(destination.url(443)).hostname
    assert host
    with pytest.raises(ssrf.RefusedDestination) as refused:
        ssrf.checked_addresses(host, 443)
    assert refused.value.reason.startswith(destination.reason)
    assert str(refused.value).startswith(f"Destination address is not allowed ({destination.reason}")
    assert network.connects == []


@pytest.mark.parametrize(
    ("literal", "address"),
    [
        ("2130706433", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("0X7F.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("127.0.1", "127.0.0.1"),
        ("127.0.0.1.", "127.0.0.1"),
        ("0xa9fea9fe", "169.254.169.254"),
        ("10.1", "10.0.0.1"),
        ("0300.0250.0.1", "192.168.0.1"),
        ("0", "0.0.0.0"),
        ("0x", "0.0.0.0"),
        ("8.8.8.8", "8.8.8.8"),
        ("134744072", "8.8.8.8"),
        ("[::1]", "::1"),
        ("[::ffff:127.0.0.1]", "::ffff:7f00:1"),
        ("::FFFF:7F00:1", "::ffff:7f00:1"),
    ],
)
def test_ip_literals_in_every_notation_are_read_as_a_resolver_reads_them(literal: str, address: str) -> None:
    assert ssrf.ip_literal(literal) == ip_address(address)


@pytest.mark.parametrize(
    "host", ["999.1.1.1", "1.2.3.4.5", "08.1.1.1", "0x7g.1", "4294967296", "1.2.3.256", "1..2", "::g"]
)
def test_numeric_hosts_that_are_no_address_are_invalid(host: str) -> None:
    with pytest.raises(ssrf.InvalidHost):
        ssrf.ip_literal(host)


@pytest.mark.parametrize("host", ["example.com", "hooks.slack.com", "1.2.3.example", "0x7f.example", "a-1.b-2"])
def test_names_are_not_literals(host: str) -> None:
    assert ssrf.ip_literal(host) is None


def test_ip_literals_never_reach_the_resolver(network: FakeNetwork) -> None:
    for destination in FORBIDDEN:
        if not destination.dns and destination.host != "localhost":
            with pytest.raises(ssrf.RefusedDestination):
                ssrf.checked_addresses(destination.host.strip("[]"), 443)
    assert network.lookups == []


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", PUBLIC_V4, "2606:4700:4700::1111", PUBLIC_V6])
def test_globally_routable_addresses_pass(address: str) -> None:
    assert ssrf.forbidden_reason(ip_address(address)) is None


def test_special_purpose_blocks_are_refused_whole() -> None:
    # 192.0.0.9 is global per IANA, yet it sits in 192.0.0.0/24, refused as a block: no provider lives there.
    assert ssrf.forbidden_reason(ip_address("192.0.0.9")) == "reserved"


def test_a_public_name_gives_every_address_once_in_the_resolvers_order(network: FakeNetwork) -> None:
    network.add("hooks.slack.com", PUBLIC_V6, PUBLIC_V4, PUBLIC_V6)
    assert ssrf.checked_addresses("hooks.slack.com", 443) == [ip_address(PUBLIC_V6), ip_address(PUBLIC_V4)]
    assert network.lookups == ["hooks.slack.com"]


def test_a_name_is_refused_when_any_of_its_addresses_is_internal(network: FakeNetwork) -> None:
    network.add("mixed.example", PUBLIC_V4, PUBLIC_V6, "192.168.0.10")
    with pytest.raises(ssrf.RefusedDestination) as refused:
        ssrf.checked_addresses("mixed.example", 443)
    assert refused.value.address == ip_address("192.168.0.10")


def test_a_name_without_addresses_does_not_resolve(network: FakeNetwork) -> None:
    with pytest.raises(ssrf.UnresolvableHost):
        ssrf.checked_addresses("nothing-here.invalid", 443)
    with pytest.raises(ssrf.UnresolvableHost):
        ssrf.checked_addresses("a" * 64 + ".example", 443)  # a label IDNA cannot encode
    assert network.connects == []


def test_scoped_ipv6_addresses_are_link_local() -> None:
    assert ssrf.forbidden_reason(ip_address("fe80::1%eth0")) == "link-local"
