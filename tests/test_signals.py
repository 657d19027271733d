"""Message-level signals (txmail.signals) and TXMAIL["INTERCEPTORS"]."""

import email
import email.policy

import pytest
from django.core import mail
from django.core.mail import EmailMessage, EmailMultiAlternatives
from django.test import override_settings

from tests.testapp.emails import Hello, Promo
from txmail import TransientDeliveryError, TxmailError
from txmail.delivery.models import Delivery, Status
from txmail.exceptions import CancelSend, InterceptorConfigurationError, TemplateNotFound
from txmail.signals import post_send, pre_send, send_cancelled, send_failed

CLOSED = {"BACKEND": "django.core.mail.backends.smtp.EmailBackend",
          "OPTIONS": {"host": "127.0.0.1", "port": 9, "timeout": 2}}


@pytest.fixture
def heard():
    """Every signal txmail.signals sends during the test: (name, sender, kwargs)."""
    calls = []

    def listener(name):
        def receive(sender, signal, **kwargs):
            calls.append((name, sender, kwargs))
        return receive

    receivers = {s: listener(n) for s, n in (
        (pre_send, "pre_send"), (post_send, "post_send"),
        (send_failed, "send_failed"), (send_cancelled, "send_cancelled"))}
    for signal, receiver in receivers.items():
        signal.connect(receiver)
    yield calls
    for signal, receiver in receivers.items():
        signal.disconnect(receiver)


def test_send_sends_pre_send_then_post_send_with_the_message_alias_and_result(heard):
    message = Hello(name="Ada")
    sent = message.send()
    assert [name for name, _s, _k in heard] == ["pre_send", "post_send"]
    (_n, sender, before), (_n2, sender2, after) = heard
    assert sender is sender2 is Hello
    assert before == {"message": message, "mailer": None, "queued": False}
    assert after["message"] is message and after["result"] is sent
    assert after["mailer"] == "transactional" and after["queued"] is False
    assert after["email"] is sent.email
    assert after["rendered"].subject == "Hello Ada"
    assert after["rendered"].context["name"] == "Ada"


def test_pre_send_receives_the_alias_given_to_send(heard):
    Hello().send(using="marketing")
    assert heard[0][2]["mailer"] == "marketing"
    assert heard[1][2]["mailer"] == "marketing"
    assert mail.outbox[0].sent_using == "marketing"


def test_a_pre_send_receiver_may_change_the_message(on_pre_send):
    @on_pre_send
    def reroute(sender, message, **kwargs):
        message.to = ["support@example.com"]
        message.mailer = "marketing"
        message.name = "Changed"

    sent = Hello(name="Ada").send()
    assert mail.outbox[0].to == ["support@example.com"]
    assert mail.outbox[0].subject == "Hello Changed"
    assert sent.mailer == mail.outbox[0].sent_using == "marketing"


def test_cancel_send_in_pre_send_sends_nothing_and_logs_a_cancelled_row(on_pre_send, heard):
    @on_pre_send
    def unsubscribed(sender, message, **kwargs):
        raise CancelSend("ann@example.com unsubscribed.")

    message = Hello()
    sent = message.send()
    assert mail.outbox == []
    assert sent.cancelled == "ann@example.com unsubscribed."
    assert (sent.recipients, sent.email, sent.mailer) == ([], None, "transactional")
    row = Delivery.objects.get()
    assert sent.delivery_id == row.pk
    assert (row.status, row.message_class, row.mailer, row.recipients, row.queued) == (
        Status.CANCELLED, "testapp.Hello", "transactional", ["ann@example.com"], False)
    assert row.last_error == "Cancelled: ann@example.com unsubscribed."
    assert [name for name, _s, _k in heard] == ["pre_send", "send_cancelled"]
    assert heard[1][2] == {"message": message, "mailer": "transactional", "queued": False,
                           "reason": "ann@example.com unsubscribed.", "email": None,
                           "delivery": row}


def test_cancel_send_without_a_reason_says_who_cancelled(on_pre_send):
    on_pre_send(lambda sender, **kwargs: (_ for _ in ()).throw(CancelSend()))
    assert Hello().send().cancelled == "A pre_send receiver cancelled it."
    assert isinstance(CancelSend(), TxmailError)


@override_settings(TXMAIL={"LOG_SENDS": False})
def test_a_cancelled_send_without_logging_has_no_row(on_pre_send):
    on_pre_send(lambda sender, **kwargs: (_ for _ in ()).throw(CancelSend("no")))
    sent = Hello().send()
    assert (sent.cancelled, sent.delivery_id) == ("no", None)
    assert Delivery.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_a_cancelled_enqueue_returns_its_cancelled_row_and_queues_nothing(on_pre_send, heard):
    on_pre_send(lambda sender, **kwargs: (_ for _ in ()).throw(CancelSend("quiet hours")))
    row = Hello().enqueue().delivery
    assert (row.status, row.queued, row.last_error) == (
        Status.CANCELLED, True, "Cancelled: quiet hours")
    assert mail.outbox == []
    assert Delivery.objects.get() == row
    assert heard[-1][2]["delivery"] == row and heard[-1][2]["queued"] is True


@pytest.mark.django_db(transaction=True)
def test_enqueue_sends_post_send_with_the_queued_row(heard):
    row = Hello(name="Queued").enqueue().delivery
    after = heard[-1][2]
    assert heard[-1][0] == "post_send"
    assert (after["result"], after["queued"], after["mailer"]) == (row, True, "transactional")
    assert mail.outbox[0].subject == "Hello Queued"  # the immediate backend ran it on commit


def test_send_failed_carries_the_delivery_error_which_is_raised_again(heard):
    message = Hello()
    with override_settings(MAILERS={"transactional": CLOSED}):
        with pytest.raises(TransientDeliveryError) as caught:
            message.send()
    assert [name for name, _s, _k in heard] == ["pre_send", "send_failed"]
    assert heard[1][2] == {"message": message, "mailer": "transactional",
                           "error": caught.value, "queued": False}


def test_send_failed_also_reports_rendering_errors(heard):
    message = Hello()
    message.template_name = "testapp/emails/nope"
    with pytest.raises(TemplateNotFound):
        message.send()
    assert heard[-1][0] == "send_failed"
    assert isinstance(heard[-1][2]["error"], TemplateNotFound)


# -- interceptors -------------------------------------------------------------

calls = []


def add_tag(email, message):
    calls.append((type(message).__name__, email.subject))
    email.subject = f"[test] {email.subject}"
    return email


def drop_promos(email, message):
    return None if isinstance(message, Promo) else email


class CountingInterceptor:
    instances = 0

    def __init__(self):
        type(self).instances += 1

    def __call__(self, email, message):
        email.extra_headers["X-Counted"] = str(type(self).instances)
        return email


@override_settings(TXMAIL={"INTERCEPTORS": ["tests.test_signals.add_tag"]})
def test_an_interceptor_sees_the_built_email_and_the_message_on_send_and_enqueue():
    calls.clear()
    Hello(name="Ada").send()
    Hello(name="Bob").enqueue()  # sent on commit, which never comes in this test
    assert calls == [("Hello", "Hello Ada"), ("Hello", "Hello Bob")]
    assert mail.outbox[0].subject == "[test] Hello Ada"
    assert Delivery.objects.get(queued=True).subject == "[test] Hello Bob"


@override_settings(TXMAIL={"INTERCEPTORS": ["tests.test_signals.drop_promos"]})
def test_an_interceptor_returning_none_cancels_the_message():
    sent = Promo().send()
    assert sent.cancelled == "The interceptor 'tests.test_signals.drop_promos' cancelled it."
    assert sent.email.subject == "Deals for Ann"  # it was built before the interceptor ran
    row = Delivery.objects.get()
    assert (row.status, row.subject, row.message_id) == (
        Status.CANCELLED, "Deals for Ann", sent.message_id)
    assert mail.outbox == []
    Hello().send()
    assert len(mail.outbox) == 1


@override_settings(TXMAIL={"INTERCEPTORS": ["tests.test_signals.CountingInterceptor"]})
def test_a_class_is_instantiated_once():
    CountingInterceptor.instances = 0
    Hello().send()
    Hello().send()
    assert [m.extra_headers["X-Counted"] for m in mail.outbox] == ["1", "1"]


@pytest.mark.parametrize(("setting", "message"), [
    ("tests.test_signals.add_tag",
     'TXMAIL["INTERCEPTORS"] must be a list of dotted paths, not '
     "'tests.test_signals.add_tag'. Write it as a list: \"INTERCEPTORS\": "
     "['tests.test_signals.add_tag']."),
    ([42], 'TXMAIL["INTERCEPTORS"] lists 42, which is not a dotted path. List each '
     'interceptor as a string such as "myproject.mail.redirect".'),
    (["tests.test_signals.nope"],
     "TXMAIL[\"INTERCEPTORS\"] lists 'tests.test_signals.nope', which could not be "
     "imported: Module \"tests.test_signals\" does not define a \"nope\" attribute/class. "
     "Fix the dotted path or remove it from the list."),
    (["tests.test_signals.calls"],
     "TXMAIL[\"INTERCEPTORS\"] lists 'tests.test_signals.calls', which is not callable. "
     "An interceptor is a function (or a class with __call__) taking (email, message)."),
])
def test_a_wrong_interceptors_setting_is_a_clear_error(setting, message):
    with override_settings(TXMAIL={"INTERCEPTORS": setting}):
        with pytest.raises(InterceptorConfigurationError) as caught:
            Hello().send()
    assert str(caught.value) == message
    assert mail.outbox == []


HOSTILE = "éééééééééé:Subject: URGENT wire money é <a@example.com>"


def hostile_reply_to(email, message):
    email.reply_to = [HOSTILE]
    return email


def header_with_a_line_break(email, message):
    email.extra_headers["X-Note"] = "=?utf-8?q?a=0ABcc:_victim@example.net?="
    return email


def drop_everyone(email, message):
    email.to, email.cc, email.bcc = [], [], []
    return email


@pytest.mark.parametrize(("interceptor", "error"), [
    ("hostile_reply_to", "Hello: reply_to address "),
    ("header_with_a_line_break", "Hello: header 'X-Note' (decoded) contains a line break"),
    ("drop_everyone", "Hello: an interceptor removed every recipient. Return None"),
])
def test_what_an_interceptor_returns_is_checked_like_a_built_message(interceptor, error):
    with override_settings(TXMAIL={"INTERCEPTORS": [f"tests.test_signals.{interceptor}"]}):
        with pytest.raises(TxmailError) as caught:
            Hello().send()
        with pytest.raises(TxmailError):
            Hello().enqueue()
    assert str(caught.value).startswith(error)
    assert mail.outbox == [] and not Delivery.objects.exists()


@pytest.mark.parametrize("signal", [post_send, send_failed])
def test_an_error_in_an_after_the_fact_receiver_is_logged_not_raised(signal, caplog):
    def broken(sender, **kwargs):
        raise RuntimeError("receiver bug")

    signal.connect(broken)
    try:
        if signal is post_send:
            sent = Hello().send()  # sent once, and send() says so
            assert [m.extra_headers["Message-ID"] for m in mail.outbox] == [sent.message_id]
        else:
            with override_settings(MAILERS={"transactional": CLOSED}), \
                    pytest.raises(TransientDeliveryError):  # the real error, not the bug
                Hello().send()
    finally:
        signal.disconnect(broken)
    [record] = [r for r in caplog.records if r.name == "txmail.delivery"]
    assert record.levelname == "ERROR" and "broken" in record.getMessage()
    assert str(record.exc_info[1]) == "receiver bug"


LONG_TO = ('"Lovelace-Byron, Augusta Ada, Countess of Lovelace, Analyst of the Engine, '
           'Poet" <ada@example.com>')


def plain_copy(built, message):
    """An interceptor returning another email (allowed: "or another one")."""
    return EmailMultiAlternatives(
        subject=built.subject, body=built.body, from_email=built.from_email, to=built.to,
        cc=built.cc, bcc=built.bcc, reply_to=built.reply_to,
        headers=dict(built.extra_headers), alternatives=built.alternatives)


def not_an_email(built, message):
    return "nope"


def test_another_email_from_an_interceptor_gets_txmails_address_headers():
    with override_settings(TXMAIL={"INTERCEPTORS": ["tests.test_signals.plain_copy"]}):
        Hello(to=[LONG_TO]).send()
    data = mail.outbox[0].message().as_bytes(policy=email.policy.SMTP)
    addresses = email.message_from_bytes(data, policy=email.policy.default)["To"].addresses
    # The stdlib's folder would split the quoted name into five addresses.
    assert [(a.display_name, a.addr_spec) for a in addresses] == [
        ("Lovelace-Byron, Augusta Ada, Countess of Lovelace, Analyst of the Engine, Poet",
         "ada@example.com")]
    with override_settings(TXMAIL={"INTERCEPTORS": ["tests.test_signals.not_an_email"]}):
        with pytest.raises(TxmailError) as caught:
            Hello().send()
    assert str(caught.value).startswith("Hello: an interceptor returned 'nope', not an email.")


def html_only(built, message):
    replacement = EmailMessage(subject=built.subject, body="<p>Redirected</p>",
                               from_email=built.from_email, to=built.to,
                               headers=dict(built.extra_headers))
    replacement.content_subtype = "html"  # Django's documented way to send HTML only
    return replacement


def test_another_email_from_an_interceptor_keeps_its_content_type():
    with override_settings(TXMAIL={"INTERCEPTORS": ["tests.test_signals.html_only"]}):
        Hello().send()
    data = mail.outbox[0].message().as_bytes(policy=email.policy.SMTP)
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    assert (parsed.get_content_type(), parsed.get_content().strip()) == (
        "text/html", "<p>Redirected</p>")
