"""Settings of the peers' processes (``tests/bench/peers.py``): no txmail, one SMTP mailer.

django-post-office comes from the benchmark's own directory (``PEERS_DIR`` on the
process's path), never from txmail's environment.
"""

import os

SECRET_KEY = "txmail-bench-not-secret"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en"
INSTALLED_APPS = ["django.contrib.contenttypes", "post_office"]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("TXMAIL_PEER_DB", ":memory:"),
        "OPTIONS": {"init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL"},
    }
}
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "DIRS": [os.environ.get("TXMAIL_PEER_TEMPLATES", "")],
}]
_SMTP = {"host": "127.0.0.1", "port": int(os.environ.get("TXMAIL_PEER_SMTP_PORT", "25")),
         "timeout": 30}
MAILERS = {
    "default": {"BACKEND": "django.core.mail.backends.smtp.EmailBackend", "OPTIONS": _SMTP},
    "smtp": {"BACKEND": "django.core.mail.backends.smtp.EmailBackend", "OPTIONS": _SMTP},
}
# post_office's threaded sender over the SMTP mailer (its defaults otherwise: 5 threads).
POST_OFFICE = {"DEFAULT_MAILER": "smtp", "BATCH_SIZE": 100}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
