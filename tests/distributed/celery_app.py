"""The Celery app of the distributed test: ``celery -A tests.distributed.celery_app worker``.

Nothing here is txmail's: it is how any Django project starts Celery.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.distributed.settings")

# The app first, as any Django project's celery.py does: django.setup() then
# imports txmail's task modules (txmail's AppConfig.ready), and
# django-tasks-celery registers their tasks with the current app.
app = Celery("txmail_tests")
app.config_from_object("django.conf:settings", namespace="CELERY")

import django  # noqa: E402

django.setup()
