"""Settings of the benchmark process: the corpus templates and one SMTP mailer.

The SMTP port and whether txmail precompiles come from the environment, set
by bench.py for each measured subprocess.
"""

import os

from tests.corpus import TEMPLATES_DIR

SECRET_KEY = "txmail-bench-not-secret"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en"
INSTALLED_APPS = ["txmail"]
DATABASES: dict = {}
DEFAULT_FROM_EMAIL = "Example Shop <news@example.com>"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [TEMPLATES_DIR],
        "APP_DIRS": True,
    }
]
MAILERS = {
    "default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"},
    "bench": {
        "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "OPTIONS": {
            "host": "127.0.0.1",
            "port": int(os.environ.get("TXMAIL_BENCH_SMTP_PORT", "25")),
            "timeout": 30,
        },
    },
}
TXMAIL = {
    "DEFAULT_MAILER": "bench",
    "PRECOMPILE": os.environ.get("TXMAIL_BENCH_PRECOMPILE", "1") == "1",
}
