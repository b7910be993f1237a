"""Hostile receivers: real TCP servers on loopback that answer every request in a way no provider should.

``HostileReceiver`` reads each request whole (headers and ``Content-Length`` body, so the client never sees a
reset while sending) and then plays one ``Answer`` on the socket: ``dripping`` sends an answer one byte at a
time, slowly enough that no socket read ever times out; ``huge`` streams a body of any size from one small
buffer, so the receiver's own memory stays flat while the client's is measured. Leaving the context manager
stops the server and wakes every answer still playing.
"""

from __future__ import annotations

import contextlib
import itertools
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Self

type Answer = Callable[[socket.socket, threading.Event], None]

CHUNK = b"x" * (64 * 1024)


class HostileReceiver:
    """A TCP server on 127.0.0.1 (a free port) that plays ``answer`` to every HTTP request it receives."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.closing = threading.Event()
        self.requests: list[bytes] = []  # each request's head (request line and headers)
        self._server = _Server(self)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02})

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.closing.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"


class _Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    block_on_close = False  # an answer still dripping when the test ends is abandoned, not waited for

    def __init__(self, receiver: HostileReceiver) -> None:
        self.receiver = receiver
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: object, client_address: object) -> None:
        """The client hanging up mid-answer is what these tests provoke."""


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        connection: socket.socket = self.request
        connection.settimeout(10)
        head = _read_request(connection)
        if head is None:
            return
        self.server.receiver.requests.append(head)
        with contextlib.suppress(OSError):
            self.server.receiver.answer(connection, self.server.receiver.closing)


def _read_request(connection: socket.socket) -> bytes | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")),
        0,
    )
    while len(body) < length:
        chunk = connection.recv(65536)
        if not chunk:
            return None
        body += chunk
    return head


def dripping(head: bytes, interval: float, then: Iterator[bytes] | None = None) -> Answer:
    """Send ``head`` at once, then one byte of ``then`` (endless ``a`` by default) every ``interval`` seconds."""

    def answer(connection: socket.socket, closing: threading.Event) -> None:
        connection.sendall(head)
        for byte in then or itertools.repeat(b"a"):
            if closing.wait(interval):
                return
            connection.sendall(byte)

    return answer


def drip_bytes(data: bytes) -> Iterator[bytes]:
    """``data`` one byte at a time, then endless ``a`` (a header or body that never ends)."""
    yield from (data[i : i + 1] for i in range(len(data)))
    yield from itertools.repeat(b"a")


# A body that never completes: its declared length is far beyond what the drip will ever send.
DRIPPING_BODY = dripping(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n\r\n", 0.2)
# A status line and headers that never complete: each recv gets a byte, so no read ever times out.
DRIPPING_HEAD = dripping(b"", 0.2, drip_bytes(b"HTTP/1.1 200 OK\r\nX-Slow: "))


def huge(status: int, size: int, *, chunked: bool = False, content_type: str = "text/plain") -> Answer:
    """An answer whose body is ``size`` bytes of ``x``, with a Content-Length or chunked."""

    def answer(connection: socket.socket, closing: threading.Event) -> None:
        framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {size}"
        connection.sendall(f"HTTP/1.1 {status} Status\r\nContent-Type: {content_type}\r\n{framing}\r\n\r\n".encode())
        sent = 0
        while sent < size and not closing.is_set():
            piece = CHUNK[: min(len(CHUNK), size - sent)]
            connection.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            sent += len(piece)
        if chunked:
            connection.sendall(b"0\r\n\r\n")
        time.sleep(0.05)  # let the client read the end before this side closes

    return answer
