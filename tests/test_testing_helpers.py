"""txmail.testing: the recorder behind the sent_mail fixture and MailTestMixin."""

import pytest
from django.core import mail
from django.test import TestCase, override_settings

from tests.testapp.emails import Hello, Promo
from txmail import TransientDeliveryError
from txmail.delivery.models import Status
from txmail.exceptions import CancelSend
from txmail.signals import pre_send
from txmail.suppression.check import suppress
from txmail.testing import MailRecorder, MailTestMixin

CLOSED = {"BACKEND": "django.core.mail.backends.smtp.EmailBackend",
          "OPTIONS": {"host": "127.0.0.1", "port": 9, "timeout": 2}}


def assert_fails(call, message):
    with pytest.raises(AssertionError) as caught:
        call()
    assert str(caught.value) == message


def test_the_fixture_records_what_was_sent_with_its_rendering_and_context(sent_mail):
    message = Hello(name="Ada", to=["ada@example.com"])
    message.send()
    sent = sent_mail.assert_sent(Hello, to="ada@example.com")
    assert sent.message is message and sent.message_class is Hello
    assert sent.context["name"] == "Ada" and sent.context["message"] is message
    assert (sent.subject, sent.mailer, sent.status, sent.queued) == (
        "Hello Ada", "transactional", "sent", False)
    assert "Hello Ada!" in sent.text and '<p class="greeting"' in sent.html
    message_id = sent.email.extra_headers["Message-ID"]
    assert sent.result.message_id == mail.outbox[0].extra_headers["Message-ID"] == message_id
    assert sent_mail.sent == [sent] and len(sent_mail) == 1


def test_fields_match_addresses_subject_mailer_context_and_a_function(sent_mail):
    Hello(name="Ada", to=["Ada <ADA@example.com>", "bob@example.com"], cc=["c@example.com"]).send()
    assert sent_mail.assert_sent(to="ada@example.com")  # one address: among them
    sent_mail.assert_sent(Hello, to=["bob@example.com", "ada@example.com"])  # a list: exactly
    sent_mail.assert_not_sent(Hello, to=["ada@example.com"])
    sent_mail.assert_sent(cc="c@example.com", subject="Hello Ada", mailer="transactional",
                          from_email="shop@example.com", context={"name": "Ada"},
                          where=lambda sent: "Get started" in sent.text)
    sent_mail.assert_not_sent(Hello, context={"name": "Bob"})
    sent_mail.assert_not_sent(Promo)
    with pytest.raises(TypeError) as caught:
        sent_mail.assert_sent(Hello, recipient="ada@example.com")
    assert str(caught.value) == (
        "Unknown field(s) 'recipient'; match on 'to', 'cc', 'bcc', 'from_email', 'subject', "
        "'mailer', 'context', 'where' (where=lambda sent: ... for anything else).")


def test_a_subclass_counts_as_its_base(sent_mail):
    class LoudHello(Hello):
        abstract = True  # not registered
        subject = "HELLO {{ name }}"

    LoudHello().send()
    sent_mail.assert_sent(Hello, subject="HELLO Ann")
    sent_mail.assert_not_sent(LoudHello, subject="Hello Ann")


def test_assert_sent_lists_what_was_sent_instead(sent_mail):
    assert_fails(lambda: sent_mail.assert_sent(Hello, to="ada@example.com"),
                 "Expected Hello(to='ada@example.com') to be sent; it was not.\n"
                 "Nothing was sent.")
    Hello(name="Bob", to=["bob@example.com"]).send()
    Promo(to=["eve@example.com"]).send()
    assert_fails(lambda: sent_mail.assert_sent(Hello, to="ada@example.com"),
                 "Expected Hello(to='ada@example.com') to be sent; it was not.\n"
                 "Sent instead (2):\n"
                 "  - Hello to ['bob@example.com'], subject 'Hello Bob' "
                 "[sent by send() via 'transactional']\n"
                 "  - Promo to ['eve@example.com'], subject 'Deals for Ann' "
                 "[sent by send() via 'marketing']")


def test_assert_not_sent_and_assert_sent_count(sent_mail):
    Hello().send()
    Hello(to=["bob@example.com"]).send()
    assert len(sent_mail.assert_sent_count(2, Hello)) == 2
    sent_mail.assert_sent_count(1, Hello, to="bob@example.com")
    sent_mail.assert_sent_count(0, Promo)
    assert_fails(lambda: sent_mail.assert_sent_count(1),
                 "Expected 1 message sent; 2 were.\nSent instead (2):\n"
                 "  - Hello to ['ann@example.com'], subject 'Hello Ann' "
                 "[sent by send() via 'transactional']\n"
                 "  - Hello to ['bob@example.com'], subject 'Hello Ann' "
                 "[sent by send() via 'transactional']")
    with pytest.raises(AssertionError) as caught:
        sent_mail.assert_not_sent(Hello, to="bob@example.com")
    assert str(caught.value).startswith(
        "Expected no Hello(to='bob@example.com') to be sent; 1 were.\nSent instead (2):\n")


def test_enqueued_messages_are_asserted_then_run_like_a_worker(sent_mail):
    Hello(name="Ada", to=["ada@example.com"]).enqueue()
    queued = sent_mail.assert_enqueued(Hello, to="ada@example.com")
    assert (queued.status, queued.delivery.status, queued.context["name"]) == (
        "queued", Status.QUEUED, "Ada")
    assert mail.outbox == []  # the transaction never commits in this test
    assert_fails(lambda: sent_mail.assert_sent(Hello),
                 "Expected Hello to be sent; it was not.\nSent instead (1):\n"
                 "  - Hello to ['ada@example.com'], subject 'Hello Ada' "
                 "[queued by enqueue() via 'transactional']")
    assert_fails(sent_mail.assert_nothing_sent,
                 "Expected nothing to be sent.\nSent instead (1):\n"
                 "  - Hello to ['ada@example.com'], subject 'Hello Ada' "
                 "[queued by enqueue() via 'transactional']")

    assert sent_mail.run_queued() == [queued]
    assert [m.subject for m in mail.outbox] == ["Hello Ada"]
    assert (queued.status, queued.delivery.status) == ("sent", Status.SENT)
    sent_mail.assert_sent(Hello, to="ada@example.com")
    sent_mail.assert_enqueued(Hello)  # still: it went through enqueue()
    assert sent_mail.run_queued() == []  # nothing left to run
    assert len(mail.outbox) == 1


def test_assert_enqueued_does_not_match_sent_messages(sent_mail):
    Hello().send()
    assert_fails(lambda: sent_mail.assert_enqueued(Hello),
                 "Expected Hello to be enqueued; it was not.\nSent instead (1):\n"
                 "  - Hello to ['ann@example.com'], subject 'Hello Ann' "
                 "[sent by send() via 'transactional']")


def test_cancelled_and_failed_messages_are_recorded_but_not_sent(sent_mail):
    def cancel(sender, message, **kwargs):
        if isinstance(message, Promo):
            raise CancelSend("Promos are off.")

    pre_send.connect(cancel)
    try:
        Promo().send()
    finally:
        pre_send.disconnect(cancel)
    with override_settings(MAILERS={"transactional": CLOSED}), \
            pytest.raises(TransientDeliveryError):
        Hello().send()
    sent_mail.assert_nothing_sent()
    assert [r.status for r in sent_mail] == ["cancelled", "failed"]
    assert sent_mail.cancelled[0].reason == "Promos are off."
    assert isinstance(sent_mail.failed[0].error, TransientDeliveryError)
    with pytest.raises(AssertionError) as caught:
        sent_mail.assert_sent(Promo)
    assert str(caught.value).startswith(
        "Expected Promo to be sent; it was not.\nSent instead (2):\n"
        "  - Promo to ['ann@example.com'] [cancelled by send() via 'marketing': "
        "Promos are off.]\n"
        "  - Hello to ['ann@example.com'] [failed by send() via 'transactional': "
        "TransientDeliveryError: mailer 'transactional' (127.0.0.1:9) could not send")


def test_a_stopped_recorder_records_nothing():
    with MailRecorder() as recorder:
        Hello().send()
    Hello().send()
    assert len(recorder) == 1
    recorder.clear()
    recorder.assert_nothing_sent()


class MixinTests(MailTestMixin, TestCase):
    def setUp(self):
        pass  # no super(): the recorder is started anyway

    def test_assertions_in_django_spelling(self):
        self.assertNothingSent()
        Hello(to=["ada@example.com"]).send()
        sent = self.assertSent(Hello, to="ada@example.com")
        self.assertEqual(sent.context["name"], "Ann")
        self.assertNotSent(Promo)
        self.assertSentCount(1, Hello)
        Promo().enqueue()
        self.assertEnqueued(Promo)
        self.assertEqual([r.status for r in self.runQueued()], ["sent"])
        self.assertSentCount(2)
        with self.assertRaisesMessage(AssertionError, "Expected no Promo to be sent; 1 were."):
            self.assertNotSent(Promo)

    def test_each_test_has_its_own_recorder(self):
        self.assertEqual(len(self.sent_mail), 0)


def test_a_send_to_suppressed_recipients_only_is_recorded_as_suppressed(sent_mail):
    suppress("ann@example.com", "bounced")
    Hello().send()
    assert mail.outbox == []
    assert [r.status for r in sent_mail] == ["suppressed"]
    sent_mail.assert_not_sent(Hello)
    sent_mail.assert_nothing_sent()
    assert sent_mail.suppressed[0].result.suppressed == {"ann@example.com": "bounced"}


def test_a_queued_message_sent_on_commit_is_recorded_as_sent(
        sent_mail, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        Hello(name="Ada").enqueue()
    assert [m.subject for m in mail.outbox] == ["Hello Ada"]
    record = sent_mail.assert_sent(Hello)
    assert (record.status, record.queued, record.delivery.status) == (
        "sent", True, Status.SENT)
    assert sent_mail.run_queued() == []  # nothing left to run


@pytest.mark.django_db(transaction=True)
def test_a_queued_message_sent_inside_enqueue_is_recorded_as_sent(sent_mail):
    # No transaction: on_commit runs the immediate task inside enqueue(), before
    # post_send makes the record.
    Hello(name="Ada").enqueue()
    assert [m.subject for m in mail.outbox] == ["Hello Ada"]
    assert sent_mail.assert_sent(Hello).status == "sent"
