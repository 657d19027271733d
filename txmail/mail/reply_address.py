"""Signed reply addresses: ``reply+<token>@example.com``, linked to the message that gave it.

A class with ``reply_mailbox`` (a ``txmail.inbound.Mailbox`` whose route has
``{token}``) gets a Message-ID ``<ID@domain>`` with a random ``ID`` and a
Reply-To of the route with ``{token}`` = ``ID.SIGNATURE``. A reply to it carries
the token back; ``verify()`` gives the ``ID`` (the delivery's Message-ID) only
if the signature is right.

The signature is ``django.core.signing``'s (HMAC-SHA256 of ``SECRET_KEY``,
``SECRET_KEY_FALLBACKS`` accepted), written in lower-case base32 and cut to
80 bits: mail systems may lower-case a local part, and a local part holds at
most 64 characters (RFC 5321, 4.5.3.1.1), so base64's mixed case and length
don't fit.
"""

import base64
import re
import secrets
from collections.abc import Mapping, Sequence
from typing import Any

from django.core import signing
from django.utils.crypto import constant_time_compare

from ..exceptions import MessageConfigurationError
from .build import message_id_domain

SALT = "txmail.mail.reply_address"
_TOKEN = re.compile(r"([a-z2-7]{16})\.([a-z2-7]{16})")


def _signature(value: str, key: Any = None) -> str:
    signer = signing.Signer(salt=SALT, algorithm="sha256")
    digest = base64.urlsafe_b64decode(signer.signature(value, key) + "==")
    return base64.b32encode(digest[:10]).decode("ascii").lower()


def route_of(mailbox: Any, owner: str) -> str:
    """The route of ``reply_mailbox`` (a Mailbox class or a route string) with ``{token}``."""
    route = getattr(mailbox, "route", mailbox)
    if not isinstance(route, str) or route.count("{token}") != 1 or "@" not in route:
        raise MessageConfigurationError(
            f"{owner}.reply_mailbox is {mailbox!r}: it must be a txmail.inbound.Mailbox "
            "whose route has '{token}' once, e.g. route = 'reply+{token}@example.com'.")
    return route


def new_reply(route: str, domain: str) -> tuple[str, str]:
    """``(Message-ID, reply address)`` for a new message."""
    ident = base64.b32encode(secrets.token_bytes(10)).decode("ascii").lower()
    return f"<{ident}@{domain}>", route.replace("{token}", f"{ident}.{_signature(ident)}")


def verify(token: str) -> str | None:
    """The Message-ID ``token`` was made for (``<ID@``, its start), or None if forged."""
    found = _TOKEN.fullmatch(token.strip().lower())
    if found is None:
        return None
    ident, given = found.groups()
    signer = signing.Signer(salt=SALT)
    for key in (signer.key, *signer.fallback_keys):
        if constant_time_compare(given, _signature(ident, key)):
            return f"<{ident}@"
    return None


def apply(mailbox: Any, owner: str, from_email: str, reply_to: Sequence[str],
          headers: Mapping[str, str]) -> tuple[tuple[str, ...], dict[str, str]]:
    """``(reply_to, headers)`` of a message whose class set ``reply_mailbox``.

    The reply address replaces ``reply_to``; the Message-ID is the one it was made for.
    """
    if mailbox is None:
        return tuple(reply_to), dict(headers)
    if any(name.lower() == "message-id" for name in headers):
        raise MessageConfigurationError(
            f"{owner} sets both reply_mailbox and a Message-ID header: the reply address "
            "is made for a Message-ID of its own. Remove the Message-ID header.")
    message_id, address = new_reply(route_of(mailbox, owner), message_id_domain(from_email))
    return (address,), {**headers, "Message-ID": message_id}
