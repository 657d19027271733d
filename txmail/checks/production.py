"""System checks for a deployment (DEBUG off): who may see previews, placeholder secrets.

Tagged ``security`` and run by every ``manage.py check``, not only ``--deploy``:
a server started with the example's secrets is open whether or not anyone
asked for the deployment checks.
"""

from typing import Any

from django.conf import settings
from django.core import checks, mail
from django.core.exceptions import ImproperlyConfigured

# The example project's (example_project/config/settings.py): fine in its DEBUG.
EXAMPLE_SECRET_KEY = "example-project-not-secret"
EXAMPLE_WEBHOOK_SECRET = "acme:change-me"
PLACEHOLDERS = ("change-me", "changeme")
MIN_WEBHOOK_PASSWORD = 16


def deployed() -> bool:
    """Whether this process serves for real: DEBUG off, outside Django's test environment.

    Django's test runner sets DEBUG = False whatever the settings say, then
    runs the checks; its environment is the one with ``django.core.mail.outbox``
    (``setup_test_environment()`` creates it, the teardown deletes it).
    """
    return not settings.DEBUG and not hasattr(mail, "outbox")


@checks.register(checks.Tags.security)
def check_placeholder_secrets(
    app_configs: Any = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Outside DEBUG, the example project's secrets and guessable webhook secrets are errors."""
    if not deployed():
        return []
    found: list[checks.CheckMessage] = []
    try:
        secret_key = settings.SECRET_KEY
    except ImproperlyConfigured:
        secret_key = ""  # empty: Django reports it
    keys = [("SECRET_KEY", secret_key)] + [
        (f"SECRET_KEY_FALLBACKS[{i}]", key)
        for i, key in enumerate(getattr(settings, "SECRET_KEY_FALLBACKS", []))]
    for name, key in keys:
        if key == EXAMPLE_SECRET_KEY:
            found.append(checks.Error(
                f"settings.{name} is the example project's placeholder "
                f"({EXAMPLE_SECRET_KEY!r}) and DEBUG is False: anyone can sign this "
                "site's values, txmail's unsubscribe links included. Set it from the "
                "environment to a long random value, e.g. from "
                "django.core.management.utils.get_random_secret_key().",
                obj=f"settings.{name}", id="txmail.E051"))
    for where, secret in _webhook_secrets():
        if problem := webhook_secret_problem(secret):
            found.append(checks.Error(
                f"{where} {problem}, and DEBUG is False: whoever guesses it can post fake "
                "bounces and complaints to the webhooks, which suppress your recipients. "
                "Set it from the environment to 'user:password' with a random password "
                f"of {MIN_WEBHOOK_PASSWORD} characters or more (e.g. "
                "secrets.token_urlsafe(24)), and give the provider the same.",
                obj=f"settings.{where.removeprefix('settings.')}", id="txmail.E052"))
    return found


def webhook_secret_problem(secret: str) -> str | None:
    """Say why a webhook secret is guessable (never quoting it); None if it isn't."""
    if secret == EXAMPLE_WEBHOOK_SECRET:
        return "is the example project's placeholder"
    for placeholder in PLACEHOLDERS:
        if placeholder in secret.lower():
            return f"is a placeholder (it contains {placeholder!r})"
    _user, colon, password = secret.partition(":")
    if not colon:
        # anymail compares it with the request's basic auth, "user:password".
        return "is not 'user:password'"
    if len(password) < MIN_WEBHOOK_PASSWORD:
        return (f"has a password of {len(password)} characters, fewer than "
                f"{MIN_WEBHOOK_PASSWORD}")
    return None


def _webhook_secrets() -> list[tuple[str, str]]:
    """Return ``(where, secret)`` for each basic-auth secret anymail's webhooks accept."""
    # As anymail's get_anymail_setting() reads it: ANYMAIL's key, else the bare
    # setting; a list allows rotation (each one is accepted).
    anymail = getattr(settings, "ANYMAIL", {})
    if isinstance(anymail, dict) and "WEBHOOK_SECRET" in anymail:
        where, value = "ANYMAIL['WEBHOOK_SECRET']", anymail["WEBHOOK_SECRET"]
    elif (bare := getattr(settings, "ANYMAIL_WEBHOOK_SECRET", None)) is not None:
        where, value = "settings.ANYMAIL_WEBHOOK_SECRET", bare
    else:
        return []
    if isinstance(value, str):
        return [(where, value)] if value else []
    if isinstance(value, list | tuple):
        return [(f"{where}[{i}]", v) for i, v in enumerate(value) if isinstance(v, str)]
    return []

@checks.register(checks.Tags.security)
def check_preview_access(
    app_configs: Any = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Outside DEBUG the preview is for staff only, which needs auth in place."""
    from django.apps import apps
    from django.core.exceptions import ImproperlyConfigured
    from django.utils.module_loading import import_string

    from ..preview.security import preview_enabled

    try:
        if settings.DEBUG or not preview_enabled():
            return []
    except ImproperlyConfigured:
        return []  # an invalid PREVIEW_ENABLED is reported by the settings check
    if not apps.is_installed("django.contrib.auth"):
        return [_preview_warning("'django.contrib.auth' in INSTALLED_APPS")]
    # Imported only now: it imports auth's models, which need the app installed.
    from django.contrib.auth.middleware import AuthenticationMiddleware

    if not any(
        isinstance(cls := import_string(path), type) and issubclass(cls, AuthenticationMiddleware)
        for path in settings.MIDDLEWARE
    ):
        return [_preview_warning(
            "'django.contrib.auth.middleware.AuthenticationMiddleware' in MIDDLEWARE")]
    return []


def _preview_warning(missing: str) -> checks.Warning:
    return checks.Warning(
        "The txmail preview is enabled outside DEBUG (TXMAIL['PREVIEW_ENABLED'] = True) "
        f"without staff-only access: telling staff apart needs {missing}.",
        hint=f"Add {missing}, or set TXMAIL['PREVIEW_ENABLED'] = None so the preview "
        "follows DEBUG.",
        obj="settings.TXMAIL", id="txmail.W010",
    )
