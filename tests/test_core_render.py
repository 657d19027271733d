"""The rendering pipeline's output: MJML, CSS inlining, the text part, subjects."""

import logging
import re

from tests.testapp.emails import Hello, Promo
from txmail import Message
from txmail.rendering.text import html_to_text

ITEMS = [{"name": "Socks", "price": "5 €"}, {"name": "Hat & Scarf", "price": "9 €"}]


class Layout(Message):
    template_name = "testapp/emails/core_layout"
    subject = "Layout"


def layout_text(**context):
    context = {"name": "Ann", "items": ITEMS, **context}
    return Layout(to=["a@example.com"], context=context).render().text


# -- MJML ----------------------------------------------------------------------


def test_mjml_compiles_with_django_first_and_includes_through_loaders():
    html = Hello(name="Ann").render().html
    assert html.lower().startswith("<!doctype html>")
    assert "<mj-" not in html
    assert 'alt="Example Shop"' in html  # from the mj-include partial
    assert "https://example.com/start?ref=Ann" in html


def test_mjml_attribute_values_arrive_as_written_not_rust_escaped():
    # MRML writes attributes as Rust debug strings ("\\u{a0}", '\\"'); an
    # <mj-title> also becomes the body's aria-label, read out by screen readers.
    from txmail.rendering.markup import mjml_to_html

    source = (
        "<mjml><mj-head><mj-title>L'édition\u00a0: \"x\" C:\\new</mj-title>"
        "<mj-style>.a { content: \"\\\\201C\"; }</mj-style></mj-head><mj-body>"
        "<mj-section><mj-column><mj-image alt=\"a\u0301 C:\\new\" src=\"a.png\" />"
        "<mj-text>x=\"C:\\new\"</mj-text></mj-column></mj-section></mj-body></mjml>"
    )
    html = mjml_to_html(source, origin="t", include_loader=lambda path: "")
    assert 'aria-label="L\'édition\u00a0: &quot;x&quot; C:\\new"' in html
    assert 'alt="a\u0301 C:\\new"' in html
    assert 'x="C:\\new"' in html  # text is not an attribute: untouched
    assert '.a { content: "\\\\201C"; }' in html  # nor is CSS
    assert "\\u{" not in html


def test_mjml_inline_style_is_inlined_and_media_queries_survive():
    html = Hello().render().html
    assert re.search(r'<p class="greeting" style="[^"]*color:\s*#0b5394', html)
    assert "@media (max-width: 480px)" in html
    assert "font-size: 20px !important" in html
    assert "<!--[if mso | IE]>" in html


def test_mjml_lang_attribute_follows_active_language():
    assert '<html lang="fr"' in Hello(language="fr").render().html


def test_mjml_links_no_web_fonts():
    html = Hello().render().html
    assert "fonts.googleapis.com" not in html
    assert "<link" not in html


# -- HTML + premailer ------------------------------------------------------------


def test_html_css_is_inlined_and_hover_media_and_conditionals_survive():
    html = Promo(name="Ann").render().html
    assert html.lower().startswith("<!doctype html>")
    assert re.search(r'<h1 class="title" style="color:\s*#c00', html)
    assert "a.cta:hover" in html
    assert "@media (max-width: 480px)" in html
    assert "font-size: 18px !important" in html  # !important kept for overrides
    assert "<!--[if mso]><table" in html and "<![endif]-->" in html


def test_premailer_warnings_do_not_reach_logs(caplog, capfd):
    class MsoStyled(Message):
        template_name = "testapp/emails/core_linked"
        subject = "x"

    with caplog.at_level(logging.DEBUG):
        MsoStyled(to=["a@example.com"], context={"name": "x"}).render()
    noisy = [r for r in caplog.records if r.name.lower().startswith(("cssutils", "premailer"))]
    assert noisy == []
    # cssutils also prints through a handler of its own.
    assert "Unknown Property" not in capfd.readouterr().err


# -- text part -------------------------------------------------------------------


def test_text_part_from_txt_template_is_not_autoescaped():
    assert Promo(name="Tom & Jerry").render().text == (
        "Deals for Tom & Jerry\n\nSee the deals: https://example.com/deals\n"
    )


def test_derived_text_is_clean():
    text = layout_text()
    assert text == (
        "Your order, Ann\n\n"
        "Item Price\nSocks 5 €\nHat & Scarf 9 €\n\n"
        "Café & crème — bold and soft, 1. not a list * nor this\n\n"
        "View your order (https://example.com/orders/42) or "
        "https://example.com/help.\n\n"
        "https://example.com/unsubscribe\n"
    )


def test_derived_text_has_no_markdown_or_entities_or_preheader():
    text = layout_text(name="<Zoë & co>")
    for junk in ("|", "---", "![", "](", "**", "&amp;", "&nbsp;", "#", "\\",
                 "Preheader", "\u200c", "\u034f"):
        assert junk not in text, junk
    assert "Your order, <Zoë & co>" in text


def test_derived_text_from_mjml_keeps_every_link_with_its_url():
    text = Hello(name="Ann").render().text
    assert text == (
        "Hello Ann!\n\nGet started (https://example.com/start?ref=Ann)\n\n"
        "Questions? help@example.com\n"
    )


def test_html_to_text_of_empty_html():
    assert html_to_text("") == ""


# -- subject ---------------------------------------------------------------------


def test_subject_is_one_line_stripped_and_unescaped():
    assert Hello(name="Tom & Jerry ").render().subject == "Hello Tom & Jerry"


def test_subject_data_keeps_its_literal_entities():
    # Only what autoescaping added is unescaped: the recipient typed "&amp;".
    assert Hello(name="Tom &amp; Jerry").render().subject == "Hello Tom &amp; Jerry"


def test_subject_set_on_the_instance_is_literal_not_a_template():
    message = Hello(name="Ann")
    message.subject = "Re: {{ message.from_email }} & {% now 'Y' %}"
    assert message.render().subject == "Re: {{ message.from_email }} & {% now 'Y' %}"


def test_image_only_links_read_as_their_alt_text():
    html = '<p><a href="https://acme.example/"><img src="logo.png" alt="Acme"></a></p>'
    assert html_to_text(html) == "Acme (https://acme.example/)\n"
