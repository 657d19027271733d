"""Issue #20's data-lifecycle features together: erasure, retention, idempotency keys,
scheduling's stored data and rate limits' rows (each was built on its own branch).

Real parts: aiosmtpd on loopback (what it received), every txmail table searched
again by erasure's own search and by raw SQL (``tests.test_erasure``).
"""

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

import txmail
from tests.test_erasure import ANN, ANN_IDNA, raw_sql_hits
from tests.testapp.emails import Hello
from txmail import DeliveryOptions
from txmail.backends.models import MailerRate
from txmail.backends.ratelimit import back_off
from txmail.delivery import queue
from txmail.delivery.idempotency import IdempotencyKey, expire_keys
from txmail.delivery.models import Delivery, Status
from txmail.delivery.retention import prune

pytestmark = pytest.mark.smtp


class Welcome(Hello):
    """Keyed by the address, as an app would key a welcome message."""

    delivery_options = DeliveryOptions(idempotency_key="welcome/{to[0]}")


class Checked(Hello):
    """Stores the address as its last check's data."""

    def get_send_check(self):
        return {"email": self.to[0]}

    @classmethod
    def still_wanted(cls, data):
        return True


@pytest.fixture
def server(smtp_server):
    with override_settings(MAILERS={"transactional": smtp_server.mailer()},
                           TXMAIL={"RATE_LIMITS": {"transactional": "100/s"}}):
        yield smtp_server


def test_erasure_reaches_keys_rate_hold_backs_and_check_data(server):
    Welcome(to=[ANN]).send()
    Welcome(to=["bob@example.com"]).send()
    Checked(to=[ANN_IDNA]).enqueue(delay=timedelta(days=1))
    back_off("transactional", 60, f"451 4.7.1 <{ANN_IDNA}>: greylisted, try later")
    assert {("txmail_idempotencykey", "key"), ("txmail_mailerrate", "blocked_reason"),
            ("txmail_delivery", "send_check")} <= raw_sql_hits()

    counts = txmail.erase(ANN)

    assert counts["left"] == []
    assert raw_sql_hits() == set()
    assert counts["idempotency keys"] == 1
    assert counts["mailer hold-backs cleared"] == 1
    # Bob's key holds on; the alias stays held back, only its reason goes.
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == [
        "welcome/bob@example.com"]
    rate = MailerRate.objects.get()
    assert rate.blocked_until > timezone.now()
    assert "erased" in rate.blocked_reason


class Reminder(Hello):
    """Keyed with a window shorter than the delay it is sent with."""

    delivery_options = DeliveryOptions(idempotency_key="reminder/{name}",
                                       idempotency_window=timedelta(hours=1))


def test_a_key_holds_while_its_scheduled_first_delivery_waits(
        server, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = Reminder().enqueue(delay=timedelta(days=2))
    assert first.status == Status.SCHEDULED
    passed = timezone.now() - timedelta(seconds=1)
    IdempotencyKey.objects.update(expires_at=passed)  # an hour later: the window passed
    assert expire_keys() == 0
    queue.sweep()
    with django_capture_on_commit_callbacks(execute=True):
        again = Reminder().enqueue(delay=timedelta(days=2))
        sent = Reminder().send()
    # The first one is still to be sent: a second would make it two.
    assert (again.delivery_id, again.deduplicated) == (first.delivery_id, "reminder/Ann")
    assert (sent.status, sent.delivery_id) == ("deduplicated", first.delivery_id)
    assert Delivery.objects.count() == 1 and server.received == []
    # Once it has ended (here: cancelled), the passed window lets the next call send.
    first.cancel()
    assert Reminder().send().status == "sent"
    assert len(server.received) == 1 and Delivery.objects.count() == 2


@pytest.mark.parametrize("how", ["pruned", "erased"])
def test_a_duplicate_of_a_first_delivery_that_was_deleted_says_so(
        server, how, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = Reminder(to=[ANN]).enqueue()
    assert first.status == Status.SENT
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(minutes=1))
    if how == "pruned":
        with override_settings(TXMAIL={"RETENTION": {"statuses": {"sent": 0}}}):
            assert prune() == {("sent", "tests.test_lifecycle.Reminder"): 1}
    else:
        txmail.erase(ANN)
    assert IdempotencyKey.objects.get().delivery_id is None  # the window still holds
    again = Reminder(to=[ANN]).enqueue()
    assert (again.delivery_id, again.deduplicated) == (None, "reminder/Ann")
    # The handle says the row is gone, rather than raise Delivery.DoesNotExist.
    assert (again.status, again.is_finished) == ("deleted", True)
    assert again.cancel() is False and again.reschedule(timedelta(hours=1)) is False
    first.refresh()
    assert first.status == "deleted"
    assert len(server.received) == 1
