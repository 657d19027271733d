"""System checks: message templates (txmail.E010) and preview access (txmail.W010)."""

from pathlib import Path

import pytest
from django.core import checks
from django.test import override_settings

from txmail import Message, registry

TEMPLATES_DIR = Path(__file__).parent / "testapp" / "templates" / "testapp"


def template_errors(template_name):
    class Checked(Message):
        subject = "x"

    Checked.template_name = template_name
    registry.register(Checked)
    try:
        found = checks.run_checks(tags=[checks.Tags.templates])
    finally:
        registry.unregister(Checked)
    return [e for e in found if e.id == "txmail.E010"], registry.name_of(Checked)


def test_a_missing_template_is_an_error_outside_debug():
    [error], name = template_errors("testapp/emails/nope")
    assert error.msg.startswith(f"{name}'s template 'testapp/emails/nope' does not exist "
                                "(tried ")
    assert error.msg.endswith(f"{TEMPLATES_DIR}/emails/nope.html).")
    assert error.hint == (
        f"Create or fix the template, or set {__name__}.template_errors.<locals>.Checked"
        ".template_name to an existing one (without its .mjml/.html extension). Sending "
        "or previewing it fails until then.")


def test_a_syntax_error_is_an_error_outside_debug():
    [error], name = template_errors("testapp/emails/core_syntax")
    assert error.msg == (
        f"{name}'s template 'testapp/emails/core_syntax' doesn't compile: "
        f"Template: {TEMPLATES_DIR}/emails/core_syntax.html, Unclosed tag on line 1: "
        "'if'. Looking for one of: elif, else, endif.")


@pytest.mark.parametrize(("template", "missing"), [
    ("testapp/emails/core_bad_include", "testapp/partials/missing.mjml"),
    ("testapp/emails/check_missing_include", "testapp/partials/nope.html"),
])
def test_a_missing_include_is_an_error(template, missing):
    [error], name = template_errors(template)
    assert error.msg.startswith(f"{name}'s templates use {missing!r}, which does not exist")


def test_registered_classes_that_render_have_no_error():
    assert template_errors("testapp/emails/hello")[0] == []


NO_AUTH_MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
]


@override_settings(DEBUG=False, TXMAIL={"PREVIEW_ENABLED": True}, MIDDLEWARE=NO_AUTH_MIDDLEWARE)
def test_preview_outside_debug_without_staff_only_access_warns():
    [warning] = [e for e in checks.run_checks(include_deployment_checks=True)
                 if e.id == "txmail.W010"]
    assert warning.msg == (
        "The txmail preview is enabled outside DEBUG (TXMAIL['PREVIEW_ENABLED'] = True) "
        "without staff-only access: telling staff apart needs "
        "'django.contrib.auth.middleware.AuthenticationMiddleware' in MIDDLEWARE.")
    assert warning.hint == (
        "Add 'django.contrib.auth.middleware.AuthenticationMiddleware' in MIDDLEWARE, or "
        "set TXMAIL['PREVIEW_ENABLED'] = None so the preview follows DEBUG.")


@override_settings(DEBUG=False, TXMAIL={"PREVIEW_ENABLED": True},
                   INSTALLED_APPS=["django.contrib.contenttypes", "django_tasks_db", "txmail"])
def test_preview_outside_debug_without_the_auth_app_warns():
    from txmail.checks import check_preview_access

    [warning] = check_preview_access()
    assert warning.msg.endswith("telling staff apart needs 'django.contrib.auth' in "
                                "INSTALLED_APPS.")


@pytest.mark.parametrize("overrides", [
    {"DEBUG": False, "TXMAIL": {"PREVIEW_ENABLED": True}},  # staff only: fine
    {"DEBUG": True, "TXMAIL": {"PREVIEW_ENABLED": True}, "MIDDLEWARE": NO_AUTH_MIDDLEWARE},
    {"DEBUG": False, "TXMAIL": {}, "MIDDLEWARE": NO_AUTH_MIDDLEWARE},  # preview off
])
def test_no_preview_warning_when_access_is_right(overrides):
    with override_settings(**overrides):
        assert [e for e in checks.run_checks() if e.id == "txmail.W010"] == []
