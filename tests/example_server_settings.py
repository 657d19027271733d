"""The example project's settings with a database of the test's own (its server tests)."""

import os

from config.settings import *  # noqa: F403 (the example's settings, unchanged)
from config.settings import DATABASES

DATABASES["default"]["NAME"] = os.environ["TXMAIL_EXAMPLE_DB"]
