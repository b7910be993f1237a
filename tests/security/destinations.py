"""The forbidden destinations every SSRF test runs through: IP literals in every notation, and names that resolve
to internal addresses. Each is used as ``https://<host>:<port>/hook`` with the port of a counting listener on
loopback, so that every loopback form would land there if the guard let a connection through."""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.security.network import PUBLIC_V4, PUBLIC_V6, FakeNetwork


@dataclass(frozen=True)
class Forbidden:
    id: str
    host: str  # as written in the URL
    reason: str  # the start of the safe error: "Destination address is not allowed (<reason>…)"
    dns: dict[str, tuple[str, ...]] = field(default_factory=dict)  # what the fake resolver answers

    def url(self, port: int) -> str:
        return f"https://{self.host}:{port}/hook"

    def install(self, network: FakeNetwork) -> None:
        for name, addresses in self.dns.items():
            network.add(name, *addresses)


FORBIDDEN: list[Forbidden] = [
    # IPv4 loopback in every notation a C resolver accepts
    Forbidden("dotted", "127.0.0.1", "loopback"),
    Forbidden("decimal", "2130706433", "loopback"),
    Forbidden("octal", "0177.0.0.1", "loopback"),
    Forbidden("octal-whole", "017700000001", "loopback"),
    Forbidden("octal-padded", "0177.0000.0000.0001", "loopback"),
    Forbidden("hex-short", "0x7f.1", "loopback"),
    Forbidden("hex-whole", "0x7f000001", "loopback"),
    Forbidden("hex-dotted", "0x7F.0x00.0x00.0x01", "loopback"),
    Forbidden("short", "127.1", "loopback"),
    Forbidden("trailing-dot", "127.0.0.1.", "loopback"),
    Forbidden("other-loopback", "127.53.0.9", "loopback"),
    Forbidden("unspecified", "0.0.0.0", "unspecified"),  # Linux connects 0.0.0.0 to loopback
    Forbidden("unspecified-decimal", "0", "unspecified"),
    # IPv6 loopback and the forms that embed IPv4
    Forbidden("ipv6-loopback", "[::1]", "loopback"),
    Forbidden("ipv6-loopback-long", "[0:0:0:0:0:0:0:1]", "loopback"),
    Forbidden("ipv6-unspecified", "[::]", "unspecified"),
    Forbidden("ipv4-mapped", "[::ffff:127.0.0.1]", "loopback, IPv4-mapped"),
    Forbidden("ipv4-mapped-hex", "[::ffff:7f00:1]", "loopback, IPv4-mapped"),
    Forbidden("ipv4-mapped-long", "[0:0:0:0:0:ffff:127.0.0.1]", "loopback, IPv4-mapped"),
    Forbidden("ipv4-mapped-public", "[::ffff:8.8.8.8]", "IPv4-mapped"),
    Forbidden("ipv4-compatible", "[::127.0.0.1]", "loopback, IPv4-compatible"),
    Forbidden("nat64", "[64:ff9b::7f00:1]", "loopback, NAT64"),
    Forbidden("nat64-private", "[64:ff9b::a00:1]", "private network, NAT64"),
    Forbidden("nat64-local-use", "[64:ff9b:1::a00:1]", "NAT64"),
    Forbidden("6to4", "[2002:7f00:1::1]", "loopback, 6to4"),
    Forbidden("6to4-private", "[2002:c0a8:101::1]", "private network, 6to4"),
    Forbidden("teredo", "[2001:0:4136:e378:8000:63bf:80ff:fffe]", "loopback, Teredo"),
    # Cloud metadata, link-local, private, shared and special-purpose ranges
    Forbidden("metadata", "169.254.169.254", "cloud metadata service"),
    Forbidden("metadata-hex", "0xa9fea9fe", "cloud metadata service"),
    Forbidden("metadata-ecs", "169.254.170.2", "cloud metadata service"),
    Forbidden("metadata-ipv6", "[fd00:ec2::254]", "cloud metadata service"),
    Forbidden("link-local", "169.254.1.1", "link-local"),
    Forbidden("ipv6-link-local", "[fe80::1]", "link-local"),
    Forbidden("private-10", "10.0.0.1", "private network"),
    Forbidden("private-10-short", "10.1", "private network"),
    Forbidden("private-172", "172.16.5.4", "private network"),
    Forbidden("private-192", "192.168.1.1", "private network"),
    Forbidden("private-octal", "0300.0250.0.1", "private network"),
    Forbidden("cgnat", "100.64.0.1", "shared address space (CGNAT)"),
    Forbidden("ietf-protocol", "192.0.0.8", "reserved"),
    Forbidden("documentation", "192.0.2.10", "documentation"),
    Forbidden("benchmarking", "198.18.0.1", "benchmarking"),
    Forbidden("multicast", "224.0.0.1", "multicast"),
    Forbidden("reserved", "240.0.0.1", "reserved"),
    Forbidden("broadcast", "255.255.255.255", "broadcast"),
    Forbidden("broadcast-decimal", "4294967295", "broadcast"),
    Forbidden("ula", "[fd12:3456::1]", "private network"),
    Forbidden("site-local", "[fec0::1]", "private network"),
    Forbidden("ipv6-multicast", "[ff02::1]", "multicast"),
    Forbidden("ipv6-documentation", "[2001:db8::1]", "documentation"),
    Forbidden("ipv6-reserved", "[100::1]", "reserved"),
    # Names whose DNS answers are internal
    Forbidden("localhost", "localhost", "loopback"),
    Forbidden("name-loopback", "receiver.example", "loopback", {"receiver.example": ("127.0.0.1",)}),
    Forbidden("name-trailing-dot", "receiver.example.", "loopback", {"receiver.example": ("127.0.0.1",)}),
    Forbidden("name-ipv6-loopback", "v6.receiver.example", "loopback", {"v6.receiver.example": ("::1",)}),
    Forbidden("name-private", "intranet.example", "private network", {"intranet.example": ("10.20.30.40",)}),
    Forbidden("name-metadata", "meta.example", "cloud metadata service", {"meta.example": ("169.254.169.254",)}),
    Forbidden("name-mapped", "mapped.example", "loopback, IPv4-mapped", {"mapped.example": ("::ffff:127.0.0.1",)}),
    Forbidden("name-ula", "ula.example", "private network", {"ula.example": ("fd00::1",)}),
    Forbidden("name-cgnat", "cgnat.example", "shared address space", {"cgnat.example": ("100.100.1.1",)}),
    # One public and one private answer: refused, never narrowed down to the good one
    Forbidden("public-then-loopback", "mixed.example", "loopback", {"mixed.example": (PUBLIC_V4, "127.0.0.1")}),
    Forbidden("public-then-private-v6", "mixed6.example", "loopback", {"mixed6.example": (PUBLIC_V6, "::1")}),
    Forbidden("private-then-public", "mixed4.example", "private network", {"mixed4.example": ("10.0.0.7", PUBLIC_V4)}),
]
