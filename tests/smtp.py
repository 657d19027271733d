"""A real SMTP server for tests: aiosmtpd on a free loopback port.

Messages are kept as raw bytes and parsed with the stdlib parser, exactly as a
receiving MTA would see them.
"""

import asyncio
import email
import email.policy
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    at: float = field(default_factory=time.time)  # when DATA ended (time.time())

    @property
    def arrived(self) -> datetime:
        """``at`` as an aware datetime (the scheduling tests: never early)."""
        return datetime.fromtimestamp(self.at, UTC)

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.data, policy=email.policy.default)  # type: ignore[return-value]


@dataclass
class _Handler:
    received: list[Received] = field(default_factory=list)
    hold: str | None = None
    holding: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    latency: float = 0.0  # seconds before each acknowledgement, as a remote server takes

    async def handle_DATA(self, server, session, envelope):
        self.received.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)
        )
        if self.latency:
            await asyncio.sleep(self.latency)
        if self.hold in envelope.rcpt_tos and not self.holding.is_set():
            # Kept, as an MTA keeps what it has, but not acknowledged yet: the
            # moment where a client that dies can't know the outcome.
            self.holding.set()
            while not self.release.is_set():
                await asyncio.sleep(0.05)
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SMTPServer:
    """Start with ``start()``; ``received`` lists what arrived.

    ``hold``: an address whose first message is kept but not acknowledged until
    ``release`` is set (``holding`` is set once it arrived). ``latency``: seconds
    each acknowledgement waits; ``idle_timeout``: seconds after which the server
    closes a connection that sent no command.
    """

    def __init__(self, hold: str | None = None, latency: float = 0.0,
                 idle_timeout: float = 300) -> None:
        self.handler = _Handler(hold=hold, latency=latency)
        self.holding, self.release = self.handler.holding, self.handler.release
        self.port = free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port,
                                     timeout=idle_timeout)

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    def mailer(self) -> dict:
        """A MAILERS entry that sends here."""
        return {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": self.port, "timeout": 10},
        }

    def start(self) -> "SMTPServer":
        self.controller.start()
        self.running = True
        return self

    def stop(self) -> None:
        """Stop the server (again is fine: a test may take it down midway)."""
        self.release.set()
        if getattr(self, "running", False):
            self.running = False
            self.controller.stop()


class ScriptedServer(SMTPServer):
    """An aiosmtpd server whose DATA replies follow a script, then accept."""

    def __init__(self, replies=()) -> None:
        super().__init__()
        self.replies = list(replies)
        accept = self.handler.handle_DATA

        async def handle_data(server: Any, session: Any, envelope: Any) -> Any:
            if self.replies:
                return self.replies.pop(0)
            return await accept(server, session, envelope)

        self.handler.handle_DATA = handle_data
