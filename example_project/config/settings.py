"""Settings of the txmail example project: a small shop on SQLite.

Development only. Email goes through Django 6.1's ``MAILERS``; the legacy
``EMAIL_*`` settings are deprecated and must not appear next to it.
"""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent  # example_project/
REPO_DIR = BASE_DIR.parent
VAR_DIR = BASE_DIR / "var"  # runtime files (database, mail); gitignored
VAR_DIR.mkdir(exist_ok=True)

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-project-not-secret")
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]", "testserver"]

INSTALLED_APPS = [
    # Before django.contrib.admin so shop's registration/ templates win.
    "shop",
    "txmail",
    "django_tasks_db",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # The shared email templates live at the top of the repository.
        "DIRS": [REPO_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": VAR_DIR / "db.sqlite3",
        # The web server and the task worker write at once: WAL lets readers go
        # on while one writes, and writers wait for each other instead of failing.
        "OPTIONS": {
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
        },
    }
}

# Background email: Message.enqueue() hands tasks to django-tasks-db, and
# `manage.py db_worker` (started by ./run beside the server) sends them.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = []  # the demo user's password is "demo"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("fr", "Français"), ("de", "Deutsch")]
USE_I18N = True
TIME_ZONE = "UTC"
USE_TZ = True

STATIC_URL = "static/"

LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

# -- email ------------------------------------------------------------------

DEFAULT_FROM_EMAIL = "Acme Shop <hello@acme.example>"

# Every alias uses txmail's development mailbox (var/mailbox/, browsable at
# /emails/sent/). Set the variable to
# "django.core.mail.backends.filebased.EmailBackend" to write logs to var/mail/
# instead, or to any other backend that needs no OPTIONS.
MAILBOX_BACKEND = os.environ.get("TXMAIL_EXAMPLE_MAILBOX_BACKEND", "txmail.mailbox.MailboxBackend")
_MAILBOX_OPTIONS = (
    {"file_path": str(VAR_DIR / "mail")}
    if MAILBOX_BACKEND.endswith("filebased.EmailBackend")
    else {}
)
MAILERS = {
    alias: {"BACKEND": MAILBOX_BACKEND, "OPTIONS": _MAILBOX_OPTIONS}
    for alias in ("default", "transactional", "marketing")
}

TXMAIL = {
    # Previews at /emails/: in DEBUG for everyone, otherwise for staff only.
    "PREVIEW_ENABLED": True,
    # Where MailboxBackend keeps sent messages (the previews' "Sent" page).
    "MAILBOX_PATH": VAR_DIR / "mailbox",
    # Absolute base of links and hosted images in emails ({% absurl %},
    # {% absstatic %}, the password reset link). The default serves the logo
    # from runserver, so previews show it; production sets its own domain.
    "SITE_URL": os.environ.get("SITE_URL", "http://localhost:8000"),
}

SHOP_SITE_NAME = "Acme Shop"
