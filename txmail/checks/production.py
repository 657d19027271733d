"""System checks for a deployment (DEBUG off): who may see previews."""

from typing import Any

from django.conf import settings
from django.core import checks


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
