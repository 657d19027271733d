"""txmail used without ``'txmail'`` in INSTALLED_APPS: one message with the fix (txmail.E005).

Without the app, Django loads none of txmail's models, templates, template tags
or system checks, and no app's ``emails.py`` is discovered: sends fail on
missing tables and the preview on missing templates, far from the cause. The
check is registered when ``txmail`` is imported, so it runs in any project
that imports it; ``txmail.urls`` reports the same from the URL checks (it is
first imported by them) and answers every preview URL with it.
"""

import sys
from typing import Any

from django.apps import apps
from django.core import checks

from .exceptions import NotInstalled

MESSAGE = (
    "txmail is used but 'txmail' is not in settings.INSTALLED_APPS, so its models, "
    "templates, template tags and system checks are not loaded and no app's emails.py is "
    "discovered. Add 'txmail' to INSTALLED_APPS, then run `python manage.py migrate`."
)


def installed() -> bool:
    return apps.is_installed("txmail")


def error() -> checks.Error:
    return checks.Error(MESSAGE, obj="settings.INSTALLED_APPS", id="txmail.E005")


def require_installed() -> None:
    """Raise ``NotInstalled`` with the fix unless ``'txmail'`` is in INSTALLED_APPS."""
    if not installed():
        raise NotInstalled(MESSAGE)


@checks.register()
def check_installed(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """``'txmail'`` must be in INSTALLED_APPS when anything imports txmail."""
    if installed() or "txmail.urls" in sys.modules:
        return []  # installed; or the URL checks report it (txmail.urls)
    return [error()]
