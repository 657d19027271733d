"""Signed tokens: who unsubscribes from which topic, whose preferences a page shows.

The unsubscribe token is the only credential of the one-click endpoint (RFC
8058 forbids asking for a login or a CSRF token), and the preference token the
only credential of the preference centre, so each is signed with
``SECRET_KEY`` under its own salt: one kind never passes for the other. They
carry no timestamp and do not expire: a link in last year's newsletter must
still work (providers may POST days later), and the same recipient (and topic)
always gives the same token.
"""

import zlib
from typing import Any

from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from ..addresses import canonical

SALT = "txmail.bulk.unsubscribe"
PREFERENCES_SALT = "txmail.bulk.preferences"


def make_token(address: str, topic: str) -> str:
    """Return the token for ``address`` unsubscribing from ``topic``."""
    return signing.Signer(salt=SALT).sign_object([address, topic], compress=True)


def read_token(token: str) -> tuple[str, str]:
    """Return ``(address, topic)``; raise ``signing.BadSignature`` unless it is one.

    A signature only says the payload came from a holder of ``SECRET_KEY``; it
    must still decode (base64, zlib, JSON) to an address and a topic.
    """
    value = _unsign(token, SALT)
    if (not isinstance(value, list) or len(value) != 2
            or not all(isinstance(v, str) for v in value)):
        raise signing.BadSignature("Unexpected unsubscribe token payload.")
    return _address(value[0]), value[1]


def make_preferences_token(address: str) -> str:
    """Return the token of ``address``'s preference centre (any spelling, one token)."""
    return signing.Signer(salt=PREFERENCES_SALT).sign_object([canonical(address)],
                                                             compress=True)


def read_preferences_token(token: str) -> str:
    """Return the address; raise ``signing.BadSignature`` unless ``token`` is one."""
    value = _unsign(token, PREFERENCES_SALT)
    if not isinstance(value, list) or len(value) != 1 or not isinstance(value[0], str):
        raise signing.BadSignature("Unexpected preferences token payload.")
    return _address(value[0])


def _unsign(token: str, salt: str) -> Any:
    try:
        return signing.Signer(salt=salt).unsign_object(token)
    except (ValueError, zlib.error) as exc:  # binascii.Error, JSON and Unicode errors
        raise signing.BadSignature("Undecodable token payload.") from exc


def _address(value: str) -> str:
    try:
        validate_email(value)
    except ValidationError as exc:
        raise signing.BadSignature("The token carries no address.") from exc
    return value
