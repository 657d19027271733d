"""System checks: configuration mistakes reported by ``manage.py check``."""

from typing import Any

from django.core import checks
from django.core.mail import mailers

from .conf import txmail_settings
from .registry import message_classes


@checks.register(checks.Tags.compatibility)
def check_mailer_aliases(
    app_configs: Any = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Every registered class's ``mailer`` must be a MAILERS alias."""
    errors: list[checks.CheckMessage] = []
    configured = ", ".join(repr(a) for a in mailers) or "nothing"
    for name, cls in message_classes().items():
        alias = cls.mailer or txmail_settings.DEFAULT_MAILER
        if alias not in mailers:
            errors.append(
                checks.Error(
                    f"{name} sends through mailer {alias!r}, which settings.MAILERS "
                    f"does not define (it has {configured}).",
                    hint=f"Add {alias!r} to MAILERS or set {name}.mailer to one of "
                    "the configured aliases.",
                    obj=cls,
                    id="txmail.E001",
                )
            )
    return errors


@checks.register(checks.Tags.templates)
def check_precompiled_templates(
    app_configs: Any = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Report, once at startup, each template that renders through the slow path."""
    from .precompile import warm_up

    if not txmail_settings.PRECOMPILE:
        return []
    warnings: list[checks.CheckMessage] = []
    for name, reason in warm_up().items():
        if reason:
            warnings.append(
                checks.Warning(
                    f"{name}: its template renders through the full per-message "
                    f"pipeline (slower): {reason}",
                    hint="Restructure the template as the reason says, or silence "
                    "this with SILENCED_SYSTEM_CHECKS = ['txmail.W001'].",
                    id="txmail.W001",
                )
            )
    return warnings
