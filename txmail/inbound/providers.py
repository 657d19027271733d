"""anymail's ``inbound`` signal: a provider's inbound webhook stored as inbound mail.

SES (through SNS), SendGrid's inbound parse, Mailgun, Postmark and the rest
post to anymail's inbound views (mounted by ``txmail.webhooks.urls``, behind
its guard and anymail's ``WEBHOOK_SECRET``); anymail sends ``inbound`` with the
parsed message. Its bytes are stored for the envelope recipient the provider
gives, else for each ``To``/``Cc`` address some mailbox routes (or the first
``To`` address, which then ends ``bounced``); a worker processes them. One
above ``MAX_SIZE`` is dropped, with a warning in the log. A
database error answers 500, and the provider posts the message again.
"""

import logging
from email.utils import getaddresses
from typing import Any

from .. import bounces
from . import mailboxes, store

logger = logging.getLogger("txmail.inbound")


def raw_of(message: Any) -> bytes:
    """The message's MIME bytes as the provider gave them (anymail parsed them)."""
    try:
        return bytes(message.as_bytes())
    except Exception:  # a header the generator can't write back as bytes
        return str(message.as_string()).encode("utf-8", "surrogateescape")


def recipients_of(message: Any) -> list[str]:
    """The addresses to store ``message`` for: the envelope's, else routed header ones."""
    if getattr(message, "envelope_recipient", None):
        return [str(message.envelope_recipient)]
    headers = [str(v) for name in ("To", "Cc") for v in (message.get_all(name) or [])]
    addresses = [addr for _name, addr in getaddresses(headers) if "@" in addr]
    routed = [a for a in addresses
              if bounces.is_return_path(a) or mailboxes.route_for(a) is not None]
    return list(dict.fromkeys(routed)) or addresses[:1]


def on_inbound(sender: Any, event: Any, esp_name: str, **kwargs: Any) -> None:
    """Store the inbound message of ``event`` for each of its recipients."""
    message = event.message
    if message is None:
        return
    raw = raw_of(message)
    for recipient in recipients_of(message):
        try:
            store.store(raw, recipient=recipient, sender=str(message.envelope_sender or ""),
                        source=esp_name)
        except store.TooLarge as exc:  # a 500 would have the provider post it forever
            logger.warning("txmail: %s's inbound message for %s dropped: %s", esp_name,
                           recipient, exc)


def connect() -> None:
    from anymail.signals import inbound

    inbound.connect(on_inbound, dispatch_uid="txmail.inbound.on_inbound")
