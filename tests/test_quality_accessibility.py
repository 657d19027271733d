"""txmail.quality.accessibility: each check flags a bad HTML and passes a good one."""

from types import SimpleNamespace

import pytest

from txmail.quality import accessibility
from txmail.quality.findings import Severity

# What MJML writes: lang and dir, presentational tables, a hidden preheader in white.
GOOD = """<!doctype html><html lang="en" dir="auto"><head><style>
.muted { color: #4b5563; }
</style></head><body style="background-color:#f4f5f7;">
<div style="display:none;font-size:1px;color:#ffffff;line-height:1px;max-height:0px;\
opacity:0;overflow:hidden;">Preheader in white</div>
<table role="presentation" style="background:#ffffff;"><tr><td>
<h1 style="color:#111827;font-size:24px">Your order</h1>
<div style="color:#374151;font-size:15px">Thanks, Ada. \
<a href="https://shop.example.com/o/1">Track your order</a></div>
<p class="muted">Small print</p>
<img src="https://shop.example.com/logo.png" alt="Acme Shop">
<img src="https://shop.example.com/rule.png" alt="">
<h2>Items</h2><table><tr><th>Item</th><th>Price</th></tr><tr><td>Shirt</td><td>20</td></tr></table>
<a href="https://shop.example.com/"><img src="https://shop.example.com/l.png" alt="Home"></a>
</td></tr></table></body></html>"""


def codes(html, **kwargs):
    return [f.code for f in accessibility.check_html(html, **kwargs)]


def test_good_html_has_no_findings():
    assert accessibility.check_html(GOOD) == []


def test_check_reads_the_variant():
    variant = SimpleNamespace(html=GOOD.replace(' lang="en"', ""), language="en",
                              text="", kind="transactional")
    assert [f.code for f in accessibility.check(variant)] == ["html-lang"]


def test_html_without_lang():
    assert codes(GOOD.replace(' lang="en"', "")) == ["html-lang"]


@pytest.mark.parametrize("language", ["ar", "he-il", "fa"])
def test_rtl_language_needs_dir_rtl(language):
    html = GOOD.replace('lang="en"', f'lang="{language}"')
    assert codes(html) == ["html-dir"]
    assert codes(html.replace('dir="auto"', 'dir="rtl"')) == []
    # The message's language counts too, when the lang attribute is missing or wrong.
    assert codes(GOOD, language=language) == ["html-lang", "html-dir"]
    assert codes(GOOD.replace(' lang="en"', ""), language=language) == ["html-lang",
                                                                         "html-dir"]


def test_bad_dir_value():
    assert codes(GOOD.replace('dir="auto"', 'dir="left"')) == ["html-dir"]


def test_image_without_alt_and_alt_that_is_the_file_name():
    assert codes(GOOD.replace(' alt="Acme Shop"', "")) == ["img-alt"]
    assert codes(GOOD.replace('alt="Acme Shop"', 'alt="logo.png"')) == ["img-alt-filename"]
    assert codes(GOOD.replace('alt="Acme Shop"', 'alt="logo"')) == ["img-alt-filename"]
    # Empty alt is right for a decorative image.
    assert "img-alt" not in codes(GOOD.replace('alt="Acme Shop"', 'alt=""'))


def test_layout_table_without_role():
    assert codes(GOOD.replace(' role="presentation"', "")) == ["table-role"]


def test_mj_table_keeps_its_role_though_mrml_drops_it():
    from txmail.rendering.markup import mjml_to_html

    html = mjml_to_html(
        '<mjml lang="en"><mj-body><mj-section><mj-column>'
        '<mj-table role="presentation" css-class="steps"><tr><td>1</td><td>Sign up</td></tr>'
        "</mj-table><mj-table role=\"none\"><tr><td>2</td></tr></mj-table>"
        "<mj-table><tr><td>3</td></tr></mj-table>"
        "</mj-column></mj-section></mj-body></mjml>", origin="test", include_loader=lambda p: "")
    assert '<td align="left" class="steps" style=' in html
    assert html.count('<table role="presentation" border="0"') == 1
    assert html.count('<table role="none" border="0"') == 1
    assert "txmail-role" not in html
    # The table without a role is the one layout table flagged.
    assert [f.code for f in accessibility.check_html(html)] == ["table-role"]
    assert codes(GOOD.replace('role="presentation"', 'role="none"')) == []


@pytest.mark.parametrize("text", ["click here", "Here", "Read more…", "link", "More"])
def test_vague_link_text(text):
    html = GOOD.replace(">Track your order<", f">{text}<")
    assert codes(html) == ["link-text"]
    # aria-label says where it goes.
    labelled = html.replace('<a href="https://shop.example.com/o/1"',
                            '<a aria-label="Track order 1" href="https://shop.example.com/o/1"')
    assert codes(labelled) == []


def test_empty_link_and_bare_url_as_text():
    html = GOOD.replace(">Track your order<", "><")
    assert codes(html) == ["link-empty"]
    assert codes(html.replace('alt="Home"', 'alt=""')) == ["link-empty", "link-empty"]
    found = accessibility.check_html(
        GOOD.replace(">Track your order<", ">https://shop.example.com/o/1<"))
    assert [(f.code, f.severity) for f in found] == [("link-url-text", Severity.INFO)]


def test_low_contrast_inline_and_from_style_rules():
    found = accessibility.check_html(GOOD.replace("color:#374151", "color:#aaaaaa"))
    assert [f.code for f in found] == ["contrast"]
    assert "#aaaaaa on #ffffff: contrast 2.32:1, under the 4.5:1" in found[0].message
    # A <style> rule, matched by class.
    assert codes(GOOD.replace(".muted { color: #4b5563; }", ".muted { color: #9ca3af; }")) == [
        "contrast"]


def test_contrast_uses_the_ancestors_background_and_bgcolor():
    dark_cell = GOOD.replace('<td>\n<h1', '<td bgcolor="#111827">\n<h1')
    # Dark text on the dark cell's background.
    assert set(codes(dark_cell)) == {"contrast"}
    light_text = dark_cell.replace("color:#111827;font-size:24px", "color:#ffffff;font-size:24px")
    assert "Your order" not in " ".join(f.message for f in accessibility.check_html(light_text))


def test_large_text_needs_3_to_1():
    # #888888 on white is 3.54:1: enough for 24px text, not for 15px.
    assert codes(GOOD.replace("color:#111827;font-size:24px", "color:#888888;font-size:24px")) == []
    assert codes(GOOD.replace("color:#111827;font-size:24px",
                              "color:#888888;font-size:14pt;font-weight:bold")) == []
    assert codes(GOOD.replace("color:#111827;font-size:24px",
                              "color:#888888;font-size:18px;font-weight:400")) == ["contrast"]


def test_hidden_text_is_exempt_from_contrast():
    visible = GOOD.replace("display:none;", "").replace("max-height:0px;opacity:0;", "")
    assert codes(visible) == ["contrast"]
    for hiding in ("display:none", "opacity:0", "font-size:0",
                   "max-height:0;overflow:hidden", "visibility:hidden"):
        hidden = visible.replace("font-size:1px;", f"{hiding};font-size:1px;", 1)
        if hiding == "font-size:0":
            hidden = visible.replace("font-size:1px;", "font-size:0;")
        assert codes(hidden) == [], hiding


def test_heading_order():
    assert codes(GOOD.replace("<h2>Items</h2>", "<h3>Items</h3>")) == ["heading-order"]
    found = accessibility.check_html(GOOD.replace("<h2>Items</h2>", "<h1>Items</h1>"))
    assert [(f.code, f.severity) for f in found] == [("heading-h1", Severity.INFO)]
    no_h1 = GOOD.replace("<h1 ", "<h2 ").replace("</h1>", "</h2>")
    assert codes(no_h1) == ["heading-h1"]


def test_text_under_mjmls_zero_font_size_cells_is_checked():
    # MJML sets font-size:0px on cells and the text's div sets its own size.
    html = GOOD.replace('<div style="color:#374151;font-size:15px">',
                        '<div style="font-size:0px"><div style="color:#aaaaaa;font-size:15px">'
                        ).replace("Track your order</a></div>", "Track your order</a></div></div>")
    assert codes(html) == ["contrast"]


def test_text_over_a_background_image_is_not_measured():
    hero = GOOD.replace('<td>\n<h1 style="color:#111827', '<td background="https://x.example/h.jpg">\n'
                        '<h1 style="color:#ffffff')
    assert codes(hero) == []
    assert codes(hero.replace(' background="https://x.example/h.jpg"', "")) == ["contrast"]


def test_deeply_nested_html_is_checked_without_recursion():
    html = GOOD.replace("<p class=\"muted\">", "<div>" * 5000 + "<p class=\"muted\">")
    assert codes(html) == []


def test_mso_hide_hides_text_from_outlook_only():
    visible = GOOD.replace("display:none;", "").replace("max-height:0px;opacity:0;", "")
    # Only Outlook for Windows reads mso-hide: every other client shows the text.
    assert codes(visible.replace("font-size:1px;", "mso-hide:all;font-size:1px;", 1)) == [
        "contrast"]
    assert codes(GOOD.replace("opacity:0;", "opacity:0;mso-hide:all;")) == []


def test_the_html_lang_must_be_the_messages_language():
    found = accessibility.check_html(GOOD, language="fr")
    assert [(f.code, f.message) for f in found] == [
        ("html-lang", "The <html> element's lang is 'en', but the message is in 'fr'.")]
    assert codes(GOOD, language="en") == []
    assert codes(GOOD, language="en-GB") == []  # the same language, another region
    assert codes(GOOD.replace('lang="en"', 'lang="fr-CA"'), language="fr") == []


@pytest.mark.parametrize(("light", "dark"), [
    ("hsl(0, 0%, 67%)", "hsl(0, 0%, 22%)"),  # #aaaaaa, #383838
    ("hsla(220 10% 70% / 1)", "hsla(220deg 40% 25% / 1)"),
    ("hsl(0.5turn 5% 72%)", "hsl(0.5turn 5% 20%)"),
])
def test_hsl_colours_are_measured(light, dark):
    assert codes(GOOD.replace("color:#374151", f"color:{light}")) == ["contrast"]
    assert codes(GOOD.replace("color:#374151", f"color:{dark}")) == []


def test_hsl_is_converted_as_css_does():
    from txmail.quality.colors import hex_color, parse_color

    assert [hex_color(parse_color(value)) for value in (
        "hsl(0, 100%, 50%)", "hsl(120 100% 25%)", "hsl(240deg, 100%, 50%)",
        "hsl(210, 40%, 20%)")] == ["#ff0000", "#008000", "#0000ff", "#1f3347"]
    assert parse_color("hsla(0, 0%, 0%, 0.5)")[3] == 0.5
    assert parse_color("hsl(nope)") is None


def test_important_in_a_style_rule_beats_the_inline_colour():
    html = GOOD.replace(".muted { color: #4b5563; }",
                        ".muted { color: #4b5563; } .faint { color: #cccccc !important; }")
    html = html.replace('<p class="muted">', '<p class="faint" style="color:#111827">')
    assert codes(html) == ["contrast"]
    # Without !important the inline style wins; an inline !important wins over the rule.
    assert codes(html.replace(" !important", "")) == []
    assert codes(html.replace('style="color:#111827"', 'style="color:#111827 !important"')) == []


def test_important_display_none_hides():
    html = GOOD.replace(".muted { color: #4b5563; }",
                        ".muted { color: #cccccc; display: none !important; }")
    assert codes(html) == []
    assert codes(html.replace(" display: none !important;", "")) == ["contrast"]


def test_a_link_without_a_colour_is_link_blue():
    # Inherited colours don't reach a link: it is the client's #0000EE, here on navy.
    html = GOOD.replace('<div style="color:#374151;font-size:15px">',
                        '<div style="color:#ffffff;font-size:15px;background:#000033">')
    found = accessibility.check_html(html)
    assert [f.code for f in found] == ["contrast"]
    assert "'Track your order' is #0000ee on #000033" in found[0].message
    styled = '<a href="https://shop.example.com/o/1" style="color:#ffffff">'
    assert codes(html.replace('<a href="https://shop.example.com/o/1">', styled)) == []
