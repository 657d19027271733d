"""A small SMTP or LMTP server for inbound mail (``manage.py txmail listen``), on aiosmtpd.

It is a final destination, never a relay: ``RCPT TO`` is refused for any domain
``TXMAIL["INBOUND"]["DOMAINS"]`` doesn't list (``550 5.7.1 relaying denied``),
and for an address there that no mailbox routes and that is no return path
(``550 5.1.1``), so the sending server writes the bounce, not us. An address named
twice in one transaction is stored once, and past ``MAX_RECIPIENTS`` (100, the
least RFC 5321 lets a server accept) ``RCPT`` is answered ``452``: each
recipient stores a copy of the message, so one transaction can't store it
without bound. The ``SIZE``
extension announces ``MAX_SIZE``; a larger message is refused (552). Each
message is stored (``store.store()``, one row per recipient) before it is
acknowledged; a database error answers ``451`` and the sender tries again.
With LMTP (``--lmtp``, for Postfix's ``lmtp:`` transport or Dovecot-style
set-ups) each recipient gets its own reply after ``DATA``. STARTTLS is offered
when a certificate is given.
"""

import asyncio
import logging
import signal
import ssl
from collections.abc import Callable
from typing import Any

from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, Envelope, Session
from asgiref.sync import sync_to_async
from django.db import close_old_connections, router, transaction

from .. import bounces
from ..addresses import canonical
from . import configured, mailboxes, store
from .models import InboundMessage

logger = logging.getLogger("txmail.inbound")

RELAYING_DENIED = "550 5.7.1 Relaying denied: this server accepts mail for its own domains only"
NO_MAILBOX = "550 5.1.1 No such mailbox here"
ACCEPTED = "250 2.0.0 Message accepted"
TOO_MANY = "452 4.5.3 Too many recipients: send the rest in another transaction"
MAX_RECIPIENTS = 100
TRY_LATER = "451 4.3.0 Temporary failure storing the message: try again later"


def refusal(address: str, domains: set[str]) -> str | None:
    """Why ``RCPT TO:<address>`` is refused, or None when it is accepted."""
    domain = canonical(address).rpartition("@")[2]
    if "@" not in address or domain not in domains:
        return RELAYING_DENIED
    if bounces.is_return_path(address) or mailboxes.route_for(address) is not None:
        return None
    return NO_MAILBOX


def unique(recipients: list[str]) -> dict[str, str]:
    """Each address once (its first spelling), by its canonical form: one copy per mailbox."""
    found: dict[str, str] = {}
    for recipient in recipients:
        found.setdefault(canonical(recipient), recipient)
    return found


def store_all(raw: bytes, sender: str, recipients: list[str], source: str) -> list[str]:
    """Store ``raw`` for each recipient; one reply line each (LMTP's answers)."""
    close_old_connections()  # a long-running server: the last one may have gone away
    replies: dict[str, str] = {}  # by canonical address
    for key, recipient in unique(recipients).items():
        try:
            store.store(raw, recipient=recipient, sender=sender, source=source)
        except store.TooLarge as exc:
            replies[key] = f"552 5.3.4 {exc}"
        except Exception:
            logger.exception("txmail: could not store a message for %s", recipient)
            replies[key] = TRY_LATER
        else:
            replies[key] = ACCEPTED
    # One reply per RCPT accepted (RFC 2033, 4.2), a repeated address's as its first's.
    return [replies[canonical(r)] for r in recipients]


def store_once(raw: bytes, sender: str, recipients: list[str], source: str) -> str:
    """Store ``raw`` for every recipient or for none; SMTP's one reply.

    All or nothing, in one transaction: the sender tries again after a 451,
    and a copy stored before the failure would arrive twice.
    """
    close_old_connections()
    try:
        with transaction.atomic(using=router.db_for_write(InboundMessage)):
            for recipient in unique(recipients).values():
                store.store(raw, recipient=recipient, sender=sender, source=source)
    except store.TooLarge as exc:
        return f"552 5.3.4 {exc}"
    except Exception:
        logger.exception("txmail: could not store a message for %s", ", ".join(recipients))
        return TRY_LATER
    return ACCEPTED


class Handler:
    """aiosmtpd's hooks: recipients checked one by one, the message stored before 250."""

    def __init__(self, *, lmtp: bool = False) -> None:
        self.lmtp = lmtp
        self.domains = configured.domains()

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return TOO_MANY  # RFC 5321, 4.5.3.1.10: the client sends the rest later
        refused = await sync_to_async(refusal)(address, self.domains)
        if refused:
            return refused
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = bytes(envelope.original_content or b"")
        recipients, sender = list(envelope.rcpt_tos), envelope.mail_from or ""
        if self.lmtp:  # RFC 2033, 4.2: one reply per recipient, in order
            return "\r\n".join(await sync_to_async(store_all)(raw, sender, recipients, "lmtp"))
        return await sync_to_async(store_once)(raw, sender, recipients, "smtp")


def tls_context(cert: str | None, key: str | None) -> ssl.SSLContext | None:
    """A server context for STARTTLS from a certificate (and key) file, or None."""
    if not cert:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key or None)
    return context


def make_server(*, lmtp: bool = False, tls: ssl.SSLContext | None = None,
                hostname: str | None = None) -> Callable[[], SMTP]:
    """A protocol factory for ``loop.create_server()``."""
    handler = Handler(lmtp=lmtp)
    limit = int(configured.setting("MAX_SIZE"))
    kind = LMTP if lmtp else SMTP

    def factory() -> SMTP:
        return kind(handler, data_size_limit=limit, enable_SMTPUTF8=True, hostname=hostname,
                    tls_context=tls)

    return factory


def serve(host: str, port: int, *, lmtp: bool = False, tls: ssl.SSLContext | None = None,
          hostname: str | None = None, ready: Callable[[Any], None] | None = None) -> None:
    """Listen on ``host``:``port`` until SIGTERM or SIGINT."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        server = loop.run_until_complete(loop.create_server(
            make_server(lmtp=lmtp, tls=tls, hostname=hostname), host, port))
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, loop.stop)
        if ready is not None:
            ready(server)
        loop.run_forever()
        server.close()  # not wait_closed(): it would wait for every client to leave
    finally:
        loop.close()
