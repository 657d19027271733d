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



def test_failover_rows_wait_in_the_lane_for_a_soon_slot_before_their_hand_over(two_servers):
    first, second = two_servers
    with txmail(RATE_LIMITS={"primary": "5/s", "secondary": "5/s"}, RATE_LIMIT_WAIT=1):
        rows = [Hello(name=f"n{i}").enqueue() for i in range(6)]
        assert queue.run(rows[0].delivery_id) == {"sent": 6}  # none handed back throttled
    times = sorted(r.at for r in first.received + second.received)
    assert len(times) == 6 and times[-1] - times[0] > 0.35  # 10/s between the two


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


class SlowDownServer(SMTPServer):
    """aiosmtpd answering the first DATA with 421, then accepting."""

    def __init__(self):
        super().__init__()
        accept, self.refused = self.handler.handle_DATA, 0

        async def handle_data(server, session, envelope):
            if not self.refused:
                self.refused += 1
                return "421 4.7.0 Too many messages, slow down"
            return await accept(server, session, envelope)

        self.handler.handle_DATA = handle_data


def test_a_421_on_one_alias_holds_its_rows_back_not_another_aliass_in_the_same_lanes():
    slow, other = SlowDownServer().start(), SMTPServer().start()
    try:
        with override_settings(MAILERS={"transactional": slow.mailer(),
                                        "marketing": other.mailer(), "default": slow.mailer()}
                               ), txmail(RATE_LIMITS={"transactional": {"slow_down": 30}},
                                         RATE_LIMIT_WAIT=5):
            rows = [Hello(name=f"t{i}").enqueue() for i in range(3)]
            rows += [Hello(name=f"m{i}").enqueue("marketing") for i in range(3)]
            started = time.monotonic()
            counts = queue.run(rows[0].delivery_id)
            took = time.monotonic() - started
    finally:
        slow.stop()
        other.stop()
    assert counts == {"throttled": 3, "sent": 3} and took < 3, (counts, took)
    assert len(other.received) == 3 and not slow.received
    held = Delivery.objects.filter(status=Status.THROTTLED).order_by("pk")
    assert [row.attempts for row in held] == [1, 0, 0]  # only the one that met the 421


def test_cancel_of_a_throttled_row_ends_it_and_its_task_sends_nothing(server):
    with txmail(RATE_LIMITS={"transactional": "1/m"}, RATE_LIMIT_WAIT=0):
        first, held = Hello(name="a").enqueue(), Hello(name="b").enqueue()
        assert queue.run(first.delivery_id) == {"sent": 1, "throttled": 1}
        assert held.status == Status.THROTTLED
        assert held.cancel("not wanted") and held.status == Status.CANCELLED
        Delivery.objects.filter(pk=held.delivery_id).update(next_attempt_at=timezone.now())
        assert queue.run(held.delivery_id) == {}
    assert len(server.received) == 1
    assert Delivery.objects.get(pk=held.delivery_id).attempts == 0
