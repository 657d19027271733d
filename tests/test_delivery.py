"""The delivery layer in one process: the log, enqueue(), claims, retries, admin, command.

Real parts: aiosmtpd on loopback, Django's test client, Django's immediate task
backend (tasks run in-process when the transaction commits). Worker processes
and injected faults are in test_delivery_faults.py.
"""

import asyncio
import signal
import smtplib
import threading
import time
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from tests.smtp import ScriptedServer, SMTPServer
from tests.testapp.emails import Hello
from txmail import DeliveryOptions, PermanentDeliveryError, TransientDeliveryError
from txmail.delivery import queue, send, shutdown
from txmail.delivery.models import Delivery, Status
from txmail.exceptions import DeliveryNotFound, MessageConfigurationError

pytestmark = pytest.mark.smtp


@pytest.fixture
def server():
    server = ScriptedServer().start()
    with override_settings(MAILERS={a: server.mailer() for a in ("default", "transactional")}):
        yield server
    server.stop()


def arrived(server):
    return [r.message["Subject"] for r in server.received]


def test_send_writes_one_log_row(server):
    sent = Hello(name="Ada").send()
    row = Delivery.objects.get()
    assert (row.status, row.message_class, row.mailer, row.sent_via) == (
        Status.SENT, "testapp.Hello", "transactional", "transactional")
    assert row.recipients == ["ann@example.com"]
    assert row.message_id == sent.message_id == server.received[0].message["Message-ID"]
    assert row.subject == "Hello Ada"
    assert row.raw is None and sent.delivery_id == row.pk
    assert row.queued is False and row.attempts == 1 and row.sent_at is not None


@override_settings(TXMAIL={"LOG_SENDS": False})
def test_send_logging_can_be_switched_off(server):
    assert Hello().send().delivery_id is None
    assert Delivery.objects.count() == 0
    assert arrived(server) == ["Hello Ann"]


def test_send_failure_is_logged_and_names_the_mailer():
    with override_settings(MAILERS={"transactional": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": 9, "timeout": 2}}}):
        with pytest.raises(TransientDeliveryError) as caught:
            Hello().send()
    assert str(caught.value).startswith(
        "mailer 'transactional' (127.0.0.1:9) could not send the message for now "
        "(ConnectionRefusedError: [Errno 111] Connection refused).")
    assert isinstance(caught.value.__cause__, ConnectionRefusedError)
    row = Delivery.objects.get()
    assert row.status == Status.FAILED
    assert "ConnectionRefusedError" in row.last_error


def test_permanent_refusal_raises_and_is_logged(server):
    server.replies = ["554 5.7.1 Message rejected as spam"]
    with pytest.raises(PermanentDeliveryError, match="refused the message"):
        Hello().send()
    assert isinstance(PermanentDeliveryError("x"), ValueError)
    assert Delivery.objects.get().status == Status.FAILED
    assert server.received == []


@pytest.mark.django_db(transaction=True)
def test_enqueue_sends_once_when_the_transaction_commits(server):
    with transaction.atomic():
        row = Hello(name="Queued").enqueue().delivery
        assert arrived(server) == []  # not before the commit
    row.refresh_from_db()
    assert arrived(server) == ["Hello Queued"]
    assert (row.status, row.queued, row.attempts) == (Status.SENT, True, 1)
    assert row.raw is None  # the body (secrets) is dropped once sent
    assert server.received[0].message["Message-ID"] == row.message_id


@pytest.mark.django_db(transaction=True)
def test_enqueue_in_a_rolled_back_transaction_sends_nothing(server):
    with pytest.raises(RuntimeError), transaction.atomic():
        Hello(name="Never").enqueue()
        raise RuntimeError("the signup failed")
    assert arrived(server) == []
    assert Delivery.objects.count() == 0


@pytest.mark.django_db(transaction=True)
@override_settings(TXMAIL={"KEEP_BODIES": True})
def test_keep_bodies_keeps_the_sent_bytes(server):
    row = Hello().enqueue().delivery
    row.refresh_from_db()
    assert bytes(row.raw) == server.received[0].data.replace(b"\n", b"\r\n") or \
        bytes(row.raw).replace(b"\r\n", b"\n") == server.received[0].data.replace(b"\r\n", b"\n")


@pytest.mark.django_db(transaction=True)
def test_a_rendered_message_survives_its_model_instance(server):
    user = get_user_model().objects.create(username="ada", email="ada@example.com")
    with transaction.atomic():
        row = Hello(name=user.username, to=[user.email]).enqueue().delivery
        user.delete()  # the queue carries the built email, not the instance
    row.refresh_from_db()
    assert row.status == Status.SENT and arrived(server) == ["Hello ada"]


def queued_row(**fields):
    """A queued row whose task hasn't run (the hand-off is captured, not executed)."""
    with transaction.atomic():
        row = Hello(**fields).enqueue().delivery
        transaction.set_rollback(False)
    return row


def test_running_the_same_task_twice_sends_once(server, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        row = Hello(name="Twice").enqueue().delivery
    queue.run(row.pk)
    queue.run(row.pk)
    assert arrived(server) == ["Hello Twice"]
    row.refresh_from_db()
    assert (row.status, row.attempts) == (Status.SENT, 1)


def test_one_task_drains_other_ready_rows(server, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        rows = [Hello(name=f"n{i}").enqueue().delivery for i in range(5)]
    counts = queue.run(rows[0].pk)
    assert counts == {"sent": 5}
    assert sorted(arrived(server)) == [f"Hello n{i}" for i in range(5)]
    assert queue.run(rows[3].pk) == {}  # its own task finds nothing left to do


def test_transient_failure_is_retried_with_backoff(server, django_capture_on_commit_callbacks):
    server.replies = ["451 4.3.0 Try again later"]
    with django_capture_on_commit_callbacks(execute=False):
        row = Hello(name="Later").enqueue().delivery
    before = timezone.now()
    assert queue.run(row.pk) == {"retrying": 1}
    row.refresh_from_db()
    assert row.status == Status.RETRYING and row.attempts == 1
    assert "451" in row.last_error and "mailer 'transactional'" in row.last_error
    # RETRY_DELAY (30 s) * 2 ** 0, with ±50 % jitter.
    assert before + timedelta(seconds=14) < row.next_attempt_at < before + timedelta(seconds=46)
    assert queue.run(row.pk) == {}  # not due yet: nothing happens
    Delivery.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
    assert queue.run(row.pk) == {"sent": 1}
    row.refresh_from_db()
    assert (row.status, row.attempts, row.last_error) == (Status.SENT, 2, "")
    assert arrived(server) == ["Hello Later"]


@override_settings(TXMAIL={"MAX_ATTEMPTS": 2})
def test_transient_failures_give_up_after_max_attempts(server,
                                                       django_capture_on_commit_callbacks):
    server.replies = ["421 4.7.0 Busy", "421 4.7.0 Busy"]
    with django_capture_on_commit_callbacks(execute=False):
        row = Hello().enqueue().delivery
    queue.run(row.pk)
    Delivery.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
    assert queue.run(row.pk) == {"failed": 1}
    row.refresh_from_db()
    assert row.status == Status.FAILED
    assert row.last_error.startswith("gave up after 2 attempts: TransientDeliveryError")
    assert server.received == []


def test_permanent_failure_fails_at_once(server, django_capture_on_commit_callbacks):
    server.replies = ["550 5.1.1 No such user"]
    with django_capture_on_commit_callbacks(execute=False):
        row = Hello().enqueue().delivery
    assert queue.run(row.pk) == {"failed": 1}
    row.refresh_from_db()
    assert row.status == Status.FAILED and row.attempts == 1
    assert "550 5.1.1 No such user" in row.last_error


def test_a_deleted_row_fails_its_task_clearly(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        row = Hello().enqueue().delivery
    Delivery.objects.filter(pk=row.pk).delete()
    with pytest.raises(DeliveryNotFound, match=f"Delivery {row.pk} does not exist"):
        queue.run(row.pk)


def test_sweep_requeues_stale_claims_and_marks_handed_over_ones_unknown(
        server, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        claimed, handed = Hello(name="a").enqueue().delivery, Hello(name="b").enqueue().delivery
    long_ago = timezone.now() - timedelta(hours=1)
    Delivery.objects.filter(pk=claimed.pk).update(
        status=Status.SENDING, claim_token="dead", claimed_at=long_ago)
    Delivery.objects.filter(pk=handed.pk).update(
        status=Status.SENDING, claim_token="dead", claimed_at=long_ago,
        handed_over_at=long_ago)
    with django_capture_on_commit_callbacks(execute=True):
        found = queue.sweep()
    assert found == {"requeued": 1, "resent": 0, "unknown": 1, "handed_off": 1,
                     "bodies_dropped": 0}
    claimed.refresh_from_db()
    handed.refresh_from_db()
    assert claimed.status == Status.SENT and arrived(server) == ["Hello a"]
    assert handed.status == Status.UNKNOWN and "may or may not" in handed.last_error


class Resent(Hello):
    delivery_options = DeliveryOptions(resend_if_unknown=True)


def test_sweep_sends_an_ambiguous_message_again_with_the_same_message_id_if_asked(
        server, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        row = Resent(name="a").enqueue().delivery
        spent = Resent(name="b").enqueue().delivery
    assert row.resend_if_unknown
    long_ago = timezone.now() - timedelta(hours=1)
    for each, attempts in ((row, 1), (spent, row.max_attempts)):
        Delivery.objects.filter(pk=each.pk).update(
            status=Status.SENDING, claim_token="dead", claimed_at=long_ago,
            handed_over_at=long_ago, attempts=attempts)
    with django_capture_on_commit_callbacks(execute=True):
        found = queue.sweep()
    assert found == {"requeued": 0, "resent": 1, "unknown": 1, "handed_off": 1,
                     "bodies_dropped": 0}
    row.refresh_from_db()
    spent.refresh_from_db()
    assert (row.status, row.attempts) == (Status.SENT, 2)
    [received] = server.received
    assert received.message["Message-ID"] == row.message_id  # the same bytes again
    assert spent.status == Status.UNKNOWN  # no attempts left: not sent a third time


def test_partial_refusal_is_reported_not_raised(server):
    async def handle_rcpt(srv, session, envelope, address, rcpt_options):
        if address.startswith("bounce"):
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    server.handler.handle_RCPT = handle_rcpt
    sent = Hello(to=["ann@example.com", "bounce@example.com"]).send()
    assert sent.recipients == ["ann@example.com"]
    assert sent.refused == {"bounce@example.com": (550, "5.1.1 No such user")}
    assert server.received[0].rcpt_tos == ["ann@example.com"]
    row = Delivery.objects.get()
    assert row.status == Status.SENT
    assert row.refused == {"bounce@example.com": [550, "5.1.1 No such user"]}


def test_every_recipient_refused_raises(server):
    async def handle_rcpt(srv, session, envelope, address, rcpt_options):
        return "550 5.1.1 No such user"

    server.handler.handle_RCPT = handle_rcpt
    with pytest.raises(PermanentDeliveryError) as caught:
        Hello().send()
    assert caught.value.refused == {"ann@example.com": (550, "5.1.1 No such user")}
    assert isinstance(caught.value.__cause__, smtplib.SMTPRecipientsRefused)


# -- admin ---------------------------------------------------------------------


def test_admin_lists_filters_and_searches(server, admin_client, admin_urls):
    Hello(name="Ada", to=["ada@example.com"]).send()
    Hello(name="Bob", to=["bob@example.com"]).send()
    page = admin_client.get("/admin/txmail/delivery/", {"q": "ada@example"})
    assert page.status_code == 200
    text = page.content.decode()
    assert "Hello Ada" in text and "Hello Bob" not in text
    page = admin_client.get("/admin/txmail/delivery/", {"status__exact": "failed"})
    assert "Hello Ada" not in page.content.decode()


def action(client, name, rows):
    return client.post("/admin/txmail/delivery/", {
        "action": name, "_selected_action": [r.pk for r in rows]}, follow=True)


def test_admin_retry_now(server, admin_client, admin_urls, django_capture_on_commit_callbacks):
    server.replies = ["550 5.7.1 Blocked for now"]
    with django_capture_on_commit_callbacks(execute=False):
        row = Hello().enqueue().delivery
    queue.run(row.pk)
    with django_capture_on_commit_callbacks(execute=True):
        response = action(admin_client, "retry_now", [row])
    assert "1 message queued for another attempt." in response.content.decode()
    row.refresh_from_db()
    assert row.status == Status.SENT and row.attempts == 2
    assert arrived(server) == ["Hello Ann"]


def test_admin_cancel_stops_a_queued_message(server, admin_client, admin_urls,
                                             django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        row = Hello().enqueue().delivery
    assert "1 message cancelled." in action(admin_client, "cancel", [row]).content.decode()
    assert queue.run(row.pk) == {}
    row.refresh_from_db()
    assert row.status == Status.CANCELLED and server.received == []


@override_settings(TXMAIL={"KEEP_BODIES": True})
def test_admin_send_again_makes_a_new_row(server, admin_client, admin_urls,
                                          django_capture_on_commit_callbacks):
    first = Hello(name="Again").send()
    original = Delivery.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        response = action(admin_client, "send_again", [original])
    assert "1 new delivery queued." in response.content.decode()
    copy = Delivery.objects.exclude(pk=original.pk).get()
    assert copy.resent_from == original and copy.status == Status.SENT
    original.refresh_from_db()
    assert original.status == Status.SENT  # history unchanged
    ids = [r.message["Message-ID"] for r in server.received]
    assert ids == [first.message_id, copy.message_id] and ids[0] != ids[1]
    assert arrived(server) == ["Hello Again", "Hello Again"]


def test_admin_send_again_without_a_body_says_why(server, admin_client, admin_urls):
    Hello().send()
    response = action(admin_client, "send_again", [Delivery.objects.get()])
    assert "1 message can&#x27;t be sent again: its body is no longer stored" in (
        response.content.decode())
    assert Delivery.objects.count() == 1


# -- management command ----------------------------------------------------------


def command(*args):
    out = StringIO()
    call_command("txmail", *args, stdout=out)
    return out.getvalue()


def test_command_status_counts(server, django_capture_on_commit_callbacks):
    Hello().send()
    with django_capture_on_commit_callbacks(execute=False):
        Hello().enqueue()
    out = command("status")
    assert "queued            1" in out and "sent              1" in out
    assert "oldest waiting since" in out


def test_command_retry_failed_and_cancel(server, django_capture_on_commit_callbacks):
    server.replies = ["550 5.7.1 Blocked for now"]
    with django_capture_on_commit_callbacks(execute=False):
        failed, waiting = Hello(name="f").enqueue().delivery, Hello(name="w").enqueue().delivery
    queue.run(failed.pk)  # drains both: f fails (550), w is sent
    failed.refresh_from_db()
    waiting.refresh_from_db()
    assert (failed.status, waiting.status) == (Status.FAILED, Status.SENT)
    with django_capture_on_commit_callbacks(execute=True):
        assert command("retry", "--failed") == f"1 queued for another attempt: {failed.pk}.\n"
    failed.refresh_from_db()
    assert failed.status == Status.SENT
    with django_capture_on_commit_callbacks(execute=False):
        later = Hello().enqueue().delivery
    assert command("cancel", str(later.pk)) == f"1 cancelled: {later.pk}.\n"


def test_command_requeue_stuck(server, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        row = Hello().enqueue().delivery
    Delivery.objects.filter(pk=row.pk).update(
        status=Status.SENDING, claim_token="dead", claimed_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        out = command("requeue-stuck", "--older-than", "0")
    assert out.startswith("1 requeued, 0 sent again and 0 marked unknown")
    row.refresh_from_db()
    assert row.status == Status.SENT


def test_a_class_naming_an_unknown_task_backend_fails_at_enqueue(server):
    class Elsewhere(Hello):
        delivery_options = DeliveryOptions(task_backend="nowhere")

    with pytest.raises(MessageConfigurationError) as caught:
        Elsewhere().enqueue()
    assert str(caught.value) == (
        "tests.test_delivery.Elsewhere: can't queue through task backend 'nowhere' (queue '', "
        "priority 0): The connection 'nowhere' doesn't exist. Fix settings.TASKS or the "
        "class's DeliveryOptions (task_backend, queue_name, priority).")
    assert Delivery.objects.count() == 0


def test_a_backend_without_defer_gets_retries_from_the_sweep(server,
                                                             django_capture_on_commit_callbacks):
    server.replies = ["451 4.3.0 Try again later"]
    with django_capture_on_commit_callbacks(execute=False):
        row = Hello().enqueue().delivery
    queue.run(row.pk)  # the immediate backend can't defer: the row waits for the sweep
    row.refresh_from_db()
    assert (row.status, row.needs_handoff) == (Status.RETRYING, True)
    # Not due yet: nothing to do.
    assert queue.sweep() == {"requeued": 0, "resent": 0, "unknown": 0, "handed_off": 0,
                               "bodies_dropped": 0}
    Delivery.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        assert queue.sweep()["handed_off"] == 1
    row.refresh_from_db()
    assert row.status == Status.SENT and arrived(server) == ["Hello Ann"]


class SilentBackend:
    """A mailer that, like one with fail_silently, sends nothing and says so by 0."""

    def __init__(self, **kwargs):
        pass

    def open(self):
        return True

    def close(self):
        pass

    def send_messages(self, messages):
        return 0


@override_settings(MAILERS={"transactional": {"BACKEND": "tests.test_delivery.SilentBackend"}})
def test_a_mailer_that_sent_nothing_is_a_failure_not_a_send():
    with pytest.raises(TransientDeliveryError) as caught:
        Hello().send()
    assert str(caught.value) == (
        "mailer 'transactional' sent nothing and reported no error (is it configured "
        "with fail_silently?). Remove fail_silently from its OPTIONS: txmail needs the "
        "error to retry or record it.")
    assert Delivery.objects.get().status == Status.FAILED


def test_a_failing_signal_receiver_stops_nothing(server, django_capture_on_commit_callbacks):
    from txmail.signals import message_sent

    def broken(sender, **kwargs):
        raise RuntimeError("a receiver's bug")

    message_sent.connect(broken)
    try:
        with django_capture_on_commit_callbacks(execute=False):
            rows = [Hello(name=f"s{i}").enqueue().delivery for i in range(3)]
        assert queue.run(rows[0].pk) == {"sent": 3}
    finally:
        message_sent.disconnect(broken)
    assert sorted(arrived(server)) == ["Hello s0", "Hello s1", "Hello s2"]


def test_an_attempt_counts_when_the_mailer_gets_the_message(
        server, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        row = Hello().enqueue().delivery
    long_ago = timezone.now() - timedelta(hours=1)
    # Claimed by a worker that died before sending: the sweep requeues it, and
    # the one real attempt is the only one counted.
    Delivery.objects.filter(pk=row.pk).update(
        status=Status.SENDING, claim_token="dead", claimed_at=long_ago)
    queue.sweep()  # hands it off again: the immediate backend sends it now
    row.refresh_from_db()
    assert (row.status, row.attempts) == (Status.SENT, 1)


def test_the_sweep_leaves_a_message_the_mailer_just_got(server):
    Hello().send()
    row = Delivery.objects.get()
    # Claimed long ago (it waited in a worker's line), handed over just now.
    Delivery.objects.filter(pk=row.pk).update(
        status=Status.SENDING, claim_token="live", handed_over_at=timezone.now(),
        claimed_at=timezone.now() - timedelta(hours=1))
    queue.sweep()
    row.refresh_from_db()
    assert row.status == Status.SENDING


# -- recipients refused for now, copies, the backoff cap ---------------------------


def test_a_recipient_refused_for_now_gets_the_message_on_a_later_attempt(
        server, django_capture_on_commit_callbacks):
    greylisted = {"bob@example.com"}

    async def handle_rcpt(srv, session, envelope, address, rcpt_options):
        if address in greylisted:
            greylisted.discard(address)  # accepted next time
            return "450 4.2.0 Greylisted, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    server.handler.handle_RCPT = handle_rcpt
    with django_capture_on_commit_callbacks(execute=False):
        row = Hello(to=["ann@example.com", "bob@example.com"]).enqueue().delivery
    assert queue.run(row.pk) == {"sent": 1}
    row.refresh_from_db()
    assert row.refused == {"bob@example.com": [450, "4.2.0 Greylisted, try again later"]}
    follow_up = Delivery.objects.get(resent_from=row)
    assert (follow_up.status, follow_up.recipients, follow_up.message_id, follow_up.attempts) == (
        Status.RETRYING, ["bob@example.com"], row.message_id, 1)
    Delivery.objects.filter(pk=follow_up.pk).update(next_attempt_at=timezone.now())
    assert queue.run(follow_up.pk) == {"sent": 1}
    assert [r.rcpt_tos for r in server.received] == [["ann@example.com"], ["bob@example.com"]]
    assert server.received[0].data == server.received[1].data  # the same message


@override_settings(TXMAIL={"KEEP_BODIES": True})
def test_send_again_keeps_every_sending_option(server):
    Hello().send()
    original = Delivery.objects.get()
    Delivery.objects.filter(pk=original.pk).update(
        topic="offers", respect_suppression=False, resend_if_unknown=True,
        esp_options={"tags": ["x"]})
    original.refresh_from_db()
    from txmail.delivery import actions

    with transaction.atomic():
        [copy] = actions.send_again(Delivery.objects.filter(pk=original.pk))
    copy.refresh_from_db()
    assert (copy.topic, copy.respect_suppression, copy.resend_if_unknown, copy.esp_options) == (
        "offers", False, True, {"tags": ["x"]})
    assert copy.message_id != original.message_id


@override_settings(TXMAIL={"RETRY_DELAY": 10, "RETRY_MAX_DELAY": 60})
def test_the_backoff_never_exceeds_the_maximum_delay():
    delays = [send.backoff(attempt) for attempt in range(1, 12) for _ in range(50)]
    assert max(delays) <= 60
    assert min(send.backoff(1) for _ in range(50)) >= 5  # 10 s, -50 %
    assert max(delays) > 50  # capped, not shrunk


def test_admin_retry_now_says_why_a_row_was_not_retried(server, admin_client, admin_urls):
    Hello().send()  # sent: nothing to retry
    response = action(admin_client, "retry_now", [Delivery.objects.get()])
    text = response.content.decode()
    assert "0 messages queued for another attempt." in text
    assert "1 message was not retried: only failed or retrying messages" in text


@pytest.mark.django_db(transaction=True)
@override_settings(TXMAIL={"CLAIM_TIMEOUT": 1.5})
def test_a_send_slower_than_the_claim_timeout_is_not_taken_for_a_dead_worker(server):
    accept = server.handler.handle_DATA

    async def slow_data(srv, session, envelope):
        await asyncio.sleep(4)  # the mailer has the message longer than CLAIM_TIMEOUT
        return await accept(srv, session, envelope)

    server.handler.handle_DATA = slow_data
    swept = []
    sweeper = threading.Timer(2.5, lambda: swept.append(queue.sweep()))
    sweeper.start()
    row = Hello().enqueue().delivery  # autocommit: the immediate backend sends it now
    sweeper.join()
    assert swept == [{"requeued": 0, "resent": 0, "unknown": 0, "handed_off": 0,
                      "bodies_dropped": 0}]
    row.refresh_from_db()
    assert (row.status, row.attempts) == (Status.SENT, 1)
    assert arrived(server) == ["Hello Ann"]


@pytest.mark.django_db(transaction=True)
@override_settings(TXMAIL={"CLAIM_TIMEOUT": 1})
def test_a_send_that_hangs_is_still_ended_by_the_sweep():
    hung = SMTPServer(hold="ann@example.com").start()  # DATA kept, never answered
    swept = []

    def sweep_then_release():
        time.sleep(4.5)  # renewed for RENEW_FOR (3) claim timeouts, then left alone
        swept.append(queue.sweep())
        hung.release.set()

    sweeper = threading.Thread(target=sweep_then_release)
    sweeper.start()
    try:
        with override_settings(MAILERS={"transactional": hung.mailer()}):
            row = Hello().enqueue().delivery  # autocommit: the immediate backend sends it now
    finally:
        sweeper.join()
        hung.stop()
    assert swept[0]["unknown"] == 1
    row.refresh_from_db()
    assert row.status == Status.UNKNOWN  # the late reply doesn't take the row back


@pytest.mark.django_db(transaction=True)
def test_a_task_run_in_the_caller_leaves_the_signal_handlers_alone(server):
    # ImmediateBackend runs the task here (a request, a shell): no worker to
    # stop, so a Ctrl-C must not be taken as "hand the rows back".
    before = {signum: signal.getsignal(signum) for signum in shutdown.SIGNALS}
    Hello(name="Here").enqueue()
    assert arrived(server) == ["Hello Here"]
    assert {signum: signal.getsignal(signum) for signum in shutdown.SIGNALS} == before
    assert not shutdown.stopping.is_set()
