"""Settings for real worker processes in the bulk tests (tests/test_bulk_workers.py).

The suite's settings with a file SQLite database shared by the test's worker
and producer processes (WAL, so readers don't block the writer; a busy timeout
and BEGIN IMMEDIATE, so concurrent writers wait instead of failing), tasks on
django-tasks-db, and every mailer pointed at the test's SMTP server:

- ``TXMAIL_TEST_DB``: path of the database file;
- ``TXMAIL_TEST_SMTP_PORT``: the SMTP server's loopback port;
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
            "transaction_mode": "IMMEDIATE",
        },
    }
}
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
MAILERS = {
    alias: {
        "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "OPTIONS": {"host": "127.0.0.1", "port": int(os.environ.get("TXMAIL_TEST_SMTP_PORT", "9")),
                    "timeout": 5},
    }
    for alias in ("default", "transactional", "marketing")
}
TXMAIL = {
    "SITE_URL": "https://shop.example.com",
    "CLAIM_TIMEOUT": 5,
    "BATCH_SIZE": 50,
    "CONNECTIONS": 2,
    **json.loads(os.environ.get("TXMAIL_TEST_TXMAIL", "{}")),
}
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"txmail": {"handlers": ["console"], "level": "WARNING"}},
}
