"""Settings for real worker processes in the bulk tests (tests/test_bulk_workers.py).

``tests/worker_settings.py`` (a file SQLite database in WAL mode shared by the
test's processes, tasks on django-tasks-db, mailers at the test's SMTP server),
with the bulk tests' own delivery settings; ``TXMAIL_TEST_TXMAIL`` (JSON) is
merged into ``TXMAIL`` as there.
"""

import json
import os

os.environ.setdefault("TXMAIL_TEST_SMTP_TIMEOUT", "5")

from tests.worker_settings import *  # noqa: F403

TXMAIL = {
    "SITE_URL": "https://shop.example.com",
    "CLAIM_TIMEOUT": 5,
    "BATCH_SIZE": 50,
    "CONNECTIONS": 2,
    **json.loads(os.environ.get("TXMAIL_TEST_TXMAIL", "{}")),
}
