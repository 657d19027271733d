"""The kinds of value ``TXMAIL`` settings take, each able to say what is wrong.

``conf.SCHEMA`` pairs every setting with one of these; the system checks and
``txmail_settings`` use them to refuse a bad value with the fix.
"""

import difflib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import validate_email


@dataclass(frozen=True)
class Kind:
    """What a setting accepts: ``test(value)`` is true for good values."""

    expected: str  # "True or False": completes "must be ..."
    test: Callable[[Any], bool]
    # How to fix a common mistake; a function of the value when the fix depends on it.
    hint: str | Callable[[Any], str] = ""

    def problem(self, value: Any) -> str | None:
        """What is wrong with ``value``, or None if it is good."""
        if self.test(value):
            return None
        hint = self.hint(value) if callable(self.hint) else self.hint
        if isinstance(value, str) and not hint:
            hint = " (a string, perhaps read from an environment variable: convert it in "
            hint += "your settings)"
        return f"must be {self.expected}, not {value!r}{hint}"


_ENV_BOOL = (
    ". Strings are not accepted, so that 'False' from an environment variable "
    "can't turn it on: convert in your settings, e.g. os.environ.get(...) == 'true'"
)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


BOOLEAN = Kind("True or False", lambda v: isinstance(v, bool), _ENV_BOOL)
OPTIONAL_BOOLEAN = Kind("True, False or None", lambda v: v is None or isinstance(v, bool),
                        _ENV_BOOL)
POSITIVE_INT = Kind("a positive integer", lambda v: _is_int(v) and v > 0)
NAME = Kind("a non-empty string", lambda v: isinstance(v, str) and v.strip() != "")
OPTIONAL_NAME = Kind("a non-empty string or None",
                     lambda v: v is None or (isinstance(v, str) and v.strip() != ""))
NON_NEGATIVE_NUMBER = Kind("a number of seconds, 0 or more", lambda v: (
    isinstance(v, int | float) and not isinstance(v, bool) and v >= 0))
OPTIONAL_SECONDS = Kind("a number of seconds, 0 or more, or None", lambda v: v is None or (
    isinstance(v, int | float) and not isinstance(v, bool) and v >= 0))
POSITIVE_NUMBER = Kind("a number of seconds above 0", lambda v: (
    isinstance(v, int | float) and not isinstance(v, bool) and v > 0))
# Checked by the module that uses it, whose messages say more (txmail.E030).
NAMES = Kind("a list or tuple of non-empty strings, e.g. ('gmail', 'outlook-windows')",
             lambda v: isinstance(v, list | tuple)
             and all(isinstance(n, str) and n.strip() for n in v))
INTERCEPTOR_SETTING = Kind("see txmail.interceptors", lambda v: True)
OPTIONAL_HOSTS = Kind(
    "a list of host names such as ['example.com', '*.example.com'], or None",
    lambda v: v is None or (isinstance(v, list | tuple) and all(
        isinstance(h, str) and h.strip() and "/" not in h for h in v)))
SCORE = Kind("a number", lambda v: isinstance(v, int | float) and not isinstance(v, bool))
OPTIONAL_PATH = Kind("a path (str or pathlib.Path) or None",
                     lambda v: v is None or (isinstance(v, str | os.PathLike) and str(v) != ""))


def site_url_problem(value: str) -> str | None:
    """Say why ``value`` isn't a bare http(s) origin, with the fix; None if it is one.

    Links are built as the base URL + ``reverse()``, which already adds
    ``settings.FORCE_SCRIPT_NAME``: anything after the host would be doubled
    or dropped. The same rules apply to TXMAIL["SITE_URL"] (at startup, by the
    system check) and to the current Site's domain (``sites.get_site_url()``).
    """
    if value != value.strip() or any(char.isspace() for char in value):
        return "it contains whitespace: remove it"
    if "://" not in value:
        host = value.lstrip("/").split("/")[0]
        return f"it has no scheme: use {'https://' + host!r}"
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https"):
        return (f"links in email must be http or https, not {parts.scheme}: use "
                f"{'https://' + parts.netloc!r}")
    try:
        parts.port  # noqa: B018  (raises ValueError for a port that isn't 0-65535)
    except ValueError:
        return "its port is not a number from 0 to 65535"
    if not parts.hostname:
        return "it has no host"
    if parts.username is not None or parts.password is not None:
        return ("it has a user name or password, which every email would show: use "
                f"{parts.scheme + '://' + parts.netloc.rpartition('@')[2]!r}")
    if parts.path.strip("/") or parts.query or parts.fragment:
        return ("paths come from reverse(), which already adds settings.FORCE_SCRIPT_NAME: "
                f"use {parts.scheme + '://' + parts.netloc!r}")
    return None


def mailto_problem(value: str) -> str | None:
    """Say why ``value`` isn't one plain addr-spec (``a@example.com``); None if it is.

    It goes into a ``List-Unsubscribe`` header as ``<mailto:...>``: a display
    name, ``<>``, a comma or a quoted local part would change the header.
    """
    if value.startswith('"'):
        return "a quoted local part isn't accepted: use a plain address"
    try:
        validate_email(value)
    except ValidationError:
        return ("it isn't one email address: give only the addr-spec, without a name, "
                "<> or a second address")
    return None


def _reason(problem: Callable[[str], str | None]) -> Callable[[Any], str]:
    def hint(value: Any) -> str:
        reason = problem(value) if isinstance(value, str) and value else None
        return f" ({reason})" if reason else ""
    return hint


def _seconds(value: Any) -> bool:
    return value is None or (isinstance(value, int | float) and not isinstance(value, bool)
                             and value >= 0)


def retention_problem(value: Any) -> str | None:
    """Say what is wrong with a ``RETENTION`` value's shape, with the fix; None if nothing.

    Its status names and class names are checked by ``checks.retention``, which
    knows the statuses and the registry (txmail.E090, txmail.W090).
    """
    if not isinstance(value, dict):
        return "it isn't a dict"
    for key, periods in value.items():
        if key not in ("statuses", "classes"):
            close = difflib.get_close_matches(str(key), ["statuses", "classes"], n=1)
            fix = f"did you mean {close[0]!r}?" if close else "use 'statuses' and 'classes'"
            return f"it has an unknown key {key!r}: {fix}"
        if not isinstance(periods, dict):
            return f"{key!r} isn't a dict of names to seconds"
        for name, seconds in periods.items():
            if not isinstance(name, str):
                return f"{key!r} has a key {name!r} that isn't a string"
            if not _seconds(seconds):
                return (f"{key!r}[{name!r}] is {seconds!r}, not a number of seconds, 0 or more, "
                        "or None (keep for good)")
    return None


RETENTION = Kind(
    "a dict like {'statuses': {'sent': 2592000}, 'classes': {'shop.PasswordReset': 86400}}",
    lambda v: retention_problem(v) is None,
    lambda v: f" ({reason})" if (reason := retention_problem(v)) else "",
)
SITE_URL = Kind(
    "the site's scheme and host only, e.g. 'https://shop.example.com', or None",
    lambda v: v is None or (isinstance(v, str) and v != "" and site_url_problem(v) is None),
    _reason(site_url_problem),
)
MAILTO_ADDRESS = Kind(
    "one email address such as 'unsubscribe@example.com', or None",
    lambda v: v is None or (isinstance(v, str) and mailto_problem(v) is None),
    _reason(mailto_problem),
)

TOPIC_FIELDS = ("label", "description")


def topics_problem(value: Any) -> str | None:
    """Say why ``value`` isn't ``{topic: {"label": str, "description": str}}``; None if it is.

    Topic names are ``DeliveryOptions.topic`` values (at most 100 characters, as the
    suppression list stores them); both fields are optional.
    """
    if not isinstance(value, dict):
        return "it is not a dict"
    for topic, entry in value.items():
        if not isinstance(topic, str) or not topic.strip() or len(topic) > 100:
            return f"the key {topic!r} is not a topic name (a non-empty string of 100 or fewer)"
        if not isinstance(entry, dict):
            return f"{topic!r} maps to {entry!r}: use {{'label': ..., 'description': ...}}"
        for field, text in entry.items():
            if field not in TOPIC_FIELDS:
                close = difflib.get_close_matches(str(field), TOPIC_FIELDS, n=1)
                fix = f"did you mean {close[0]!r}?" if close else "use 'label' or 'description'"
                return f"{topic!r} has the unknown field {field!r}: {fix}"
            if not isinstance(text, str):
                return f"{topic!r}'s {field!r} is {text!r}, not a string"
    return None


TOPICS = Kind(
    "a dict of topic names to {'label': ..., 'description': ...}, e.g. "
    "{'newsletter': {'label': 'Monthly journal'}}",
    lambda v: topics_problem(v) is None,
    lambda v: f" ({topics_problem(v)})",
)

@dataclass(frozen=True)
class RateLimit:
    """One alias's ``TXMAIL["RATE_LIMITS"]`` entry: sends per second, burst, back-off."""

    text: str  # as written: "14/s"; "" when only slow-down replies are honoured
    per_second: float | None
    burst: int = 1
    slow_down: float = 60.0  # seconds an SMTP 421/451 backs the alias off; 0: never


_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(\d*)\s*(s|m|h|d)\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_RATE_KEYS = {"rate", "burst", "slow_down"}
RATE_EXAMPLE = "e.g. {'ses': '14/s', 'relay': {'rate': '300/h', 'burst': 10, 'slow_down': 60}}"


def parse_rate(text: Any) -> float | None:
    """Sends per second of ``"14/s"``, ``"300/h"``, ``"10/m"``, ``"1000/d"``, ``"5/10s"``."""
    match = _RATE.match(text) if isinstance(text, str) else None
    if match is None or float(match[1]) <= 0:
        return None
    return float(match[1]) / (int(match[2] or 1) * _UNITS[match[3]])


def rate_limit_problem(alias: Any, entry: Any) -> str | None:
    """Say what is wrong with one ``RATE_LIMITS`` entry, and how to write it; None if nothing."""
    if not isinstance(alias, str) or not alias:
        return f"has a key {alias!r}: keys are MAILERS aliases"
    if isinstance(entry, str):
        entry = {"rate": entry}
    if not isinstance(entry, dict):
        return (f"[{alias!r}] must be a rate such as '14/s' or a dict with 'rate', 'burst' and "
                f"'slow_down', not {entry!r}")
    if unknown := sorted(map(str, set(entry) - _RATE_KEYS)):
        return f"[{alias!r}] has unknown keys {unknown}: use 'rate', 'burst' and 'slow_down'"
    rate, burst, slow = entry.get("rate"), entry.get("burst", 1), entry.get("slow_down", 60)
    if rate is not None and parse_rate(rate) is None:
        return (f"[{alias!r}] has the rate {rate!r}: write a count above 0 per s, m, h or d, "
                "such as '14/s', '300/h' or '5/10s'")
    if not _is_int(burst) or burst < 1:
        return f"[{alias!r}] has the burst {burst!r}: write a whole number of sends, 1 or more"
    if rate is None and burst != 1:
        return f"[{alias!r}] has a burst but no 'rate': add one, such as 'rate': '14/s'"
    if not NON_NEGATIVE_NUMBER.test(slow):
        return (f"[{alias!r}] has the slow_down {slow!r}: write the seconds an SMTP 421/451 "
                "reply holds the alias back (0: never)")
    return None


def _rate_limits_problem(value: Any) -> str:
    if not isinstance(value, dict):
        return f" (a dict of MAILERS aliases, {RATE_EXAMPLE})"
    problems = [p for alias, entry in value.items() if (p := rate_limit_problem(alias, entry))]
    return f" (it {problems[0]})" if problems else ""


RATE_LIMITS = Kind(
    f"a dict of MAILERS aliases to rates, {RATE_EXAMPLE}",
    lambda v: isinstance(v, dict) and not any(rate_limit_problem(a, e) for a, e in v.items()),
    _rate_limits_problem,
)


# Checked by the modules that use them, whose messages say more (txmail.E120-E125).
BOUNCES = Kind("a dict (see txmail.bounces), e.g. {'RETURN_PATH': "
               "'bounces+{token}@bounces.example.com'}", lambda v: isinstance(v, dict))
DKIM = Kind("a dict of From domains (see txmail.mail.dkim), e.g. {'example.com': "
            "{'selector': 's1', 'key': '/etc/dkim/s1.pem'}}", lambda v: isinstance(v, dict))

# TXMAIL["INBOUND"]: its keys and the kinds of value they take (txmail.inbound).
INBOUND_KEYS: dict[str, Kind] = {
    "RETENTION": OPTIONAL_SECONDS,
    "MAX_SIZE": POSITIVE_INT,
    "MAX_ATTEMPTS": POSITIVE_INT,
    "DOMAINS": Kind("a list of domain names", lambda v: isinstance(v, list | tuple) and all(
        isinstance(d, str) and d.strip() and "@" not in d for d in v)),
    "TASK_BACKEND": OPTIONAL_NAME,
    "QUEUE_NAME": Kind("a string", lambda v: isinstance(v, str)),
}


def inbound_problem(value: Any) -> str | None:
    """Say what is wrong with a ``TXMAIL["INBOUND"]`` value, with the fix; None if nothing."""
    if not isinstance(value, dict):
        return "it isn't a dict"
    for key, setting in value.items():
        kind = INBOUND_KEYS.get(key)
        if kind is None:
            close = difflib.get_close_matches(str(key), INBOUND_KEYS, n=1)
            fix = f"did you mean {close[0]!r}?" if close else "known: " + ", ".join(INBOUND_KEYS)
            return f"it has an unknown key {key!r}: {fix}"
        if (problem := kind.problem(setting)) is not None:
            return f"{key!r} {problem}"
    return None


INBOUND = Kind(
    "a dict like {'DOMAINS': ['example.com'], 'RETENTION': 2592000, 'MAX_SIZE': 10485760}",
    lambda v: inbound_problem(v) is None,
    lambda v: f" ({reason})" if (reason := inbound_problem(v)) else "",
)
