"""Loaded at start-up by the local stack that tests/fuzz runs (this folder is first on its PYTHONPATH).

The fuzzer creates integrations whose URLs it generated and then asks for test deliveries to them, and the
local stack allows any destination (ALLOW_LOCAL_DESTINATIONS). So that no generated address is ever contacted,
this process resolves no host name but ``localhost`` and connects to loopback addresses only (TCP and UDP):
anything else fails as an unreachable destination would, and the service must handle that like any other
network failure.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
import sys
from typing import Any

SANDBOX_READY = "fuzz sandbox: loopback only"
_connect = socket.socket.connect
_connect_ex = socket.socket.connect_ex
_getaddrinfo = socket.getaddrinfo


def _is_loopback(host: object) -> bool:
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


def _refused(sock: socket.socket, address: Any) -> bool:
    internet = sock.family in (socket.AF_INET, socket.AF_INET6)
    return internet and not (isinstance(address, tuple) and _is_loopback(address[0]))


def _guarded_connect(self: socket.socket, address: Any) -> None:
    if _refused(self, address):
        raise ConnectionRefusedError(errno.ECONNREFUSED, "the fuzzed local stack connects to loopback only")
    _connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> int:
    if _refused(self, address):
        return errno.ECONNREFUSED
    return _connect_ex(self, address)


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name.split("%")[0])
    except ValueError:
        return False
    return True


def _guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    # Address literals need no resolver (connecting to them is checked above); names would ask DNS.
    name = host.decode() if isinstance(host, bytes) else host
    if name is not None and name != "localhost" and not _is_address(str(name)):
        raise socket.gaierror(socket.EAI_NONAME, "the fuzzed local stack resolves localhost only")
    return _getaddrinfo(host, *args, **kwargs)


socket.socket.connect = _guarded_connect  # type: ignore[method-assign,assignment]
socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign,assignment]
socket.getaddrinfo = _guarded_getaddrinfo
# The test reads this line in the stack's output: the guard is in place before the stack opens a socket.
print(SANDBOX_READY, file=sys.stderr, flush=True)
