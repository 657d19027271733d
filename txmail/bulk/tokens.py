"""Signed unsubscribe tokens: who unsubscribes from which topic, unforgeable.

The token is the only credential of the one-click endpoint (RFC 8058 forbids
asking for a login or a CSRF token), so it is signed with ``SECRET_KEY`` under
its own salt. It carries no timestamp and does not expire: a link in last
year's newsletter must still unsubscribe (providers may POST days later), and
the same recipient and topic always give the same token.
"""

from django.core import signing

SALT = "txmail.bulk.unsubscribe"


def make_token(address: str, topic: str) -> str:
    """Return the token for ``address`` unsubscribing from ``topic``."""
    return signing.Signer(salt=SALT).sign_object([address, topic], compress=True)


def read_token(token: str) -> tuple[str, str]:
    """Return ``(address, topic)``; raise ``signing.BadSignature`` if tampered with."""
    value = signing.Signer(salt=SALT).unsign_object(token)
    if (not isinstance(value, list) or len(value) != 2
            or not all(isinstance(v, str) for v in value)):
        raise signing.BadSignature("Unexpected unsubscribe token payload.")
    return value[0], value[1]
