"""Text directly inside an MJML container is dropped as mjml-js drops it, with a
warning naming the template and line (txmail.rendering.mjml_text), and the W011 check."""

import warnings

import pytest
from django.core import checks

from tests.test_checks_mjml import (
    registered,  # noqa: F401 (a fixture)
    txmail_issues,
)
from tests.test_precompile import compiled_for, locmem, pipeline
from txmail import MJMLError
from txmail.exceptions import MJMLDroppedText
from txmail.rendering.mjml_text import ENDING, in_source

STRAY = (
    "<mjml><mj-body>\n"
    "<mj-wrapper><mj-section><mj-column><mj-text>Kept</mj-text></mj-column>a\n"
    "</mj-section></mj-wrapper>s\n"
    "<mj-hero>h<mj-text>Hero</mj-text></mj-hero>\n"
    '<mj-section><mj-column><mj-social>w<mj-social-element name="facebook" '
    'href="https://e.com/">Share</mj-social-element></mj-social></mj-column></mj-section>\n'
    "</mj-body></mjml>"
)


def dropped_warnings(record) -> list[str]:
    return [str(w.message) for w in record if issubclass(w.category, MJMLDroppedText)]


def test_text_in_containers_is_dropped_with_a_warning_naming_the_line():
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        _, text = pipeline({"t.mjml": STRAY}, {})
    words = text.split()
    assert {"Kept", "Hero", "Share"} <= set(words) and not {"a", "s", "h", "w"} & set(words)
    # MRML refused text in <mj-social> ("unexpected token"); mjml-js drops it. A
    # rendered message's text isn't quoted: it may hold a recipient's values.
    assert [(m.split("(")[1].split(")")[0], m.split("<")[1].split(">")[0])
            for m in dropped_warnings(record)] == [
        ("line 2", "mj-section"), ("line 3", "mj-body"), ("line 4", "mj-hero"),
        ("line 5", "mj-social")]
    [first, *_] = dropped_warnings(record)
    assert first == ("MJML template 't.mjml' (line 2): text stands directly inside "
                     "<mj-section>, where MJML drops it (mjml-js does too). Put it in an "
                     "<mj-text>, or remove it.")


def test_static_text_compiles_once_and_warns_at_compile_time():
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        compiled = compiled_for({"t.mjml": STRAY})
    assert compiled.fallback_reason is None
    assert [m.split(": ")[1].split(" stands")[0] for m in dropped_warnings(record)] == [
        "the text 'a'", "the text 's'", "the text 'h'", "the text 'w'"]
    with locmem({"t.mjml": STRAY}), warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        html, text = compiled.render({})
    assert not dropped_warnings(record)  # once per template, not per message
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MJMLDroppedText)
        assert (html, text) == pipeline({"t.mjml": STRAY}, {})


def test_a_value_directly_in_a_container_is_dropped_per_message():
    source = ("<mjml><mj-body><mj-section><mj-column><mj-text>Hi</mj-text></mj-column>"
              "{{ name }}</mj-section></mj-body></mjml>")
    reason = compiled_for({"t.mjml": source}).fallback_reason
    assert reason == ("{{ name }} stands directly inside <mj-section>, where MJML drops "
                      "text; put it in an <mj-text>.")
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        html, text = pipeline({"t.mjml": source}, {"name": "Ann"})
    assert "Ann" not in html and text.strip() == "Hi"
    assert dropped_warnings(record) == [
        "MJML template 't.mjml' (line 1): text stands directly inside <mj-section>, where "
        "MJML drops it (mjml-js does too). Put it in an <mj-text>, or remove it."]


def test_block_tags_between_sections_still_compile():
    source = ("<mjml><mj-body>{% for i in items %}<mj-section><mj-column><mj-text>{{ i }}"
              "</mj-text></mj-column></mj-section>{% endfor %}<mj-section><mj-column>"
              "<mj-text>end</mj-text></mj-column></mj-section></mj-body></mjml>")
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        assert compiled_for({"t.mjml": source}).fallback_reason is None
    assert not dropped_warnings(record)


def test_an_error_after_dropped_text_names_its_own_line():
    source = ("<mjml><mj-body>\n<mj-section>stray text\n<mj-column>\n"
              "<mj-text>x</mj-text>\n</mj-section></mj-body></mjml>")
    with pytest.raises(MJMLError, match=r"\(line 3\): <mj-column> is never closed"), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipeline({"t.mjml": source}, {})


def test_an_included_file_is_named():
    files = {"t.mjml": '<mjml><mj-body><mj-include path="p.mjml" /></mj-body></mjml>',
             "p.mjml": "<mj-section>\n<mj-column><mj-text>x</mj-text></mj-column>\noops"
                       "</mj-section>"}
    with pytest.warns(MJMLDroppedText, match=r"\(line 3 of 'p.mjml'\): text stands"):
        pipeline(files, {})


def test_ending_tags_keep_their_html_and_comments_stay():
    source = ("<mj-section><!-- note --><mj-column><mj-text><p>a</p> b</mj-text>"
              "<mj-button href='https://e.com'>c</mj-button></mj-column></mj-section>")
    assert in_source(source) == []
    assert {"mj-text", "mj-button", "mj-table", "mj-raw"} <= ENDING


def test_django_tags_in_the_source_are_not_text_but_values_are():
    source = "<mj-section>{% if x %}{# c #}<mj-column></mj-column>{% endif %}{{ v }}</mj-section>"
    assert [(d.line, d.element, d.text) for d in in_source(source)] == [
        (1, "mj-section", "{{ v }}")]


def test_a_comment_spanning_lines_is_text_as_django_renders_it():
    source = ("<mj-section>{# not a\ncomment #}<mj-column></mj-column>"
              "{% comment %}a\nblock{% endcomment %}</mj-section>")
    assert [(d.line, d.text) for d in in_source(source)] == [(1, "{# not a\ncomment #}")]
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        pipeline({"t.mjml": f"<mjml><mj-body>{source}</mj-body></mjml>"}, {})
    assert [m.split(": ")[1].split(" stands")[0] for m in dropped_warnings(record)] == [
        "text"]  # Django rendered it, MJML drops it


def test_the_check_warns_with_the_file_and_line(registered):  # noqa: F811
    cls = registered("check_container_text")
    [warning] = txmail_issues()
    assert (warning.id, warning.level, warning.obj) == ("txmail.W011", checks.WARNING, cls)
    assert warning.msg.endswith(
        "check_container_text.mjml' (line 6): the text 'a' stands directly inside "
        "<mj-section>, where MJML drops it (mjml-js does too). Put it in an <mj-text>, or "
        "remove it.")


CHILD = "testapp/emails/check_container_text_child"
BASE = "testapp/layouts/container_text_base.mjml"


def test_the_check_reads_a_child_template_in_its_base(registered):  # noqa: F811
    registered("check_container_text_child")
    found = [w.msg for w in txmail_issues() if w.id == "txmail.W011"]
    # The child's 'c' stands in the base's <mj-section>; the base's 'b' is its own.
    assert [m.split("' (")[1].split(" stands")[0] for m in found] == [
        f"line 6 of '{BASE}'): the text 'b'", "line 8): the text 'c'"]
    assert all(m.split("'s MJML template '")[1].split("'")[0].endswith(
        f"{CHILD}.mjml") for m in found)


def test_the_compiled_warning_names_the_file_and_line_under_extends():
    from django.template.loader import get_template

    from txmail.rendering import compiled as precompile
    from txmail.rendering.find import find_templates

    precompile.clear()
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        templates = find_templates("T", [CHILD])
        compiled, _ = precompile.get_compiled("T", templates)
    assert compiled.fallback_reason is None
    child = get_template(f"{CHILD}.mjml").origin.name
    assert dropped_warnings(record) == [
        f"MJML template '{child}' (line 6 of '{BASE}'): the text 'b' stands directly "
        "inside <mj-section>, where MJML drops it (mjml-js does too). Put it in an "
        "<mj-text>, or remove it.",
        f"MJML template '{child}' (line 8): the text 'c' stands directly inside "
        "<mj-section>, where MJML drops it (mjml-js does too). Put it in an <mj-text>, or "
        "remove it."]


def test_a_rendered_message_names_the_file_and_line_under_extends():
    # A value in a container falls back: the rendered message warns, at the
    # child's line and the base's, not at lines of the rendered output.
    files = {
        "base.mjml": "<mjml><mj-body>\n{% block top %}{% endblock %}\n<mj-section>\n"
                     "<mj-column><mj-text>x</mj-text></mj-column>\n{{ footer }}\n"
                     "</mj-section></mj-body></mjml>",
        "t.mjml": '{% extends "base.mjml" %}\n\n\n{% block top %}<mj-section>'
                  "<mj-column><mj-text>{{ intro }}</mj-text></mj-column>\n\n{{ name }}"
                  "</mj-section>{% endblock %}",
    }
    assert compiled_for(files).fallback_reason
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        html, _ = pipeline(files, {"name": "Ann", "footer": "Bye", "intro": "a\nb\nc\nd"})
    assert "Ann" not in html and "Bye" not in html
    assert [m.split(" (")[1].split(")")[0] for m in dropped_warnings(record)] == [
        "line 6", "line 5 of 'base.mjml'"]
