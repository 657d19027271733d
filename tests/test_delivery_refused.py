"""A recipient the server refused for now (RCPT 451) while it took the others.

The row is marked sent and the refused recipient gets a row of its own, in one
transaction, so no crash between the two leaves that recipient without a retry;
its task is handed to the queue once that transaction commits.
"""

from contextlib import contextmanager

import pytest
from django.db import connection
from django.test import override_settings
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from tests.smtp import SMTPServer
from tests.testapp.emails import Hello
from txmail.delivery import queue
from txmail.delivery.models import Delivery, Status

pytestmark = pytest.mark.smtp

TO = ["ann@example.com", "bob@example.com"]


@pytest.fixture
def greylisting_bob():
    """A server answering 451 to Bob's first RCPT, then accepting him."""
    server = SMTPServer().start()
    server.greylisted = {"bob@example.com"}

    async def handle_rcpt(srv, session, envelope, address, rcpt_options):
        if address in server.greylisted:
            server.greylisted.discard(address)
            return "451 4.7.1 Greylisted, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    server.handler.handle_RCPT = handle_rcpt
    with override_settings(MAILERS={"transactional": server.mailer()},
                           TXMAIL={"TASK_BACKEND": "db"}):
        yield server
    server.stop()


def test_a_recipient_refused_for_now_gets_a_row_a_task_and_then_the_message(
        greylisting_bob, django_capture_on_commit_callbacks):
    row = Hello(to=TO).enqueue().delivery
    with django_capture_on_commit_callbacks(execute=True):
        assert queue.run(row.pk) == {"sent": 1}
    follow_up = Delivery.objects.get(resent_from=row)
    assert (follow_up.status, follow_up.recipients) == (Status.RETRYING, ["bob@example.com"])
    # Its task was handed to the queue, to run when the retry is due.
    task = DBTaskResult.objects.get(args_kwargs__args=[follow_up.pk])
    assert task.run_after == follow_up.next_attempt_at
    Delivery.objects.filter(pk=follow_up.pk).update(next_attempt_at=timezone.now())
    assert queue.run(follow_up.pk) == {"sent": 1}
    assert [r.rcpt_tos for r in greylisting_bob.received] == [
        ["ann@example.com"], ["bob@example.com"]]


@contextmanager
def follow_ups_fail():
    """A database that refuses to store a follow-up row (a trigger raises on its INSERT)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TRIGGER txmail_test_no_follow_up BEFORE INSERT ON txmail_delivery "
            "WHEN NEW.resent_from_id IS NOT NULL "
            "BEGIN SELECT RAISE(ABORT, 'injected: the follow-up row was not written'); END")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER txmail_test_no_follow_up")


@pytest.mark.django_db(transaction=True)
def test_the_sent_mark_and_the_follow_up_row_are_written_together(greylisting_bob):
    row = Hello(to=TO).enqueue().delivery
    with follow_ups_fail():
        assert queue.run(row.pk) == {"error": 1}  # logged; the lane goes on
    assert [r.rcpt_tos for r in greylisting_bob.received] == [["ann@example.com"]]
    row.refresh_from_db()
    # Neither written: no sent mark, no follow-up row; still claimed, handed over.
    assert (row.status, row.refused, row.sent_at) == (Status.SENDING, {}, None)
    assert row.claim_token and row.handed_over_at is not None
    assert not Delivery.objects.filter(resent_from=row).exists()
    # The sweep takes it from there: the mailer had it, so its outcome is unknown.
    assert queue.sweep(older_than=0)["unknown"] == 1
    row.refresh_from_db()
    assert row.status == Status.UNKNOWN
