"""Discovery of message classes from installed apps' emails modules."""

import pytest
from django.core import checks
from django.test import override_settings

from tests.testapp import emails
from txmail import Message, MessageConfigurationError, registry


@pytest.fixture
def make_class():
    """Create Message subclasses that later discovery runs will ignore."""
    made = []

    def make(name, module=emails.__name__, **attrs):
        cls = type(name, (Message,), {"__module__": module, **attrs})
        made.append(cls)
        return cls

    yield make
    for cls in made:
        cls.abstract = True  # __subclasses__() may still hold them until GC


def test_concrete_classes_in_emails_modules_are_registered_by_app_label():
    classes = registry.message_classes()
    assert classes["testapp.Hello"] is emails.Hello
    assert classes["testapp.Promo"] is emails.Promo
    assert registry.get_message_class("testapp.Hello") is emails.Hello


def test_abstract_bases_and_classes_outside_emails_modules_are_not_registered():
    class Elsewhere(Message):
        template_name = "x"

    names = registry.message_classes()
    assert "testapp.BaseTestMessage" not in names
    assert not any(name.endswith(".Elsewhere") for name in names)


def test_registry_is_sorted_by_name():
    names = list(registry.message_classes())
    assert names == sorted(names)


def test_unknown_name_lists_registered_names():
    with pytest.raises(LookupError, match=r"registered: .*testapp\.Hello"):
        registry.get_message_class("testapp.Nope")


def test_two_classes_with_one_name_are_an_error(make_class):
    first = make_class("Hello", template_name="x")
    with pytest.raises(MessageConfigurationError) as info:
        registry.register(first)
    assert "Two message classes are named 'testapp.Hello'" in str(info.value)
    assert "Rename one of them" in str(info.value)
    assert registry.get_message_class("testapp.Hello") is emails.Hello


def test_startup_discovery_fails_on_duplicate_names(make_class):
    make_class("Promo", module=emails.__name__ + ".more", template_name="x")
    with pytest.raises(MessageConfigurationError, match=r"named 'testapp\.Promo'"):
        registry.autodiscover()


def test_class_without_template_cannot_be_registered(make_class):
    nameless = make_class("Nameless")
    expected = "requires either a definition of 'template_name'"
    with pytest.raises(MessageConfigurationError, match=expected):
        registry.register(nameless)


def test_register_decorator_and_unregister():
    @registry.register
    class Extra(Message):
        template_name = "x"

    try:
        assert registry.message_classes()[registry.name_of(Extra)] is Extra
    finally:
        registry.unregister(Extra)
    assert registry.name_of(Extra) not in registry.message_classes()


def test_system_check_reports_unknown_mailer_alias():
    with override_settings(MAILERS={"default": {}, "transactional": {}}):
        errors = checks.run_checks(tags=[checks.Tags.compatibility])
    [error] = [e for e in errors if e.id == "txmail.E001"]
    assert error.msg.startswith("testapp.Promo sends through mailer 'marketing'")
    assert "Add 'marketing' to MAILERS" in error.hint


@override_settings(TXMAIL={"SITE_URL": "https://shop.example.com"})
def test_system_check_passes_with_all_aliases():
    assert [e for e in checks.run_checks() if e.id.startswith("txmail")] == []
