"""Worker-process settings for the inbound tests: ``tests.worker_settings``, the mailboxes app."""

from tests.worker_settings import *  # noqa: F403
from tests.worker_settings import INSTALLED_APPS, TXMAIL

INSTALLED_APPS = [*INSTALLED_APPS, "tests.inboundapp"]
TXMAIL = {**TXMAIL, "INBOUND": {"DOMAINS": ["example.com", "example.org"],
                                "MAX_SIZE": 64 * 1024, **TXMAIL.get("INBOUND", {})}}
