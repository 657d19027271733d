"""Idempotency keys: a second send()/enqueue() of a class and key sends nothing (issue #20).

In-process tests on the suite's database, sending to a real SMTP server on
loopback; the concurrent ones (threads, worker processes, PostgreSQL, Celery)
are in tests/test_idempotency_workers.py and tests/test_celery_idempotency.py.
"""

import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction
from django.test import TestCase, override_settings
from django.utils import timezone

from tests.test_providers import sendgrid  # noqa: F401 (a fixture)
from tests.testapp.emails import Hello
from txmail import DeliveryOptions, MessageConfigurationError, TransientDeliveryError
from txmail.delivery import queue
from txmail.delivery.idempotency import IdempotencyKey, expire_keys
from txmail.delivery.models import Delivery, Status
from txmail.exceptions import DeliveryOutcomeUnknown
from txmail.signals import post_send, pre_send, send_deduplicated
from txmail.testing import MailRecorder, MailTestMixin

pytestmark = pytest.mark.smtp


class Order:
    def __init__(self, pk):
        self.pk = pk


class Receipt(Hello):
    delivery_options = DeliveryOptions(idempotency_key="receipt/{order.pk}")

    def __init__(self, order, **kwargs):
        super().__init__(name=f"order {order.pk}", **kwargs)
        self.order = order


class Shipped(Receipt):
    """Another class with the same key template: its own keys."""


NAME = "tests.test_idempotency.Receipt"


@pytest.fixture
def server(smtp_server):
    with override_settings(MAILERS={"transactional": smtp_server.mailer()}):
        yield smtp_server


def test_the_class_template_is_filled_in_with_each_messages_attributes():
    assert Receipt(Order(7)).resolve().options.idempotency_key == "receipt/7"
    assert Receipt(Order(8)).resolve().options.idempotency_key == "receipt/8"


def test_a_key_given_to_enqueue_is_used_as_it_is():
    draft = Receipt(Order(7)).resolve(options={"idempotency_key": "literal/{order.pk}"})
    assert draft.options.idempotency_key == "literal/{order.pk}"


def test_a_template_naming_a_missing_attribute_says_which_and_the_fix():
    class Broken(Hello):
        delivery_options = DeliveryOptions(idempotency_key="receipt/{order.pk}")

    with pytest.raises(MessageConfigurationError) as caught:
        Broken().resolve()
    assert str(caught.value) == (
        "Broken: idempotency_key 'receipt/{order.pk}' can't be formatted (AttributeError: "
        "'Broken' object has no attribute 'order'). Each {name} must be an attribute of the "
        "message: set it in Broken.__init__(), or override get_idempotency_key() to return "
        "the key.")


def test_a_malformed_template_is_refused_when_the_class_is_defined():
    with pytest.raises(MessageConfigurationError) as caught:
        class Broken(Hello):
            delivery_options = DeliveryOptions(idempotency_key="receipt/{order.pk")
    assert str(caught.value).startswith(
        "Broken.delivery_options: idempotency_key 'receipt/{order.pk' is not a valid template")


def test_get_idempotency_key_computes_a_key_that_is_not_formatted():
    class ByHook(Hello):
        def get_idempotency_key(self, template):
            return "json/{not a field}"

    assert ByHook().resolve().options.idempotency_key == "json/{not a field}"


def test_send_twice_sends_one_message(server):
    first = Receipt(Order(1)).send()
    second = Receipt(Order(1)).send()
    assert len(server.received) == 1
    assert (first.status, second.status) == ("sent", "deduplicated")
    assert second.deduplicated == "receipt/1"
    assert (second.delivery_id, second.message_id) == (first.delivery_id, first.message_id)
    assert second.recipients == []
    row = Delivery.objects.get()
    assert (row.pk, row.status, row.duplicates) == (first.delivery_id, Status.SENT, 1)
    key = IdempotencyKey.objects.get()
    assert (key.message_class, key.key, key.delivery_id) == (NAME, "receipt/1", row.pk)


def test_another_key_or_another_class_sends_again(server):
    Receipt(Order(1)).send()
    Receipt(Order(2)).send()
    Shipped(Order(1)).send()
    assert len(server.received) == 3
    assert Delivery.objects.filter(duplicates=0).count() == 3


def test_enqueue_twice_stores_one_row_and_returns_its_handle(
        server, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = Receipt(Order(1)).enqueue()
        second = Receipt(Order(1)).enqueue()
    assert (first.delivery_id, first.message_id) == (second.delivery_id, second.message_id)
    assert (first.deduplicated, second.deduplicated) == (None, "receipt/1")
    assert second.status == "sent"
    assert len(server.received) == 1
    assert Delivery.objects.get().duplicates == 1


def test_send_then_enqueue_of_the_same_key_sends_once(server):
    first = Receipt(Order(1)).send()
    queued = Receipt(Order(1)).enqueue()
    assert queued.delivery_id == first.delivery_id and queued.deduplicated == "receipt/1"
    assert Delivery.objects.count() == 1 and len(server.received) == 1


def test_after_the_window_a_second_message_is_sent(server):
    class Hourly(Receipt):
        delivery_options = DeliveryOptions(idempotency_key="receipt/{order.pk}",
                                           idempotency_window=timedelta(hours=1))

    first = Hourly(Order(1)).send()
    key = IdempotencyKey.objects.get()
    assert key.expires_at - key.created_at == timedelta(hours=1)
    IdempotencyKey.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    second = Hourly(Order(1)).send()
    assert second.status == "sent" and second.delivery_id != first.delivery_id
    assert len(server.received) == 2
    assert IdempotencyKey.objects.get().delivery_id == second.delivery_id
    assert Hourly(Order(1)).send().status == "deduplicated"  # the new window holds it


def test_expired_keys_are_deleted_by_the_sweep(server):
    Receipt(Order(1)).send()
    Receipt(Order(2)).send()
    IdempotencyKey.objects.filter(key="receipt/1").update(expires_at=timezone.now())
    queue.sweep()
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["receipt/2"]
    assert expire_keys(timezone.now() + timedelta(days=2)) == 1


def test_a_rolled_back_first_call_lets_the_next_one_send(
        server, django_capture_on_commit_callbacks):
    with pytest.raises(RuntimeError), transaction.atomic():
        Receipt(Order(1)).enqueue()
        raise RuntimeError("the order's transaction failed")
    assert not IdempotencyKey.objects.exists() and not Delivery.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        handle = Receipt(Order(1)).enqueue()
    assert handle.deduplicated is None and handle.status == "sent"
    assert len(server.received) == 1


def test_a_failed_send_gives_the_key_back_for_a_retry(server):
    with override_settings(MAILERS={"transactional": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": 9, "timeout": 2}}}):
        with pytest.raises(TransientDeliveryError):
            Receipt(Order(1)).send()
    assert not IdempotencyKey.objects.exists()
    assert Receipt(Order(1)).send().status == "sent"
    assert len(server.received) == 1


@override_settings(TXMAIL={"LOG_SENDS": False})
def test_send_logs_a_keyed_message_even_with_log_sends_off(server):
    first = Receipt(Order(1)).send()
    assert first.delivery_id == Delivery.objects.get().pk
    assert Receipt(Order(1)).send().delivery_id == first.delivery_id
    assert Hello().send().delivery_id is None  # no key: not logged, as before


def test_a_deduplicated_call_gets_pre_send_and_send_deduplicated_not_post_send(server):
    seen = []

    def record(signal):
        def receiver(sender, **kwargs):
            seen.append((signal, kwargs.get("key"), kwargs.get("queued")))
        return receiver

    receivers = {signal: record(name) for signal, name in (
        (pre_send, "pre_send"), (post_send, "post_send"),
        (send_deduplicated, "send_deduplicated"))}
    for signal, receiver in receivers.items():
        signal.connect(receiver, weak=False)
    try:
        Receipt(Order(1)).send()
        seen.clear()
        Receipt(Order(1)).enqueue()
    finally:
        for signal, receiver in receivers.items():
            signal.disconnect(receiver)
    assert seen == [("pre_send", None, True), ("send_deduplicated", "receipt/1", True)]


def test_the_recorder_asserts_a_message_was_deduplicated(server):
    with MailRecorder() as sent_mail:
        Receipt(Order(1)).send()
        Receipt(Order(1)).send()
    sent_mail.assert_sent_count(1, Receipt)
    record = sent_mail.assert_deduplicated(Receipt, key="receipt/1", to="ann@example.com")
    assert record.result.status == "deduplicated"
    with pytest.raises(AssertionError) as caught:
        sent_mail.assert_deduplicated(Receipt, key="receipt/2")
    assert str(caught.value).startswith(
        "Expected Receipt(key='receipt/2') to be deduplicated; it was not.\nSent instead (2):")


def test_status_counts_the_deduplicated_calls(server):
    Receipt(Order(1)).send()
    for _ in range(3):
        Receipt(Order(1)).send()
    Receipt(Order(2)).send()
    Receipt(Order(2)).send()
    out = StringIO()
    call_command("txmail", "status", stdout=out)
    assert ("deduplicated: 4 calls sent nothing, their idempotency key held by 2 deliveries"
            in out.getvalue().splitlines())


def test_the_admin_filters_deduplicated_deliveries(server, admin_client, admin_urls):
    first = Receipt(Order(1)).send()
    Receipt(Order(1)).send()
    other = Receipt(Order(2)).send()
    page = admin_client.get("/admin/txmail/delivery/", {"deduplicated": "yes"})
    assert page.status_code == 200
    shown = [row.pk for row in page.context["cl"].result_list]
    assert shown == [first.delivery_id]
    page = admin_client.get("/admin/txmail/delivery/", {"deduplicated": "no"})
    assert [row.pk for row in page.context["cl"].result_list] == [other.delivery_id]


# -- providers --------------------------------------------------------------


class ResendHandler(BaseHTTPRequestHandler):
    """Resend's POST /emails: an id; records each request. 503 when told to."""

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.requests.append((self.path, dict(self.headers), json.loads(body)))
        status = self.server.statuses.pop(0) if self.server.statuses else 200
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        answer = {"id": f"re-{len(self.server.requests)}"} if status == 200 else {
            "name": "internal_server_error", "message": "try later"}
        self.wfile.write(json.dumps(answer).encode())

    def log_message(self, *args):
        pass


@pytest.fixture
def resend():
    server = ThreadingHTTPServer(("127.0.0.1", 0), ResendHandler)
    server.requests, server.statuses = [], []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    mailer = {"BACKEND": "txmail.backends.resend.EmailBackend",
              "OPTIONS": {"api_key": "re_test",
                          "api_url": f"http://127.0.0.1:{server.server_address[1]}/"}}
    with override_settings(MAILERS={"transactional": mailer}):
        yield server
    server.shutdown()
    server.server_close()


def test_resend_gets_the_key_in_its_idempotency_key_header(resend):
    sent = Receipt(Order(1)).send()
    assert Receipt(Order(1)).send().status == "deduplicated"
    ((path, headers, payload),) = resend.requests
    key = IdempotencyKey.objects.get()
    assert path == "/emails" and sent.provider_message_id == "re-1"
    assert headers["Idempotency-Key"] == key.provider_key
    assert key.provider_key.startswith(f"{NAME}/receipt/1/")  # and the window's start
    assert "receipt/1" not in json.dumps(payload)  # an HTTP header, not the email's


def test_a_retried_delivery_gives_resend_the_same_key(
        resend, django_capture_on_commit_callbacks):
    resend.statuses = [503]
    with django_capture_on_commit_callbacks(execute=True):
        handle = Receipt(Order(1)).enqueue()
    assert handle.refresh().status == Status.RETRYING
    Delivery.objects.update(next_attempt_at=timezone.now())
    queue.run(handle.delivery_id)
    assert handle.refresh().status == Status.SENT
    keys = [headers["Idempotency-Key"] for _path, headers, _payload in resend.requests]
    assert keys == [IdempotencyKey.objects.get().provider_key] * 2


def test_a_message_without_a_key_sends_resend_none(resend):
    Hello().send()
    ((_path, headers, _payload),) = resend.requests
    assert "Idempotency-Key" not in headers


def test_smtp_gets_no_trace_of_the_key(server):
    Receipt(Order(1)).send()
    (received,) = server.received
    assert "idempotency" not in received.data.decode().lower()
    assert "receipt/1" not in received.data.decode()


def test_an_unknown_outcome_keeps_the_key_so_a_retry_sends_nothing():
    from tests.faulty_smtp import FaultySMTPServer

    server = FaultySMTPServer(rates={"drop_after_dot": 1.0}).start()
    try:
        with override_settings(MAILERS={"transactional": server.mailer()}):
            with pytest.raises(DeliveryOutcomeUnknown):
                Receipt(Order(1)).send()
            again = Receipt(Order(1)).send()
    finally:
        server.stop()
    first = Delivery.objects.get()
    assert (first.status, again.status, again.delivery_id) == (
        Status.UNKNOWN, "deduplicated", first.pk)
    assert len(server.received) == 1  # the server may have it: not sent twice


class DeduplicatedTests(MailTestMixin, TestCase):
    def test_assert_deduplicated_in_djangos_spelling(self):
        first = Receipt(Order(3)).enqueue()
        again = Receipt(Order(3)).enqueue()
        self.assertEqual(repr(again), f"<Queued delivery={first.delivery_id} message_id="
                                      f"{first.message_id!r} status=(not read) "
                                      "deduplicated='receipt/3'>")
        self.assertDeduplicated(Receipt, key="receipt/3")
        self.assertEnqueued(Receipt)
        self.runQueued()
        self.assertSentCount(1, Receipt)


def test_sendgrid_which_takes_no_key_gets_none(sendgrid):  # noqa: F811
    Receipt(Order(1)).send()
    ((_path, headers, payload),) = sendgrid.requests
    assert "Idempotency-Key" not in headers
    assert "receipt/1" not in json.dumps(payload)


def test_a_key_whose_delivery_row_was_deleted_still_holds_and_answers_at_once(server):
    Receipt(Order(1)).send()
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(minutes=1))
    Delivery.objects.all().delete()  # the admin, or retention, within the window
    began = time.monotonic()
    again = Receipt(Order(1)).send()
    assert time.monotonic() - began < 2
    assert (again.status, again.delivery_id) == ("deduplicated", None)
    assert len(server.received) == 1
