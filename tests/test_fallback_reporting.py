"""A template that can't be precompiled is reported at startup and on its preview page."""

import pytest
from django.core import checks
from django.test import Client

from txmail import Message, registry


class Columns(Message):
    """A column width from the context: MJML computes with it, so no placeholders."""

    template_name = "testapp/emails/core_fallback"
    subject = "Columns"

    @classmethod
    def preview(cls):
        return cls(to=["a@example.com"], context={"width": "40%"})



NAME = registry.name_of(Columns)  # outside an app: named by its module


@pytest.fixture
def columns():
    registry.register(Columns)
    yield Columns
    registry.unregister(Columns)


def test_fallback_is_reported_by_a_startup_check(columns, settings):
    settings.DEBUG = True
    [warning] = [e for e in checks.run_checks(tags=[checks.Tags.templates])
                 if e.id == "txmail.W001"]
    assert warning.msg.startswith(f"{NAME}: its template renders through the full")
    assert "width" in warning.msg
    assert "SILENCED_SYSTEM_CHECKS" in warning.hint


def test_check_does_not_compile_outside_debug(columns):
    assert [e for e in checks.run_checks(tags=[checks.Tags.templates])
            if e.id.startswith("txmail")] == []


def test_broken_template_is_a_check_error_not_a_crash(settings):
    settings.DEBUG = True

    class Broken(Message):
        template_name = "testapp/emails/core_syntax"
        subject = "x"

    registry.register(Broken)
    try:
        errors = checks.run_checks(tags=[checks.Tags.templates])
    finally:
        registry.unregister(Broken)
    # Once, by the check every manage.py check runs (E010); the compiling one
    # (E002, DEBUG) leaves it to that.
    [error] = [e for e in errors if e.id.startswith("txmail")]
    assert error.id == "txmail.E010"
    assert "'testapp/emails/core_syntax' doesn't compile: " in error.msg
    assert "Unclosed tag on line 1: 'if'" in error.msg


def test_no_warning_when_every_template_compiles(settings):
    settings.DEBUG = True
    assert [e for e in checks.run_checks(tags=[checks.Tags.templates])
            if e.id == "txmail.W001"] == []


def test_fallback_renders_the_same_and_says_why(columns):
    rendered = Columns.preview().render()
    assert "Column of 40%" in rendered.html
    assert rendered.fallback_reason and "width" in rendered.fallback_reason


@pytest.mark.django_db
def test_preview_page_says_the_template_is_not_compiled(columns, settings):
    settings.DEBUG = True
    response = Client().get(f"/emails/{NAME}/default/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Rendered through the full per-message pipeline" in page
    assert "full pipeline" in page
    hello = Client().get("/emails/testapp.Hello/default/").content.decode()
    assert "compiled once" in hello
    assert "Rendered through the full per-message pipeline" not in hello
