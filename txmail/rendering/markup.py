"""Compile rendered markup to email-ready HTML: MJML through MRML, CSS through premailer.

Neither step touches the network: MRML's default Google Fonts links are turned
off and premailer never fetches ``<link>`` stylesheets.
"""

import logging
import re
from collections.abc import Callable

import premailer
from mjml import mjml2html

from . import mjml_text
from .mjml_source import IncludeLoader, Prepared, prepare

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


# Characters XML 1.0 can't carry: C0 controls but tab, LF and CR, lone
# surrogates, U+FFFE and U+FFFF. MRML rejects exactly these ("unable to parse"),
# and lxml (premailer) turns NUL into U+FFFD and drops the whole body at a
# surrogate. A value holding one (a "\x0b" pasted from a form) is never the
# template's fault, so they are dropped from the markup before either tool
# parses it; the compiled path drops them from values (precompile.values).
XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def drop_xml_invalid(markup: str) -> str:
    """``markup`` without the characters XML can't carry (``XML_INVALID``)."""
    return XML_INVALID.sub("", markup)


def has_inline_styles(source: str) -> bool:
    """Whether ``mjml_to_html(source)`` runs premailer (``<mj-style inline>``)."""
    return _INLINE_MJ_STYLE.search(source) is not None


def mjml_to_html(source: str, *, origin: str, include_loader: IncludeLoader,
                 written: Callable[[], list[mjml_text.Dropped] | None] | None = None) -> str:
    """Compile MJML ``source`` (already rendered by Django) to HTML.

    ``origin`` names the template in errors. The source is first read as the
    official compiler reads it (``mjml_source.prepare``: includes resolved,
    unquoted values and ``</img>`` accepted, ``<mj-raw>`` kept verbatim).
    ``written`` gives the template's own container text, to name the file and
    line of text MJML drops (``mjml_text.written_at``).
    """
    loader = include_loader  # the included files' text can hold a value's characters too
    document = prepare(drop_xml_invalid(source), origin=origin,
                       include_loader=lambda path: drop_xml_invalid(loader(path)))
    if document.dropped:
        mjml_text.warn(document, origin, quoted=False,
                       written=written() if written is not None else None)
    return mjml_prepared_to_html(document, origin=origin)


def mjml_prepared_to_html(document: Prepared, *, origin: str) -> str:
    """Compile a ``prepare``d MJML document to HTML."""
    source = document.text
    inline_css = "\n".join(m.group(2) for m in _INLINE_MJ_STYLE.finditer(source))
    if inline_css:
        source = _INLINE_MJ_STYLE.sub("", source)
    source = mark_table_roles(source)
    try:
        # fonts={}: MRML otherwise links Google Fonts for its default font stack.
        html = mjml2html(source, fonts={})
    except Exception as exc:
        raise document.error(origin, exc) from exc
    html = document.finish(hide_preheader(restore_table_roles(repair_attributes(html))))
    if inline_css:
        html = inline_styles(
            html.replace("<style", "<style" + _IGNORE_ATTR),
            css_text=inline_css,
            keep_style_tags=True,
        ).replace(_IGNORE_ATTR, "")
    return html


# MRML drops <mj-table role="presentation|none">, which mjml-js writes on the table (a
# layout table screen readers shouldn't announce). The role travels as a class of
# the cell MRML wraps the table in, and is put back on the table after it.
_MJ_TABLE_ROLE = re.compile(
    r"(<mj-table\b[^>]*?)\s+role\s*=\s*([\"'])(presentation|none)\2([^>]*>)", re.IGNORECASE)
_CSS_CLASS = re.compile(r"""(\scss-class\s*=\s*)(["'])(.*?)\2""", re.IGNORECASE)
_ROLE_CELL = re.compile(
    r'(<td\b[^>]*?)\sclass="([^"]*?)\s*\btxmail-role-(presentation|none)\b([^"]*)"'
    r'([^>]*>\s*<table\b)')


def mark_table_roles(source: str) -> str:
    """``<mj-table role="…">`` with the role as a css-class MRML keeps."""
    def mark(tag: re.Match[str]) -> str:
        start, role, end = tag.group(1), tag.group(3).lower(), tag.group(4)
        marker = f"txmail-role-{role}"
        if _CSS_CLASS.search(start + end):
            return _CSS_CLASS.sub(lambda c: f"{c[1]}{c[2]}{c[3]} {marker}{c[2]}", start + end,
                                  count=1)
        return f'{start} css-class="{marker}"{end}'

    return _MJ_TABLE_ROLE.sub(mark, source) if "role" in source else source


def restore_table_roles(html: str) -> str:
    """The roles ``mark_table_roles`` carried put back on their tables."""
    def restore(cell: re.Match[str]) -> str:
        kept = (cell[2] + cell[4]).strip()
        classes = f' class="{kept}"' if kept else ""
        return f'{cell[1]}{classes}{cell[5]} role="{cell[3]}"'

    return _ROLE_CELL.sub(restore, html) if "txmail-role-" in html else html


# MJML hides <mj-preview> text in a white, zero-height, transparent div. White text
# on a near-white body is what SpamAssassin's HTML_FONT_LOW_CONTRAST (+0.7) looks
# for, and the other properties hide it anyway: the colour goes (the text takes
# the body's), and Outlook's mso-hide:all is added.
_PREHEADER_STYLE = ("display:none;font-size:1px;color:#ffffff;line-height:1px;max-height:0px;"
                    "max-width:0px;opacity:0;overflow:hidden;")
_PREHEADER_HIDDEN = ("display:none;font-size:1px;line-height:1px;max-height:0px;"
                     "max-width:0px;opacity:0;overflow:hidden;mso-hide:all;")


def hide_preheader(html: str) -> str:
    """MJML's preheader div hidden without white-on-white text."""
    return html.replace(f'<div style="{_PREHEADER_STYLE}">',
                        f'<div style="{_PREHEADER_HIDDEN}">', 1)


# MRML writes every attribute value as a Rust debug string: a no-break space
# as "\u{a0}", a quote as '\"', a backslash doubled. Mail clients and screen
# readers would show those escapes (an <mj-title> becomes the body's aria-label),
# so they are turned back into the characters, and '"' into "&quot;".
_TAG = re.compile(r"""<[A-Za-z][^\s/>]*(?:\s+[^\s"'>/=]+(?:="(?:[^"\\]|\\.)*")?)*\s*/?>""")
_ATTR_VALUE = re.compile(r'="((?:[^"\\]|\\.)*)"')
_RUST_ESCAPE = re.compile(r"\\(?:u\{([0-9a-fA-F]{1,6})\}|(.))", re.DOTALL)
_RUST_CHARS = {"n": "\n", "r": "\r", "t": "\t", "0": "\0", '"': "&quot;", "'": "'", "\\": "\\"}
_RAW_ELEMENTS = re.compile(r"<(style|script)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)


def repair_attributes(html: str) -> str:
    """Undo MRML's Rust escaping of attribute values (not in <style>/<script>)."""
    if "\\" not in html:
        return html  # nothing was escaped
    pieces = []
    last = 0
    for raw in _RAW_ELEMENTS.finditer(html):
        pieces.append(_TAG.sub(_repair_tag, html[last:raw.start()]))
        pieces.append(raw.group(0))
        last = raw.end()
    pieces.append(_TAG.sub(_repair_tag, html[last:]))
    return "".join(pieces)


def _repair_tag(tag: re.Match[str]) -> str:
    if "\\" not in tag.group(0):
        return tag.group(0)
    return _ATTR_VALUE.sub(
        lambda value: '="' + _RUST_ESCAPE.sub(_unescape_one, value.group(1)) + '"', tag.group(0)
    )


def _unescape_one(match: re.Match[str]) -> str:
    if match.group(1) is not None:
        return chr(int(match.group(1), 16))
    return _RUST_CHARS.get(match.group(2), match.group(0))


def inline_styles(
    html: str, *, css_text: str | None = None, keep_style_tags: bool = False
) -> str:
    """Move CSS rules into ``style`` attributes, keeping what can't be inlined.

    Media queries and pseudo-classes (``:hover``) stay in a ``<style>`` block with
    their ``!important``; Outlook conditional comments pass through untouched.
    """
    html = drop_xml_invalid(html)
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
