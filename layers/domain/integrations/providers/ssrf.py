"""Which addresses a customer-chosen destination may reach: only globally routable unicast, never internal ones.

Customers choose the URLs we call (webhook, Slack, Jira), so a URL could aim our Lambda at the cloud
metadata service, a VPC neighbour or a service on loopback. ``checked_addresses`` resolves a host once and
refuses it when **any** address it resolves to is not globally routable (a name answering one public and
one private address is refused, not narrowed to the good one). The caller connects only to the addresses
it returns — see ``http`` — so a second, different DNS answer (rebinding) is never used.

IP literals are parsed here, in every notation a C resolver accepts (``2130706433``, ``0177.0.0.1``,
``0x7f.1``, ``127.1``, a trailing dot, bracketed IPv6), so a literal never reaches the resolver and is
judged exactly like a resolved address. IPv6 forms that carry or reach an IPv4 address (IPv4-mapped and
-compatible, NAT64, 6to4, Teredo) are refused outright: a gateway in the VPC could carry them inward.
"""

from __future__ import annotations

import re
import socket
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

type Address = IPv4Address | IPv6Address

METADATA = "cloud metadata service"
PRIVATE = "private network"

# Cloud metadata endpoints (EC2 instance metadata over IPv4 and IPv6, ECS task metadata): named in the
# error so that an operator sees at once what was attempted. All are in ranges refused anyway.
_METADATA = frozenset(ip_address(a) for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254"))

# First match wins. IANA's special-purpose registries, plus what the stdlib of an older Python misses.
_IPV4: tuple[tuple[IPv4Network, str], ...] = tuple(
    (IPv4Network(net), reason)
    for net, reason in (
        ("0.0.0.0/8", "unspecified"),
        ("10.0.0.0/8", PRIVATE),
        ("100.64.0.0/10", "shared address space (CGNAT)"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local"),
        ("172.16.0.0/12", PRIVATE),
        ("192.0.0.0/24", "reserved"),  # IETF protocol assignments
        ("192.0.2.0/24", "documentation"),
        ("192.88.99.0/24", "reserved"),  # the deprecated 6to4 relay anycast
        ("192.168.0.0/16", PRIVATE),
        ("198.18.0.0/15", "benchmarking"),
        ("198.51.100.0/24", "documentation"),
        ("203.0.113.0/24", "documentation"),
        ("224.0.0.0/4", "multicast"),
        ("255.255.255.255/32", "broadcast"),
        ("240.0.0.0/4", "reserved"),
    )
)
_IPV6: tuple[tuple[IPv6Network, str], ...] = tuple(
    (IPv6Network(net), reason)
    for net, reason in (
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("64:ff9b:1::/48", "NAT64"),  # local-use NAT64: a translator inside the network
        ("100::/64", "reserved"),  # discard-only
        ("2001:db8::/32", "documentation"),
        ("2001::/23", "reserved"),  # IETF protocol assignments (Teredo, ORCHID, benchmarking…)
        ("3fff::/20", "documentation"),
        ("5f00::/16", "reserved"),  # SRv6 SIDs
        ("fc00::/7", PRIVATE),  # unique local
        ("fe80::/10", "link-local"),
        ("fec0::/10", PRIVATE),  # the deprecated site-local
        ("ff00::/8", "multicast"),
    )
)
_GLOBAL_UNICAST_V6 = IPv6Network("2000::/3")  # everything else in IPv6 is reserved by IANA
_IPV4_COMPATIBLE = IPv6Network("::/96")
_NAT64 = IPv6Network("64:ff9b::/96")
_NUMBER = re.compile(r"0[xX][0-9a-fA-F]*|[0-9]+")


class RefusedDestination(Exception):
    """The host is, or resolves to, an address we must not connect to. ``reason`` is safe to show."""

    def __init__(self, reason: str, address: Address | None = None) -> None:
        super().__init__(f"Destination address is not allowed ({reason})")
        self.reason = reason
        self.address = address


class UnresolvableHost(Exception):
    """The host name has no address (or could not be looked up now): a DNS failure, maybe transient."""


class InvalidHost(Exception):
    """The host is neither a valid name nor a valid IP literal (e.g. ``999.1.1.1``)."""


def forbidden_reason(address: Address) -> str | None:
    """Why ``address`` must not be reached (a short, safe phrase), or None when it is globally routable."""
    if address in _METADATA:
        return METADATA
    if isinstance(address, IPv4Address):
        return next((reason for net, reason in _IPV4 if address in net), None) or _stdlib_reason(address)
    if address.scope_id:
        return "link-local"
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        kind, inner = embedded
        inner_reason = forbidden_reason(inner)
        return f"{inner_reason}, {kind}" if inner_reason else kind
    reason = next((reason for net, reason in _IPV6 if address in net), None)
    if reason is None and address not in _GLOBAL_UNICAST_V6:
        reason = "reserved"
    return reason or _stdlib_reason(address)


def _stdlib_reason(address: Address) -> str | None:
    # The stdlib's registry may know ranges assigned after this table was written.
    return None if address.is_global and not address.is_multicast else "reserved"


def _embedded_ipv4(address: IPv6Address) -> tuple[str, IPv4Address] | None:
    """The IPv4 address an IPv6 transition form carries, with the form's name; None for plain IPv6."""
    if address.ipv4_mapped is not None:
        return "IPv4-mapped", address.ipv4_mapped
    if address in _IPV4_COMPATIBLE and int(address) > 1:  # :: and ::1 are themselves, not IPv4
        return "IPv4-compatible", IPv4Address(int(address) & 0xFFFFFFFF)
    if address in _NAT64:
        return "NAT64", IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return "6to4", address.sixtofour
    if address.teredo is not None:
        return "Teredo", address.teredo[1]
    return None


def ip_literal(host: str) -> Address | None:
    """``host`` as an IP address when it is a literal in any notation a resolver accepts; None for a name.

    Raises InvalidHost for a host that looks numeric but is no address: resolvers disagree about those.
    """
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if ":" in host:
        try:
            return IPv6Address(host)
        except ValueError:
            raise InvalidHost("not a valid IPv6 address") from None
    labels = (host[:-1] if host.endswith(".") else host).split(".")
    if not _NUMBER.fullmatch(labels[-1]):
        return None
    # As URL parsers (WHATWG) and inet_aton do: a numeric last label makes the host an IPv4 address.
    parts = [_number(label) for label in labels]
    if len(parts) > 4 or any(part is None for part in parts):
        raise InvalidHost("not a valid IPv4 address")
    numbers = [part for part in parts if part is not None]
    *leading, last = numbers
    if any(n > 255 for n in leading) or last >= 256 ** (5 - len(numbers)):
        raise InvalidHost("not a valid IPv4 address")
    value = last
    for index, number in enumerate(leading):
        value += number << (8 * (3 - index))
    return IPv4Address(value)


def _number(label: str) -> int | None:
    """One part of a legacy IPv4 literal: ``0x`` hex, ``0`` octal, or decimal."""
    if not _NUMBER.fullmatch(label):
        return None
    if label[:2].lower() == "0x":
        return int(label[2:] or "0", 16)
    if len(label) > 1 and label.startswith("0"):
        return int(label, 8) if all(c in "01234567" for c in label) else None
    return int(label)


def resolve(host: str, port: int) -> list[Address]:
    """Every address ``host`` stands for, in the resolver's order, without duplicates (one lookup)."""
    literal = ip_literal(host)
    if literal is not None:
        return [literal]
    try:
        answers = socket.getaddrinfo(host, port, socket.AF_UNSPEC, socket.SOCK_STREAM)
    except (OSError, UnicodeError):  # gaierror (no such name, resolver down), or a name IDNA cannot encode
        raise UnresolvableHost("host name does not resolve") from None
    addresses: list[Address] = []
    for family, _, _, _, sockaddr in answers:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        address = ip_address(str(sockaddr[0]))
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise UnresolvableHost("host name does not resolve")
    return addresses


def checked_addresses(host: str, port: int) -> list[Address]:
    """The addresses to connect to for ``host``; RefusedDestination when any of them is not globally routable."""
    addresses = resolve(host, port)
    for address in addresses:
        reason = forbidden_reason(address)
        if reason is not None:
            raise RefusedDestination(reason, address)
    return addresses
