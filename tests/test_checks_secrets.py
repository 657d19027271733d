"""Placeholder secrets outside DEBUG (txmail.E051, E052): in every `manage.py check`."""

import pytest
from django.core import checks, mail
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from txmail.checks import check_placeholder_secrets

SECRET_KEY_PLACEHOLDER = (
    "settings.SECRET_KEY is the example project's placeholder ('example-project-not-secret') "
    "and DEBUG is False: anyone can sign this site's values, txmail's unsubscribe links "
    "included. Set it from the environment to a long random value, e.g. from "
    "django.core.management.utils.get_random_secret_key().")
WEBHOOK_FIX = (
    ", and DEBUG is False: whoever guesses it can post fake bounces and complaints to the "
    "webhooks, which suppress your recipients. Set it from the environment to "
    "'user:password' with a random password of 16 characters or more (e.g. "
    "secrets.token_urlsafe(24)), and give the provider the same.")
GOOD_WEBHOOK_SECRET = "acme:Zq1v8Jc3nW0xR5tLp2Yb"


@pytest.fixture
def deployed(settings, monkeypatch):
    """A process outside Django's test environment (which forces DEBUG off) with DEBUG off."""
    monkeypatch.delattr(mail, "outbox")
    settings.DEBUG = False
    settings.ANYMAIL = {"WEBHOOK_SECRET": GOOD_WEBHOOK_SECRET}
    return settings


def found():
    return [(e.id, e.obj, e.msg) for e in check_placeholder_secrets()]


def test_the_example_secret_key_is_an_error(deployed):
    deployed.SECRET_KEY = "example-project-not-secret"
    assert found() == [("txmail.E051", "settings.SECRET_KEY", SECRET_KEY_PLACEHOLDER)]


def test_the_example_secret_key_as_a_fallback_is_an_error(deployed):
    deployed.SECRET_KEY_FALLBACKS = ["old-but-random-0123456789", "example-project-not-secret"]
    assert [(e_id, obj) for e_id, obj, _msg in found()] == [
        ("txmail.E051", "settings.SECRET_KEY_FALLBACKS[1]")]


@pytest.mark.parametrize(("secret", "problem"), [
    ("acme:change-me", "is the example project's placeholder"),
    ("shop:please-CHANGE-ME-0123456789", "is a placeholder (it contains 'change-me')"),
    ("changeme:Zq1v8Jc3nW0xR5tLp2Yb", "is a placeholder (it contains 'changeme')"),
    ("acme:short-secret", "has a password of 12 characters, fewer than 16"),
    ("Zq1v8Jc3nW0xR5tLp2Yb", "is not 'user:password'"),
])
def test_a_guessable_webhook_secret_is_an_error(deployed, secret, problem):
    deployed.ANYMAIL = {"WEBHOOK_SECRET": secret}
    assert found() == [("txmail.E052", "settings.ANYMAIL['WEBHOOK_SECRET']",
                        f"ANYMAIL['WEBHOOK_SECRET'] {problem}{WEBHOOK_FIX}")]
    assert secret not in found()[0][2]  # the message never shows the secret


def test_each_secret_of_a_rotation_and_the_bare_setting_are_read(deployed):
    deployed.ANYMAIL = {"WEBHOOK_SECRET": [GOOD_WEBHOOK_SECRET, "acme:change-me"]}
    assert [(e_id, obj) for e_id, obj, _msg in found()] == [
        ("txmail.E052", "settings.ANYMAIL['WEBHOOK_SECRET'][1]")]
    deployed.ANYMAIL = {}
    deployed.ANYMAIL_WEBHOOK_SECRET = "acme:change-me"
    assert [(e_id, obj) for e_id, obj, _msg in found()] == [
        ("txmail.E052", "settings.ANYMAIL_WEBHOOK_SECRET")]


def test_strong_secrets_pass(deployed):
    deployed.SECRET_KEY = "a-random-value-nobody-knows-0123456789"
    assert found() == []


def test_debug_allows_the_examples_placeholders(deployed):
    deployed.DEBUG = True
    deployed.SECRET_KEY = "example-project-not-secret"
    deployed.ANYMAIL = {"WEBHOOK_SECRET": "acme:change-me"}
    assert found() == []


def test_django_test_runner_is_not_a_deployment(settings):
    # Its DEBUG is always False; the example project's tests run with its placeholders.
    settings.DEBUG = False
    settings.SECRET_KEY = "example-project-not-secret"
    assert hasattr(mail, "outbox")
    assert found() == []


def test_manage_py_check_stops_without_deploy(deployed):
    deployed.SECRET_KEY = "example-project-not-secret"
    with pytest.raises(SystemCheckError) as caught:
        call_command("check")
    assert "(txmail.E051)" in str(caught.value)
    assert [e.id for e in checks.run_checks(tags=[checks.Tags.security])
            if e.id.startswith("txmail.E05")] == ["txmail.E051"]
