"""The Message class: attributes, hooks, and what render()/message()/send() return."""

import datetime
import zoneinfo

import pytest
from django.core import mail
from django.test import override_settings

from tests.testapp.emails import Hello, Promo
from txmail import Attachment, InlineImage, Message, SentMessage


class Dated(Message):
    template_name = "testapp/emails/core_dated"
    subject = "{% load i18n %}{% translate 'Yes' %}"

    def __init__(self, when, **kwargs):
        super().__init__(to=["ann@example.com"], **kwargs)
        self.when = when

    def get_context_data(self, **kwargs):
        return super().get_context_data(when=self.when, **kwargs)


class Receipt(Message):
    template_name = "testapp/emails/core_receipt"
    subject = "Receipt {{ number }}"
    extra_context = {"number": "A-1"}


WHEN = datetime.datetime(2026, 11, 21, 23, 30, tzinfo=datetime.UTC)


def test_render_returns_subject_html_and_text_without_sending():
    rendered = Hello(name="Ann").render()
    assert rendered.subject == "Hello Ann"
    assert "Hello Ann!" in rendered.html
    assert rendered.text.startswith("Hello Ann!")
    assert rendered.template.endswith("testapp/emails/hello.mjml")
    assert mail.outbox == []


def test_send_returns_message_id_and_mailer():
    sent = Hello().send()
    assert isinstance(sent, SentMessage)
    assert sent.mailer == "transactional"
    assert sent.recipients == ["ann@example.com"]
    [outbox] = mail.outbox
    assert outbox.extra_headers["Message-ID"] == sent.message_id
    assert outbox.sent_using == "transactional"


def test_send_using_overrides_class_mailer():
    assert Hello().send(using="marketing").mailer == "marketing"
    assert mail.outbox[0].sent_using == "marketing"


def test_class_without_mailer_uses_default_alias():
    assert Receipt(to=["a@example.com"]).send().mailer == "default"


@override_settings(TXMAIL={"DEFAULT_MAILER": "marketing"})
def test_default_mailer_setting():
    assert Receipt(to=["a@example.com"]).send().mailer == "marketing"


def test_message_is_django_email_with_text_body_and_html_alternative():
    email = Hello(name="Bo").message()
    assert email.body.startswith("Hello Bo!")
    [(html, mimetype)] = email.alternatives
    assert mimetype == "text/html" and "Hello Bo!" in html
    assert email.subject == "Hello Bo"


def test_context_hook_and_extra_context():
    assert Receipt(to=["a@example.com"]).render().subject == "Receipt A-1"
    msg = Receipt(to=["a@example.com"], context={"number": "B-2"})
    assert msg.render().subject == "Receipt B-2"
    assert msg.get_context_data()["message"] is msg


def test_get_template_names_hook():
    class Chooser(Message):
        subject = "x"

        def get_template_names(self):
            return ["testapp/emails/nothing-here", "testapp/emails/promo"]

    rendered = Chooser(to=["a@example.com"], context={"name": "Zed"}).render()
    assert "Deals for Zed" in rendered.html


def test_subject_template_name():
    class Subjected(Receipt):
        subject = None
        subject_template_name = "testapp/emails/core_subject.txt"

    assert Subjected(to=["a@example.com"]).render().subject == "Order A-1 & more"


def test_get_subject_hook_receives_context():
    class Custom(Receipt):
        def get_subject(self, context):
            return f"Custom {context['number']}"

    assert Custom(to=["a@example.com"]).render().subject == "Custom A-1"


def test_subject_is_stripped_and_unescaped():
    class Spaced(Receipt):
        subject = "  Tom &amp; Jerry {{ number }}  \n"

    assert Spaced(to=["a@example.com"]).render().subject == "Tom & Jerry A-1"


def test_recipient_hooks_and_attributes_reach_the_email():
    class Team(Receipt):
        cc = ["cc@example.com"]
        reply_to = ["Support <support@example.com>"]
        from_email = "Billing <billing@example.com>"

        def get_bcc(self):
            return ["audit@example.com"]

    email = Team(to=["a@example.com"]).message()
    assert email.to == ["a@example.com"]
    assert email.cc == ["cc@example.com"]
    assert email.bcc == ["audit@example.com"]
    assert email.reply_to == ["Support <support@example.com>"]
    assert email.from_email == "Billing <billing@example.com>"


@override_settings(DEFAULT_FROM_EMAIL="Fallback <fallback@example.org>")
def test_from_defaults_to_default_from_email():
    assert Receipt(to=["a@example.com"]).message().from_email == (
        "Fallback <fallback@example.org>"
    )


def test_instances_never_share_lists_or_dicts():
    class Shared(Receipt):
        cc = ["team@example.com"]
        headers = {"X-Team": "1"}

    first, second = Shared(to=["a@example.com"]), Shared(to=["b@example.com"])
    first.cc.append("extra@example.com")
    first.headers["X-Extra"] = "1"
    first.attachments.append(Attachment("a.txt", "a"))
    assert second.cc == ["team@example.com"]
    assert second.headers == {"X-Team": "1"}
    assert second.attachments == []
    assert Shared.cc == ["team@example.com"]


def test_headers_hook_and_defaults():
    class Tagged(Receipt):
        headers = {"X-Campaign": "fall"}

    message = Tagged(to=["a@example.com"]).message().message()
    assert message["X-Campaign"] == "fall"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Message-ID"].endswith("@example.com>")
    assert message["Date"] is not None


def test_auto_submitted_can_be_turned_off():
    assert "Auto-Submitted" not in Promo().message().message()


@override_settings(TXMAIL={"MESSAGE_ID_DOMAIN": "mail.example.net"})
def test_message_id_domain_setting():
    assert Hello().message().extra_headers["Message-ID"].endswith("@mail.example.net>")


def test_language_hook_renders_subject_html_and_text_in_that_language():
    class French(Dated):
        def get_language(self):
            return "fr"

    rendered = French(WHEN).render()
    assert rendered.subject == "Oui"
    assert "Oui: samedi 21 novembre 2026" in rendered.html
    assert rendered.text.startswith("Oui: samedi 21 novembre 2026")
    assert rendered.language == "fr"


def test_default_language_is_the_active_one():
    from django.utils import translation

    with translation.override("de"):
        assert Dated(WHEN).render().subject == "Ja"
    assert Dated(WHEN).render().subject == "Yes"


def test_language_argument():
    assert Dated(WHEN, language="de").render().text.startswith("Ja: Samstag")


def test_time_zone_hook_shifts_dates():
    utc = Dated(WHEN).render().text
    tokyo = Dated(WHEN, time_zone=zoneinfo.ZoneInfo("Asia/Tokyo")).render().text

    class Named(Dated):
        def get_time_zone(self):
            return "America/New_York"

    assert "21 November 2026 23:30" in utc
    assert "Sunday 22 November 2026 08:30" in tokyo
    assert "21 November 2026 18:30" in Named(WHEN).render().text


def test_attachments_and_inline_images_hooks():
    class WithFiles(Receipt):
        def get_attachments(self):
            return [
                Attachment("receipt.pdf", b"%PDF-1.4 fake", "application/pdf"),
                ("notes.txt", "plain notes", "text/plain"),
                InlineImage("logo", b"\x89PNG fake", "image/png"),
            ]

    message = WithFiles(to=["a@example.com"]).message().message()
    names = [part.get_filename() for part in message.iter_attachments()]
    assert names == ["receipt.pdf", "notes.txt"]
    logo = next(p for p in message.walk() if p["Content-ID"] == "<logo>")
    assert logo.get_content() == b"\x89PNG fake"


def test_abstract_flag_is_not_inherited():
    class Base(Message):
        abstract = True

    class Concrete(Base):
        template_name = "x"

    assert Base.abstract is True
    assert Concrete.abstract is False




def test_test_runner_swapped_every_alias_for_the_in_memory_backend():
    from django.conf import settings

    # settings.py points every alias at a closed SMTP port; the swap makes it safe.
    backends = {alias: cfg["BACKEND"] for alias, cfg in settings.MAILERS.items()}
    assert set(backends.values()) == {"django.core.mail.backends.locmem.EmailBackend"}
    Hello().send()
    Promo().send()
    assert [m.sent_using for m in mail.outbox] == ["transactional", "marketing"]


def test_attachments_and_headers_are_built_in_the_recipients_language():
    from django.utils.translation import gettext

    class Localized(Dated):
        def get_headers(self):
            return {**super().get_headers(), "X-Answer": gettext("Yes")}

        def get_attachments(self):
                return [Attachment("answer.txt", gettext("Yes") + "\n", "text/plain")]

    message = Localized(WHEN, language="fr").message().message()
    assert message["X-Answer"] == "Oui"
    [attachment] = message.iter_attachments()
    assert attachment.get_content() == "Oui\n"


@pytest.mark.parametrize("spelling", ["Message-ID", "Message-Id", "message-id"])
def test_send_returns_a_given_message_id_in_any_spelling(spelling):
    sent = Hello(headers={spelling: "<fixed@example.com>"}).send()
    assert sent.message_id == "<fixed@example.com>"
    [email] = mail.outbox
    assert email.message()["Message-ID"] == "<fixed@example.com>"
    assert len(email.message().get_all("Message-ID")) == 1
