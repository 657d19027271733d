"""MJML the official compiler accepts renders as it renders it (txmail.rendering.mjml_source)."""

import pytest
from django.conf import settings
from django.test import override_settings

from tests.test_precompile import COLUMN, MJML, compiled_for, pipeline
from txmail import MJMLError
from txmail.rendering import compiled as precompile
from txmail.rendering.find import find_templates
from txmail.rendering.markup import mjml_to_html
from txmail.rendering.pipeline import compile_body, render_body


def html_of(files, context=None, name="t"):
    return pipeline(files, context or {}, name)[0]


def direct(source):
    return mjml_to_html(source, origin="direct", include_loader=lambda path: "")


def test_css_include_in_a_head_partial_becomes_mj_style():
    files = {
        "t.mjml": "<mjml><mj-head><mj-include path=\"parts/head.mjml\" /></mj-head>"
                  "<mj-body>" + COLUMN.format('<mj-text css-class="a">x</mj-text>')
                  + "</mj-body></mjml>",
        "parts/head.mjml": '<mj-include type="css" path="./style.css" />'
                           '<mj-include type="css" css-inline="inline" path="./inline.css" />',
        "parts/style.css": ".a div { color: red; }",
        "parts/inline.css": ".a { color: blue; }",
    }
    written = direct(
        "<mjml><mj-head><mj-style>.a div { color: red; }</mj-style>"
        '<mj-style inline="inline">.a { color: blue; }</mj-style></mj-head><mj-body>'
        + COLUMN.format('<mj-text css-class="a">x</mj-text>') + "</mj-body></mjml>"
    )
    assert html_of(files) == written
    assert ".a div { color: red; }" in written
    assert 'class="a" style="color:blue;' in written


def test_an_mjml_partial_gives_its_body_in_place_and_its_head_to_the_head():
    files = {
        "t.mjml": MJML.format('<mj-include path="p.mjml" />'),
        "p.mjml": "<mjml><mj-head><mj-title>T</mj-title></mj-head><mj-body>"
                  + COLUMN.format("<mj-text>{{ name }}</mj-text>") + "</mj-body></mjml>",
    }
    assert html_of(files, {"name": "Ann"}) == direct(
        "<mjml><mj-head><mj-title>T</mj-title></mj-head><mj-body>"
        + COLUMN.format("<mj-text>Ann</mj-text>") + "</mj-body></mjml>"
    )


def test_unquoted_values_and_void_end_tags_read_as_html_reads_them():
    files = {"t.mjml": MJML.format(COLUMN.format(
        "<mj-text font-weight=400 align=center>a<img src=\"x.png\" alt=\"\"></img></mj-text>"
        "<mj-image src=https://e.com/a.png width=40px/>"))}
    assert html_of(files) == direct(MJML.format(COLUMN.format(
        '<mj-text font-weight="400" align="center">a<img src="x.png" alt="" /></mj-text>'
        '<mj-image src="https://e.com/a.png" width="40px" />')))


def test_a_div_across_mj_raws_keeps_the_sections_between():
    html = html_of({"t.mjml": MJML.format(
        '<mj-raw><div class="card"></mj-raw>' + COLUMN.format("<mj-text>inside</mj-text>")
        + "<mj-raw></div></mj-raw>")})
    assert "<mj-section>" not in html and "<mj-" not in html.split("<body")[1]
    card = html.index('<div class="card">')
    assert card < html.index("inside") < html.index("</div>", html.index("inside"))


def test_mj_raw_in_mj_wrapper_stands_outside_outlook_comments():
    html = html_of({"t.mjml": MJML.format(
        "<mj-wrapper>" + COLUMN.format("<mj-text>a</mj-text>")
        + "<mj-raw><p>raw</p></mj-raw></mj-wrapper>")})
    assert (
        "<!--[if mso | IE]></td></tr><![endif]--><p>raw</p>"
        "<!--[if mso | IE]></table><![endif]-->"
    ) in html


def test_a_nested_include_resolves_relative_to_its_file():
    files = {
        "t.mjml": MJML.format('<mj-include path="emails/parts/a.mjml" />'),
        "emails/parts/a.mjml": '<mj-include path="./b.mjml" />',
        "emails/parts/b.mjml": COLUMN.format("<mj-text>from b</mj-text>"),
    }
    assert "from b" in html_of(files)
    assert compiled_for(files).fallback_reason is None


def test_a_circular_include_says_which_file():
    files = {"t.mjml": MJML.format('<mj-include path="a.mjml" />'),
             "a.mjml": '<mj-include path="a.mjml" />'}
    with pytest.raises(MJMLError) as info:
        html_of(files)
    assert str(info.value) == (
        "MJML error in template 't.mjml': 'a.mjml' includes 'a.mjml', which includes "
        "it again. Remove the circular <mj-include>."
    )


def test_an_unclosed_tag_names_its_file_line_and_fix():
    files = {"t.mjml": MJML.format(COLUMN.format('<mj-include path="p.mjml" />')),
             "p.mjml": "<mj-text>\n<p>one\n<b>two</p></mj-text>"}
    with pytest.raises(MJMLError) as info:
        html_of(files)
    assert str(info.value) == (
        "MJML error in template 't.mjml' (line 3 of 'p.mjml'): <b> is never closed "
        "(unexpected end of stream in root template). Close it with </b>, or write "
        "<b /> if it holds nothing (see https://documentation.mjml.io/ for valid tags "
        "and attributes)."
    )


def test_an_unterminated_tag_names_its_line_and_fix():
    files = {"t.mjml": "<mjml><mj-body>\n<mj-section><mj-column>\n"
                       '<mj-text font-size="14px>x</mj-text>\n'
                       "</mj-column></mj-section></mj-body></mjml>"}
    with pytest.raises(MJMLError) as info:
        html_of(files)
    assert str(info.value) == (
        "MJML error in template 't.mjml' (line 3): the <mj-text> tag doesn't end "
        "(unable to parse next template in root template). Close the quotes of its "
        "attribute values and end it with '>' (see https://documentation.mjml.io/ for "
        "valid tags and attributes)."
    )


def test_a_path_relative_to_the_body_template_resolves_as_mjml_js_resolves_it(tmp_path):
    (tmp_path / "emails" / "parts").mkdir(parents=True)
    (tmp_path / "emails" / "invite.mjml").write_text(
        MJML.format('<mj-include path="./parts/button.mjml" />'))
    (tmp_path / "emails" / "parts" / "button.mjml").write_text(
        COLUMN.format('<mj-button href="{{ url }}">Join</mj-button>'))
    templates = [{**settings.TEMPLATES[0], "DIRS": [tmp_path]}]
    with override_settings(TEMPLATES=templates):
        found = find_templates("T", ["emails/invite"])
        context = {"url": "https://e.com/join"}
        html = compile_body("T", found, render_body(found, context), context)
        assert 'href="https://e.com/join"' in html
        precompile.clear()
        assert precompile.get_compiled("T", found)[0].fallback_reason is None


def test_css_and_html_includes_in_a_body_without_head():
    files = {
        "t.mjml": MJML.format('<mj-include path="s.css" type="css" />'
                              '<mj-include path="raw.html" type="html" />'),
        "s.css": ".x { color: red; }",
        "raw.html": "<p>{{ name }}</p><div>",
    }
    assert html_of(files, {"name": "Ann"}) == direct(
        "<mjml><mj-head><mj-style>.x { color: red; }</mj-style></mj-head><mj-body>"
        "<mj-raw><p>Ann</p><div></mj-raw></mj-body></mjml>"
    )


def test_an_unquoted_include_path_compiles():
    files = {"t.mjml": MJML.format("<mj-include path=p.mjml />"),
             "p.mjml": COLUMN.format("<mj-text>{{ name }}</mj-text>")}
    assert ">Ann</div>" in html_of(files, {"name": "Ann"})
    assert compiled_for(files).fallback_reason is None
