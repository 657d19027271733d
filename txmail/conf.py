"""txmail's settings: one ``TXMAIL`` dict, read through ``txmail_settings``."""

from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    # Domain of generated Message-IDs; None means the domain of the From address,
    # which keeps the ID aligned with DKIM instead of leaking the host name.
    "MESSAGE_ID_DOMAIN": None,
    # Mailer alias for classes that don't set ``mailer``.
    "DEFAULT_MAILER": "default",
    # Preview UI (txmail.urls): None follows settings.DEBUG; True also enables it
    # outside DEBUG for staff users only; False turns it off even in DEBUG.
    "PREVIEW_ENABLED": None,
    # The site's base URL, the scheme and host that links and images in emails
    # are made absolute with ("https://shop.example.com"). None: the current
    # Site of django.contrib.sites when installed (https://<domain>).
    "SITE_URL": None,
    # Dev mailbox (txmail.mailbox.MailboxBackend): where sent messages are kept
    # (None: <BASE_DIR or tempdir>/txmail-mailbox) and how many are kept.
    "MAILBOX_PATH": None,
    "MAILBOX_SIZE": 200,
    # Compile each template once and render messages from the compiled HTML and
    # text (txmail.precompile); False runs the whole pipeline for every message.
    "PRECOMPILE": True,
    # Delivery (txmail.delivery). Write a delivery-log row for every send(), not
    # only for enqueue() (which always has one: it is the queue's state).
    "LOG_SENDS": True,
    # Keep a queued message's bytes after it was sent (they hold secrets such as
    # reset links, so by default they are dropped once the mailer accepted it).
    "KEEP_BODIES": False,
    # django.tasks backend alias (settings.TASKS) for classes without their own.
    "TASK_BACKEND": "default",
    # Attempts per queued message before a transient failure becomes final, and
    # the retry delay: RETRY_DELAY * 2 ** (attempt - 1) seconds, ±50 % jitter,
    # at most RETRY_MAX_DELAY.
    "MAX_ATTEMPTS": 5,
    "RETRY_DELAY": 30,
    "RETRY_MAX_DELAY": 3600,
    # A worker's claim older than this (seconds) is stale: its worker died.
    # Also how long a due message may wait before the sweep hands it off again.
    "CLAIM_TIMEOUT": 300,
    # Per task: how many ready messages a worker claims at once, and over how
    # many concurrent connections it sends them.
    "BATCH_SIZE": 100,
    "CONNECTIONS": 10,
    # Interceptors (txmail.interceptors): dotted paths of callables that see every
    # built email and return it (changed) or None to cancel it; and the
    # configuration of txmail.interceptors.StagingRedirect, e.g.
    # {"to": "staging-inbox@example.com", "allow": ["example.com"]}.
    "INTERCEPTORS": [],
    "STAGING_REDIRECT": None,
    # Skip recipients on the suppression list (txmail.suppression) before each
    # send. It reads the database; False turns the check off for every class.
    "SUPPRESSION": True,
    # Bulk sending (txmail.bulk): recipients per chunk (one task each), and an
    # address offered as mailto: in List-Unsubscribe (None: the https link only;
    # txmail does not read that mailbox, your mail system must).
    "BULK_CHUNK_SIZE": 500,
    "UNSUBSCRIBE_MAILTO": None,
}


class TxmailSettings:
    """Attribute access to ``settings.TXMAIL`` with defaults, read on every access."""

    def __getattr__(self, name: str) -> Any:
        if name not in DEFAULTS:
            raise AttributeError(f"Unknown txmail setting {name!r}.")
        return getattr(settings, "TXMAIL", {}).get(name, DEFAULTS[name])


txmail_settings = TxmailSettings()
