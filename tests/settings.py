"""Settings for txmail's own test suite."""

from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
SECRET_KEY = "txmail-tests-not-secret"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("fr", "French"), ("de", "German")]
LOCALE_PATHS = [BASE_DIR / "testapp" / "locale"]
ALLOWED_HOSTS = ["localhost", "127.0.0.1"]
ROOT_URLCONF = "tests.urls"
DEFAULT_FROM_EMAIL = "Example Shop <shop@example.com>"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_tasks_db",
    "anymail",
    "txmail",
    "tests.testapp",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
STATIC_URL = "/static/"
# Real SMTP backends pointing at a closed port: Django's test runner swaps every
# alias for the in-memory backend, and the suite passing proves txmail works
# under that swap (a missed swap would fail with "connection refused").
_CLOSED_PORT = {"host": "127.0.0.1", "port": 9, "timeout": 2}
MAILERS = {
    alias: {"BACKEND": "django.core.mail.backends.smtp.EmailBackend", "OPTIONS": _CLOSED_PORT}
    for alias in ("default", "transactional", "marketing")
}
# The preview's SpamAssassin score takes about a second a page: the tests of
# the score turn it on.
TXMAIL: dict = {"PREVIEW_SPAM_SCORE": False}
# Webhooks (txmail.webhooks.urls under /webhooks/) require this basic-auth secret
# (a password of 16+ characters: shorter is an error outside DEBUG, txmail.E052).
ANYMAIL = {"WEBHOOK_SECRET": "txmail:hook-secret-of-the-tests"}
# enqueue() runs the task in-process on commit ("default"); "db" is the
# django-tasks-db backend that real worker processes (db_worker) poll.
TASKS = {
    "default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"},
    "db": {"BACKEND": "django_tasks_db.DatabaseBackend"},
}
# "shared": a cache every process of a test run sees (failover cooldowns across
# worker subprocesses). The directory is chosen once and inherited by children.
import os  # noqa: E402
import tempfile  # noqa: E402

CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "shared": {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        # One directory per xdist worker (tests clear it and read cooldown keys);
        # the worker's db_worker children inherit the variable, so they share it.
        "LOCATION": os.environ.setdefault(
            f"TXMAIL_TEST_CACHE_{os.environ.get('PYTEST_XDIST_WORKER', 'main').upper()}",
            tempfile.mkdtemp(prefix="txmail-cache-")),
    },
}
