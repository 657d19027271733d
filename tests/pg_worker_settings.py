"""Settings for worker processes on a PostgreSQL server (tests/test_delivery_outage.py).

``tests/worker_settings.py`` (tasks on django-tasks-db, mailers at the test's
SMTP server, ``TXMAIL_TEST_TXMAIL`` merged into ``TXMAIL``) with the test's
own PostgreSQL server (``tests/postgres.py``) as the database:
``TXMAIL_TEST_PG_HOST`` and ``TXMAIL_TEST_PG_PORT``.
"""

import os

os.environ.setdefault("TXMAIL_TEST_DB", "unused")

from tests.worker_settings import *  # noqa: F403

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": os.environ["TXMAIL_TEST_PG_HOST"],
        "PORT": os.environ["TXMAIL_TEST_PG_PORT"],
        "NAME": "postgres",
        "USER": "postgres",
        # A worker blocked on a dead server gives up soon and tries again.
        "OPTIONS": {"connect_timeout": 2},
    }
}
