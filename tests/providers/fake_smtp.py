"""A real SMTP server (aiosmtpd) on 127.0.0.1 in its own thread, recording the messages it accepts.

``refuse_recipients`` / ``refuse_data`` make it answer RCPT TO or DATA with a given reply (``"550 …"``,
``"451 …"``) instead of accepting, as a mail server does for unknown mailboxes or while greylisting.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from types import TracebackType
from typing import Self, cast

from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass(frozen=True)
class Received:
    """One accepted message: the envelope and the parsed message."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


class FakeSmtp:
    """Listens on a port chosen by the system (bound before the loop starts, so there is no race for it)."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.refuse_recipients: str | None = None
        self.refuse_data: str | None = None
        self._socket = socket.create_server(("127.0.0.1", 0))
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        return int(self._socket.getsockname()[1])

    @property
    def transport(self) -> str:
        """The EMAIL_TRANSPORT value that sends here."""
        return f"smtp://127.0.0.1:{self.port}"

    def __enter__(self) -> Self:
        self._thread.start()
        serving = self._loop.create_server(self._protocol, sock=self._socket)
        self._server = asyncio.run_coroutine_threadsafe(serving, self._loop).result(timeout=5)
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        if self._server is not None:
            asyncio.run_coroutine_threadsafe(self._close(self._server), self._loop).result(timeout=5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    @staticmethod
    async def _close(server: asyncio.Server) -> None:
        # On the loop's own thread: asyncio.Server is not thread-safe.
        server.close()
        await server.wait_closed()

    def _protocol(self) -> SMTP:
        # A fixed host name spares aiosmtpd a look-up of this machine's name.
        return SMTP(self, hostname="smtp.test", loop=self._loop)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        """Accept each recipient unless told to refuse them."""
        if self.refuse_recipients:
            return self.refuse_recipients
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """Keep the message unless told to refuse it."""
        if self.refuse_data:
            return self.refuse_data
        content = cast(bytes, envelope.original_content or envelope.content)
        message = message_from_bytes(content, policy=policy.default)
        self.received.append(Received(str(envelope.mail_from), list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


def parts(message: EmailMessage) -> dict[str, str]:
    """The text of each part of a multipart/alternative message by content type, with the wire's CRLFs as LFs."""
    return {
        part.get_content_type(): str(cast(EmailMessage, part).get_content()).replace("\r\n", "\n")
        for part in message.iter_parts()
    }
