"""VERP: each delivery sent over SMTP from a return path of its own, signed.

With ``TXMAIL["BOUNCES"] = {"RETURN_PATH": "bounces+{token}@bounces.example.com"}`` a
delivery's envelope sender (SMTP ``MAIL FROM``, the ``Return-Path`` its recipient's
server adds) is the template with ``{token}`` replaced by the delivery's id and an
HMAC of it under ``SECRET_KEY``: ``bounces+3f-k5q2…@bounces.example.com``. A bounce
(RFC 3464) or an abuse report (RFC 5965) sent back there names its delivery, and
nobody without the key can make one that names another (``txmail.bounces``).

The token depends on the row's id only and is not in the message's bytes: a retry
goes out with the same bytes from the same return path. Only SMTP mailers use it
(``email.return_path``, read by ``txmail.backends.smtp``); API providers keep the
From address, and report bounces through their webhooks.
"""

import base64
import re
from typing import Any

from django.conf import settings
from django.utils.crypto import constant_time_compare, salted_hmac

from ..conf import txmail_settings
from ..exceptions import InvalidSetting

SALT = "txmail.bounces.verp"
_MAC_BYTES = 10  # 80 bits: 16 base32 characters
# A delivery id in base 36, a dash, the MAC in lowercase base32 (MTAs may lowercase
# a local part: nothing in the token depends on case).
_TOKEN = re.compile(r"([0-9a-z]{1,13})-([a-z2-7]{16})")
_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`|~.-]*")
_DOMAIN = re.compile(r"(?=.{1,253}$)([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
                     r"[A-Za-z]{2,63}")
EXAMPLE = "'bounces+{token}@bounces.example.com'"


def template_problem(value: Any) -> str | None:
    """Say what is wrong with a ``RETURN_PATH`` template, with the fix; None if it is good."""
    if not isinstance(value, str):
        return f"must be a string such as {EXAMPLE}, not {value!r}"
    local, at, domain = value.rpartition("@")
    if not at or not domain:
        return f"{value!r} has no domain: use an address such as {EXAMPLE}"
    if local.count("{token}") != 1 or "{token}" in domain:
        return (f"{value!r} must have '{{token}}' once, in the part before '@' "
                f"(e.g. {EXAMPLE})")
    prefix, _token, suffix = local.partition("{token}")
    if not (_ATOM.fullmatch(prefix) and _ATOM.fullmatch(suffix)):
        return f"{value!r} has characters an address can't have before '@': use {EXAMPLE}"
    if not _DOMAIN.fullmatch(domain):
        return (f"{value!r} has no valid domain after '@' ({domain!r}): use a domain whose "
                "MX record points at your inbound listener (`manage.py txmail listen`)")
    return None


def template() -> str | None:
    """``TXMAIL["BOUNCES"]["RETURN_PATH"]``, or None when VERP is off."""
    value = txmail_settings.BOUNCES.get("RETURN_PATH")
    if value is None:
        return None
    if (problem := template_problem(value)) is not None:
        raise InvalidSetting(f"TXMAIL['BOUNCES']['RETURN_PATH'] {problem}.",
                             setting="BOUNCES")
    return str(value)


def _mac(delivery_id: int, secret: Any) -> str:
    digest = salted_hmac(SALT, str(delivery_id), secret=secret, algorithm="sha256").digest()
    return base64.b32encode(digest[:_MAC_BYTES]).decode().lower()


def _base36(number: int) -> str:
    digits = ""
    while True:
        number, rest = divmod(number, 36)
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"[rest] + digits
        if not number:
            return digits


def token(delivery_id: int) -> str:
    """The signed token naming ``delivery_id``, the same on every call."""
    return f"{_base36(delivery_id)}-{_mac(delivery_id, settings.SECRET_KEY)}"


def return_path(delivery_id: int) -> str | None:
    """The envelope sender of delivery ``delivery_id``, or None when VERP is off."""
    found = template()
    return None if found is None else found.replace("{token}", token(delivery_id))


def apply(email: Any, delivery_id: int | None) -> None:
    """Have SMTP mailers send ``email`` from its delivery's return path (when VERP is on)."""
    if delivery_id is not None and (path := return_path(delivery_id)) is not None:
        email.return_path = path


def _token_of(address: str) -> str | None:
    found = template()
    if found is None:
        return None
    address = address.strip().strip("<>").strip().lower()
    prefix, _token, suffix = found.lower().partition("{token}")
    if len(address) <= len(prefix) + len(suffix):
        return None
    if not (address.startswith(prefix) and address.endswith(suffix)):
        return None
    return address[len(prefix):len(address) - len(suffix)]


def matches(address: str) -> bool:
    """Say whether ``address`` has the shape of a return path (its signature not checked)."""
    middle = _token_of(address)
    return middle is not None and _TOKEN.fullmatch(middle) is not None


def delivery_id(address: str) -> int | None:
    """The delivery return path ``address`` names; None if it isn't one or is forged.

    Keys in ``SECRET_KEY_FALLBACKS`` are accepted too: a key rotation doesn't turn
    the bounces of messages already sent into forgeries.
    """
    middle = _token_of(address)
    found = _TOKEN.fullmatch(middle) if middle is not None else None
    if found is None:
        return None
    number = int(found.group(1), 36)
    for secret in [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]:
        if constant_time_compare(_mac(number, secret), found.group(2)):
            return number
    return None
