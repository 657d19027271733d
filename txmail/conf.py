"""txmail's settings: one ``TXMAIL`` dict, read through ``txmail_settings``.

``SCHEMA`` gives every key its default and the kind of value it takes. The
same kinds check the settings twice: the system check reports every bad value
and unknown key at startup (``txmail.E003``, ``txmail.E004``), and reading a
bad value raises ``InvalidSetting`` (a production worker doesn't run checks).
A new setting is one line in ``SCHEMA``.
"""

import difflib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from .exceptions import InvalidSetting


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
INTERCEPTOR_SETTING = Kind("see txmail.interceptors", lambda v: True)
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


def rate_limits() -> dict[str, RateLimit]:
    """The parsed ``TXMAIL["RATE_LIMITS"]``: ``{alias: RateLimit}``."""
    limits: dict[str, RateLimit] = {}
    for alias, entry in txmail_settings.RATE_LIMITS.items():
        fields = {"rate": entry} if isinstance(entry, str) else entry
        text = fields.get("rate") or ""
        limits[alias] = RateLimit(text, parse_rate(text) if text else None,
                                  int(fields.get("burst", 1)), float(fields.get("slow_down", 60)))
    return limits


SCHEMA: dict[str, tuple[Any, Kind]] = {
    # Domain of generated Message-IDs; None means the domain of the From address,
    # which keeps the ID aligned with DKIM instead of leaking the host name.
    "MESSAGE_ID_DOMAIN": (None, OPTIONAL_NAME),
    # Mailer alias for classes that don't set ``mailer``.
    "DEFAULT_MAILER": ("default", NAME),
    # Preview UI (txmail.urls): None follows settings.DEBUG; True also enables it
    # outside DEBUG for staff users only; False turns it off even in DEBUG.
    "PREVIEW_ENABLED": (None, OPTIONAL_BOOLEAN),
    # The site's base URL, the scheme and host that links and images in emails
    # are made absolute with ("https://shop.example.com"). None: the current
    # Site of django.contrib.sites when installed (https://<domain>).
    "SITE_URL": (None, SITE_URL),
    # Dev mailbox (txmail.backends.mailbox.MailboxBackend): where sent messages are kept
    # (None: <BASE_DIR or tempdir>/txmail-mailbox) and how many are kept.
    "MAILBOX_PATH": (None, OPTIONAL_PATH),
    "MAILBOX_SIZE": (200, POSITIVE_INT),
    # Compile each template once and render messages from the compiled HTML and
    # text (txmail.rendering.compiled); False runs the whole pipeline for every message.
    "PRECOMPILE": (True, BOOLEAN),
    # Delivery (txmail.delivery). Write a delivery-log row for every send(), not
    # only for enqueue() (which always has one: it is the queue's state).
    "LOG_SENDS": (True, BOOLEAN),
    # Keep a queued message's bytes after it was sent (they hold secrets such as
    # reset links, so by default they are dropped once the mailer accepted it).
    "KEEP_BODIES": (False, BOOLEAN),
    # Seconds a delivery that ended (sent, failed, unknown, cancelled,
    # suppressed) keeps its body, for "send again"; then the sweep drops it.
    # None keeps bodies for good. DeliveryOptions(secret_body=True) drops it at once.
    "BODY_RETENTION": (7 * 24 * 3600, OPTIONAL_SECONDS),
    # Seconds an ended delivery row (and its events) is kept before
    # `manage.py txmail prune` and the workers delete it, per status
    # ("statuses": {"sent": 30 * 86400}) and per message class ("classes":
    # {"shop.PasswordReset": 86400}); a class's entry wins over its rows'
    # status entries, None keeps for good. Absent: kept for good (txmail.delivery.retention).
    "RETENTION": ({}, RETENTION),
    # django.tasks backend alias (settings.TASKS) for classes without their own.
    "TASK_BACKEND": ("default", NAME),
    # Attempts per queued message before a transient failure becomes final, and
    # the retry delay: RETRY_DELAY * 2 ** (attempt - 1) seconds, ±50 % jitter,
    # at most RETRY_MAX_DELAY.
    "MAX_ATTEMPTS": (5, POSITIVE_INT),
    "RETRY_DELAY": (30, NON_NEGATIVE_NUMBER),
    "RETRY_MAX_DELAY": (3600, NON_NEGATIVE_NUMBER),
    # A worker's claim older than this (seconds) is stale: its worker died.
    # Also how long a due message may wait before the sweep hands it off again.
    "CLAIM_TIMEOUT": (300, POSITIVE_NUMBER),
    # Per task: how many ready messages a worker claims at once, and over how
    # many concurrent connections it sends them.
    "BATCH_SIZE": (100, POSITIVE_INT),
    "CONNECTIONS": (10, POSITIVE_INT),
    # Interceptors (txmail.interceptors): dotted paths of callables that see every
    # built email and return it (changed) or None to cancel it; and the
    # configuration of txmail.interceptors.StagingRedirect, e.g.
    # {"to": "staging-inbox@example.com", "allow": ["example.com"]}.
    "INTERCEPTORS": ([], INTERCEPTOR_SETTING),
    "STAGING_REDIRECT": (None, INTERCEPTOR_SETTING),
    # Skip recipients on the suppression list (txmail.suppression) before each
    # send. It reads the database; False turns the check off for every class.
    "SUPPRESSION": (True, BOOLEAN),
    # Bulk sending (txmail.bulk): recipients per chunk (one task each), and an
    # address offered as mailto: in List-Unsubscribe (None: the https link only;
    # txmail does not read that mailbox, your mail system must).
    "BULK_CHUNK_SIZE": (500, POSITIVE_INT),
    "UNSUBSCRIBE_MAILTO": (None, MAILTO_ADDRESS),
    # The preference centre (txmail.bulk.preferences): labels and descriptions
    # of topics, in the order the page lists them (registered classes' other
    # topics follow, by name), e.g. {"newsletter": {"label": "Monthly journal"}}.
    "TOPICS": ({}, TOPICS),
    # Sends per mailer alias, shared by every worker through the database
    # (txmail.backends.ratelimit): {"ses": "14/s", "relay": {"rate": "300/h", ...}}.
    "RATE_LIMITS": ({}, RATE_LIMITS),
    # Seconds a sender waits for its alias's next slot before a queued message is
    # handed back (throttled) or send() raises RateLimited.
    "RATE_LIMIT_WAIT": (1.0, NON_NEGATIVE_NUMBER),
}
DEFAULTS: dict[str, Any] = {key: default for key, (default, _kind) in SCHEMA.items()}


def _configured() -> dict[str, Any]:
    configured = getattr(settings, "TXMAIL", {})
    if not isinstance(configured, dict):
        raise InvalidSetting(
            f"settings.TXMAIL must be a dict, not {type(configured).__name__}. "
            "Set it to a dict of txmail settings, e.g. TXMAIL = {'PRECOMPILE': True}."
        )
    return configured


_FIX = " Fix it in settings.TXMAIL."


def invalid_message(key: str, problem: str) -> str:
    return f"TXMAIL[{key!r}] {problem}.{_FIX}"


def unknown_message(key: Any) -> str:
    close = difflib.get_close_matches(str(key), SCHEMA, n=1)
    fix = f"Did you mean {close[0]!r}?" if close else "Remove it."
    return (
        f"TXMAIL has an unknown key {key!r}; it is ignored. {fix} Known keys: "
        + ", ".join(sorted(SCHEMA)) + "."
    )


def setting_problems() -> list[tuple[str, str, Any]]:
    """Every problem of settings.TXMAIL: ``(kind, message, key)``.

    ``kind`` is "invalid" (a bad value or TXMAIL not a dict) or "unknown" (a key
    txmail doesn't have). The system check reports these.
    """
    try:
        configured = _configured()
    except InvalidSetting as exc:
        return [("invalid", str(exc), None)]
    found: list[tuple[str, str, Any]] = []
    for key, value in configured.items():
        if key not in SCHEMA:
            found.append(("unknown", unknown_message(key), key))
            continue
        problem = SCHEMA[key][1].problem(value)
        if problem:
            found.append(("invalid", invalid_message(key, problem), key))
    return found


def validate_settings() -> None:
    """Raise ``InvalidSetting`` naming every bad ``TXMAIL`` value at once, or return.

    For code about to start work it couldn't finish, such as a worker about to
    claim a queued message: the system check reports the same problems, but a
    worker may start without running checks. Unknown keys are not errors here
    (reads ignore them; the check reports them as txmail.E004).
    """
    bad = [(message, key) for kind, message, key in setting_problems() if kind == "invalid"]
    if not bad:
        return
    if len(bad) == 1:
        [(message, key)] = bad
        raise InvalidSetting(message, setting=key)
    listed = " ".join(message.removesuffix(_FIX) for message, _key in bad)
    raise InvalidSetting(
        f"settings.TXMAIL has {len(bad)} bad values: {listed} Fix them in settings.TXMAIL.",
        setting=bad[0][1],
    )


class TxmailSettings:
    """Attribute access to ``settings.TXMAIL`` with defaults, read on every access.

    A configured value is checked against ``SCHEMA`` when read; a bad one raises
    ``InvalidSetting``.
    """

    def __getattr__(self, name: str) -> Any:
        try:
            default, kind = SCHEMA[name]
        except KeyError:
            raise AttributeError(f"Unknown txmail setting {name!r}.") from None
        configured = _configured()
        if name not in configured:
            return default
        value = configured[name]
        problem = kind.problem(value)
        if problem:
            raise InvalidSetting(invalid_message(name, problem), setting=name)
        return value


txmail_settings = TxmailSettings()
