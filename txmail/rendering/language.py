"""The ``<html>`` element's ``lang`` (and ``dir``) are the message's language.

MRML writes ``<html lang="und" dir="auto">`` for an ``<mjml>`` without ``lang``
and ``dir``, and an HTML template may have none: screen readers then guess the
language. ``mark_language()`` runs last, on the HTML either pipeline produced
(compiled or per message), in the language the message renders in. What the
author wrote stays: ``<mjml lang="…">``, ``<html lang="…">``, an explicit ``dir``.
"""

import re

from django.utils import translation

_HTML = re.compile(r"<html\b([^>]*)>", re.IGNORECASE)
_LANG = re.compile(r"""\slang\s*=\s*(["'])(.*?)\1""", re.IGNORECASE)
_DIR = re.compile(r"""\sdir\s*=\s*(["'])(.*?)\1""", re.IGNORECASE)
# MRML's values for an <mjml> that sets neither (mjml-core writes the same).
MJML_UNSET_LANG = "und"
MJML_UNSET_DIR = "auto"


def html_language() -> str:
    """The active language as a BCP 47 tag: ``en-us`` → ``en-US``, ``zh-hans`` → ``zh-Hans``."""
    code = translation.get_language() or ""
    return translation.to_locale(code).replace("_", "-") if code else ""


def mark_language(html: str, kind: str) -> str:
    """Give ``html``'s ``<html>`` element the active language's ``lang`` and ``dir``.

    ``kind`` is ``"mjml"`` (``lang="und"`` and ``dir="auto"`` are MRML's
    defaults, so they are replaced) or ``"html"`` (only missing attributes
    are added).
    """
    match = _HTML.search(html)
    language = html_language()
    if match is None or not language:
        return html
    attrs = match.group(1)
    rtl = translation.get_language_bidi()
    lang, direction = _LANG.search(attrs), _DIR.search(attrs)
    # dir follows the language only where txmail sets the language too.
    if kind == "mjml":
        if lang is None or lang.group(2) != MJML_UNSET_LANG:
            return html
        edits = [(lang, language)]
        if rtl and direction is not None and direction.group(2) == MJML_UNSET_DIR:
            edits.append((direction, "rtl"))
        for found, value in sorted(edits, key=lambda edit: -edit[0].start(2)):
            attrs = attrs[:found.start(2)] + value + attrs[found.end(2):]
    elif lang is None:
        attrs = f' lang="{language}"' + (' dir="rtl"' if rtl and direction is None else "") \
            + attrs
    if attrs == match.group(1):
        return html
    return f"{html[:match.start()]}<html{attrs}>{html[match.end():]}"

