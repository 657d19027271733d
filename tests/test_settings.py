"""TXMAIL settings: one schema checked at startup (system check) and on every read."""

import pytest
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import Client

from txmail import InvalidSetting, TxmailError
from txmail.backends.mailbox import Mailbox
from txmail.checks import check_base_url_for_bulk, check_settings
from txmail.conf import DEFAULTS, SCHEMA, txmail_settings, validate_settings

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
    ("PREVIEW_SPAM_SCORE", "False", "True or False"),
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


SITE_URL_MUST = ("TXMAIL['SITE_URL'] must be the site's scheme and host only, e.g. "
                 "'https://shop.example.com', or None, not ")


@pytest.mark.parametrize(("value", "reason"), [
    ("shop.example.com", "it has no scheme: use 'https://shop.example.com'"),
    ("shop.example.com/shop", "it has no scheme: use 'https://shop.example.com'"),
    ("ftp://shop.example.com", "links in email must be http or https, not ftp: use "
                               "'https://shop.example.com'"),
    ("https://shop.example.com/shop", "paths come from reverse(), which already adds "
                                      "settings.FORCE_SCRIPT_NAME: use 'https://shop.example.com'"),
    ("https://shop.example.com/?ref=mail", "paths come from reverse(), which already adds "
                                           "settings.FORCE_SCRIPT_NAME: use "
                                           "'https://shop.example.com'"),
    ("https://shop.example.com#top", "paths come from reverse(), which already adds "
                                     "settings.FORCE_SCRIPT_NAME: use 'https://shop.example.com'"),
    ("https://shop example.com", "it contains whitespace: remove it"),
    ("https://shop.example.com ", "it contains whitespace: remove it"),
    ("https://", "it has no host"),
    ("https://shop.example.com:99999", "its port is not a number from 0 to 65535"),
    ("https://admin:pw@shop.example.com", "it has a user name or password, which every email "
                                          "would show: use 'https://shop.example.com'"),
])
def test_a_bad_site_url_fails_the_check_and_the_read(settings, value, reason):
    settings.TXMAIL = {"SITE_URL": value}
    message = f"{SITE_URL_MUST}{value!r} ({reason}). Fix it in settings.TXMAIL."
    assert [(e.id, e.msg) for e in check_settings()] == [("txmail.E003", message)]
    assert str(read("SITE_URL")) == message


@pytest.mark.parametrize("value", [
    "https://shop.example.com", "https://shop.example.com/", "http://localhost:8000",
    "http://[::1]:8000", "https://xn--bcher-kva.example",
])
def test_a_bare_origin_is_a_good_site_url(settings, value):
    settings.TXMAIL = {"SITE_URL": value}
    assert check_settings() == []
    assert txmail_settings.SITE_URL == value


MAILTO_MUST = ("TXMAIL['UNSUBSCRIBE_MAILTO'] must be one email address such as "
               "'unsubscribe@example.com', or None, not ")
NOT_ONE_ADDRESS = ("it isn't one email address: give only the addr-spec, without a name, <> or "
                   "a second address")


@pytest.mark.parametrize(("value", "reason"), [
    # A second target smuggled into List-Unsubscribe.
    ("x@example.com>, <https://evil.example/u", NOT_ONE_ADDRESS),
    ("not an address", NOT_ONE_ADDRESS),
    ("Unsubscribe <unsub@example.com>", NOT_ONE_ADDRESS),
    ("a@example.com, b@example.com", NOT_ONE_ADDRESS),
    ("unsub@example.com?subject=x", NOT_ONE_ADDRESS),
    ('"un sub"@example.com', "a quoted local part isn't accepted: use a plain address"),
])
def test_unsubscribe_mailto_must_be_one_address(settings, value, reason):
    settings.TXMAIL = {"UNSUBSCRIBE_MAILTO": value}
    message = f"{MAILTO_MUST}{value!r} ({reason}). Fix it in settings.TXMAIL."
    assert [(e.id, e.msg) for e in check_settings()] == [("txmail.E003", message)]
    assert str(read("UNSUBSCRIBE_MAILTO")) == message


def test_unsubscribe_mailto_takes_one_address(settings):
    settings.TXMAIL = {"UNSUBSCRIBE_MAILTO": "unsub+news@bücher.example"}
    assert check_settings() == []


BULK_NEEDS_A_BASE_URL = (
    "testapp.Bulletin, testapp.BulletinByLanguage, testapp.BulletinWithArchive, "
    "testapp.StatementDigest need an absolute unsubscribe URL, and txmail has no base URL "
    "to build it from: TXMAIL['SITE_URL'] is None and django.contrib.sites is not "
    "installed. Set TXMAIL['SITE_URL'] to the site's scheme and host, e.g. "
    "'https://shop.example.com'."
)


def test_bulk_classes_without_a_base_url_fail_the_check(settings):
    settings.TXMAIL = {}
    assert [(e.id, e.obj, e.msg) for e in checks.run_checks() if e.id == "txmail.E050"] == [
        ("txmail.E050", "settings.TXMAIL", BULK_NEEDS_A_BASE_URL)]


def test_a_base_url_from_the_setting_or_the_sites_framework_passes(settings):
    settings.TXMAIL = {"SITE_URL": "https://shop.example.com"}
    assert check_base_url_for_bulk() == []
    settings.TXMAIL = {}
    settings.INSTALLED_APPS = ["django.contrib.sites", *settings.INSTALLED_APPS]
    try:
        assert check_base_url_for_bulk() == []
    finally:
        # Installing the app registered Site with the admin (autodiscover); the
        # admin pages of later tests must not list an app that is gone.
        from django.contrib import admin
        from django.contrib.sites.models import Site

        if admin.site.is_registered(Site):
            admin.site.unregister(Site)


def test_validate_settings_lists_every_bad_value_at_once(settings):
    settings.TXMAIL = {"MAX_ATTEMPTS": 0, "SITE_URL": "shop.example.com", "COLOUR": "red",
                       "PRECOMPILE": True}
    with pytest.raises(InvalidSetting) as caught:
        validate_settings()
    assert str(caught.value) == (
        "settings.TXMAIL has 2 bad values: TXMAIL['MAX_ATTEMPTS'] must be a positive "
        f"integer, not 0. {SITE_URL_MUST}'shop.example.com' (it has no scheme: use "
        "'https://shop.example.com'). Fix them in settings.TXMAIL.")
    assert caught.value.setting == "MAX_ATTEMPTS"


def test_validate_settings_raises_what_a_read_would_for_one_bad_value(settings):
    settings.TXMAIL = {"CLAIM_TIMEOUT": "300"}
    with pytest.raises(InvalidSetting) as caught:
        validate_settings()
    assert str(caught.value) == str(read("CLAIM_TIMEOUT"))
    assert caught.value.setting == "CLAIM_TIMEOUT"


def test_validate_settings_passes_good_settings_and_unknown_keys(settings):
    # An unknown key is ignored by every read (the check reports it, txmail.E004).
    settings.TXMAIL = {"MAX_ATTEMPTS": 3, "COLOUR": "red"}
    assert validate_settings() is None
