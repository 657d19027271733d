"""Check addresses and header values before anything is built or sent.

Every address is rebuilt from its parsed parts (display name + addr-spec), so
no caller string reaches a header as it was given: the stdlib reads
``Name:x <a@b.c>`` as a group label and, folding it, writes a continuation
line without leading whitespace, a header of the caller's choosing.
"""

import email.policy
import functools
import re
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import datetime
from email import errors
from email.headerregistry import Address, AddressHeader, SingleAddressHeader
from email.utils import format_datetime, parsedate_to_datetime

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from ..addresses import PLAIN
from ..exceptions import HeaderInjection, InvalidAddress, InvalidHeader

_HEADER_NAME = re.compile(r"[!-9;-~]+")  # printable ASCII except ':' (RFC 5322)
_MAX_NAME = 76
_DATE_HEADERS = {"date", "resent-date"}  # written empty by the email package if not dates
# Set by txmail from the message's own fields; a header of the same name would
# silently disagree with them.
_RESERVED_HEADERS = {"to", "cc", "bcc", "from", "reply-to", "subject"}
# Set by the email package from the MIME tree; a second one makes the message
# unreadable (two Content-Types) or lies about its parts.
_MIME_HEADERS = {
    "content-type", "mime-version", "content-transfer-encoding", "content-disposition",
}
# What str.splitlines() splits on: the email package refuses these in headers
# (as "linefeed or carriage return"), and some clients break lines at them.
_LINE_BREAKS = "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"
# Line breaks, C0 controls but tab, DEL, C1 controls and lone surrogates (the
# last raise UnicodeEncodeError when the message is written).
_UNWRITABLE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
# unicodedata has no names for control characters; these are their Unicode aliases.
_CONTROL_NAMES = {
    "\x00": "NULL", "\n": "LINE FEED", "\v": "LINE TABULATION", "\f": "FORM FEED",
    "\r": "CARRIAGE RETURN", "\x1b": "ESCAPE", "\x1c": "FILE SEPARATOR",
    "\x1d": "GROUP SEPARATOR", "\x1e": "RECORD SEPARATOR", "\x7f": "DELETE",
    "\x85": "NEXT LINE",
}
# Headers the email package parses as addresses (Sender, Resent-To, ...) other
# than the reserved ones: rebuilt address by address like To, since folding a
# display name written as given can write a header of the caller's choosing.
_ADDRESS_HEADERS = {
    key: issubclass(cls, SingleAddressHeader)
    for key, cls in email.policy.default.header_factory.registry.items()  # type: ignore[attr-defined]
    if issubclass(cls, AddressHeader) and key not in _RESERVED_HEADERS
}
_ENCODED_WORD = re.compile(r"=\?[^?]*\?[bBqQ]\?")  # RFC 2047: =?charset?q?text?=
_MSG_ID = re.compile(r"<[!-;=?-~]+@[!-;=?-~]+>")  # printable ASCII, no '<' '>' or space


def describe_char(char: str) -> str:
    """Return e.g. "U+2028 LINE SEPARATOR" for ``char``."""
    name: str | None = "(a lone surrogate)"
    if not "\ud800" <= char <= "\udfff":
        name = _CONTROL_NAMES.get(char) or unicodedata.name(char, "(a control character)")
    return f"U+{ord(char):04X} {name}"


def check_one_line(owner: str, what: str, value: str) -> str:
    """Return ``value`` if it is one line of text a header can carry, else raise.

    A line break raises HeaderInjection; another control character or a lone
    surrogate raises InvalidHeader. Tab is allowed: it is header whitespace.
    """
    found = _UNWRITABLE.search(value)
    if found is None:
        return value
    char = found.group()
    described = describe_char(char)
    if char in _LINE_BREAKS:
        raise HeaderInjection(
            f"{owner}: {what} contains a line break ({described}): {value!r}. "
            "Header values must be a single line; remove it (it could inject headers)."
        )
    if char.isascii() or "\x80" <= char <= "\x9f":
        raise InvalidHeader(
            f"{owner}: {what} contains a control character ({described}): {value!r}. "
            "Headers carry printable text only; remove it."
        )
    raise InvalidHeader(
        f"{owner}: {what} contains {described}, which no encoding can write: "
        f"{value!r}. Decode the bytes it came from correctly (or with "
        "errors='replace'), or remove it."
    )


def check_header_text(owner: str, what: str, value: str) -> str:
    """``check_one_line()``, and again on what encoded-words in ``value`` decode to.

    The email package decodes "=?utf-8?q?a=0Ab?=" in a subject or header value
    and writes the result: readers would show the decoded line break.
    """
    check_one_line(owner, what, value)
    if _ENCODED_WORD.search(value):
        decoded = str(email.policy.default.header_factory("X-Decoded", value))
        check_one_line(owner, f"{what} (decoded)", decoded)
    return value


def _comma_hint(value: str) -> str:
    """For "Smith, John <j@x>" (a comma in an unquoted display name): how to quote it."""
    if "<" not in value or value.lstrip().startswith('"'):
        return ""
    name, _, rest = value.partition("<")
    escaped = name.strip().replace("\\", "\\\\").replace('"', '\\"')
    quoted = '"' + escaped + '" <' + rest
    return f", or quote a display name that contains a comma: {quoted!r}"


def check_address(owner: str, field: str, value: object) -> str:
    """Return ``value`` rebuilt as one valid address: "a@b.c" or '"Name" <a@b.c>'.

    ``value`` is a string or an ``email.headerregistry.Address``.
    """
    if isinstance(value, Address):
        value = str(value)
    if not isinstance(value, str):
        raise InvalidAddress(
            f"{owner}: {field} must contain address strings, not {value!r}."
        )
    if PLAIN.fullmatch(value):
        # A bare ASCII addr-spec (a campaign's every To): parsing it and
        # rebuilding it give it back as it is; only Django's validator is left.
        try:
            validate_email(value)
        except ValidationError:
            raise _not_valid(owner, field, value) from None
        return value
    return _rebuild_address(owner, field, value)


# Parsing and rebuilding cost ~0.3 ms an address, and the same From (and often
# the same To) comes back message after message. Errors are not cached.
@functools.lru_cache(maxsize=1024)
def _rebuild_address(owner: str, field: str, value: str) -> str:
    check_one_line(owner, f"{field} address", value)
    # The parser the email package writes headers with (and Django's SMTP
    # backend reads envelopes with), so what passes here is what goes out.
    try:
        parsed = AddressHeader.value_parser(value)
    except (errors.HeaderParseError, IndexError, ValueError):
        raise _not_valid(owner, field, value) from None
    if len(parsed.addresses) > 1:
        raise InvalidAddress(
            f"{owner}: {field} address {value!r} is not one email address. Give each "
            f"address as its own list item{_comma_hint(value)}."
        )
    if parsed.addresses and parsed.addresses[0][0].token_type == "group":
        raise InvalidAddress(
            f"{owner}: {field} address {value!r} uses group syntax (':' or ';' "
            "outside quotes). Give one address per list item, and quote a display "
            "name that contains ':' or ';' (e.g. '\"Sales: EU\" <sales@example.com>')."
        )
    if len(parsed.mailboxes) != 1 or not parsed.mailboxes[0].addr_spec:
        raise _not_valid(owner, field, value)
    mailboxes = parsed.mailboxes
    # Encoded-words are decoded by now: "=?utf-8?q?a=0Ab?=" is a line break. A
    # name that decodes to another encoded-word is decoded again: rebuilt, it
    # would be read as that word (and unstructured headers such as staging's
    # X-Txmail-Original-To would carry it).
    display_name = check_header_text(
        owner, f"{field} display name", mailboxes[0].display_name or ""
    )
    # Obsolete syntax (an unquoted '.' as in "Dr. Joe Smith") is re-quoted below;
    # any other defect (a non-ASCII local part, a trailing word) is an error.
    if any(not isinstance(d, errors.ObsoleteHeaderDefect) for d in parsed.all_defects):
        raise _not_valid(owner, field, value)
    try:
        validate_email(mailboxes[0].addr_spec)
        # Runs of spaces would be kept in a quoted name but collapse once
        # encoded; collapse them here so what is returned is what is written.
        display_name = " ".join(word for word in display_name.split(" ") if word)
        return str(Address(display_name=display_name, addr_spec=mailboxes[0].addr_spec))
    except (ValidationError, ValueError, errors.HeaderParseError):
        raise _not_valid(owner, field, value) from None


def _not_valid(owner: str, field: str, value: str) -> InvalidAddress:
    return InvalidAddress(
        f"{owner}: {field} address {value!r} is not a valid email address. Give "
        "it as 'name@example.com' or 'Name <name@example.com>'."
    )


def check_address_list(owner: str, field: str, values: object) -> list[str]:
    """Return ``values`` as a list of rebuilt addresses after checking each."""
    if values is None:
        return []
    if isinstance(values, str):
        raise InvalidAddress(
            f"{owner}: {field} must be a list of addresses, not the string "
            f"{values!r}. Wrap it in a list: {field}=[{values!r}]."
        )
    if not isinstance(values, Iterable):
        raise InvalidAddress(f"{owner}: {field} must be a list of addresses.")
    return [check_address(owner, field, v) for v in values]


def check_headers(owner: str, headers: Mapping[str, object]) -> dict[str, str]:
    """Return ``headers`` with string values after checking names and values."""
    checked: dict[str, str] = {}
    seen: dict[str, str] = {}
    for name, value in headers.items():
        if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
            raise HeaderInjection(
                f"{owner}: {name!r} is not a valid header name. Use printable ASCII "
                "without spaces or ':' (e.g. 'X-Campaign')."
            )
        if len(name) > _MAX_NAME:
            # A name cannot be folded: "Name: " must fit a 78-character line.
            raise InvalidHeader(
                f"{owner}: header name {name[:40]!r}... is {len(name)} characters long; "
                f"header names can be at most {_MAX_NAME}. Use a shorter name."
            )
        key = name.lower()
        if key in _RESERVED_HEADERS:
            raise HeaderInjection(
                f"{owner}: set {name!r} through the message's "
                f"'{key.replace('-', '_')}' attribute, not 'headers'."
            )
        if key in _MIME_HEADERS:
            raise HeaderInjection(
                f"{owner}: {name!r} is set by txmail from the message's parts; "
                "remove it from 'headers' (attach files with 'attachments')."
            )
        if key in seen:
            raise HeaderInjection(
                f"{owner}: headers {seen[key]!r} and {name!r} are the same header "
                "(header names ignore case); give it once."
            )
        seen[key] = name
        checked[name] = _check_value(owner, name, value)
    return checked


def _check_value(owner: str, name: str, value: object) -> str:
    key = name.lower()
    if key in _DATE_HEADERS and isinstance(value, datetime):
        return format_datetime(value)
    if key in _ADDRESS_HEADERS:
        return _check_address_header(owner, name, value, single=_ADDRESS_HEADERS[key])
    text = check_header_text(owner, f"header {name!r}", str(value))
    if key == "message-id" and not _MSG_ID.fullmatch(text):
        raise InvalidHeader(
            f"{owner}: header {name!r} is {text!r}, not a message ID. Give one like "
            "'<order-17@example.com>', or leave it out and txmail makes one."
        )
    if key in _DATE_HEADERS:
        try:
            parsedate_to_datetime(text)
        except (TypeError, ValueError):
            # The email package would silently write an empty Date.
            raise InvalidHeader(
                f"{owner}: header {name!r} is {text!r}, not an RFC 5322 date. Give a "
                "datetime (or leave it out and the mailer adds the current time)."
            ) from None
    return text


def _check_address_header(owner: str, name: str, value: object, *, single: bool) -> str:
    """Return an address header's value rebuilt from checked addresses."""
    field = f"header {name!r}"
    if isinstance(value, (str, Address)):
        text = check_one_line(owner, field, str(value))
        try:
            parsed = AddressHeader.value_parser(text).addresses
            items: list[object] = [str(address).strip() for address in parsed]
        except (errors.HeaderParseError, IndexError, ValueError):
            raise _not_valid(owner, field, text) from None
        if single and len(items) > 1:
            raise InvalidAddress(f"{owner}: {field} is {text!r}; it takes one address"
                                 f"{_comma_hint(text)}.")
    elif isinstance(value, bytes | bytearray):
        raise InvalidAddress(f"{owner}: {field} must be a str, not bytes ({value!r}); "
                             "decode it first.")
    elif isinstance(value, Iterable):
        items = list(value)
    else:
        raise InvalidAddress(f"{owner}: {field} must be an address or a list of addresses.")
    addresses = [check_address(owner, field, item) for item in items]
    if not addresses or (single and len(addresses) > 1):
        count = "one address" if single else "at least one address"
        raise InvalidAddress(f"{owner}: {field} is {value!r}; it takes {count}.")
    return ", ".join(addresses)


# Dot-atom text and '@'; no "=?", as a cid is also the default filename.
_CID = re.compile(r"(?!.*=\?)[A-Za-z0-9!#$%&'*+/=?^_`{|}~.@-]+")


def check_cid(owner: str, cid: object) -> str:
    """Return ``cid`` if it can go in ``Content-ID: <cid>`` and ``src="cid:..."``."""
    if not isinstance(cid, str) or not _CID.fullmatch(cid):
        raise InvalidHeader(
            f"{owner}: cid {cid!r} is not a valid Content-ID. Use letters, digits "
            "and '.-_@' only (e.g. 'logo' or 'logo@example.com')."
        )
    return cid


def check_filename(owner: str, filename: object) -> str:
    """Return ``filename`` if it is a string a Content-Disposition can carry."""
    if not isinstance(filename, str):
        raise InvalidHeader(f"{owner}: filename must be a string, not {filename!r}.")
    if not filename.strip():
        # The email package writes "filename" with no value: a defect.
        raise InvalidHeader(
            f"{owner}: filename {filename!r} is empty. Give the name the recipient "
            "sees (e.g. 'receipt.pdf')."
        )
    check_one_line(owner, "filename", filename)
    if filename != filename.strip():
        # Folding drops it (RFC 2231 continuations): the name would change.
        raise InvalidHeader(
            f"{owner}: filename {filename!r} starts or ends with white space, which "
            "the email's header folding drops. Remove it (filename.strip())."
        )
    if _ENCODED_WORD.search(filename):
        # The email package decodes it when setting the parameter and writes
        # what it decodes to, line breaks included.
        raise InvalidHeader(
            f"{owner}: filename {filename!r} contains an RFC 2047 encoded-word "
            "('=?charset?q?…?='). Give the decoded name; txmail encodes it."
        )
    return filename
