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
    Production workers call ``txmail.rendering.compiled.warm_up()`` instead.
    """
    from django.conf import settings

    from .rendering import find as tpl
    from .rendering.compiled import get_compiled

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


def _template_problem(name: str, cls: type, template_names: list[str]) -> str | None:
    """Return why ``cls``'s templates can't render, or None.

    Cheap enough for every ``manage.py check`` (not only DEBUG): it loads and
    parses the body, the .txt, the subject template and every template they
    extend or (mj-)include by a literal name, without compiling MJML or
    inlining CSS (that is E002's job in DEBUG, and ``manage.py txmail list``'s).
    """
    from django.template import TemplateDoesNotExist, TemplateSyntaxError

    from .rendering import find as tpl

    try:
        found = tpl.find_templates(cls.__name__, template_names)
    except TemplateDoesNotExist as exc:
        tried = ", ".join(getattr(exc, "tried_paths", [])) or "no template directory"
        shown = " or ".join(repr(n) for n in template_names)
        return f"{name}'s template {shown} does not exist (tried {tried})."
    except TemplateSyntaxError as exc:
        return f"{name}'s template {template_names[0]!r} doesn't compile: {exc}"
    todo: list[tuple[str, Any]] = [(found.name + "." + found.kind, found.body)]
    if found.text is not None:
        todo.append((found.name + tpl.TEXT_EXTENSION, found.text))
    subject = getattr(cls, "subject_template_name", None)
    if subject:
        todo.append((subject, None))
    seen: set[str] = set()
    while todo:
        template_name, template = todo.pop()
        if template_name in seen:
            continue
        seen.add(template_name)
        try:
            if template is None:
                looked: list[str] = []
                template = tpl.get_template(template_name, looked)
                if template is None:
                    return (f"{name}'s templates use {template_name!r}, which does not "
                            f"exist (tried {', '.join(looked)}).")
            todo += [(n, None) for n in tpl.referenced_names(template)]
        except TemplateSyntaxError as exc:
            return f"{name}'s template {template_name!r} doesn't compile: {exc}"
    return None


@checks.register(checks.Tags.templates)
def check_message_templates(
    app_configs: Any = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Every registered class's template must exist and parse, DEBUG or not."""
    errors: list[checks.CheckMessage] = []
    for name, cls in message_classes().items():
        if not cls.template_name:
            continue  # names from get_template_names() need an instance
        problem = _template_problem(name, cls, [cls.template_name])
        if problem:
            errors.append(checks.Error(
                problem,
                hint=f"Create or fix the template, or set {cls.__module__}."
                f"{cls.__qualname__}.template_name to an existing one (without its "
                ".mjml/.html extension). Sending or previewing it fails until then.",
                obj=cls, id="txmail.E010",
            ))
    return errors


@checks.register(checks.Tags.security)
def check_preview_access(
    app_configs: Any = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Outside DEBUG the preview is for staff only, which needs auth in place."""
    from django.apps import apps
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.utils.module_loading import import_string

    from .preview.security import preview_enabled

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
