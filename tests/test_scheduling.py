"""Scheduled sends, expiry and the last check, in the test process.

Rows on the "db" task backend (django-tasks-db: tasks are stored with their
``run_after``, nothing runs them) are sent by running the queue's task here;
the default immediate backend, which can't defer, leaves scheduled rows to
the sweep. The real worker processes are in tests/test_scheduling_workers.py.
"""

import time
from datetime import time as clock
from datetime import timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from tests.testapp.emails import Hello
from tests.testapp.models import Subscriber
from txmail import CancelSend, DeliveryOptions, MessageConfigurationError, local_time, registry
from txmail.delivery import queue
from txmail.delivery.models import Delivery, Status
from txmail.signals import send_cancelled

DB = {"TASK_BACKEND": "db"}


def run(queued):
    return queue.run(queued.delivery_id)


def row(queued):
    return Delivery.objects.get(pk=queued.delivery_id)


def run_after(queued):
    return [t.run_after for t in DBTaskResult.objects.order_by("enqueued_at")
            if t.args_kwargs["args"] == [queued.delivery_id]]


# -- scheduled ------------------------------------------------------------------------


@override_settings(TXMAIL=DB)
def test_a_delayed_message_is_scheduled_with_a_task_for_its_time(
        django_capture_on_commit_callbacks):
    before = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        queued = Hello().enqueue(delay=timedelta(hours=1))
    stored = row(queued)
    assert stored.status == Status.SCHEDULED == queued.status
    assert before + timedelta(hours=1) <= stored.send_at <= timezone.now() + timedelta(hours=1)
    assert stored.next_attempt_at == stored.send_at
    assert run_after(queued) == [stored.send_at]  # django-tasks-db defers it
    assert run(queued) == {}  # its task, run early, claims nothing
    assert row(queued).status == Status.SCHEDULED and not mail.outbox


@override_settings(TXMAIL=DB)
def test_another_tasks_drain_leaves_a_scheduled_row_alone():
    later = Hello(to=["later@example.com"]).enqueue(delay=timedelta(hours=1))
    now = Hello(to=["now@example.com"]).enqueue()
    assert run(now) == {"sent": 1}
    assert [m.to for m in mail.outbox] == [["now@example.com"]]
    assert row(later).status == Status.SCHEDULED


def test_without_defer_the_sweep_hands_a_scheduled_row_off_once_due(
        django_capture_on_commit_callbacks):
    # The immediate backend can't wait: the row waits for the sweep.
    with django_capture_on_commit_callbacks(execute=True):
        queued = Hello().enqueue(delay=timedelta(seconds=1))
    stored = row(queued)
    assert (stored.status, stored.needs_handoff, mail.outbox) == (Status.SCHEDULED, True, [])
    assert queue.sweep()["handed_off"] == 0  # not due yet
    time.sleep(max((stored.send_at - timezone.now()).total_seconds(), 0) + 0.05)
    assert queue.sweep()["handed_off"] == 1
    assert row(queued).status == Status.SENT and len(mail.outbox) == 1


@override_settings(TXMAIL=DB)
def test_the_class_option_sends_at_a_local_time_out_of_quiet_hours():
    class Digest(Hello):
        time_zone = "Asia/Tokyo"
        delivery_options = DeliveryOptions(send_at=local_time(22), quiet_hours=(clock(21),
                                                                               clock(8)))

    stored = row(Digest().enqueue())
    local = stored.send_at.astimezone(ZoneInfo("Asia/Tokyo"))
    assert (local.hour, local.minute) == (8, 0)  # 22:00 is quiet there: the end, 08:00
    assert stored.status == Status.SCHEDULED


@override_settings(TXMAIL=DB)
def test_a_send_time_in_the_past_sends_at_once():
    stored = row(Hello().enqueue(send_at=timezone.now() - timedelta(minutes=1)))
    assert stored.status == Status.QUEUED and stored.send_at is not None


def test_a_deadline_before_the_send_time_is_refused():
    with pytest.raises(MessageConfigurationError, match=r"^testapp.Hello: it would expire at .*, "
                       r"before its send time .*, so it could never be sent\. Give a later"):
        Hello().enqueue(delay=timedelta(hours=2), expires_after=timedelta(hours=1))
    assert not Delivery.objects.exists()


# -- expiry ---------------------------------------------------------------------------


@override_settings(TXMAIL=DB)
def test_a_row_past_its_deadline_at_hand_over_expires_unsent_with_the_reason():
    queued = Hello().enqueue(expires_after=timedelta(0), secret_body=True)
    assert run(queued) == {"expired": 1}
    stored = row(queued)
    assert stored.status == Status.EXPIRED and not mail.outbox
    assert stored.last_error.startswith("Not handed over by ")
    assert stored.last_error.endswith(", its deadline (DeliveryOptions.expires_at / "
                                      "expires_after): expired, never sent late.")
    assert stored.raw is None and stored.attempts == 0  # a secret goes with it


@override_settings(TXMAIL=DB)
def test_the_sweep_expires_rows_nobody_claimed():
    queued = Hello().enqueue(expires_after=timedelta(0))
    kept = Hello().enqueue(expires_after=timedelta(hours=1))
    assert queue.sweep()["expired"] == 1
    assert row(queued).status == Status.EXPIRED and row(kept).status == Status.QUEUED
    assert "no worker took it in time" in row(queued).last_error


def test_a_retry_that_would_come_after_the_deadline_expires_now():
    refused = {"BACKEND": "django.core.mail.backends.smtp.EmailBackend",
               "OPTIONS": {"host": "127.0.0.1", "port": 9, "timeout": 1}}  # nothing listens
    with override_settings(MAILERS={"transactional": refused, "default": refused},
                           TXMAIL={**DB, "RETRY_DELAY": 600}):
        queued = Hello().enqueue(expires_after=timedelta(minutes=1))
        assert run(queued) == {"expired": 1}
    stored = row(queued)
    assert stored.status == Status.EXPIRED and stored.attempts == 1
    assert stored.last_error.startswith("Expired: the next attempt would come after its "
                                        "deadline (")


# -- the last check -------------------------------------------------------------------


@pytest.fixture
def dispatch_notice():
    """A registered class whose last check reads a real row (a Subscriber as the order)."""

    class Dispatched(Hello):
        def __init__(self, order, **kwargs):
            super().__init__(to=[order.email], **kwargs)
            self.order = order

        def get_send_check(self):
            return {"order": self.order.pk}

        @classmethod
        def still_wanted(cls, data):
            if data.get("raise"):
                raise RuntimeError("the orders service is down")
            order = Subscriber.objects.get(pk=data["order"])
            if order.name == "refunded":
                raise CancelSend(f"order {order.pk} was refunded")
            return order.opted_in

    registry.register(Dispatched)
    yield Dispatched
    registry.unregister(Dispatched)


def order(name="open", opted_in=True):
    return Subscriber.objects.create(name=name, email=f"{name}@example.com", opted_in=opted_in)


@override_settings(TXMAIL=DB)
def test_the_last_check_cancels_a_message_no_longer_wanted(dispatch_notice):
    cancelled = []
    send_cancelled.connect(lambda sender, **kw: cancelled.append((sender, kw)), weak=False,
                           dispatch_uid="test-last-check")
    try:
        kept, dropped = order("kept"), order("dropped")
        kept_q = dispatch_notice(kept).enqueue()
        dropped_q = dispatch_notice(dropped).enqueue()
        dropped.opted_in = False  # cancelled after it was queued
        dropped.save()
        assert run(kept_q) == {"sent": 1, "cancelled": 1}
    finally:
        send_cancelled.disconnect(dispatch_uid="test-last-check")
    assert [m.to for m in mail.outbox] == [["kept@example.com"]]
    stored = row(dropped_q)
    assert stored.send_check == {"order": dropped.pk}
    assert stored.status == Status.CANCELLED
    assert stored.last_error == (f"Cancelled by the last check: {registry.name_of(dispatch_notice)}"
                                 f".still_wanted({{'order': {dropped.pk}}}) returned False: no "
                                 "longer wanted.")
    [(sender, kwargs)] = cancelled
    assert sender is dispatch_notice and kwargs["delivery"].pk == stored.pk
    assert kwargs["message"] is None and kwargs["queued"] is True


@override_settings(TXMAIL=DB)
def test_cancel_send_in_the_last_check_gives_the_reason(dispatch_notice):
    queued = dispatch_notice(order("refunded")).enqueue()
    assert run(queued) == {"cancelled": 1}
    assert row(queued).last_error.startswith("Cancelled by the last check: order ")
    assert row(queued).last_error.endswith(" was refunded")


@override_settings(TXMAIL=DB)
def test_a_last_check_that_raises_sends_nothing_and_tries_again(dispatch_notice):
    class Down(dispatch_notice):
        def get_send_check(self):
            return {"order": self.order.pk, "raise": True}

    registry.register(Down)
    try:
        queued = Down(order()).enqueue()
        assert run(queued) == {"retrying": 1}
    finally:
        registry.unregister(Down)
    stored = row(queued)
    assert stored.status == Status.RETRYING and stored.attempts == 1 and not mail.outbox
    assert stored.last_error.startswith(f"The last check ({registry.name_of(Down)}.still_wanted"
                                        "()) could not run: RuntimeError: the orders service "
                                        "is down. Not sent; tried again at ")
    assert stored.next_attempt_at > timezone.now()


@override_settings(TXMAIL={**DB, "MAX_ATTEMPTS": 1})
def test_a_class_gone_from_the_registry_fails_its_row_unsent(dispatch_notice):
    queued = dispatch_notice(order()).enqueue()
    registry.unregister(dispatch_notice)  # renamed or removed since it was queued
    assert run(queued) == {"failed": 1}
    stored = row(queued)
    assert stored.status == Status.FAILED and not mail.outbox
    assert "could not run: LookupError: No message class is registered as " in stored.last_error
    assert stored.last_error.endswith("Not sent; gave up after 1 attempts.")


def test_one_half_of_the_last_check_is_refused_when_the_class_is_defined():
    with pytest.raises(MessageConfigurationError, match=r"^Half defines get_send_check\(\) "
                       r"but not still_wanted\(\): the last check needs both"):
        class Half(Hello):
            def get_send_check(self):
                return {"order": 1}


def test_last_check_data_must_be_json(dispatch_notice):
    class Objects(dispatch_notice):
        def get_send_check(self):
            return {"order": self.order}

    with pytest.raises(MessageConfigurationError, match=r"^Objects.get_send_check\(\) must "
                       r"return JSON values, such as ids"):
        Objects(order()).enqueue()


# -- cancel and reschedule ------------------------------------------------------------


@override_settings(TXMAIL=DB)
def test_the_handle_reschedules_and_cancels_until_a_worker_claims_it(
        django_capture_on_commit_callbacks):
    queued = Hello().enqueue(delay=timedelta(hours=1))
    when = timezone.now() + timedelta(hours=3)
    with django_capture_on_commit_callbacks(execute=True):
        assert queued.reschedule(when) is True
    stored = row(queued)
    assert (stored.status, stored.send_at, stored.next_attempt_at) == (Status.SCHEDULED, when,
                                                                      when)
    assert run_after(queued)[-1] == when  # a task for the new time
    assert queued.reschedule(timedelta(0)) is True and queued.status == Status.QUEUED
    Delivery.objects.filter(pk=queued.delivery_id).update(status=Status.SENDING)  # claimed
    assert queued.reschedule(when) is False and queued.cancel() is False
    Delivery.objects.filter(pk=queued.delivery_id).update(status=Status.SCHEDULED)
    assert queued.cancel("the customer unsubscribed") is True
    assert queued.status == Status.CANCELLED
    assert row(queued).last_error == "Cancelled: the customer unsubscribed"


@override_settings(TXMAIL=DB)
def test_a_reschedule_past_the_deadline_is_refused():
    queued = Hello().enqueue(delay=timedelta(minutes=1), expires_after=timedelta(minutes=30))
    assert queued.reschedule(timedelta(hours=1)) is False
    assert row(queued).status == Status.SCHEDULED


def txmail(*args):
    out, err = StringIO(), StringIO()
    try:
        call_command("txmail", *args, stdout=out, stderr=err)
    except CommandError as exc:
        return out.getvalue(), err.getvalue(), str(exc)
    return out.getvalue(), err.getvalue(), None


@override_settings(TXMAIL=DB)
def test_the_command_reschedules_and_names_what_it_left():
    waiting = Hello().enqueue(delay=timedelta(hours=1))
    sent = Hello().enqueue()
    Delivery.objects.filter(pk=sent.delivery_id).update(status=Status.SENT)
    before = timezone.now()
    out, err, error = txmail("reschedule", str(waiting.delivery_id), str(sent.delivery_id),
                             "999", "+1h30m")
    assert out.startswith("1 rescheduled for ") and out.endswith(f": {waiting.delivery_id}.\n")
    assert timedelta(minutes=90) <= row(waiting).send_at - before < timedelta(minutes=91)
    assert err == (f"Not rescheduled: {sent.delivery_id} (sent): it has ended; only queued, "
                   "scheduled, throttled or retrying messages can be rescheduled.\n")
    assert error.startswith("No delivery 999: nothing rescheduled for it.")
    out, _err, _error = txmail("reschedule", str(waiting.delivery_id), "2031-01-02T09:00")
    assert row(waiting).send_at == timezone.make_aware(
        timezone.datetime(2031, 1, 2, 9, 0))  # settings.TIME_ZONE
    assert txmail("reschedule", str(waiting.delivery_id), "soon")[2] == (
        "'soon' is not a time: give an ISO datetime (2026-12-24T09:00, or with an offset: "
        "2026-12-24T09:00+01:00), 'now', or a delay such as +30m, +2h, +1d.")


@override_settings(TXMAIL=DB)
def test_the_command_cancels_a_scheduled_message_and_status_shows_the_next_one():
    first = Hello().enqueue(delay=timedelta(hours=1))
    Hello().enqueue(delay=timedelta(hours=2))
    lines = txmail("status")[0].splitlines()
    scheduled = [line for line in lines if line.startswith("next scheduled at ")]
    assert len(scheduled) == 1 and scheduled[0].endswith(" (2 waiting for their send time)")
    assert not any(line.startswith("next retry at ") for line in lines)
    assert txmail("cancel", str(first.delivery_id))[0] == f"1 cancelled: {first.delivery_id}.\n"
    assert row(first).status == Status.CANCELLED


@override_settings(TXMAIL=DB)
def test_the_admin_reschedules_from_a_page_asking_when(admin_client, admin_urls):
    queued = Hello().enqueue(delay=timedelta(hours=1))
    data = {"action": "reschedule", "_selected_action": [queued.delivery_id]}
    page = admin_client.post("/admin/txmail/delivery/", data)
    assert page.status_code == 200
    text = page.content.decode()
    assert 'type="datetime-local"' in text and "1 of the selected messages can be" in text
    with timezone.override("Europe/Paris"):
        done = admin_client.post("/admin/txmail/delivery/", {
            **data, "apply": "1", "when": "2031-05-01T10:30"}, follow=True)
    assert "1 message rescheduled for " in done.content.decode()
    assert row(queued).send_at == timezone.datetime(2031, 5, 1, 10, 30,
                                                    tzinfo=ZoneInfo("Europe/Paris"))


@override_settings(TXMAIL=DB)
def test_the_admin_filters_by_the_new_statuses(admin_client, admin_urls):
    Hello(name="Later").enqueue(delay=timedelta(hours=1))
    Hello(name="Now").enqueue()
    text = admin_client.get("/admin/txmail/delivery/", {"status__exact": "scheduled"}
                            ).content.decode()
    assert "Hello Later" in text and "Hello Now" not in text
    assert "?status__exact=expired" in text  # the filter offers it


# -- the test helpers -----------------------------------------------------------------


@override_settings(TXMAIL=DB)
def test_the_recorder_asserts_scheduled_and_expired(sent_mail):
    when = timezone.now() + timedelta(days=1)
    Hello(to=["later@example.com"]).enqueue(send_at=when)
    code = Hello(to=["code@example.com"]).enqueue(expires_after=timedelta(0))
    record = sent_mail.assert_scheduled(Hello, to="later@example.com", at=when)
    assert record.send_at == when
    sent_mail.assert_scheduled(Hello, between=(when - timedelta(seconds=1), when))
    with pytest.raises(AssertionError, match=r"^Expected Hello\(to='code@example.com'\) to be "
                       r"scheduled; it was not\.\nSent instead \(2\):\n  - Hello to "
                       r"\['later@example.com'\].*\[scheduled by enqueue\(\) for "):
        sent_mail.assert_scheduled(Hello, to="code@example.com")
    queue.sweep()
    expired = sent_mail.assert_expired(Hello, to="code@example.com")
    assert expired.reason.startswith("Not handed over by ")
    assert code.status == Status.EXPIRED


def test_a_last_check_on_the_instance_is_refused_when_the_class_is_defined():
    with pytest.raises(MessageConfigurationError, match=r"^Plain.still_wanted must be a "
                       r"classmethod: the worker has the data get_send_check\(\) stored"):
        class Plain(Hello):
            def get_send_check(self):
                return {"order": 1}

            def still_wanted(self, data):
                return True


@override_settings(TXMAIL=DB)
def test_a_scheduled_deliverys_page_has_reschedule_and_cancel_buttons(admin_client,
                                                                      admin_urls):
    queued = Hello().enqueue(delay=timedelta(hours=1))
    sent = Hello().enqueue()
    Delivery.objects.filter(pk=sent.delivery_id).update(status=Status.SENT)
    text = admin_client.get(f"/admin/txmail/delivery/{queued.delivery_id}/change/"
                            ).content.decode()
    assert 'name="action" value="reschedule"' in text and "Scheduled for" in text
    assert 'name="action" value="cancel"' not in admin_client.get(
        f"/admin/txmail/delivery/{sent.delivery_id}/change/").content.decode()
    done = admin_client.post("/admin/txmail/delivery/", {
        "action": "cancel", "_selected_action": [queued.delivery_id]}, follow=True)
    assert "1 message cancelled." in done.content.decode()
    assert row(queued).status == Status.CANCELLED
