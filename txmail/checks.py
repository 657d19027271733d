"""System checks: configuration mistakes reported by ``manage.py check``."""

from typing import Any

from django.core import checks
from django.core.mail import mailers

from .conf import txmail_settings
from .registry import message_classes


@checks.register(checks.Tags.compatibility)
def check_mailer_aliases(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
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
