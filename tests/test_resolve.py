"""Resolve once: a message's hooks are read by Message.resolve() alone; the results of
send() and enqueue() say what happened; DeliveryOptions check themselves."""

import dataclasses
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.db import connection, transaction
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from tests.testapp.emails import Hello
from txmail import DeliveryOptions, Draft, MessageConfigurationError, Queued
from txmail.delivery.models import Delivery, Status
from txmail.delivery.queue import deliver_queued
from txmail.exceptions import CancelSend, UnknownMailer
from txmail.suppression.check import suppress

pytestmark = pytest.mark.django_db

HOOKS = ("get_template_names", "get_context_data", "get_subject", "get_to", "get_cc",
         "get_bcc", "get_reply_to", "get_from_email", "get_headers", "get_attachments",
         "get_language", "get_time_zone", "get_mailer", "get_delivery_options")


def counting(cls):
    """A subclass of ``cls`` that counts the calls of each hook."""
    calls: Counter[str] = Counter()

    def wrap(name):
        def hook(self, *args, **kwargs):
            calls[name] += 1
            return getattr(super(counted, self), name)(*args, **kwargs)
        return hook

    counted = type(f"Counted{cls.__name__}", (cls,), {
        "__module__": __name__, **{name: wrap(name) for name in HOOKS}})
    return counted, calls


@pytest.mark.parametrize("way", ["send", "enqueue", "render", "message"])
def test_every_hook_is_read_once_whatever_the_way_out(way, django_capture_on_commit_callbacks):
    cls, calls = counting(Hello)
    with django_capture_on_commit_callbacks(execute=True):
        getattr(cls(name="Ada"), way)()
    assert dict(calls) == {name: 1 for name in HOOKS}
    if way in ("send", "enqueue"):
        assert [m.subject for m in mail.outbox] == ["Hello Ada"]


def test_resolve_returns_frozen_values():
    draft = Hello(name="Ada", cc=["bo@example.com"]).resolve()
    assert isinstance(draft, Draft)
    assert (draft.owner, draft.message_class, draft.mailer, draft.template_names) == (
        "Hello", "testapp.Hello", "transactional", ("testapp/emails/hello",))
    assert (draft.to, draft.cc, draft.subject) == (("ann@example.com",), ("bo@example.com",),
                                                   "Hello Ada")
    assert draft.options == DeliveryOptions(resend_if_unknown=False)
    assert draft.provider_options == {"tags": ["testapp.Hello"], "metadata": {},
                                      "esp_extra": None}
    with pytest.raises(dataclasses.FrozenInstanceError):
        draft.mailer = "marketing"  # type: ignore[misc]


def test_send_says_it_was_sent_cancelled_or_suppressed(on_pre_send):
    assert Hello().send().status == "sent"
    suppress("bo@example.com", "bounced")
    assert Hello(to=["bo@example.com"]).send().status == "suppressed"

    @on_pre_send
    def no(sender, **kwargs):
        raise CancelSend("quiet hours")

    assert Hello().send().status == "cancelled"
    assert [m.to for m in mail.outbox] == [["ann@example.com"]]


@pytest.mark.django_db(transaction=True)
def test_enqueue_returns_a_handle_whose_status_is_never_stale():
    # No transaction: the immediate task backend sends it inside enqueue().
    queued = Hello(name="Now").enqueue()
    assert isinstance(queued, Queued)
    row = Delivery.objects.get()
    assert (queued.delivery_id, queued.message_id) == (row.pk, row.message_id)
    assert queued.status == Status.SENT and queued.is_finished
    assert [m.subject for m in mail.outbox] == ["Hello Now"]


def test_the_handle_refreshes_its_status(django_capture_on_commit_callbacks):
    with override_settings(TXMAIL={"TASK_BACKEND": "db"}):  # stored, not run
        queued = Hello().enqueue()
    assert (queued.status, queued.is_finished) == (Status.QUEUED, False)
    Delivery.objects.filter(pk=queued.delivery_id).update(status=Status.CANCELLED)
    assert queued.refresh().status == Status.CANCELLED
    assert queued.delivery.status == Status.CANCELLED


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"priority": 101}, "DeliveryOptions(priority=101): priority must be an integer from "
                        "-100 to 100, or None."),
    ({"topic": ""}, "DeliveryOptions(topic=''): topic must be a non-empty string or None."),
    ({"queue_name": 5}, "DeliveryOptions(queue_name=5): queue_name must be a non-empty "
                        "string or None."),
    ({"respect_suppression": "no"}, "DeliveryOptions(respect_suppression='no'): "
                                    "respect_suppression must be True or False."),
    ({"tags": "receipt"}, "DeliveryOptions(tags='receipt'): tags must be a list of strings, "
                          "e.g. tags=['receipt']."),
    ({"send_at": datetime(2030, 1, 1)},
     "DeliveryOptions(send_at=datetime.datetime(2030, 1, 1, 0, 0)): send_at must be an aware "
     "datetime (e.g. django.utils.timezone.now() + timedelta(hours=1)), or None."),
    ({"delay": timedelta(seconds=-1)}, "DeliveryOptions(delay=datetime.timedelta(days=-1, "
                                       "seconds=86399)): delay must be a timedelta of zero or "
                                       "more, or None."),
    ({"expires_at": datetime(2030, 1, 1, tzinfo=UTC), "expires_after": timedelta(hours=1)},
     "DeliveryOptions: give expires_at or expires_after, not both."),
    ({"idempotency_key": ""}, "DeliveryOptions(idempotency_key=''): idempotency_key must be a "
                              "non-empty string of at most 200 characters, or None."),
    ({"idempotency_window": timedelta()}, "DeliveryOptions(idempotency_window=datetime."
                                          "timedelta(0)): idempotency_window must be a "
                                          "positive timedelta."),
])
def test_delivery_options_refuse_bad_values_with_the_fix(kwargs, message):
    with pytest.raises(MessageConfigurationError) as caught:
        DeliveryOptions(**kwargs)
    assert str(caught.value) == message


def test_a_class_whose_delivery_options_are_not_a_value_fails_when_defined():
    with pytest.raises(MessageConfigurationError) as caught:
        type("Bad", (Hello,), {"__module__": __name__, "delivery_options": {"topic": "x"}})
    assert str(caught.value) == (
        "Bad.delivery_options must be a txmail.DeliveryOptions, not {'topic': 'x'}: e.g. "
        "delivery_options = DeliveryOptions(queue_name='email').")


@pytest.mark.parametrize(("attribute", "fix"), [
    ("topic", "delivery_options = DeliveryOptions(topic=...)"),
    ("secret_body", "delivery_options = DeliveryOptions(secret_body=...)"),
    ("task_queue_name", "delivery_options = DeliveryOptions(queue_name=...)"),
    ("get_recipients", "get_to()"),
    ("get_topic", "get_delivery_options()"),
])
def test_an_attribute_of_earlier_releases_is_refused_with_its_new_place(attribute, fix):
    with pytest.raises(MessageConfigurationError) as caught:
        type("Old", (Hello,), {"__module__": __name__, attribute: True})
    assert str(caught.value) == (
        f"Old.{attribute} is no longer read: use {fix} instead (see CHANGELOG.md).")


def test_render_and_message_need_no_configured_mailer():
    class Elsewhere(Hello):
        mailer = "not-configured"

    assert Elsewhere(name="Ada").render().subject == "Hello Ada"
    assert Elsewhere(name="Ada").message().subject == "Hello Ada"
    with pytest.raises(UnknownMailer):
        Elsewhere().send()


def test_a_message_cancelled_by_pre_send_is_logged_with_what_its_hooks_say(on_pre_send):
    class Pinned(Hello):
        def get_to(self):
            return ["pinned@example.com"]

        def get_mailer(self):
            return "marketing"

    @on_pre_send
    def no(sender, **kwargs):
        raise CancelSend("not today")

    queued = Pinned(to=()).enqueue()
    row = queued.delivery
    assert (row.status, row.recipients, row.mailer) == (
        Status.CANCELLED, ["pinned@example.com"], "marketing")


def test_delivery_options_check_tags_and_provider_values():
    assert DeliveryOptions(tags=(t for t in ["a", "b"])).tags == ("a", "b")
    with pytest.raises(MessageConfigurationError) as caught:
        DeliveryOptions(metadata=["x"])
    assert str(caught.value) == (
        "DeliveryOptions(metadata=['x']): metadata must be a dict of JSON values.")
    with pytest.raises(MessageConfigurationError) as caught:
        DeliveryOptions(esp_extra={"when": object()})
    assert str(caught.value).startswith(
        "DeliveryOptions(esp_extra=...): esp_extra must hold JSON values only (")


@override_settings(TXMAIL={"SITE_URL": "https://shop.example.com"})
def test_a_test_send_unsubscribes_the_tester_never_the_sample_recipient():
    from tests.testapp.emails import Bulletin
    from txmail.bulk.tokens import make_token
    from txmail.outbox import send_test
    from txmail.preview.previews import make_preview

    preview = make_preview("testapp.Bulletin", Bulletin, "default", {}, None, lint=False,
                           to="qa@example.com")
    send_test(preview.draft, "qa@example.com", rendered=preview.rendered)
    [sent] = mail.outbox
    assert sent.to == ["qa@example.com"]
    header = sent.extra_headers["List-Unsubscribe"]
    assert make_token("qa@example.com", "bulletin") in header
    assert make_token("ann@example.com", "bulletin") not in header + sent.body


def test_a_pre_send_receiver_changes_what_is_resolved(on_pre_send):
    @on_pre_send
    def redirect(sender, message, **kwargs):
        message.to = ["ops@example.com"]

    Hello().send()
    assert [m.to for m in mail.outbox] == [["ops@example.com"]]




@pytest.mark.django_db(transaction=True)
def test_the_handle_says_queued_until_the_commit_then_sent_without_a_refresh():
    # The immediate task backend sends on commit: the same handle follows it.
    with transaction.atomic():
        queued = Hello(name="Later").enqueue()
        assert (queued.status, queued.is_finished, mail.outbox) == (Status.QUEUED, False, [])
    assert (queued.status, queued.is_finished) == (Status.SENT, True)
    assert [m.subject for m in mail.outbox] == ["Hello Later"]


def test_the_handle_follows_a_worker_without_a_refresh():
    with override_settings(TXMAIL={"TASK_BACKEND": "db"}):  # stored: a worker sends it
        queued = Hello().enqueue()
        assert queued.status == Status.QUEUED
        deliver_queued.call(queued.delivery_id)  # what the worker runs
    assert (queued.status, queued.is_finished) == (Status.SENT, True)
    with CaptureQueriesContext(connection) as queries:
        assert queued.status == Status.SENT  # final: no query
    assert len(queries) == 0


def test_send_and_enqueue_take_delivery_options_for_one_message(
        django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks():
        queued = Hello(to=["a@example.com"]).enqueue(priority=7, topic="news")
    row = Delivery.objects.get(pk=queued.delivery_id)
    assert (row.priority, row.topic) == (7, "news")
    assert Hello.delivery_options.priority is None  # the class's value is unchanged


@pytest.mark.parametrize(("call", "kwargs", "message"), [
    ("enqueue", {"sendat": None}, "Hello: 'sendat' is not a delivery option. Did you mean "
                                   "'send_at'? send() and enqueue() take the fields of "
                                   "txmail.DeliveryOptions: "),
    ("send", {"delay": timedelta(hours=1)}, "Hello.send() sends now, so it takes no 'delay': "
                                            "use enqueue(delay=...) to send later."),
    ("enqueue", {"priority": 500}, "DeliveryOptions(priority=500): priority must be an "
                                   "integer from -100 to 100, or None."),
])
def test_a_wrong_delivery_option_is_refused_and_nothing_is_logged(call, kwargs, message):
    with pytest.raises(MessageConfigurationError) as caught:
        getattr(Hello(to=["a@example.com"]), call)(**kwargs)
    assert str(caught.value).startswith(message)
    assert not Delivery.objects.exists() and not mail.outbox
