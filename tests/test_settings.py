"""TXMAIL settings: one schema checked at startup (system check) and on every read."""

import pytest
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import Client

from txmail import InvalidSetting, TxmailError
from txmail.backends.mailbox import Mailbox
from txmail.checks import check_settings
from txmail.conf import DEFAULTS, SCHEMA, txmail_settings

KNOWN = ", ".join(sorted(SCHEMA))
ENV_HINT = (
    ". Strings are not accepted, so that 'False' from an environment variable can't "
    "turn it on: convert in your settings, e.g. os.environ.get(...) == 'true'"
)


def read(key):
    with pytest.raises(InvalidSetting) as caught:
        getattr(txmail_settings, key)
    return caught.value


def test_defaults_when_unset(settings):
    settings.TXMAIL = {}
    assert {key: getattr(txmail_settings, key) for key in SCHEMA} == DEFAULTS
    assert check_settings() == []


def test_good_values_pass(settings, tmp_path):
    settings.TXMAIL = {"PREVIEW_ENABLED": False, "MAILBOX_SIZE": 5, "PRECOMPILE": False,
                       "MAILBOX_PATH": tmp_path, "MESSAGE_ID_DOMAIN": "example.com",
                       "DEFAULT_MAILER": "transactional"}
    assert check_settings() == []
    assert (txmail_settings.MAILBOX_SIZE, txmail_settings.MAILBOX_PATH) == (5, tmp_path)


def test_preview_enabled_string_is_refused_not_read_as_true(settings):
    settings.DEBUG = False
    settings.TXMAIL = {"PREVIEW_ENABLED": "False"}
    message = (
        "TXMAIL['PREVIEW_ENABLED'] must be True, False or None, not 'False'" + ENV_HINT
        + ". Fix it in settings.TXMAIL."
    )
    error = read("PREVIEW_ENABLED")
    assert str(error) == message
    assert error.setting == "PREVIEW_ENABLED"
    assert isinstance(error, TxmailError) and isinstance(error, ImproperlyConfigured)
    assert check_settings() == [
        checks.Error(message, obj="settings.TXMAIL", id="txmail.E003")
    ]
    # The UI does not open: the request fails loudly instead.
    with pytest.raises(InvalidSetting):
        Client().get("/emails/")


@pytest.mark.parametrize("value", [1, 0, "true", "1"])
def test_preview_enabled_takes_only_booleans_and_none(settings, value):
    settings.TXMAIL = {"PREVIEW_ENABLED": value}
    assert read("PREVIEW_ENABLED").setting == "PREVIEW_ENABLED"


@pytest.mark.parametrize(("value", "shown"), [
    (0, "0"), (-3, "-3"), (True, "True"), (2.5, "2.5"),
    ("abc", "'abc' (a string, perhaps read from an environment variable: convert it in "
            "your settings)"),
])
def test_mailbox_size_must_be_a_positive_integer(settings, value, shown):
    settings.TXMAIL = {"MAILBOX_SIZE": value}
    message = (f"TXMAIL['MAILBOX_SIZE'] must be a positive integer, not {shown}. "
               "Fix it in settings.TXMAIL.")
    assert str(read("MAILBOX_SIZE")) == message
    assert [(e.id, e.msg) for e in check_settings()] == [("txmail.E003", message)]
    with pytest.raises(InvalidSetting, match=r"^TXMAIL\['MAILBOX_SIZE'\]"):
        Mailbox()


def test_mailbox_size_option_is_checked_too(tmp_path):
    with pytest.raises(InvalidSetting) as caught:
        Mailbox(tmp_path, "abc")  # type: ignore[arg-type]
    assert str(caught.value) == (
        "The mailbox 'size' must be a positive integer, not 'abc' (a string, perhaps read "
        "from an environment variable: convert it in your settings). Fix the "
        "MailboxBackend's OPTIONS in settings.MAILERS."
    )


@pytest.mark.parametrize(("key", "value", "expected"), [
    ("PRECOMPILE", "no", "True or False"),
    ("DEFAULT_MAILER", "", "a non-empty string"),
    ("DEFAULT_MAILER", None, "a non-empty string"),
    ("MESSAGE_ID_DOMAIN", 42, "a non-empty string or None"),
    ("MAILBOX_PATH", 42, "a path (str or pathlib.Path) or None"),
])
def test_other_settings_of_the_wrong_kind(settings, key, value, expected):
    settings.TXMAIL = {key: value}
    assert str(read(key)).startswith(f"TXMAIL[{key!r}] must be {expected}, not {value!r}")
    assert [e.id for e in check_settings()] == ["txmail.E003"]


def test_unknown_key_suggests_the_closest(settings):
    settings.TXMAIL = {"MAILBOX_SIZ": 5, "COLOUR": "red"}
    assert [(e.id, e.msg) for e in check_settings()] == [
        ("txmail.E004", "TXMAIL has an unknown key 'MAILBOX_SIZ'; it is ignored. Did you "
                        f"mean 'MAILBOX_SIZE'? Known keys: {KNOWN}."),
        ("txmail.E004", "TXMAIL has an unknown key 'COLOUR'; it is ignored. Remove it. "
                        f"Known keys: {KNOWN}."),
    ]
    assert txmail_settings.MAILBOX_SIZE == 200


def test_txmail_must_be_a_dict(settings):
    settings.TXMAIL = [("PRECOMPILE", False)]
    message = ("settings.TXMAIL must be a dict, not list. Set it to a dict of txmail "
               "settings, e.g. TXMAIL = {'PRECOMPILE': True}.")
    assert [(e.id, e.msg) for e in check_settings()] == [("txmail.E003", message)]
    assert str(read("PRECOMPILE")) == message


def test_manage_py_check_stops_on_a_bad_setting(settings):
    settings.TXMAIL = {"MAILBOX_SIZE": 0, "PREVIEW": True}
    with pytest.raises(SystemCheckError) as caught:
        call_command("check")
    report = str(caught.value)
    assert "(txmail.E003) TXMAIL['MAILBOX_SIZE'] must be a positive integer, not 0." in report
    assert "(txmail.E004) TXMAIL has an unknown key 'PREVIEW'" in report
