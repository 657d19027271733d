"""Write address headers (From, To, Cc, Reply-To, Sender, Resent-*) txmail's way, folded safely.

The email package re-folds every address header it writes. When a quoted
display name does not fit on one line, Python 3.13.0's folder splits it and
drops the quotes: ``"Smith, John …"`` goes out as two addresses, and a ``"``
in the name opens a quoted string that swallows the address. So txmail
writes these headers itself, in a form no reader can take apart differently:

* a short ASCII name as one quoted-string (or bare, if it is all atoms);
* otherwise word by word: plain atoms as they are, every other run of words
  as RFC 2047 encoded-words of at most 75 characters, which can be folded;
* lines folded between those tokens, at 78 characters where possible (an
  addr-spec is at most 320, so no line comes near the 998-octet limit).
"""

import base64
import email.message
import email.policy
import re
from collections.abc import Sequence
from email.headerregistry import Address
from typing import Any

# Every header the email package parses as addresses (validation.py rebuilds
# Sender and the Resent-* ones given in ``headers``).
_ADDRESS_KEYS = {
    "from", "to", "cc", "reply-to", "sender",
    "resent-from", "resent-sender", "resent-to", "resent-cc", "resent-bcc",
}

_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+")  # RFC 5322 atext
_QUOTABLE = re.compile(r"[ -~]*")  # printable ASCII and space
_MAX_TOKEN = 62  # a token after "Reply-To: " fits a 78-character line
_EW_BYTES = 39  # base64 of 39 bytes is 52 characters: "=?utf-8?b?…?=" is 64


def _encoded_words(text: str) -> list[str]:
    """Return ``text`` as encoded-words, split between characters, never inside one."""
    words, chunk = [], b""
    for char in text:
        encoded = char.encode("utf-8")
        if len(chunk) + len(encoded) > _EW_BYTES:
            words.append(chunk)
            chunk = b""
        chunk += encoded
    words.append(chunk)
    return [f"=?utf-8?b?{base64.b64encode(w).decode('ascii')}?=" for w in words]


def display_name_tokens(name: str) -> list[str]:
    """Return the tokens that write ``name`` as an RFC 5322 phrase."""
    words = [word for word in name.split(" ") if word]  # runs of spaces collapse
    name = " ".join(words)
    # "=?" starts what readers decode as an encoded-word: such text is encoded.
    if _QUOTABLE.fullmatch(name) and "=?" not in name:
        if len(name) <= _MAX_TOKEN and all(_ATOM.fullmatch(word) for word in words):
            return [name]
        quoted = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if len(quoted) <= _MAX_TOKEN:
            return [quoted]
    tokens: list[str] = []
    run: list[str] = []  # words to encode together, with the spaces between them
    for word in words:
        if _ATOM.fullmatch(word) and len(word) <= _MAX_TOKEN and "=?" not in word:
            if run:
                tokens += _encoded_words(" ".join(run))
                run = []
            tokens.append(word)
        else:
            run.append(word)
    if run:
        tokens += _encoded_words(" ".join(run))
    return tokens


def fold_addresses(name: str, addresses: Sequence[Address], width: int = 78) -> str:
    """Return the value of header ``name`` for ``addresses``, folded with "\\n "."""
    tokens: list[str] = []
    for i, address in enumerate(addresses):
        comma = "," if i < len(addresses) - 1 else ""
        if address.display_name:
            tokens += display_name_tokens(address.display_name)
            tokens.append(f"<{address.addr_spec}>{comma}")
        else:
            tokens.append(f"{address.addr_spec}{comma}")
    lines = [f"{name}:"]
    for token in tokens:
        if len(lines[-1]) + 1 + len(token) > width and lines[-1] != f"{name}:":
            lines.append("")
        lines[-1] += " " + token
    # The value excludes "Name: "; continuation lines start with their space.
    return "\n".join(lines)[len(name) + 2:]


def rewrite_address_headers(msg: email.message.EmailMessage) -> None:
    """Replace ``msg``'s address headers with txmail's folding of the same addresses.

    Headers keep their order. A header with groups or defects (not built by
    txmail's ``build_email``) is left to the email package.
    """
    policy: Any = msg.policy
    if not isinstance(policy, email.policy.EmailPolicy):
        return  # compat32 headers are plain strings: nothing parsed to rewrite
    items = msg.items()
    if not any(key.lower() in _ADDRESS_KEYS for key, _ in items):
        return
    width = min(policy.max_line_length or 78, 78)
    for key in {key for key, _ in items}:
        del msg[key]
    for key, value in items:
        groups = getattr(value, "groups", None)
        if (key.lower() in _ADDRESS_KEYS and groups and not value.defects
                and all(group.display_name is None for group in groups)):
            # A raw value whose lines fit is written as it is (refold_source="long").
            msg.set_raw(key, fold_addresses(key, value.addresses, width))
        else:
            msg[key] = value
