"""Settings of worker processes and their producer: one file SQLite database, real SMTP.

The test suite's settings with what processes need to share a queue: a file
database (WAL, so readers don't block the writer; a busy timeout, so writers
wait for each other instead of failing; BEGIN IMMEDIATE, so a transaction that
will write takes the lock up front instead of failing to upgrade it), mailers
pointing at the test's SMTP server, and the django.tasks backend under test.
Everything that varies comes from the environment, set by the test or the
benchmark that starts the processes:

- ``TXMAIL_TEST_DB``: the database file;
- ``TXMAIL_TEST_SMTP_PORT``: the SMTP server on 127.0.0.1;
- ``TXMAIL_TEST_TASKS``: ``celery`` (a Celery worker on ``TXMAIL_TEST_BROKER``)
  or ``db`` (django-tasks-db's ``db_worker``);
- ``TXMAIL_TEST_CONNECTIONS`` / ``TXMAIL_TEST_BATCH_SIZE``: txmail's settings;
- ``TXMAIL_TEST_TXMAIL``: JSON merged into ``TXMAIL`` (e.g. ``RATE_LIMITS``).
"""

import json
import os

from tests.settings import *  # noqa: F403

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("TXMAIL_TEST_DB", "/tmp/txmail-workers.sqlite3"),
        "OPTIONS": {
            "timeout": 60,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
            "transaction_mode": "IMMEDIATE",
        },
        # A worker keeps its connection between tasks, as production workers should:
        # reconnecting (and checkpointing the WAL on close) cost ~2 ms a task.
        "CONN_MAX_AGE": None,
        "CONN_HEALTH_CHECKS": True,
    }
}

_SMTP = {
    "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
    "OPTIONS": {
        "host": "127.0.0.1",
        "port": int(os.environ.get("TXMAIL_TEST_SMTP_PORT", "9")),
        "timeout": 30,
    },
}
MAILERS = {alias: _SMTP for alias in ("default", "transactional", "marketing")}

TXMAIL = {
    "SITE_URL": "https://shop.example.com",  # bulk classes need one (txmail.E050)
    "CONNECTIONS": int(os.environ.get("TXMAIL_TEST_CONNECTIONS", "10")),
    "BATCH_SIZE": int(os.environ.get("TXMAIL_TEST_BATCH_SIZE", "100")),
    **json.loads(os.environ.get("TXMAIL_TEST_TXMAIL", "{}")),
}

if os.environ.get("TXMAIL_TEST_TASKS", "celery") == "celery":
    TASKS = {
        "default": {
            "BACKEND": "django_tasks_celery.CeleryBackend",
            "OPTIONS": {"CELERY_APP": "tests.distributed.celery_app.app"},
        },
    }
    CELERY_BROKER_URL = os.environ.get("TXMAIL_TEST_BROKER", "redis://127.0.0.1:6379/0")
    # No result backend: txmail's state is in its own rows, not in task results.
    CELERY_RESULT_BACKEND = None
    CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
    # One task at a time per worker: a prefetched task waits behind a long one.
    CELERY_WORKER_PREFETCH_MULTIPLIER = 1
else:
    TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
