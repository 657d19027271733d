"""Values the compiled and the full pipeline must render byte for byte alike.

Characters XML can't carry are dropped (both paths, both kinds of template);
whitespace at a value's edges collapses as html2text collapses it.
"""

import pytest

from tests.test_precompile import COLUMN, HTML, MJML, compiled_for, locmem, pipeline
from txmail import MJMLError
from txmail.compile import XML_INVALID, mjml_to_html

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
        from txmail.precompile import NeedsFallback

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
