"""Which delivery an inbound message replies to: a signed reply address, else its headers.

The signed address (``txmail.mail.reply_address``: a route's ``{token}``) is checked
first: it names the message whatever the replier's client does with headers. A
token that fails verification links nothing, whatever the headers say (the
message still goes to its mailbox, with ``inbound.delivery`` None). Without a
token, ``In-Reply-To`` and
``References``, newest first, matched against the delivery log's Message-IDs.
"""

import re
from email.message import Message as EmailMessage

from ..delivery.models import Delivery
from ..mail import reply_address

_MESSAGE_ID = re.compile(r"<[^<>\s]+>")


def referenced_ids(parsed: EmailMessage) -> list[str]:
    """The Message-IDs of ``In-Reply-To`` and ``References``, the newest first."""
    found: list[str] = []
    for header in ("In-Reply-To", "References"):
        # References lists the oldest first (RFC 5322, 3.6.4).
        ids = _MESSAGE_ID.findall(" ".join(str(v) for v in parsed.get_all(header) or []))
        found.extend(reversed(ids))
    return list(dict.fromkeys(found))


def by_token(token: str) -> Delivery | None:
    """The delivery a signed reply token was made for, or None (forged, or deleted since)."""
    start = reply_address.verify(token)
    if start is None:
        return None
    return Delivery.objects.filter(message_id__startswith=start).order_by("-pk").first()


def by_headers(parsed: EmailMessage) -> Delivery | None:
    """The delivery whose Message-ID ``In-Reply-To`` or ``References`` names, or None."""
    ids = referenced_ids(parsed)[:20]  # a long thread: its latest messages are enough
    if not ids:
        return None
    rows = {row.message_id: row for row in Delivery.objects.filter(message_id__in=ids)}
    return next((rows[i] for i in ids if i in rows), None)


def find_delivery(parsed: EmailMessage, kwargs: dict[str, str]) -> Delivery | None:
    """The delivery ``parsed`` replies to (``kwargs``: what its mailbox's route captured)."""
    if "token" in kwargs:  # a forged token links nothing, whatever the headers claim
        return by_token(kwargs["token"])
    return by_headers(parsed)
