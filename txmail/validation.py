"""Check addresses and header values before anything is built or sent."""

import re
from collections.abc import Iterable, Mapping
from email.utils import getaddresses

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from .exceptions import HeaderInjection, InvalidAddress

_HEADER_NAME = re.compile(r"^[!-9;-~]+$")  # printable ASCII except ':' (RFC 5322)
# Set by txmail from the message's own fields; a header of the same name would
# silently disagree with them.
_RESERVED_HEADERS = {"to", "cc", "bcc", "from", "reply-to", "subject"}


def check_one_line(owner: str, what: str, value: str) -> str:
    """Return ``value`` if it has no line break, else raise HeaderInjection."""
    if "\n" in value or "\r" in value:
        raise HeaderInjection(
            f"{owner}: {what} contains a line break: {value!r}. Header values "
            "must be a single line; remove the newline (it could inject headers)."
        )
    return value


def check_address(owner: str, field: str, value: object) -> str:
    """Return ``value`` if it is one valid address ("a@b.c" or "Name <a@b.c>")."""
    if not isinstance(value, str):
        raise InvalidAddress(
            f"{owner}: {field} must contain address strings, not {value!r}."
        )
    check_one_line(owner, f"{field} address", value)
    parsed = getaddresses([value])
    if len(parsed) != 1 or not parsed[0][1]:
        raise InvalidAddress(
            f"{owner}: {field} address {value!r} is not one email address. "
            "Give each address as its own list item."
        )
    try:
        validate_email(parsed[0][1])
    except ValidationError:
        raise InvalidAddress(
            f"{owner}: {field} address {value!r} is not a valid email address."
        ) from None
    return value


def check_address_list(owner: str, field: str, values: object) -> list[str]:
    """Return ``values`` as a list after checking every address in it."""
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
    checked = {}
    for name, value in headers.items():
        if not isinstance(name, str) or not _HEADER_NAME.match(name):
            raise HeaderInjection(
                f"{owner}: {name!r} is not a valid header name. Use printable ASCII "
                "without spaces or ':' (e.g. 'X-Campaign')."
            )
        if name.lower() in _RESERVED_HEADERS:
            raise HeaderInjection(
                f"{owner}: set {name!r} through the message's "
                f"'{name.lower().replace('-', '_')}' attribute, not 'headers'."
            )
        text = str(value)
        checked[name] = check_one_line(owner, f"header {name!r}", text)
    return checked
