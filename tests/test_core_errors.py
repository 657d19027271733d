"""Bad input: a clear error naming the problem and the fix, and nothing sent."""

import pytest
from django.core import mail
from django.template import TemplateDoesNotExist
from django.test import override_settings

from tests.testapp.emails import Hello
from txmail import (
    HeaderInjection,
    InvalidAddress,
    InvalidHeader,
    Message,
    MessageConfigurationError,
    MJMLError,
    NoRecipients,
    NotInstalled,
    TemplateNotFound,
    TxmailError,
    UnknownMailer,
)


class Missing(Message):
    template_name = "emails/x"
    subject = "x"


class Broken(Message):
    template_name = "testapp/emails/core_broken"
    subject = "x"


class BadInclude(Message):
    template_name = "testapp/emails/core_bad_include"
    subject = "x"


class Escaped(Message):
    template_name = "testapp/emails/core_escape"
    subject = "Hi {{ name }}"


def test_missing_template_names_class_and_every_path_tried():
    with pytest.raises(TemplateNotFound) as info:
        Missing(to=["a@example.com"]).send()
    message = str(info.value)
    assert message.startswith("Missing: template 'emails/x' not found; tried ")
    assert "emails/x.mjml" in message and "emails/x.html" in message
    # Each app template directory is listed for both extensions.
    assert "tests/testapp/templates/emails/x.mjml" in message
    assert "tests/testapp/templates/emails/x.html" in message
    assert "set 'template_name'" in message
    assert isinstance(info.value, TemplateDoesNotExist)
    assert len(info.value.tried_paths) >= 4
    assert mail.outbox == []


def test_missing_template_name_attribute_says_both_ways_to_fix():
    class Nameless(Message):
        subject = "x"

    with pytest.raises(MessageConfigurationError) as info:
        Nameless(to=["a@example.com"]).render()
    assert str(info.value) == (
        "Nameless requires either a definition of 'template_name' or an "
        "implementation of 'get_template_names()'."
    )


def test_missing_subject_says_how_to_fix():
    class Subjectless(Message):
        template_name = "testapp/emails/promo"

    with pytest.raises(MessageConfigurationError, match="requires either 'subject'"):
        Subjectless(to=["a@example.com"]).render()


def test_mjml_error_names_template_and_mrml_report():
    with pytest.raises(MJMLError) as info:
        Broken(to=["a@example.com"]).send()
    message = str(info.value)
    assert "testapp/emails/core_broken.mjml" in message
    assert "MJML error in template" in message
    assert "unexpected end of stream" in message  # MRML's own words
    assert isinstance(info.value, ValueError)
    assert mail.outbox == []


def test_missing_mj_include_names_the_include_and_paths_tried():
    with pytest.raises(TemplateNotFound) as info:
        BadInclude(to=["a@example.com"]).render()
    message = str(info.value)
    assert "core_bad_include.mjml' includes 'testapp/partials/missing.mjml'" in message
    assert "tests/testapp/templates/testapp/partials/missing.mjml" in message


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("to", ["not-an-address"]),
        ("to", ["a@example.com, b@example.com"]),
        ("cc", ["ann@"]),
        ("bcc", ["@example.com"]),
        ("reply_to", ["two words@example.com"]),
    ],
)
def test_invalid_recipient_raises_before_anything_is_sent(field, value):
    kwargs = {"to": ["ok@example.com"], field: value}
    with pytest.raises(InvalidAddress, match=f"Hello: {field} address"):
        Hello(**kwargs).send()
    assert mail.outbox == []


def test_string_instead_of_list_is_rejected_with_the_fix():
    with pytest.raises(InvalidAddress) as info:
        Missing(to="ann@example.com")
    assert str(info.value) == (
        "Missing: to must be a list of addresses, not the string "
        "'ann@example.com'. Wrap it in a list: to=['ann@example.com']."
    )


def test_invalid_from_address():
    with pytest.raises(InvalidAddress, match="from_email address 'nobody'"):
        Hello(from_email="nobody").send()
    assert mail.outbox == []


def test_newline_in_subject_raises():
    class Injected(Escaped):
        subject = "Hi {{ name }}"

    msg = Injected(to=["a@example.com"], context={"name": "x\nBcc: victim@example.com"})
    with pytest.raises(HeaderInjection) as info:
        msg.send()
    assert "Injected: subject contains a line break" in str(info.value)
    assert mail.outbox == []


@pytest.mark.parametrize("value", ["a\nb", "a\rb", "a\r\nBcc: x@example.com"])
def test_newline_in_header_value_raises(value):
    with pytest.raises(HeaderInjection, match="header 'X-Tag' contains a line break"):
        Hello(headers={"X-Tag": value}).send()
    assert mail.outbox == []


@pytest.mark.parametrize("name", ["Bad Name", "X:Colon", "X\nY"])
def test_invalid_header_name_raises(name):
    with pytest.raises(HeaderInjection, match="is not a valid header name"):
        Hello(headers={name: "v"}).send()


def test_address_headers_must_use_their_attributes():
    with pytest.raises(HeaderInjection, match="through the message's 'reply_to'"):
        Hello(headers={"Reply-To": "x@example.com"}).send()


def test_newline_in_address_raises():
    with pytest.raises(HeaderInjection):
        Hello(to=["a@example.com\nBcc: victim@example.com"]).send()
    assert mail.outbox == []


def test_no_recipients_raises_instead_of_silently_sending_nothing():
    with pytest.raises(NoRecipients) as info:
        Hello(to=[]).send()
    assert str(info.value) == (
        "Hello: the message has no recipients. Pass to=[...] (or cc/bcc) when "
        "creating it, or return addresses from get_to()."
    )
    assert mail.outbox == []


def test_bcc_only_is_enough():
    Hello(to=[], bcc=["hidden@example.com"]).send()
    assert mail.outbox[0].recipients() == ["hidden@example.com"]


def test_unknown_mailer_names_class_alias_and_configured_aliases():
    class Lost(Hello):
        mailer = "nowhere"

    with pytest.raises(UnknownMailer) as info:
        Lost().send()
    assert str(info.value) == (
        "Lost: mailer 'nowhere' is not configured; settings.MAILERS has "
        "'default', 'transactional', 'marketing'. Add 'nowhere' to MAILERS or "
        "use one of those aliases."
    )
    assert mail.outbox == []


def test_unknown_using_alias():
    with pytest.raises(UnknownMailer, match="Hello: mailer 'backup' is not configured"):
        Hello().send(using="backup")


def test_context_values_are_autoescaped_in_html_but_not_in_text():
    rendered = Escaped(to=["a@example.com"], context={"name": "<b>Tom & Jerry</b>"}).render()
    assert "<b>Tom" not in rendered.html
    assert "&lt;b&gt;Tom &amp; Jerry&lt;/b&gt;" in rendered.html
    assert rendered.text == "Hi <b>Tom & Jerry</b>\n"
    assert rendered.subject == "Hi <b>Tom & Jerry</b>"


def test_every_error_shares_one_root():
    for exc in (HeaderInjection, InvalidAddress, InvalidHeader, MJMLError, NoRecipients,
                TemplateNotFound, UnknownMailer, MessageConfigurationError):
        assert issubclass(exc, TxmailError)


def test_an_unknown_mailer_is_djangos_invalid_mailer():
    from django.core.mail import InvalidMailer

    class Lost(Hello):
        mailer = "nowhere"

    with pytest.raises(InvalidMailer, match="Lost: mailer 'nowhere' is not configured"):
        Lost().send()


def test_an_unknown_outcome_is_not_caught_as_a_retryable_connection_error():
    from txmail import DeliveryOutcomeUnknown, TransientDeliveryError

    # A caller's ``except ConnectionError: retry`` must not resend it.
    assert not issubclass(DeliveryOutcomeUnknown, ConnectionError)
    assert not issubclass(DeliveryOutcomeUnknown, TransientDeliveryError)


def test_the_public_names_are_exported_from_txmail():
    import txmail
    from txmail.bulk.bulk_message import BulkMessage
    from txmail.exceptions import CancelSend
    from txmail.registry import warm_up

    assert (txmail.BulkMessage, txmail.CancelSend, txmail.warm_up) == (
        BulkMessage, CancelSend, warm_up)
    assert {"BulkMessage", "CancelSend", "warm_up"} <= set(txmail.__all__)
    assert all(hasattr(txmail, name) for name in txmail.__all__)


def test_inline_image_must_be_an_image():
    from txmail import InlineImage

    with pytest.raises(InvalidHeader, match="'application/pdf' is not an image type"):
        InlineImage("doc", b"%PDF", "application/pdf")
    with pytest.raises(TypeError, match="content must be bytes"):
        InlineImage("logo", "not bytes", "image/png")  # type: ignore[arg-type]


def test_class_level_string_recipient_is_rejected_with_the_fix():
    class Ops(Hello):
        cc = "ops@example.com"

    with pytest.raises(InvalidAddress, match=r"Wrap it in a list: cc=\['ops@example.com'\]"):
        Ops()


def test_recipients_that_are_not_a_list_are_rejected_at_construction():
    with pytest.raises(InvalidAddress) as info:
        Missing(to=5)  # type: ignore[arg-type]
    assert str(info.value) == "Missing: to must be a list of addresses."


def test_sending_without_the_app_installed_says_to_install_it(settings):
    without = [app for app in settings.INSTALLED_APPS if app != "txmail"]
    with override_settings(INSTALLED_APPS=without):
        for way_out in (Hello(name="Ann", to=["ann@example.com"]).send,
                        Hello(name="Ann", to=["ann@example.com"]).enqueue):
            with pytest.raises(NotInstalled) as info:
                way_out()
            assert str(info.value) == (
                "txmail is used but 'txmail' is not in settings.INSTALLED_APPS, so its "
                "models, templates, template tags and system checks are not loaded and no "
                "app's emails.py is discovered. Add 'txmail' to INSTALLED_APPS, then run "
                "`python manage.py migrate`.")
    assert mail.outbox == []
