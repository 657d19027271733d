"""System checks of registered classes' templates (txmail.E002, E010, E011, W001, W011)."""

from typing import Any

from django.core import checks

from ..conf import txmail_settings
from ..exceptions import InvalidSetting, MJMLError
from ..registry import message_classes
from .setup import setting_up


@checks.register(checks.Tags.templates)
def check_precompiled_templates(
    app_configs: Any = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Report, once at startup, templates that fail or render the slow way.

    Only in DEBUG (runserver on a developer's machine): compiling every template
    costs a second or so, which production management commands shouldn't pay.
    Production workers call ``txmail.warm_up()`` instead.
    """
    from django.conf import settings

    from ..rendering import find as tpl
    from ..rendering.compiled import get_compiled

    try:
        if not (settings.DEBUG and txmail_settings.PRECOMPILE) or setting_up():
            return []
    except InvalidSetting:
        return []  # check_settings reports it
    found: list[checks.CheckMessage] = []
    for name, cls in message_classes().items():
        if not cls.template_name:
            continue  # names from get_template_names(): compiled on first use
        problem, unknown, _ = _template_problem(name, cls, [cls.template_name])
        if problem or unknown:
            continue  # check_message_templates reports it, with the file and line
        try:
            templates = tpl.find_templates(cls.__name__, [cls.template_name])
            compiled = get_compiled(cls.__name__, templates)[0]
            if compiled.error:
                raise MJMLError(compiled.error)
            reason = compiled.fallback_reason
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


def _template_problem(name: str, cls: type, template_names: list[str]
                      ) -> tuple[str | None, list[str], list[str]]:
    """Return why ``cls``'s templates can't render (or None), their unknown MJML tags
    and the text they write where MJML drops it.

    Cheap enough for every ``manage.py check`` (not only DEBUG): it loads and
    parses the body, the .txt, the subject template and every template they
    extend or (mj-)include by a literal name, without compiling MJML or
    inlining CSS (that is E002's job in DEBUG, and ``manage.py txmail list``'s).
    An MJML body's files are read for ``<mj-…>`` tags that aren't MJML 4's, and
    for text directly inside a container (``mjml_text``).
    """
    from django.template import TemplateDoesNotExist, TemplateSyntaxError

    from ..rendering import find as tpl
    from ..rendering.mjml_tags import unknown_tags
    from ..rendering.mjml_text import in_source

    try:
        found = tpl.find_templates(cls.__name__, template_names)
    except TemplateDoesNotExist as exc:
        tried = ", ".join(getattr(exc, "tried_paths", [])) or "no template directory"
        shown = " or ".join(repr(n) for n in template_names)
        return f"{name}'s template {shown} does not exist (tried {tried}).", [], []
    except TemplateSyntaxError as exc:
        return f"{name}'s template {template_names[0]!r} doesn't compile: {exc}", [], []
    # (name, template or None to load it, whether it is the body's markup)
    todo: list[tuple[str, Any, bool]] = [(found.name + "." + found.kind, found.body, True)]
    if found.text is not None:
        todo.append((found.name + tpl.TEXT_EXTENSION, found.text, False))
    subject = getattr(cls, "subject_template_name", None)
    if subject:
        todo.append((subject, None, False))
    seen: set[str] = set()
    unknown: list[str] = []
    dropped: list[str] = []
    # Text in a child template's blocks stands inside its base's containers:
    # read the body flattened, as it renders; its files aren't read again alone.
    flat_files: set[str] = set()
    if found.kind == "mjml":
        flat_files, dropped = _flat_dropped(name, found.body)
    while todo:
        template_name, template, markup = todo.pop()
        if template_name in seen:
            continue
        seen.add(template_name)
        try:
            if template is None:
                looked: list[str] = []
                template = tpl.get_template(template_name, looked)
                if template is None:
                    return (f"{name}'s templates use {template_name!r}, which does not "
                            f"exist (tried {', '.join(looked)})."), unknown, dropped
            todo += [(n, None, markup) for n in tpl.referenced_names(template)]
        except TemplateSyntaxError as exc:
            return (f"{name}'s template {template_name!r} doesn't compile: {exc}",
                    unknown, dropped)
        if markup and found.kind == "mjml":
            origin = tpl.template_origin_name(template)
            source = tpl.source_of(template)
            unknown += [f"{name}'s template '{origin}', line {tag.line}: {tag.problem()}."
                        for tag in unknown_tags(source)]
            if origin not in flat_files:
                dropped += [f"{name}'s {text.problem(origin)}" for text in in_source(source)]
    return None, unknown, dropped


def _flat_dropped(name: str, body: Any) -> tuple[set[str], list[str]]:
    """(the files read, W011's messages) of ``body`` with its extends and includes
    resolved; nothing read when they can't be (``{% extends var %}``)."""
    from ..rendering import find as tpl
    from ..rendering.compiled.flatten import container_text

    origin = tpl.template_origin_name(body)
    found = container_text(body, origin)
    if found is None:  # the per-file reading still runs; E010 says what's wrong
        return set(), []
    files, dropped = found
    return files, [f"{name}'s {text.problem(origin)}" for text in dropped]


@checks.register(checks.Tags.templates)
def check_message_templates(
    app_configs: Any = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Every registered class's template must exist and parse, DEBUG or not."""
    errors: list[checks.CheckMessage] = []
    if setting_up():
        return errors  # migrate and makemigrations don't need templates
    for name, cls in message_classes().items():
        if not cls.template_name:
            continue  # names from get_template_names() need an instance
        problem, unknown, dropped = _template_problem(name, cls, [cls.template_name])
        errors += [checks.Warning(
            message, hint="Move the text into an <mj-text> (or remove it); silence this "
            "with SILENCED_SYSTEM_CHECKS = ['txmail.W011'].",
            obj=cls, id="txmail.W011") for message in dropped]
        errors += [checks.Error(
            message, hint="Fix the tag's name: sending or previewing it fails until then.",
            obj=cls, id="txmail.E011") for message in unknown]
        if problem:
            errors.append(checks.Error(
                problem,
                hint=f"Create or fix the template, or set {cls.__module__}."
                f"{cls.__qualname__}.template_name to an existing one (without its "
                ".mjml/.html extension). Sending or previewing it fails until then.",
                obj=cls, id="txmail.E010",
            ))
    return errors
