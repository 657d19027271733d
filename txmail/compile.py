"""Compile rendered markup to email-ready HTML: MJML through MRML, CSS through premailer.

Neither step touches the network: MRML's default Google Fonts links are turned
off and premailer never fetches ``<link>`` stylesheets.
"""

import logging
import re
from collections.abc import Callable

import premailer
from mjml import mjml2html

from .exceptions import MJMLError

IncludeLoader = Callable[[str], str]

_DOCTYPE = re.compile(r"^\s*(<!doctype[^>]*>)", re.IGNORECASE)
# MRML drops <mj-style inline="inline"> silently; we lift those blocks out before
# compiling and let premailer inline them afterwards, as mjml-js does with juice.
_INLINE_MJ_STYLE = re.compile(
    r"<mj-style\b[^>]*\binline\s*=\s*([\"'])inline\1[^>]*>(.*?)</mj-style>",
    re.IGNORECASE | re.DOTALL,
)
_IGNORE_ATTR = ' data-premailer="ignore"'

# cssutils logs a warning for every MSO property it doesn't know; email CSS is
# full of them and none is actionable. (A handler argument would be added to
# cssutils' global logger on every call, so only the level is passed.)
_CSSUTILS_LOG_LEVEL = logging.CRITICAL


def has_inline_styles(source: str) -> bool:
    """Whether ``mjml_to_html(source)`` runs premailer (``<mj-style inline>``)."""
    return _INLINE_MJ_STYLE.search(source) is not None


def mjml_to_html(source: str, *, origin: str, include_loader: IncludeLoader) -> str:
    """Compile MJML ``source`` (already rendered by Django) to HTML.

    ``origin`` names the template in errors.
    """
    inline_css = "\n".join(m.group(2) for m in _INLINE_MJ_STYLE.finditer(source))
    if inline_css:
        source = _INLINE_MJ_STYLE.sub("", source)
    failures: list[Exception] = []

    def load(path: str) -> str:
        try:
            return include_loader(path)
        except Exception as exc:  # MRML would swallow it into a vague message
            failures.append(exc)
            raise

    try:
        # fonts={}: MRML otherwise links Google Fonts for its default font stack.
        html = mjml2html(source, fonts={}, include_loader=load)
    except Exception as exc:
        if failures:
            raise failures[0] from exc
        raise MJMLError(
            f"MJML error in template '{origin}': {exc}. Fix the MJML markup "
            "(see https://documentation.mjml.io/ for valid tags and attributes)."
        ) from exc
    if inline_css:
        html = inline_styles(
            html.replace("<style", "<style" + _IGNORE_ATTR),
            css_text=inline_css,
            keep_style_tags=True,
        ).replace(_IGNORE_ATTR, "")
    return html


def inline_styles(
    html: str, *, css_text: str | None = None, keep_style_tags: bool = False
) -> str:
    """Move CSS rules into ``style`` attributes, keeping what can't be inlined.

    Media queries and pseudo-classes (``:hover``) stay in a ``<style>`` block with
    their ``!important``; Outlook conditional comments pass through untouched.
    """
    doctype = _DOCTYPE.match(html)
    inliner = premailer.Premailer(
        html,
        css_text=css_text,
        keep_style_tags=keep_style_tags,
        allow_network=False,
        allow_loading_external_files=False,
        strip_important=False,
        disable_validation=True,
        cssutils_logging_level=_CSSUTILS_LOG_LEVEL,
        remove_classes=False,
    )
    out = inliner.transform()
    # lxml drops the doctype; email clients switch to quirks mode without it.
    if doctype and not _DOCTYPE.match(out):
        out = doctype.group(1) + "\n" + out
    return out
