"""Signed unsubscribe tokens: who unsubscribes from which topic, unforgeable.

The token is the only credential of the one-click endpoint (RFC 8058 forbids
asking for a login or a CSRF token), so it is signed with ``SECRET_KEY`` under
its own salt. It carries no timestamp and does not expire: a link in last
year's newsletter must still unsubscribe (providers may POST days later), and
the same recipient and topic always give the same token.
"""

import zlib

from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

SALT = "txmail.bulk.unsubscribe"


def make_token(address: str, topic: str) -> str:
    """Return the token for ``address`` unsubscribing from ``topic``."""
    return signing.Signer(salt=SALT).sign_object([address, topic], compress=True)


def read_token(token: str) -> tuple[str, str]:
    """Return ``(address, topic)``; raise ``signing.BadSignature`` unless it is one.

    A signature only says the payload came from a holder of ``SECRET_KEY``; it
    must still decode (base64, zlib, JSON) to an address and a topic.
    """
    try:
        value = signing.Signer(salt=SALT).unsign_object(token)
    except (ValueError, zlib.error) as exc:  # binascii.Error, JSON and Unicode errors
        raise signing.BadSignature("Undecodable unsubscribe token payload.") from exc
    if (not isinstance(value, list) or len(value) != 2
            or not all(isinstance(v, str) for v in value)):
        raise signing.BadSignature("Unexpected unsubscribe token payload.")
    try:
        validate_email(value[0])
    except ValidationError as exc:
        raise signing.BadSignature("The unsubscribe token carries no address.") from exc
    return value[0], value[1]
