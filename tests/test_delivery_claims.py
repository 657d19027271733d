"""Nothing stays claimed by a task that can't go on: settings checked first, claims handed back.

A row claimed by a task that then raises would wait a whole claim timeout for
the sweep; a bad ``TXMAIL`` value read halfway would strand it every time.
"""

from contextlib import contextmanager

import pytest
from django.db import DatabaseError, connection
from django.test import override_settings

from tests.testapp.emails import Hello
from txmail.delivery import queue
from txmail.delivery.models import Delivery, Status
from txmail.exceptions import InvalidSetting

pytestmark = pytest.mark.smtp


@override_settings(TXMAIL={"TASK_BACKEND": "db", "BATCH_SIZE": "10", "CONNECTIONS": 0})
def test_a_bad_setting_raises_before_the_task_claims_its_row(smtp_server):
    with override_settings(MAILERS={"transactional": smtp_server.mailer()}):
        row = Hello().enqueue().delivery
        with pytest.raises(InvalidSetting) as caught:
            queue.deliver_queued.call(row.pk)  # the task's function, as a worker runs it
    assert str(caught.value) == (
        "settings.TXMAIL has 2 bad values: TXMAIL['BATCH_SIZE'] must be a positive integer, "
        "not '10' (a string, perhaps read from an environment variable: convert it in your "
        "settings). TXMAIL['CONNECTIONS'] must be a positive integer, not 0. Fix them in "
        "settings.TXMAIL.")
    row.refresh_from_db()
    assert (row.status, row.attempts, row.claim_token) == (Status.QUEUED, 0, "")
    assert smtp_server.received == []


@contextmanager
def claims_of(row, fail_with):
    """A database that refuses to let ``row`` be claimed (a trigger raises on that UPDATE)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TRIGGER txmail_test_refuse_claim BEFORE UPDATE OF status ON "
            f"txmail_delivery WHEN NEW.status = 'sending' AND OLD.id = {int(row.pk)} "
            f"BEGIN SELECT RAISE(ABORT, '{fail_with}'); END")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER txmail_test_refuse_claim")


@pytest.mark.django_db(transaction=True)  # the claim's error must not poison a test transaction
@override_settings(TXMAIL={"TASK_BACKEND": "db", "CONNECTIONS": 1})
def test_a_task_that_raises_after_claiming_hands_its_rows_back(smtp_server):
    with override_settings(MAILERS={"transactional": smtp_server.mailer()}):
        first = Hello(name="first").enqueue().delivery
        second = Hello(name="second").enqueue().delivery
        # The task claims its own row, then fails claiming the rest of the batch.
        with claims_of(second, "injected: the claim failed"), \
                pytest.raises(DatabaseError, match="injected: the claim failed"):
            queue.run(first.pk)
        first.refresh_from_db()
        assert (first.status, first.attempts, first.claim_token) == (Status.RETRYING, 0, "")
        assert queue.run(first.pk) == {"sent": 2}  # ready at once, for the next task
    assert sorted(r.message["Subject"] for r in smtp_server.received) == [
        "Hello first", "Hello second"]
    assert set(Delivery.objects.values_list("status", flat=True)) == {Status.SENT}
