"""DKIM: a message signed once, when its bytes are made, with its From domain's key.

``TXMAIL["DKIM"] = {"example.com": {"selector": "s1", "key": "/etc/dkim/s1.pem"}}``
(``key``: a path to a PEM file, or the PEM itself). A message whose From address is
at ``example.com``, or at a subdomain of it that has no entry of its own, is signed
with ``d=example.com; s=s1`` (relaxed/relaxed, rsa-sha256) over the headers of
``SIGNED_HEADERS`` it has. The signature goes into the stored bytes
(``frozen.freeze()``), so every retry sends the same signed bytes, and into the
message ``send()`` hands to the mailer (``signed.signed_email()``).

Signing needs dkimpy (``pip install "txmail[dkim]"``; without it messages go out
unsigned and txmail.E123 says so). The system checks load every key
(txmail.E121-E123, W121) and say which DNS record to publish; so does ``manage.py
txmail dkim``.
"""

import base64
import email.utils
import logging
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ..conf import txmail_settings
from ..exceptions import InvalidSetting

logger = logging.getLogger("txmail.mail")
SIGNED_HEADERS = ("From", "To", "Cc", "Subject", "Date", "Message-ID", "MIME-Version",
                  "Content-Type", "Reply-To", "List-Unsubscribe", "List-Unsubscribe-Post")
MINIMUM_BITS = 1024
RECOMMENDED_BITS = 2048
TXT_STRING = 255  # the longest character-string of a TXT record (RFC 1035, 3.3.14)
INSTALL = 'DKIM signing needs dkimpy: pip install "txmail[dkim]"'
_SELECTOR = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                       r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*")
_FROM = re.compile(rb"^from:[ \t]*((?:[^\r\n]|\r\n[ \t])*)", re.I | re.M)
_NAME = re.compile(rb"^([!-9;-~]+):", re.M)  # a header field's name at a line's start


class DKIMError(InvalidSetting):
    """A ``TXMAIL["DKIM"]`` entry that can't sign: its key is missing, unreadable or weak."""


@dataclass(frozen=True)
class Key:
    """A loaded signing key: its domain, selector, PEM and public half."""

    domain: str
    selector: str
    pem: bytes
    bits: int
    public: str  # base64 DER SubjectPublicKeyInfo: the DNS record's p=

    @property
    def record_name(self) -> str:
        """The DNS name of the key's TXT record: ``<selector>._domainkey.<domain>``."""
        return f"{self.selector}._domainkey.{self.domain}"

    @property
    def record_value(self) -> str:
        """The TXT record's value, whole (RFC 6376, 3.6.1), as a DNS host's form takes it."""
        return f"v=DKIM1; k=rsa; p={self.public}"

    @property
    def record(self) -> str:
        """The DNS TXT record to publish, as a zone file line.

        A TXT string holds at most 255 characters (RFC 1035, 3.3.14), and a 2048-bit
        key's ``p=`` is longer: the value is split into quoted strings, which DNS
        serves as one record and verifiers join (RFC 6376, 3.6.2.2).
        """
        value = self.record_value
        strings = " ".join(f'"{value[at:at + TXT_STRING]}"'
                           for at in range(0, len(value), TXT_STRING))
        return f"{self.record_name} TXT {strings}"


def available() -> bool:
    """Say whether dkimpy is installed."""
    try:
        import dkim  # noqa: F401
    except ImportError:
        return False
    return True


def load(domain: str, entry: Any) -> Key:
    """Load ``TXMAIL["DKIM"][domain]``; raise ``DKIMError`` saying what is wrong and the fix."""
    where = f"TXMAIL['DKIM'][{domain!r}]"
    if not isinstance(entry, dict) or set(entry) - {"selector", "key"}:
        raise DKIMError(f"{where} must be a dict with 'selector' and 'key', e.g. "
                        "{'selector': 's1', 'key': '/etc/dkim/s1.pem'}, not "
                        f"{entry!r}.", setting="DKIM")
    selector, key = entry.get("selector"), entry.get("key")
    if not isinstance(selector, str) or not _SELECTOR.fullmatch(selector):
        raise DKIMError(f"{where}['selector'] must be a DNS label such as 's1', not "
                        f"{selector!r}.", setting="DKIM")
    if not isinstance(key, str | bytes | os.PathLike) or not key:
        raise DKIMError(f"{where}['key'] must be a PEM file's path or the PEM text, not "
                        f"{key!r}.", setting="DKIM")
    pem, mtime = _read(where, key)
    return _parsed(domain.lower().rstrip("."), selector, pem, mtime)


def _read(where: str, key: Any) -> tuple[bytes, float]:
    if isinstance(key, bytes):
        return key, 0.0
    if isinstance(key, str) and "-----BEGIN" in key:
        return key.encode(), 0.0
    path = os.fspath(key)
    try:
        with open(path, "rb") as file:
            return file.read(), os.stat(path).st_mtime
    except OSError as exc:
        raise DKIMError(f"{where}['key']: can't read {path!r} ({exc.strerror}). Give the path "
                        "of the private key's PEM file, readable by the web and worker "
                        "processes (generate one: openssl genrsa -out s1.pem 2048).",
                        setting="DKIM") from exc


@lru_cache(maxsize=32)
def _parsed(domain: str, selector: str, pem: bytes, mtime: float) -> Key:
    try:
        from dkim.crypto import UnparsableKeyError, parse_pem_private_key
    except ImportError:
        raise DKIMError(f"TXMAIL['DKIM'] is set, but {INSTALL}.", setting="DKIM") from None
    pem = pem.replace(b"\r\n", b"\n")
    try:
        private = parse_pem_private_key(pem)
    except (UnparsableKeyError, ValueError, IndexError) as exc:
        raise DKIMError(
            f"TXMAIL['DKIM'][{domain!r}]['key'] is not an RSA private key in PEM "
            f"({exc}). Give a PEM file such as `openssl genrsa -out s1.pem 2048` "
            "writes (PKCS#1 or PKCS#8, unencrypted).", setting="DKIM") from None
    bits = int(private["modulus"]).bit_length()
    public = base64.b64encode(_public_der(private["modulus"], private["publicExponent"]))
    return Key(domain, selector, pem, bits, public.decode())


def _der(tag: int, body: bytes) -> bytes:
    size = len(body)
    length = bytes([size]) if size < 0x80 else (
        bytes([0x80 | ((size.bit_length() + 7) // 8)])
        + size.to_bytes((size.bit_length() + 7) // 8, "big"))
    return bytes([tag]) + length + body


def _integer(number: int) -> bytes:
    return _der(0x02, number.to_bytes(number.bit_length() // 8 + 1, "big"))


def _public_der(modulus: int, exponent: int) -> bytes:
    """The SubjectPublicKeyInfo (RFC 5280) of an RSA key, as DKIM's p= has it (RFC 6376)."""
    rsa_key = _der(0x30, _integer(modulus) + _integer(exponent))
    algorithm = _der(0x30, bytes.fromhex("06092a864886f70d0101010500"))  # rsaEncryption, NULL
    return _der(0x30, algorithm + _der(0x03, b"\x00" + rsa_key))


def keys() -> list[Key]:
    """Every configured key, loaded (``DKIMError`` for the first that isn't good)."""
    return [load(domain, entry) for domain, entry in txmail_settings.DKIM.items()]


def key_for(domain: str) -> Key | None:
    """The key signing mail from ``domain``: its own entry, else its closest parent's."""
    configured = {str(d).lower().rstrip("."): (d, e) for d, e in txmail_settings.DKIM.items()}
    labels = domain.lower().rstrip(".").split(".")
    for start in range(len(labels) - 1):
        found = configured.get(".".join(labels[start:]))
        if found is not None:
            return load(*found)
    return None


def _from_domain(raw: bytes) -> str:
    end = raw.find(b"\r\n\r\n")
    found = _FROM.search(raw, 0, end if end > 0 else len(raw))
    if found is None:
        return ""
    value = found.group(1).replace(b"\r\n", b"").decode("ascii", "replace")
    addresses = [address for _name, address in email.utils.getaddresses([value]) if address]
    return addresses[0].rpartition("@")[2] if addresses else ""


def sign(raw: bytes) -> bytes:
    """Return ``raw`` (CRLF bytes) with a DKIM-Signature, or unchanged when no key applies."""
    if not txmail_settings.DKIM or raw.startswith(b"DKIM-Signature:"):
        return raw  # no keys, or signed already (a stored message frozen again)
    try:
        import dkim
    except ImportError:  # txmail.E123 says so at startup; sent unsigned meanwhile
        _warn_once()
        return raw
    key = key_for(_from_domain(raw))
    if key is None:
        return raw
    end = raw.find(b"\r\n\r\n")
    present = {name.lower() for name in _NAME.findall(raw[:end if end > 0 else len(raw)])}
    wanted = [name.encode() for name in SIGNED_HEADERS if name.lower().encode() in present]
    signature = dkim.sign(raw, key.selector.encode(), key.domain.encode(), key.pem,
                          canonicalize=(b"relaxed", b"relaxed"), include_headers=wanted,
                          linesep=b"\r\n")
    return bytes(signature) + raw


@lru_cache(maxsize=1)
def _warn_once() -> None:
    logger.warning("txmail: TXMAIL['DKIM'] is set, but %s; messages go out unsigned.", INSTALL)


def applies_to(message: Any) -> bool:
    """Say whether a built email's From domain has a key (``signed.signed_email()``)."""
    if not txmail_settings.DKIM or not available():
        return False
    shown = str(message.extra_headers.get("From") or message.from_email)
    addresses = [address for _name, address in email.utils.getaddresses([shown]) if address]
    return bool(addresses) and key_for(addresses[0].rpartition("@")[2]) is not None
