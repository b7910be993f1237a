"""A fake network for tests: names answer from a table, and no socket reaches past loopback.

``FakeNetwork.install(monkeypatch)`` replaces ``socket.getaddrinfo`` (names resolve from ``names``;
any other name gets a public address, ``*.invalid`` does not resolve; IP literals go to the real
resolver with ``AI_NUMERICHOST``, which never asks DNS) and ``socket.socket.connect`` (every attempt is
recorded; a peer outside loopback is refused without sending anything, so a test can never reach a real
host, public or private). ``route`` sends a public address to a loopback server instead: a test can then
play a public receiver while the SSRF guard stays on.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from ipaddress import ip_address
from typing import Any, Self

import pytest

# example.com's addresses: public, so the guard lets them through; never connected to (see ``connect``).
PUBLIC_V4 = "93.184.215.14"
PUBLIC_V6 = "2606:2800:21f:cb07:6820:80da:af6b:8b2c"

_real_getaddrinfo = socket.getaddrinfo
_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex

type Answer = Sequence[str] | Callable[[], Sequence[str]]


@dataclass
class FakeNetwork:
    names: dict[str, Answer] = field(default_factory=dict)  # name → addresses, or a callable per lookup
    lookups: list[str] = field(default_factory=list)  # every name looked up (not IP literals)
    connects: list[tuple[str, int]] = field(default_factory=list)  # every connect attempt, loopback or not
    routes: dict[str, tuple[str, int]] = field(default_factory=dict)  # public address → loopback server

    @classmethod
    def install(cls, monkeypatch: pytest.MonkeyPatch) -> Self:
        network = cls()
        monkeypatch.setattr(socket, "getaddrinfo", network.getaddrinfo)

        # Plain functions, so that they bind to each socket as methods do.
        def connect(sock: socket.socket, address: Any) -> None:
            network.connect(sock, address)

        def connect_ex(sock: socket.socket, address: Any) -> int:
            return network.connect_ex(sock, address)

        monkeypatch.setattr(socket.socket, "connect", connect)
        monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
        return network

    def add(self, name: str, *addresses: str) -> None:
        self.names[name] = addresses

    def route(self, public: str, server: tuple[str, int]) -> None:
        """Deliver connections for ``public`` (any port) to ``server`` on loopback, as a router would."""
        self.routes[public] = server

    def getaddrinfo(  # the signature of socket.getaddrinfo, its argument names included
        self,
        host: Any,
        port: Any,
        family: int = 0,
        type: int = 0,  # noqa: A002
        proto: int = 0,
        flags: int = 0,
    ) -> list[tuple[Any, ...]]:
        if host is None or _is_ip(host):
            return _real_getaddrinfo(host, port, family, type, proto, flags | socket.AI_NUMERICHOST)
        if isinstance(host, str):
            host.encode("idna")  # as the real resolver does first: UnicodeError for a name IDNA cannot encode
        name = (host.decode() if isinstance(host, bytes) else str(host)).lower().rstrip(".")
        self.lookups.append(name)
        answer = self.names.get(name)
        if answer is None and name == "localhost":
            answer = ("127.0.0.1", "::1")
        if answer is None and not name.endswith(".invalid"):
            answer = (PUBLIC_V4,)
        addresses = answer() if callable(answer) else answer
        if not addresses:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        results: list[tuple[Any, ...]] = []
        for address in addresses:
            results += _real_getaddrinfo(
                address, port, family, type or socket.SOCK_STREAM, proto, socket.AI_NUMERICHOST
            )
        return results

    def _peer(self, address: Any) -> tuple[Any, ...]:
        host, port, *rest = address
        self.connects.append((str(host), int(port)))
        if str(host) in self.routes:
            return self.routes[str(host)]
        if not ip_address(str(host).split("%")[0]).is_loopback:
            # Nothing leaves this machine: a real host is never a test's target.
            raise ConnectionRefusedError(111, "Connection refused (the test network reaches loopback only)")
        return (host, port, *rest)

    def connect(self, sock: socket.socket, address: Any) -> None:
        _real_connect(sock, self._peer(address) if sock.family in (socket.AF_INET, socket.AF_INET6) else address)

    def connect_ex(self, sock: socket.socket, address: Any) -> int:
        if sock.family not in (socket.AF_INET, socket.AF_INET6):
            return _real_connect_ex(sock, address)
        try:
            peer = self._peer(address)
        except ConnectionRefusedError as error:
            return error.errno or 111
        return _real_connect_ex(sock, peer)


def _is_ip(host: Any) -> bool:
    try:
        ip_address((host.decode() if isinstance(host, bytes) else str(host)).split("%")[0])
    except ValueError:
        return False
    return True


class CountingListener:
    """A TCP socket listening on loopback that never answers: ``accepted()`` counts connections made to it."""

    def __init__(self) -> None:
        self.v4 = socket.create_server(("127.0.0.1", 0), backlog=128)
        self.port = self.v4.getsockname()[1]
        self.v6: socket.socket | None = None
        if socket.has_ipv6:
            try:
                self.v6 = socket.create_server(("::1", self.port), family=socket.AF_INET6, backlog=128)
            except OSError:  # no IPv6 loopback here, or the port is taken on it
                self.v6 = None
        self._count = 0

    def accepted(self) -> int:
        """Every connection completed so far (the kernel completes handshakes before accept)."""
        for server in (self.v4, self.v6):
            if server is None:
                continue
            server.setblocking(False)
            while True:
                try:
                    peer, _ = server.accept()
                except BlockingIOError:
                    break
                peer.close()
                self._count += 1
        return self._count

    def close(self) -> None:
        for server in (self.v4, self.v6):
            if server is not None:
                server.close()
