"""One Compiled per template set, reused until a template changes.

Keyed by engine, kind and the origins of body and text template. An entry is
valid while the body and text sources the loaders return are the same (an
identity check, or string equality when a non-caching loader re-reads them).
With ``settings.DEBUG`` every file the entry was built from (extended, included,
mj-included) is also checked by mtime, and an edit resets Django's cached
loaders so the next render sees it without a restart.

Only template sources go into an entry; contexts never do, so nothing of one
recipient can reach another.
"""

import logging
import threading
from dataclasses import replace

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.template.autoreload import reset_loaders

from .. import find as tpl
from .compiler import Compiled, compile_templates

logger = logging.getLogger("txmail.rendering.compiled")

_cache: dict[tuple, Compiled] = {}
_lock = threading.Lock()


def _key(templates: tpl.TemplateSet) -> tuple:
    engine = getattr(getattr(templates.body, "template", None), "engine", None)
    text_origin = None if templates.text is None else tpl.template_origin_name(templates.text)
    return (id(engine), templates.kind, templates.body_origin, text_origin)


def _same(cached: str | None, template: object | None) -> bool:
    if template is None:
        return cached is None
    current = tpl.source_of(template)
    return cached is current or cached == current


def _refind(templates: tpl.TemplateSet) -> tpl.TemplateSet:
    """Load the templates again (after a loader reset), same names."""
    ext = "." + templates.kind
    body = tpl.get_template(templates.name + ext, []) or templates.body
    text = tpl.get_template(templates.name + tpl.TEXT_EXTENSION, [])
    return replace(templates, body=body, text=text)


def get_compiled(
    owner: str, templates: tpl.TemplateSet
) -> tuple[Compiled, tpl.TemplateSet]:
    """Return the Compiled for ``templates`` (and the templates it was built from).

    The templates differ from the argument only in DEBUG after an edit.
    """
    key = _key(templates)
    entry = _cache.get(key)
    if (
        entry is not None
        and _same(entry.body_source, templates.body)
        and _same(entry.text_source, templates.text)
    ):
        if not settings.DEBUG or not entry.changed():
            return entry, templates
        reset_loaders()  # a cached loader would keep serving the old file
        templates = _refind(templates)
    with _lock:  # two threads compiling the same set would only waste time
        entry = _cache.get(key)
        if (
            entry is not None
            and _same(entry.body_source, templates.body)
            and _same(entry.text_source, templates.text)
            and not (settings.DEBUG and entry.changed())
        ):
            return entry, templates
        entry = compile_templates(owner, templates)
        _cache[key] = entry
    if entry.error:
        logger.error("txmail: template '%s' cannot be rendered: %s",
                     templates.body_origin, entry.error)
    elif entry.fallback_reason:
        logger.warning(
            "txmail: template '%s' renders through the full per-message pipeline "
            "(slow): %s", templates.body_origin, entry.fallback_reason,
        )
    else:
        logger.debug(
            "txmail: compiled '%s' in %.0f ms", templates.body_origin,
            entry.compile_seconds * 1000,
        )
    return entry, templates


def clear() -> None:
    """Forget every compiled template (tests; settings changes)."""
    _cache.clear()


@receiver(setting_changed)
def _settings_changed(setting: str, **kwargs: object) -> None:
    if setting in ("TEMPLATES", "TXMAIL", "DEBUG", "INSTALLED_APPS"):
        clear()
