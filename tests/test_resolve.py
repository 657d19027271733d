"""Resolve once: a message's hooks are read by Message.resolve() alone; the results of
send() and enqueue() say what happened; DeliveryOptions check themselves."""

import dataclasses
from collections import Counter

import pytest
from django.core import mail
from django.test import override_settings

from tests.testapp.emails import Hello
from txmail import DeliveryOptions, Draft, MessageConfigurationError, Queued
from txmail.delivery.models import Delivery, Status
from txmail.exceptions import CancelSend
from txmail.signals import pre_send
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
    # get_language and get_time_zone: once to activate them, once into the draft.
    expected = {name: 1 for name in HOOKS} | {"get_time_zone": 2, "get_language": 1}
    assert dict(calls) == expected
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


def test_a_pre_send_receiver_changes_what_is_resolved(on_pre_send):
    @on_pre_send
    def redirect(sender, message, **kwargs):
        message.to = ["ops@example.com"]

    Hello().send()
    assert [m.to for m in mail.outbox] == [["ops@example.com"]]


@pytest.fixture
def on_pre_send():
    connected = []

    def connect(receiver):
        pre_send.connect(receiver, weak=False)
        connected.append(receiver)
        return receiver

    yield connect
    for receiver in connected:
        pre_send.disconnect(receiver)
