"""The pytest plugin, run by pytest itself (pytester) on test files that use it."""

import os
import re
import tomllib
from importlib import import_module
from importlib.metadata import entry_points
from pathlib import Path

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
PLUGIN = "txmail.testing.pytest_plugin"

PASSING = '''
import pytest

from tests.testapp.emails import Hello, Promo

pytestmark = pytest.mark.django_db


def test_sent(sent_mail):
    Hello(name="Ada", to=["ada@example.com"]).send()
    sent = sent_mail.assert_sent(Hello, to="ada@example.com")
    assert sent.context["name"] == "Ada"
    assert "Hello Ada!" in sent.text
    sent_mail.assert_not_sent(Promo)


def test_queued_then_run(sent_mail):
    Promo(to=["eve@example.com"]).enqueue()
    sent_mail.assert_enqueued(Promo, to="eve@example.com")
    sent_mail.run_queued()
    sent_mail.assert_sent_count(1, Promo)


def test_each_test_starts_empty(sent_mail):
    sent_mail.assert_nothing_sent()
'''

FAILING = '''
import pytest

from tests.testapp.emails import Hello

pytestmark = pytest.mark.django_db


def test_wrong_recipient(sent_mail):
    Hello(name="Bob", to=["bob@example.com"]).send()
    sent_mail.assert_sent(Hello, to="ada@example.com")
'''


def test_the_entry_point_names_the_plugin():
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert declared["project"]["entry-points"]["pytest11"] == {"txmail": PLUGIN}
    assert hasattr(import_module(PLUGIN), "sent_mail")


def test_a_passing_file_passes_and_a_wrong_assertion_fails_with_what_was_sent(
        pytester, monkeypatch):
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "tests.settings")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [
        str(ROOT), os.environ.get("PYTHONPATH")])))
    pytester.makepyfile(test_passing=PASSING, test_failing=FAILING)
    args = ["-p", "no:cacheprovider", "-v"]
    if not any(ep.value == PLUGIN for ep in entry_points(group="pytest11")):
        args += ["-p", PLUGIN]  # an editable install older than the entry point
    # A subprocess: pytest-django sets Django's test environment up once per
    # process, and this one already has.
    result = pytester.runpytest_subprocess(*args)
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.re_match_lines([
        r"test_failing.py::test_wrong_recipient FAILED.*",
        r"test_passing.py::test_sent PASSED.*",
        r"test_passing.py::test_queued_then_run PASSED.*",
        r"test_passing.py::test_each_test_starts_empty PASSED.*",
    ], consecutive=True)
    failure = [  # (the line's pytest prefix, its text)
        (">", 'sent_mail.assert_sent(Hello, to="ada@example.com")'),
        ("E", "AssertionError: Expected Hello(to='ada@example.com') to be sent; it was not."),
        ("E", "Sent instead (1):"),
        ("E", "  - Hello to ['bob@example.com'], subject 'Hello Bob' "
         "[sent by send() via 'transactional']"),
    ]
    result.stdout.re_match_lines([f"{prefix} {{7}}{re.escape(text)}$" for prefix, text in failure],
                                 consecutive=True)
    assert "txmail/testing/recorder.py" not in result.stdout.str()  # hidden frames


STRICT = '''
import pytest

from tests.test_variables import TYPO_HTML, welcome

pytestmark = pytest.mark.django_db


def test_misspelled_variable():
    welcome(TYPO_HTML).send()


@pytest.mark.txmail_allow_undefined
def test_opted_out():
    assert "Welcome, !" in welcome(TYPO_HTML).render().html
'''

INI_OFF = '''
from django.test import TestCase

from tests.test_variables import TYPO_HTML, welcome
from txmail import UndefinedVariable
from txmail.testing import MailTestMixin


def test_not_strict(db):
    assert "Welcome, !" in welcome(TYPO_HTML).render().html


class Strict(MailTestMixin, TestCase):
    def test_the_mixin_is_strict_by_itself(self):
        with self.assertRaises(UndefinedVariable):
            welcome(TYPO_HTML).send()


class Lenient(MailTestMixin, TestCase):
    txmail_strict_variables = False

    def test_opted_out(self):
        self.assertIn("Welcome, !", welcome(TYPO_HTML).render().html)
'''


def _run(pytester, monkeypatch, *args, **files):
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "tests.settings")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [
        str(ROOT), os.environ.get("PYTHONPATH")])))
    pytester.makepyfile(**files)
    extra = ["-p", "no:cacheprovider", "-v", *args]
    if not any(ep.value == PLUGIN for ep in entry_points(group="pytest11")):
        extra += ["-p", PLUGIN]
    return pytester.runpytest_subprocess(*extra)


def test_an_undefined_variable_fails_the_test_unless_it_opts_out(pytester, monkeypatch):
    result = _run(pytester, monkeypatch, test_strict=STRICT)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.re_match_lines([
        r"test_strict.py::test_misspelled_variable FAILED.*",
        r"test_strict.py::test_opted_out PASSED.*",
    ], consecutive=True)
    result.stdout.re_match_lines([r"E +" + re.escape(
        "txmail.exceptions.UndefinedVariable: Welcome: {{ usr.first_name }} in "
        "'testapp/emails/variables_typo_html.html' rendered as nothing: the context has "
        "no 'usr'. Fix the spelling, provide 'usr' in get_context_data()") + ".*"])


def test_the_ini_option_turns_it_off_and_the_mixin_on(pytester, monkeypatch):
    result = _run(pytester, monkeypatch, "-o", "txmail_strict_variables=false",
                  test_ini_off=INI_OFF)
    result.assert_outcomes(passed=3)
