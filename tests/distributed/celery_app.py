"""The Celery app of the distributed test: ``celery -A tests.distributed.celery_app worker``.

Nothing here is txmail's: it is how any Django project starts Celery. Importing
``txmail.delivery.queue`` defines txmail's task, which django-tasks-celery
registers with this app, so the worker knows it by name.
"""

import os

import django
from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.distributed.settings")
django.setup()

app = Celery("txmail_tests")
app.config_from_object("django.conf:settings", namespace="CELERY")

import txmail.delivery.queue  # noqa: E402, F401  (after `app`: registering the task imports it)
