"""MJML mistakes are errors before anything is sent: MJML that can't compile, unknown tags.

An unclosed ``<mj-column>`` fails every message, so it is txmail.E002 (not the
"slower" W001) and ``txmail list`` says error; an unknown tag such as
``<mj-buton>`` would vanish with its link, so it is txmail.E011 with the file,
the line and the closest tag, and the same error when rendering.
"""

from io import StringIO

import pytest
from django.core import checks
from django.core.management import call_command

from txmail import Message, MJMLError, registry
from txmail.rendering.mjml_tags import KNOWN, unknown_tags

EMAILS = "tests/testapp/templates/testapp/emails"


def message_class(template: str) -> type[Message]:
    return type("Checked", (Message,), {
        "__module__": __name__, "template_name": f"testapp/emails/{template}",
        "subject": "Checked"})


@pytest.fixture
def registered():
    classes = []

    def register(template: str) -> type[Message]:
        cls = message_class(template)
        registry.register(cls)
        classes.append(cls)
        return cls

    yield register
    for cls in classes:
        registry.unregister(cls)


def txmail_issues() -> list[checks.CheckMessage]:
    return [e for e in checks.run_checks(tags=[checks.Tags.templates])
            if e.id.startswith("txmail")]


def test_mjml_that_cannot_compile_is_an_error_not_a_slower_path(registered, settings):
    settings.DEBUG = True
    cls = registered("check_unclosed")
    [error] = txmail_issues()
    assert (error.id, error.obj) == ("txmail.E002", cls)
    assert error.msg.startswith(
        f"{registry.name_of(cls)}: its template cannot be rendered: MJML error in "
        "template '")
    assert "check_unclosed.mjml' (line 4): <mj-column> is never closed" in error.msg


def test_txmail_list_says_error_with_the_mjml_error(registered):
    registered("check_unclosed")
    out = StringIO()
    call_command("txmail", "list", skip_checks=True, stdout=out)
    [line] = [line for line in out.getvalue().splitlines() if "check_unclosed" in line]
    assert "check_unclosed.mjml  error: MJML error in template" in line
    assert "<mj-column> is never closed" in line


def test_an_unknown_tag_is_an_error_naming_file_line_and_the_closest_tag(registered):
    cls = registered("check_unknown_tag")  # DEBUG off: every manage.py check
    [error] = txmail_issues()
    assert (error.id, error.obj) == ("txmail.E011", cls)
    assert error.msg.startswith(f"{registry.name_of(cls)}'s template '")
    assert error.msg.endswith(
        f"{EMAILS}/check_unknown_tag.mjml', line 6: <mj-buton> is not an MJML tag: did you "
        "mean 'mj-button'? MJML drops an element it doesn't know, with its content and links.")


def test_an_unknown_tag_in_an_included_file_names_that_file(registered, settings):
    settings.DEBUG = True  # and the compiling check doesn't report it a second time
    registered("check_unknown_included")
    [error] = txmail_issues()
    assert error.id == "txmail.E011"
    assert error.msg.endswith("templates/testapp/partials/check_footer.mjml', line 2: "
                              "<mj-colum> is not an MJML tag: did you mean 'mj-column'? "
                              "MJML drops an element it doesn't know, with its content and "
                              "links.")


def test_rendering_an_unknown_tag_raises_instead_of_dropping_the_button():
    message = message_class("check_unknown_tag")(to=["ann@example.com"])
    with pytest.raises(MJMLError) as caught:
        message.render()
    assert str(caught.value).endswith(
        "check_unknown_tag.mjml' (line 6): <mj-buton> is not an MJML tag: did you mean "
        "'mj-button'? MJML drops an element it doesn't know, with its content and links. "
        "Fix the tag's name.")


def test_every_mjml_4_tag_passes_the_check_and_renders(registered, settings):
    settings.DEBUG = True
    cls = registered("check_every_tag")
    assert txmail_issues() == []
    rendered = cls(to=["ann@example.com"]).render()
    assert "Button" in rendered.html and "Shop" in rendered.html
    assert "<mj-notatag>raw content is kept verbatim</mj-notatag>" in rendered.html


@pytest.mark.parametrize("tag", sorted(KNOWN))
def test_no_tag_of_mjml_4_is_unknown(tag):
    assert unknown_tags(f"<{tag} />\n<{tag}>x</{tag}>") == []


def test_the_head_only_tags_are_known():
    source = ('<mj-html-attributes><mj-selector path=".x"><mj-html-attribute name="a">1'
              '</mj-html-attribute></mj-selector></mj-html-attributes>'
              '<mj-attributes><mj-all padding="0" /><mj-class name="c" /></mj-attributes>')
    assert unknown_tags(source) == []
