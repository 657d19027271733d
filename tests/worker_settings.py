"""Settings for real worker processes in tests (tests/test_delivery_faults.py).

The test suite's settings, with a file SQLite database shared by the test's
worker and producer processes (WAL, so readers don't block the writer; a busy
timeout, so concurrent writers wait instead of failing), tasks on
django-tasks-db, every mailer pointed at the test's SMTP server, and txmail's
delivery settings from the environment:

- ``TXMAIL_TEST_DB``: path of the database file;
- ``TXMAIL_TEST_SMTP_PORT``: the SMTP server's loopback port;
- ``TXMAIL_TEST_SMTP_TIMEOUT``: the mailers' timeout in seconds (default 2);
- ``TXMAIL_TEST_TXMAIL``: JSON merged into ``TXMAIL``.
"""

import json
import os

from tests.settings import *  # noqa: F403

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ["TXMAIL_TEST_DB"],
        "OPTIONS": {
            "timeout": 60,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            # BEGIN IMMEDIATE: a transaction that will write takes the lock up
            # front, so it waits (busy timeout) rather than failing to upgrade.
            "transaction_mode": "IMMEDIATE",
        },
    }
}
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
MAILERS = {
    alias: {
        "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "OPTIONS": {
            "host": "127.0.0.1",
            "port": int(os.environ.get("TXMAIL_TEST_SMTP_PORT", "9")),
            "timeout": float(os.environ.get("TXMAIL_TEST_SMTP_TIMEOUT", "2")),
        },
    }
    for alias in ("default", "transactional", "marketing")
}
TXMAIL = {
    "SITE_URL": "https://shop.example.com",  # bulk classes need one (txmail.E050)
    "RETRY_DELAY": 0.2,
    "RETRY_MAX_DELAY": 2,
    "MAX_ATTEMPTS": 8,
    "CLAIM_TIMEOUT": 10,
    "BATCH_SIZE": 20,
    "CONNECTIONS": 2,
    **json.loads(os.environ.get("TXMAIL_TEST_TXMAIL", "{}")),
}
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"txmail": {"handlers": ["console"], "level": "WARNING"}},
}
