"""txmail's settings: one ``TXMAIL`` dict, read through ``txmail_settings``.

``SCHEMA`` gives every key its default and the kind of value it takes. The
same kinds check the settings twice: the system check reports every bad value
and unknown key at startup (``txmail.E003``, ``txmail.E004``), and reading a
bad value raises ``InvalidSetting`` (a production worker doesn't run checks).
A new setting is one line in ``SCHEMA``.
"""

import difflib
from typing import Any

from django.conf import settings

from .exceptions import InvalidSetting
from .kinds import (
    BOOLEAN,
    BOUNCES,
    DKIM,
    INBOUND,
    INTERCEPTOR_SETTING,
    MAILTO_ADDRESS,
    NAME,
    NAMES,
    NON_NEGATIVE_NUMBER,
    OPTIONAL_BOOLEAN,
    OPTIONAL_HOSTS,
    OPTIONAL_NAME,
    OPTIONAL_PATH,
    OPTIONAL_SECONDS,
    POSITIVE_INT,
    POSITIVE_NUMBER,
    RATE_LIMITS,
    RETENTION,
    SCORE,
    SITE_URL,
    TOPICS,
    Kind,
    RateLimit,
    parse_rate,
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
    # Bounces by mail (txmail.bounces): the VERP return path every SMTP send goes
    # out with, {"RETURN_PATH": "bounces+{token}@bounces.example.com"}, and the
    # soft bounces ("SOFT_BOUNCE_LIMIT", default 3) within "SOFT_BOUNCE_WINDOW"
    # seconds (default 7 days) that suppress an address.
    "BOUNCES": ({}, BOUNCES),
    # DKIM keys per From domain (txmail.mail.dkim):
    # {"example.com": {"selector": "s1", "key": "/etc/dkim/s1.pem"}}.
    "DKIM": ({}, DKIM),
    # The email clients the quality checks judge compatibility for
    # (txmail.quality.clients: "gmail", "outlook-windows", ... or caniemail's keys).
    "CLIENTS": (("gmail", "apple-mail", "outlook-windows", "new-outlook", "outlook-mac",
                 "yahoo"), NAMES),
    # Quality checks (txmail.quality): the hosts links and images may point to
    # (["example.com", "*.example.com"]; None: SITE_URL's host, or any host
    # without one), and the SpamAssassin score above which a variant is flagged.
    "LINK_HOSTS": (None, OPTIONAL_HOSTS),
    "SPAM_THRESHOLD": (0.5, SCORE),
    # Whether the preview UI scores each page it shows with SpamAssassin (about
    # a second a page; manage.py txmail lint scores every variant regardless).
    "PREVIEW_SPAM_SCORE": (True, BOOLEAN),
    # Mail that comes in (txmail.inbound): the domains it is accepted for, its
    # size limit, attempts, task queue, and how long rows are kept (see
    # txmail.inbound.configured for the keys and defaults).
    "INBOUND": ({}, INBOUND),
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
