"""Worker-process settings for the scheduling tests: ``tests.worker_settings`` and an orders app."""

from tests.worker_settings import *  # noqa: F403
from tests.worker_settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.schedapp"]
