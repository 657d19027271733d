"""Values the compiled and the full pipeline must render byte for byte alike.

Characters XML can't carry are dropped (both paths, both kinds of template);
whitespace at a value's edges collapses as html2text collapses it.
"""

import pytest

from tests.test_precompile import COLUMN, HTML, MJML, compiled_for, locmem, pipeline
from txmail import MJMLError
from txmail.rendering.compiled import NeedsFallback
from txmail.rendering.compiled.edges import mark_edges, resolve_edges
from txmail.rendering.markup import XML_INVALID, mjml_to_html

SPOTS_HTML = HTML.format(
    '<p>Name: {{ v }}!</p><p><img src="a.png" alt="{{ v }}"></p>'
    '<p><a href="https://e.com/?q={{ v }}">Go {{ v }}</a></p>'
)
SPOTS_MJML = MJML.format(COLUMN.format(
    "<mj-text>Name: {{ v }}!</mj-text>"
    '<mj-image src="a.png" alt="{{ v }}" />'
    '<mj-button href="https://e.com/?q={{ v }}">Go {{ v }}</mj-button>'
))
TEMPLATES = {"html": {"t.html": SPOTS_HTML}, "mjml": {"t.mjml": SPOTS_MJML}}
TEXT = "Name: Ann!\n\nGo Ann (https://e.com/?q=Ann)\n"


def both(files, context):
    """(compiled (html, text), its fallback reason, full pipeline (html, text))."""
    compiled = compiled_for(files)
    assert compiled.fallback_reason is None, compiled.fallback_reason
    with locmem(files):
        try:
            fast, reason = compiled.render(context), None
        except NeedsFallback as exc:
            fast, reason = None, str(exc)
    return fast, reason, pipeline(files, context)


# -- characters XML can't carry ------------------------------------------------------------

# MRML refuses exactly XML 1.0's non-characters: C0 controls but TAB/LF/CR,
# U+FFFE/U+FFFF and lone surrogates (U+007F-U+009F and U+1FFFE it takes).
REFUSED_BY_MRML = [chr(c) for c in [*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20)]]
REFUSED_BY_MRML += ["\ufffe", "\uffff", "\ud800", "\udfff"]


@pytest.mark.parametrize("char", REFUSED_BY_MRML, ids=[hex(ord(c)) for c in REFUSED_BY_MRML])
def test_xml_invalid_is_exactly_what_mrml_refuses(char):
    source = MJML.format(COLUMN.format(f"<mj-text>A{char}B</mj-text>"))
    with pytest.raises(ValueError):
        from mjml import mjml2html

        mjml2html(source, fonts={})
    assert XML_INVALID.fullmatch(char)
    html = mjml_to_html(source, origin="t.mjml", include_loader=lambda path: "")
    assert ">AB</div>" in html


@pytest.mark.parametrize("char", ["\t", "\n", "\r", "\x7f", "\x85", "\ufdd0", "\U0001fffe"])
def test_xml_characters_are_kept(char):
    assert not XML_INVALID.search(char)


@pytest.mark.parametrize("kind", sorted(TEMPLATES))
@pytest.mark.parametrize("value", ["Ann\x0b", "\x08Ann", "A\x00nn", "Ann\ufffe", "An\ud800n",
                                   "\x01A\x1fn\uffffn\x0c"])
def test_xml_invalid_characters_are_dropped_in_both_paths(kind, value):
    fast, reason, full = both(TEMPLATES[kind], {"v": value})
    assert reason is None
    assert fast == full
    assert fast == both(TEMPLATES[kind], {"v": "Ann"})[2]
    assert fast[1] == TEXT


def test_xml_invalid_in_a_template_does_not_blame_the_markup():
    files = {"t.mjml": MJML.format(COLUMN.format("<mj-text>Hi\x0b {{ v }}</mj-text>"))}
    html, text = pipeline(files, {"v": "Ann"})
    assert text == "Hi Ann\n" and "\x0b" not in html


def test_a_txt_part_drops_them_too():
    files = {"t.html": HTML.format("<p>{{ v }}</p>"), "t.txt": "Hi {{ v }}."}
    fast, reason, full = both(files, {"v": "Ann\x0b\x00"})
    assert reason is None and fast[0] == full[0]
    assert full[1] == "Hi Ann.\n"


def test_a_real_mjml_error_still_names_the_template():
    with pytest.raises(MJMLError, match=r"^MJML error in template 't\.mjml'"):
        mjml_to_html("<mjml><mj-body>", origin="t.mjml", include_loader=lambda path: "")


# -- whitespace at a value's edges ---------------------------------------------------------


def rendered(files, context):
    """What a message gets: the compiled render, or the pipeline's where it falls back."""
    fast, reason, full = both(files, context)
    return (full if fast is None else (fast[0], fast[1])), reason, full


WHITESPACE_VALUES = [" Ann", "Ann ", "  Ann  ", "A  B", "\tAnn\n", "", " ", "   "]
WHITESPACE_BODIES = {
    "text": "<p>Value: {{ v }}</p><p>a {{ v }} b</p><p>{{ v }} end</p><p>x<b>y </b>{{ v }}</p>",
    "list items": "<ul><li>{{ v }}</li><li>x {{ v }} y</li><li>{{ v }}!</li></ul>",
    "table cells": "<table><tr><td>{{ v }}</td><td>a {{ v }} b</td></tr></table>",
}
WHITESPACE_FILES = {
    f"{kind} {name}": (
        {"t.html": HTML.format(body)} if kind == "html"
        else {"t.mjml": MJML.format(COLUMN.format(f"<mj-text>{body}</mj-text>"))}
    )
    for kind in ("html", "mjml") for name, body in WHITESPACE_BODIES.items()
}


@pytest.mark.parametrize("name", sorted(WHITESPACE_FILES))
@pytest.mark.parametrize("value", WHITESPACE_VALUES)
def test_whitespace_values_render_exactly_as_the_pipeline(name, value):
    # Byte for byte, no normalising: the text part included.
    got, _reason, full = rendered(WHITESPACE_FILES[name], {"v": value})
    assert got == full


EDGES = [
    # (body, value, text part): all render compiled, as the pipeline renders them.
    ("<p>Name: {{ v }}!</p>", " Ann", "Name: Ann!\n"),
    ("<p>Name: {{ v }}!</p>", "Ann  ", "Name: Ann !\n"),
    ("<p>Name:{{ v }}!</p>", "  Ann  ", "Name: Ann !\n"),
    ("<p>Name:{{ v }}!</p>", "   ", "Name: !\n"),
    ("<p>Name:{{ v }}!</p>", "", "Name:!\n"),
    ("<p>Name: {{ v }}!</p>", "", "Name: !\n"),
    ("<p>{{ v }}</p><p>{{ v }}</p>", " A  B ", "A B\n\nA B\n"),
    ("<p>{{ v }}!</p>", " ", "!\n"),
    ("<ul><li>{{ v }}</li></ul>", "\t Ann \n", "* Ann\n"),
    ("<p>x<b>y</b>{{ v }}</p>", " Ann", "xy Ann\n"),
    # One text node merges the spaces; across a tag html2text keeps both.
    ("<p>Value: {{ v }}</p>", " Ann", "Value: Ann\n"),
    ("<p>Value: <b>{{ v }}</b></p>", " Ann", "Value:  Ann\n"),
    ("<p><b>Value: </b>{{ v }}</p>", " Ann", "Value:  Ann\n"),
    ("<p>{{ v }} end</p>", "Ann ", "Ann end\n"),
    ("<p>{{ v }}<b> end</b></p>", "Ann ", "Ann  end\n"),
    ("<p>a {{ v }} b</p>", "", "a b\n"),
    ("<p>a <b>x </b>{{ v }} b</p>", "", "a x  b\n"),
    ("<p>x</p><p>{{ v }} b</p>", "", "x\n\nb\n"),
    ("<p>x</p><p>{{ v }}&nbsp;b</p>", "", "x\n\nb\n"),
    ("<p>x</p><p>{{ v }}&nbsp;b</p>", " ", "x\n\nb\n"),
    ("<p>Hi {{ v }} {{ w }}!</p>", "", "Hi Bo!\n"),
    ("<ul><li>{{ v }} y</li></ul>", "", "* y\n"),
]


@pytest.mark.parametrize(("body", "value", "text"), EDGES)
def test_whitespace_edges_collapse_as_html2text_does(body, value, text):
    for files in ({"t.html": HTML.format(body)},
                  {"t.mjml": MJML.format(COLUMN.format(f"<mj-text>{body}</mj-text>"))}):
        got, reason, full = rendered(files, {"v": value, "w": "Bo"})
        assert got == full
        assert got[1] == text
        assert reason is None


def test_unmeasured_edges_next_to_a_space_render_in_full():
    # Where the compiler couldn't measure a spot, only what holds in any text
    # node is applied; a space next to a space is left to the full pipeline.
    def text(*pieces):
        return resolve_edges("".join(
            mark_edges(p[1:], "") if p.startswith("=") else p for p in pieces
        ))

    assert text("Name:", "= Ann", "!") == "Name: Ann!"
    assert text("\n", "= Ann ", "!") == "\nAnn !"
    assert text("x", "=", " y") == "x y"
    for pieces in (("Name: ", "= Ann"), ("=Ann ", " end"), ("a ", "=", " b"),
                   ("\n", "=", " b"), ("a ", "= ", "b")):
        with pytest.raises(NeedsFallback):
            text(*pieces)


@pytest.mark.parametrize(("kind", "reason"), [
    # libxml2 writes an empty <li> without its end tag (premailer's HTML)…
    ("html", "an empty value is all an <li> holds"),
    # …and html2text drops the line break after an empty item's marker.
    ("mjml", "a value in the text part starts or ends with whitespace"),
])
def test_an_empty_list_item_renders_in_full(kind, reason):
    body = "<ul><li>{{ v }}</li><li>y</li></ul>"
    files = ({"t.html": HTML.format(body)} if kind == "html"
             else {"t.mjml": MJML.format(COLUMN.format(f"<mj-text>{body}</mj-text>"))})
    got, why, full = rendered(files, {"v": ""})
    assert why.startswith(reason)
    assert got == full and full[1] == "*   * y\n"
    assert rendered(files, {"v": "x"})[1] is None


@pytest.mark.parametrize("value", ["", " ", " Ann", "Ann ", "Ann"])
def test_values_next_to_block_tags_render_exactly(value):
    # Found by the equivalence suite (corpus/nested): "Last: " and " (1)" are
    # the value's neighbours only at runtime, across {% endif %} and {% if %}.
    body = ("<p>{% if first %}First: {% else %}Last: {% endif %}{{ v }}"
            "{% if qty %} ({{ qty }}){% endif %}</p>")
    for files in ({"t.html": HTML.format(body)},
                  {"t.mjml": MJML.format(COLUMN.format(f"<mj-text>{body}</mj-text>"))}):
        for first in (True, False):
            got, _reason, full = rendered(files, {"v": value, "qty": 1, "first": first})
            assert got == full
