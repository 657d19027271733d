"""VERP: each recipient of a delivery sent over SMTP from a return path of its own, signed.

With ``TXMAIL["BOUNCES"] = {"RETURN_PATH": "bounces+{token}@bounces.example.com"}`` the
envelope sender (SMTP ``MAIL FROM``, the ``Return-Path`` the recipient's server adds) of
each recipient of a delivery is the template with ``{token}`` replaced by the delivery's
id, the recipient's place in the row's recipient list and an HMAC, under ``SECRET_KEY``,
of both and the recipient's address: ``bounces+3f-1-k5q2…@bounces.example.com``. A
bounce (RFC 3464) or an abuse report (RFC 5965) sent back there names its delivery and
its recipient, and nobody without the key can make one that names another: not even
another recipient of the same message (``txmail.bounces``).

A delivery to several addresses is sent in one SMTP transaction per recipient, each
from its own return path (``email.return_paths``, read by ``txmail.backends.smtp``);
a delivery to one address in one transaction (``email.return_path``). The tokens
depend on the row only and are not in the message's bytes: a retry goes out with the
same bytes from the same return paths. API providers keep the From address, and
report bounces through their webhooks.
"""

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils.crypto import constant_time_compare, salted_hmac

from ..addresses import canonical
from ..conf import txmail_settings
from ..exceptions import InvalidSetting

SALT = "txmail.bounces.verp"
_MAC_BYTES = 10  # 80 bits: 16 base32 characters
# A delivery id and the recipient's index in base 36, the MAC in lowercase base32,
# dashes between (MTAs may lowercase a local part: nothing in the token depends on case).
_TOKEN = re.compile(r"([0-9a-z]{1,13})-([0-9a-z]{1,4})-([a-z2-7]{16})")
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


@dataclass(frozen=True)
class Token:
    """What a return path says: a delivery, a place in its recipient list, the MAC."""

    delivery_id: int
    index: int
    mac: str


def _mac(delivery_id: int, index: int, address: str, secret: Any) -> str:
    value = f"{delivery_id}:{index}:{canonical(address)}"
    digest = salted_hmac(SALT, value, secret=secret, algorithm="sha256").digest()
    return base64.b32encode(digest[:_MAC_BYTES]).decode().lower()


def _base36(number: int) -> str:
    digits = ""
    while True:
        number, rest = divmod(number, 36)
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"[rest] + digits
        if not number:
            return digits


def token(delivery_id: int, index: int, address: str) -> str:
    """The signed token naming ``address``, recipient ``index`` of ``delivery_id``."""
    mac = _mac(delivery_id, index, address, settings.SECRET_KEY)
    return f"{_base36(delivery_id)}-{_base36(index)}-{mac}"


def return_paths(delivery_id: int, recipients: Sequence[str]) -> dict[str, str]:
    """Each of the row's ``recipients`` (canonical) → its return path; empty when VERP is off.

    The index is the address's first place in ``recipients``: the row's list, as
    stored, so that the report's check (``txmail.bounces``) finds it there again.
    """
    found = template()
    if found is None:
        return {}
    paths: dict[str, str] = {}
    for index, address in enumerate(recipients):
        key = canonical(address)
        if key not in paths:
            paths[key] = found.replace("{token}", token(delivery_id, index, key))
    return paths


def return_path(delivery_id: int, recipients: Sequence[str], address: str) -> str | None:
    """The envelope sender of ``address``'s copy of the delivery, or None when VERP is off."""
    return return_paths(delivery_id, recipients).get(canonical(address))


def apply(email: Any, delivery_id: int | None, recipients: Sequence[str]) -> None:
    """Have SMTP mailers send ``email`` from the return paths of its delivery's
    ``recipients`` (when VERP is on): one, or one per recipient."""
    if delivery_id is None or not (paths := return_paths(delivery_id, recipients)):
        return
    if len(paths) == 1:
        [email.return_path] = paths.values()
    else:
        email.return_paths = paths


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
    return read(address) is not None


def read(address: str) -> Token | None:
    """The token in return path ``address``, its signature not checked yet (``signed()``)."""
    middle = _token_of(address)
    found = _TOKEN.fullmatch(middle) if middle is not None else None
    if found is None:
        return None
    return Token(int(found.group(1), 36), int(found.group(2), 36), found.group(3))


def signed(found: Token, address: str) -> bool:
    """Whether ``found`` was made by txmail for ``address`` (the row's recipient at
    ``found.index``).

    Keys in ``SECRET_KEY_FALLBACKS`` are accepted too: a key rotation doesn't turn
    the bounces of messages already sent into forgeries.
    """
    for secret in [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]:
        if constant_time_compare(_mac(found.delivery_id, found.index, address, secret),
                                 found.mac):
            return True
    return False
