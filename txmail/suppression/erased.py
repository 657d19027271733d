"""Erased addresses on the list: a keyed hash kept in place of the address.

``txmail.erasure`` removes an address from every table; a suppression entry
keeps working through its hash: HMAC-SHA256 of the canonical address
(``txmail.addresses``), keyed from ``SECRET_KEY`` with a salt of its own. The
hash is stored in the ``address`` column with the ``hmac-sha256.`` prefix, so
the unique (address, topic) constraint and every look-up stay as they are: a
look-up asks for an address and its hashes. Hashes made with a key in
``SECRET_KEY_FALLBACKS`` still match, so a rotated key keeps them working while
the old one is listed there.
"""

from collections.abc import Iterable

from django.conf import settings
from django.utils.crypto import salted_hmac

from ..addresses import canonical

PREFIX = "hmac-sha256."
SALT = "txmail.suppression.erased"


def address_hash(address: str, secret: str | bytes | None = None) -> str:
    """The value an erased ``address``'s entries keep, made with ``secret`` (SECRET_KEY)."""
    digest = salted_hmac(SALT, canonical(address), secret=secret, algorithm="sha256")
    return PREFIX + digest.hexdigest()


def hashes_of(address: str) -> list[str]:
    """``address``'s hash with ``SECRET_KEY`` and with each of ``SECRET_KEY_FALLBACKS``."""
    found = [address_hash(address)]
    found += [address_hash(address, key) for key in getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return found


def is_hash(value: str) -> bool:
    """Whether a stored ``address`` is an erased address's hash."""
    return value.startswith(PREFIX)


def with_hashes(addresses: Iterable[str]) -> dict[str, str]:
    """Map each canonical address of ``addresses`` and each of its hashes to the address."""
    found: dict[str, str] = {}
    for address in addresses:
        bare = canonical(address)
        found[bare] = bare
        for digest in hashes_of(bare):
            found.setdefault(digest, bare)
    return found
