"""Undefined template variables: raised in tests (strict), reported by txmail.W060."""

from io import StringIO
from types import SimpleNamespace

import pytest
from django.core import checks
from django.core.management import call_command
from django.test import override_settings

from txmail import Message, UndefinedVariable
from txmail.checks.variables import check_template_variables
from txmail.message import name_of
from txmail.registry import register, unregister
from txmail.rendering.variables import strict

OK = "testapp/emails/variables_ok"
TYPO_MJML = "testapp/emails/variables_typo"  # + variables_typo.txt
TYPO_HTML = "testapp/emails/variables_typo_html"


class Welcome(Message):
    template_name = OK
    subject = "Welcome, {{ user.first_name }}"
    mailer = "transactional"

    def __init__(self, user=None, **kwargs):
        super().__init__(to=["ada@example.com"], **kwargs)
        self.user = user or SimpleNamespace(first_name="Ada", orders=None)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["user"] = self.user
        return context

    @classmethod
    def preview(cls):
        return cls()

    @classmethod
    def preview_typo(cls):
        instance = cls()
        instance.template_name = TYPO_MJML
        return instance


class TypoSubject(Welcome):
    subject = "Welcome, {{ user.frist_name }}"


def welcome(template_name):
    instance = Welcome()
    instance.template_name = template_name
    return instance


@pytest.mark.parametrize("template", [TYPO_MJML, TYPO_HTML])
def test_send_raises_naming_the_class_template_variable_and_fix(template):
    ext = "mjml" if template == TYPO_MJML else "html"
    with pytest.raises(UndefinedVariable) as raised:
        welcome(template).send()
    message = str(raised.value)
    assert message.startswith(
        f"Welcome: {{{{ usr.first_name }}}} in '{template}.{ext}' rendered as nothing: "
        "the context has no 'usr'.")
    assert ("Fix the spelling, provide 'usr' in get_context_data() (or the preview's sample "
            "objects), or write {{ usr.first_name|default:\"…\" }} if empty is intended."
            ) in message
    assert raised.value.variable == "usr.first_name"


def test_an_attribute_that_does_not_exist_is_named_with_its_object():
    with pytest.raises(UndefinedVariable) as raised:
        TypoSubject().send()
    assert str(raised.value).startswith(
        "TypoSubject: {{ user.frist_name }} in 'TypoSubject.subject' rendered as nothing: "
        "'user' has no attribute or key 'frist_name'.")


def test_every_undefined_variable_is_listed():
    with pytest.raises(UndefinedVariable) as raised:
        welcome(TYPO_MJML).render()
    # the .txt beside the .mjml misspells another one
    assert "Also: {{ user.frist_name }} in 'testapp/emails/variables_typo.txt'" in str(
        raised.value)


def test_conditions_loops_with_and_defaults_are_not_undefined_variables():
    # variables_ok.html: {% if user.nickname %}, {% for o in user.orders %},
    # {% with %}, |default on a missing attribute and on a missing name.
    rendered = Welcome().render()
    assert "Welcome, Ada!" in rendered.html and "no coupon" in rendered.html


def test_the_same_in_the_per_message_pipeline():
    with override_settings(TXMAIL={"PRECOMPILE": False}):
        assert "Welcome, Ada!" in Welcome().render().html
        with pytest.raises(UndefinedVariable, match=r"usr\.first_name"):
            welcome(TYPO_MJML).render()


def test_enqueue_raises_before_anything_is_queued():
    from txmail.delivery.models import Delivery

    with pytest.raises(UndefinedVariable):
        welcome(TYPO_HTML).enqueue()
    assert not Delivery.objects.filter(status="queued").exists()


def test_not_strict_it_renders_as_nothing():
    with strict(False):
        assert "Welcome, !" in welcome(TYPO_HTML).render().html


@pytest.mark.txmail_allow_undefined
def test_the_marker_opts_a_test_out():
    assert "Welcome, !" in welcome(TYPO_HTML).render().html


# -- the check -------------------------------------------------------------------------


@pytest.fixture
def registered():
    register(Welcome)
    yield
    unregister(Welcome)


def w040(**settings):
    with override_settings(**settings):
        return [m for m in check_template_variables() if m.id == "txmail.W060"]


def test_check_names_class_variant_template_variable_and_fix(registered):
    found = w040(DEBUG=True)
    assert [(m.level, m.obj) for m in found] == [(checks.WARNING, Welcome)] * 2
    by_msg = {m.msg: m.hint for m in found}
    name = name_of(Welcome)
    assert by_msg == {
        f"{name} (preview 'typo'): {{{{ usr.first_name }}}} in "
        "'testapp/emails/variables_typo.mjml' rendered as nothing: the context has no 'usr'.":
        "Fix the spelling, provide 'usr' in get_context_data() (or the preview's sample "
        "objects), or write {{ usr.first_name|default:\"…\" }} if empty is intended. "
        "Silence it with SILENCED_SYSTEM_CHECKS = ['txmail.W060'].",
        f"{name} (preview 'typo'): {{{{ user.frist_name }}}} in "
        "'testapp/emails/variables_typo.txt' rendered as nothing: 'user' has no attribute "
        "or key 'frist_name'.":
        "Fix the spelling, or write {{ user.frist_name|default:\"…\" }} if empty is "
        "intended. Silence it with SILENCED_SYSTEM_CHECKS = ['txmail.W060'].",
    }


def test_check_runs_in_debug_only(registered):
    assert w040(DEBUG=False) == []


def test_the_test_apps_own_previews_have_no_undefined_variables():
    assert [m.msg for m in w040(DEBUG=True) if "Rich" not in m.msg] == []


def test_txmail_list_shows_them_in_the_state_column(registered):
    out = StringIO()
    call_command("txmail", "list", stdout=out)
    [row] = [line for line in out.getvalue().splitlines() if line.startswith(name_of(Welcome))]
    assert row.endswith(
        "; undefined: {{ usr.first_name }} in testapp/emails/variables_typo.mjml "
        "(preview 'typo'); undefined: {{ user.frist_name }} in "
        "testapp/emails/variables_typo.txt (preview 'typo')")
