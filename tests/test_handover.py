"""Where the delivery options meet at a worker's hand-over, in the test process (issue #20).

Scheduled sends and deadlines, rate limits and the line's jumps were each
tested alone; here they meet, through aiosmtpd on loopback and the queue's
task run here (rows on the "db" task backend: stored tasks, none run). The
worker processes are in tests/test_handover_workers.py.
"""

import time
from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from tests.smtp import SMTPServer
from tests.testapp.emails import Bulletin, Hello
from tests.testapp.models import Subscriber
from txmail import registry
from txmail.delivery import queue
from txmail.delivery.models import Delivery, Status

pytestmark = pytest.mark.smtp


@pytest.fixture
def server():
    server = SMTPServer().start()
    with override_settings(MAILERS={a: server.mailer() for a in ("default", "transactional")}):
        yield server
    server.stop()


def txmail(**settings):
    return override_settings(TXMAIL={"TASK_BACKEND": "db", "CONNECTIONS": 1, **settings})


def test_a_deadline_passing_while_the_row_waits_for_its_slot_expires_it_unsent(server):
    with txmail(RATE_LIMITS={"transactional": "1/2s"}, RATE_LIMIT_WAIT=5):
        first = Hello(name="first").enqueue()
        late = Hello(name="late").enqueue(expires_after=timedelta(seconds=1))
        # The first takes the slot; the second's is 2 s away, after its deadline.
        assert queue.run(first.delivery_id) == {"sent": 1, "expired": 1}
    assert [r.message["Subject"] for r in server.received] == ["Hello first"]
    stored = Delivery.objects.get(pk=late.delivery_id)
    assert stored.status == Status.EXPIRED and stored.attempts == 0
    assert stored.handed_over_at is None
    assert stored.last_error.endswith("expired, never sent late.")


@pytest.fixture
def two_servers():
    first, second = SMTPServer().start(), SMTPServer().start()
    failover = {"BACKEND": "txmail.backends.failover.EmailBackend",
                "OPTIONS": {"mailers": ["primary", "secondary"], "cooldown": 0}}
    with override_settings(MAILERS={"primary": first.mailer(), "secondary": second.mailer(),
                                    "transactional": failover, "default": first.mailer()}):
        yield first, second
    first.stop()
    second.stop()


def test_a_deadline_passing_while_failover_waits_for_a_slot_expires_it_unsent(two_servers):
    first, second = two_servers
    limits = {"primary": "1/2s", "secondary": "1/2s"}
    with txmail(RATE_LIMITS=limits, RATE_LIMIT_WAIT=5):
        sent = [Hello(name=f"n{i}").enqueue() for i in range(2)]
        late = Hello(name="late").enqueue(expires_after=timedelta(seconds=1))
        # One through each alias; the third's first free slot is after its deadline.
        counts = queue.run(sent[0].delivery_id)
        stored = Delivery.objects.get(pk=late.delivery_id)
        if stored.status == Status.THROTTLED:  # handed back: its deadline passes first
            time.sleep(max((stored.expires_at - timezone.now()).total_seconds(), 0))
            counts = queue.run(late.delivery_id)
    assert len(first.received) + len(second.received) == 2, counts
    stored = Delivery.objects.get(pk=late.delivery_id)
    assert stored.status == Status.EXPIRED and stored.attempts == 0


@pytest.fixture
def checked_bulletin():
    """A campaign class with a last check: only subscribers still named "keep" get it."""

    class CheckedBulletin(Bulletin):
        def get_send_check(self):
            return {"subscriber": self.recipient.pk}

        @classmethod
        def still_wanted(cls, data):
            return Subscriber.objects.filter(pk=data["subscriber"], name="keep").exists()

    registry.register(CheckedBulletin)
    yield CheckedBulletin
    registry.unregister(CheckedBulletin)


def test_a_campaigns_messages_get_their_classs_last_check(
        server, checked_bulletin, django_capture_on_commit_callbacks):
    for i, name in enumerate(["keep", "gone", "keep"]):
        Subscriber.objects.create(name=name, email=f"user{i}@example.com")
    with override_settings(TXMAIL={"SITE_URL": "https://shop.example.com"}), \
            django_capture_on_commit_callbacks(execute=True):
        checked_bulletin.send_bulk(Subscriber.objects.all(), title="June")
    assert sorted(r.rcpt_tos[0] for r in server.received) == [
        "user0@example.com", "user2@example.com"]
    cancelled = Delivery.objects.get(status=Status.CANCELLED)
    assert cancelled.recipients == ["user1@example.com"]
    assert cancelled.last_error.startswith("Cancelled by the last check: ")
