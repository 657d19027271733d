"""Settings of the txmail example project: a small shop on SQLite.

Development only. Email goes through Django 6.1's ``MAILERS``; the legacy
``EMAIL_*`` settings are deprecated and must not appear next to it.
"""

import os
from importlib.util import find_spec
from pathlib import Path
from urllib.parse import urlsplit

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
MAILBOX_BACKEND = os.environ.get("TXMAIL_EXAMPLE_MAILBOX_BACKEND",
                                 "txmail.backends.mailbox.MailboxBackend")
_MAILBOX_OPTIONS = (
    {"file_path": str(VAR_DIR / "mail")}
    if MAILBOX_BACKEND.endswith("filebased.EmailBackend")
    else {}
)
MAILERS = {
    alias: {"BACKEND": MAILBOX_BACKEND, "OPTIONS": _MAILBOX_OPTIONS}
    for alias in ("default", "transactional", "marketing")
}

SITE_URL = os.environ.get("SITE_URL", f"http://127.0.0.1:{os.environ.get('PORT', '8000')}")
TXMAIL = {
    # Previews at /emails/: in DEBUG for everyone, otherwise for staff only.
    "PREVIEW_ENABLED": True,
    # Where MailboxBackend keeps sent messages (the previews' "Sent" page).
    "MAILBOX_PATH": VAR_DIR / "mailbox",
    # Absolute base of links and hosted images in emails ({% absurl %},
    # {% absstatic %}, the password reset link). The default is the address
    # ./run serves on (its PORT too), so previews and sent mail show the images
    # runserver serves and their links open; production sets its own domain.
    "SITE_URL": SITE_URL,
    # Hosts links and images may point to: the site's and the journal's
    # (acme.example); a link elsewhere is a "link-host" error in the previews.
    "LINK_HOSTS": [urlsplit(SITE_URL).hostname, "acme.example", "*.acme.example"],
    # The preference centre's topics (/email/preferences/<token>/, linked from
    # the newsletter's footer): their labels and descriptions.
    "TOPICS": {"newsletter": {"label": "The Acme Journal",
                              "description": "Stories from the workshop, once a month."}},
}

SHOP_SITE_NAME = "Acme Shop"

# -- providers (django-anymail: pip install "txmail[anymail]") ---------------
# "ses" and "sendgrid" are MAILERS aliases like any other. With
# TXMAIL_EXAMPLE_PROVIDERS=1, transactional mail fails over SES → SendGrid →
# the mailbox, and marketing mail is spread round-robin over both providers.
# SES credentials come from boto3's usual places (AWS_ACCESS_KEY_ID, ...).
# Provider webhooks are at /webhooks/amazon_ses/tracking/ and
# /webhooks/sendgrid/tracking/, behind basic auth with ANYMAIL_WEBHOOK_SECRET
# ("user:password"; give the provider https://user:password@host/webhooks/...).
if find_spec("anymail") is not None:
    INSTALLED_APPS.append("anymail")
    ANYMAIL = {"WEBHOOK_SECRET": os.environ.get("ANYMAIL_WEBHOOK_SECRET", "acme:change-me")}
    MAILERS |= {
        "mailbox": {"BACKEND": MAILBOX_BACKEND, "OPTIONS": _MAILBOX_OPTIONS},
        "ses": {
            "BACKEND": "anymail.backends.amazon_ses.EmailBackend",
            "OPTIONS": {"client_params": {"region_name": os.environ.get("AWS_REGION",
                                                                        "eu-west-1")}},
        },
        "sendgrid": {
            "BACKEND": "txmail.backends.sendgrid.EmailBackend",
            "OPTIONS": {"api_key": os.environ.get("SENDGRID_API_KEY", "")},
        },
    }
    if os.environ.get("TXMAIL_EXAMPLE_PROVIDERS") == "1":
        # The cooldown of a failed provider is shared by the server and the
        # db_worker through the "txmail" cache (a directory both can read).
        MAILERS["transactional"] = {
            "BACKEND": "txmail.backends.failover.EmailBackend",
            "OPTIONS": {"mailers": ["ses", "sendgrid", "mailbox"], "cooldown": 60,
                        "cache": "txmail"},
        }
        MAILERS["marketing"] = {
            "BACKEND": "txmail.backends.roundrobin.EmailBackend",
            "OPTIONS": {"mailers": ["ses", "sendgrid"], "cache": "txmail"},
        }

CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "txmail": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
               "LOCATION": str(VAR_DIR / "cache")},
}
