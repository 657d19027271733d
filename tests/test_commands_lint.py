"""``manage.py txmail lint``: findings per class and variant, status 1 on an error."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from tests.testapp.quality_emails import registered

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def quality_classes():
    with registered():
        yield


def lint(*args):
    out = StringIO()
    call_command("txmail", "lint", *args, stdout=out)
    return out.getvalue()


def test_an_error_fails_the_command_and_every_finding_is_printed():
    out = StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("txmail", "lint", "testapp.Flexbox", stdout=out)
    assert raised.value.returncode == 1
    assert str(raised.value).startswith("1 variant: 1 error,")
    printed = out.getvalue()
    assert printed.startswith("testapp.Flexbox (default): ")
    assert '  error relative-url: Relative URL /account/ in <a href>. ' \
        '[in line 10: <a href="/account/">]' in printed
    assert "  warning css-unsupported: display:flex is not supported in " \
        "Outlook for Windows." in printed


def test_a_clean_class_exits_zero_and_says_so():
    printed = lint("Columns", "--severity", "warning")
    assert "testapp.Columns (default): clean (" in printed
    assert printed.rstrip().endswith("1 variant: 0 errors, 0 findings at warning or worse, "
                                     "for gmail, apple-mail, outlook-windows, new-outlook, "
                                     "outlook-mac, yahoo.")


def test_client_chooses_the_clients_and_filters_the_findings():
    with pytest.raises(CommandError):  # the relative URL is an error in every client
        call_command("txmail", "lint", "Flexbox", "--client", "apple-mail", stdout=StringIO())
    printed = lint("Columns", "--client", "outlook-windows", "--severity", "info")
    assert "info mjml-degrades: Outlook for Windows lacks" in printed
    assert "Gmail" not in printed


@override_settings(TXMAIL={"CLIENTS": ["apple-mail"]})
def test_info_is_shown_on_request_only():
    assert "css-partial" not in lint("Columns")
    assert "(" in lint("Columns").splitlines()[0]


def test_unknown_names_say_what_to_pass():
    with pytest.raises(CommandError, match=r"'Nope' is not a registered class: pass "
                       r"app_label.ClassName"):
        lint("Nope")
    with pytest.raises(CommandError, match=r"--client names an unknown email client 'yahooo'. "
                       r"Did you mean 'yahoo'\?"):
        lint("--client", "yahooo")


def test_spam_is_scored_for_each_variant_unless_no_spam():
    assert "  info spam-score: " in lint("Columns", "--severity", "info")
    assert "spam-score" not in lint("Columns", "--severity", "info", "--no-spam")
