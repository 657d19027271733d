"""System checks: configuration mistakes reported by ``manage.py check``."""

from typing import Any

from django.core import checks
from django.core.mail import mailers

from .conf import setting_problems, txmail_settings
from .exceptions import InvalidSetting
from .registry import message_classes


@checks.register()
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Every ``TXMAIL`` key must be known and its value of the right kind.

    The same schema raises ``InvalidSetting`` when a bad value is read, so the
    other checks skip what they can't read and leave the report to this one.
    """
    ids = {"invalid": "txmail.E003", "unknown": "txmail.E004"}
    return [
        checks.Error(message, id=ids[kind], obj="settings.TXMAIL")
        for kind, message, _key in setting_problems()
    ]


@checks.register(checks.Tags.compatibility)
def check_mailer_aliases(
    app_configs: Any = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Every registered class's ``mailer`` must be a MAILERS alias."""
    errors: list[checks.CheckMessage] = []
    try:
        default = txmail_settings.DEFAULT_MAILER
    except InvalidSetting:
        return errors  # check_settings reports it
    configured = ", ".join(repr(a) for a in mailers) or "nothing"
    for name, cls in message_classes().items():
        alias = cls.mailer or default
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
    """Report, once at startup, templates that fail or render the slow way.

    Only in DEBUG (runserver on a developer's machine): compiling every template
    costs a second or so, which production management commands shouldn't pay.
    Production workers call ``txmail.precompile.warm_up()`` instead.
    """
    from django.conf import settings

    from . import templates as tpl
    from .precompile import get_compiled

    try:
        if not (settings.DEBUG and txmail_settings.PRECOMPILE):
            return []
    except InvalidSetting:
        return []  # check_settings reports it
    found: list[checks.CheckMessage] = []
    for name, cls in message_classes().items():
        if not cls.template_name:
            continue  # names from get_template_names(): compiled on first use
        try:
            templates = tpl.find_templates(cls.__name__, [cls.template_name])
            reason = get_compiled(cls.__name__, templates)[0].fallback_reason
        except Exception as exc:  # a check reports; it must not stop startup
            found.append(checks.Error(
                f"{name}: its template cannot be rendered: {exc}",
                hint="Fix the template; sending or previewing this message will fail.",
                obj=cls, id="txmail.E002",
            ))
            continue
        if reason:
            found.append(checks.Warning(
                f"{name}: its template renders through the full per-message "
                f"pipeline (slower): {reason}",
                hint="Restructure the template as the reason says, or silence "
                "this with SILENCED_SYSTEM_CHECKS = ['txmail.W001'].",
                obj=cls, id="txmail.W001",
            ))
    return found
