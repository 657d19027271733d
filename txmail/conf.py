"""txmail's settings: one ``TXMAIL`` dict, read through ``txmail_settings``.

``SCHEMA`` gives every key its default and the kind of value it takes. The
same kinds check the settings twice: the system check reports every bad value
and unknown key at startup (``txmail.E003``, ``txmail.E004``), and reading a
bad value raises ``InvalidSetting`` (a production worker doesn't run checks).
A new setting is one line in ``SCHEMA``.
"""

import difflib
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from .exceptions import InvalidSetting


@dataclass(frozen=True)
class Kind:
    """What a setting accepts: ``test(value)`` is true for good values."""

    expected: str  # "True or False": completes "must be ..."
    test: Callable[[Any], bool]
    hint: str = ""  # how to fix a common mistake

    def problem(self, value: Any) -> str | None:
        """What is wrong with ``value``, or None if it is good."""
        if self.test(value):
            return None
        hint = self.hint
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
    "SITE_URL": (None, OPTIONAL_NAME),
    # Dev mailbox (txmail.mailbox.MailboxBackend): where sent messages are kept
    # (None: <BASE_DIR or tempdir>/txmail-mailbox) and how many are kept.
    "MAILBOX_PATH": (None, OPTIONAL_PATH),
    "MAILBOX_SIZE": (200, POSITIVE_INT),
    # Compile each template once and render messages from the compiled HTML and
    # text (txmail.precompile); False runs the whole pipeline for every message.
    "PRECOMPILE": (True, BOOLEAN),
    # Delivery (txmail.delivery). Write a delivery-log row for every send(), not
    # only for enqueue() (which always has one: it is the queue's state).
    "LOG_SENDS": (True, BOOLEAN),
    # Keep a queued message's bytes after it was sent (they hold secrets such as
    # reset links, so by default they are dropped once the mailer accepted it).
    "KEEP_BODIES": (False, BOOLEAN),
    # Seconds a delivery that ended (sent, failed, unknown, cancelled,
    # suppressed) keeps its body, for "send again"; then the sweep drops it.
    # None keeps bodies for good. A class's secret_body drops it at once.
    "BODY_RETENTION": (7 * 24 * 3600, OPTIONAL_SECONDS),
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
    "UNSUBSCRIBE_MAILTO": (None, OPTIONAL_NAME),
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


def invalid_message(key: str, problem: str) -> str:
    return f"TXMAIL[{key!r}] {problem}. Fix it in settings.TXMAIL."


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
    """Raise ``InvalidSetting`` listing every bad ``TXMAIL`` value; unknown keys pass.

    For code that reads several settings and must not stop halfway, such as a
    worker before it claims rows.
    """
    invalid = [message for kind, message, _key in setting_problems() if kind == "invalid"]
    if invalid:
        raise InvalidSetting(" ".join(invalid))


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
