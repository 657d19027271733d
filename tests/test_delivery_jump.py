"""Transactional mail goes before bulk: rows that jump a running task's line.

In-process, into real aiosmtpd servers: a campaign's chunk (and a delivery task
draining low-priority rows) claims the ready messages that go first, of any
queue, and sends them next through their own mailer. Tasks go to the "db"
backend, which stores them without running them: whatever is sent here was
sent by the one task the test runs. The worker-process proof is in
tests/test_bulk_lanes.py.
"""

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from tests.smtp import SMTPServer
from tests.testapp.emails import Bulletin, Hello
from tests.testapp.models import Subscriber
from txmail import DeliveryOptions
from txmail.bulk import tasks as chunks
from txmail.bulk.campaign import BULK_PRIORITY
from txmail.bulk.models import Campaign, Recipient
from txmail.delivery import queue, send
from txmail.delivery.models import Delivery, Status
from txmail.signals import message_sent

pytestmark = [pytest.mark.smtp, pytest.mark.django_db]

SITE = "https://shop.example.com"


class Elsewhere(Hello):
    delivery_options = DeliveryOptions(queue_name="other")


class Later(Hello):
    delivery_options = DeliveryOptions(priority=-50)


class OnDefault(Hello):
    mailer = "default"


class Digest(Hello):
    """Mail enqueued one by one at a low priority (no campaign)."""

    delivery_options = DeliveryOptions(priority=-10)


@pytest.fixture
def servers(monkeypatch):
    """The campaign's mailer ("default") and the transactional one, on two servers."""
    monkeypatch.setattr(queue, "JUMP_SECONDS", 0.0)  # asked at every row: no timing
    bulk, transactional = SMTPServer().start(), SMTPServer().start()
    mailers = {"default": bulk.mailer(), "transactional": transactional.mailer()}
    tasks = {"db": {"BACKEND": "django_tasks_db.DatabaseBackend",
                    "QUEUES": ["default", "other"]}}
    with override_settings(MAILERS=mailers, TASKS=tasks, TXMAIL={
            "SITE_URL": SITE, "BATCH_SIZE": 4, "TASK_BACKEND": "db"}):
        yield bulk, transactional
    bulk.stop()
    transactional.stop()


def start_campaign(count, django_capture_on_commit_callbacks):
    Subscriber.objects.bulk_create(
        Subscriber(name=f"Name {i}", email=f"user{i}@example.com") for i in range(count))
    with django_capture_on_commit_callbacks(execute=True):
        return Bulletin.send_bulk(Subscriber.objects.all(), title="June")


def test_a_message_enqueued_mid_chunk_goes_next_through_its_own_mailer(
        servers, django_capture_on_commit_callbacks):
    bulk, transactional = servers
    campaign = start_campaign(12, django_capture_on_commit_callbacks)
    assert campaign.priority == BULK_PRIORITY
    enqueued = []

    def enqueue_after_the_second(sender, **kwargs):
        if sender == "default" and len(bulk.received) == 2 and not enqueued:
            enqueued.append(Hello(to=["reset@example.com"]).enqueue().delivery)

    message_sent.connect(enqueue_after_the_second)
    try:
        counts = chunks.run_chunk(campaign.chunks.get().pk)
    finally:
        message_sent.disconnect(enqueue_after_the_second)
    [row] = enqueued
    row.refresh_from_db()
    assert (row.status, row.sent_via) == (Status.SENT, "transactional")
    assert [r.rcpt_tos for r in transactional.received] == [["reset@example.com"]]
    [reset] = transactional.received
    # The chunk's third row was in its line already; the reset went before it
    # and the nine after it (the campaign is far from done when it arrives).
    after = [r for r in bulk.received if r.at > reset.at]
    assert len(bulk.received) == 12 and len(after) == 10
    assert counts == {"sent": 13}
    assert campaign.progress().sent == 12  # the reset is not the campaign's


def test_only_due_messages_ahead_of_the_campaign_jump(
        servers, django_capture_on_commit_callbacks):
    bulk, transactional = servers
    other_campaign = Campaign.objects.create(message_class="testapp.bulletin", model="x.y",
                                             query=b"", priority=BULK_PRIORITY)
    campaign = start_campaign(3, django_capture_on_commit_callbacks)
    Elsewhere(to=["other-queue@example.com"]).enqueue()
    Later(to=["later@example.com"]).enqueue()
    not_due = Hello(to=["not-due@example.com"]).enqueue().delivery
    Delivery.objects.filter(pk=not_due.pk).update(
        next_attempt_at=timezone.now() + timedelta(hours=1))
    theirs = Digest(to=["other-campaign@example.com"]).enqueue().delivery
    Recipient.objects.create(campaign=other_campaign, key="1", delivery=theirs)

    chunks.run_chunk(campaign.chunks.get().pk)

    statuses = {row.recipients[0]: row.status
                for row in Delivery.objects.filter(campaign_recipient__isnull=True)}
    assert statuses == {"other-queue@example.com": Status.SENT,
                        "later@example.com": Status.QUEUED,
                        "not-due@example.com": Status.QUEUED}
    theirs.refresh_from_db()
    assert theirs.status == Status.QUEUED  # same priority, but another campaign's
    assert [r.rcpt_tos for r in transactional.received] == [["other-queue@example.com"]]
    assert len(bulk.received) == 3
    assert campaign.progress().sent == 3


def test_a_task_draining_low_priority_mail_sends_higher_priority_mail_of_any_queue_first(
        servers):
    _bulk, transactional = servers
    digests = [Digest(to=[f"d{i}@example.com"]).enqueue().delivery for i in range(6)]
    Elsewhere(to=["reset@example.com"]).enqueue()
    with override_settings(TXMAIL={"BATCH_SIZE": 3, "CONNECTIONS": 1, "TASK_BACKEND": "db"}):
        counts = queue.run(digests[0].pk)
    assert counts == {"sent": 7}
    order = [r.rcpt_tos[0] for r in transactional.received]
    assert order[0] == "reset@example.com"  # before every digest
    assert sorted(order[1:]) == sorted(f"d{i}@example.com" for i in range(6))


def test_a_task_leaves_mail_of_other_queues_at_its_own_priority_alone(servers):
    rows = [Hello(to=[f"h{i}@example.com"]).enqueue().delivery for i in range(3)]
    other = Elsewhere(to=["other@example.com"]).enqueue().delivery
    assert queue.run(rows[0].pk) == {"sent": 3}
    other.refresh_from_db()
    assert other.status == Status.QUEUED  # its queue's workers send it


def test_a_lane_reconnects_a_mailer_it_left_idle_longer_than_servers_wait(monkeypatch):
    # A reset's connection sits idle while its lane sends the campaign through
    # the other mailer; this server closes it after 0.3 s of silence.
    monkeypatch.setattr(send, "IDLE_SECONDS", 0.2)
    quick = SMTPServer(idle_timeout=0.3).start()
    slow = SMTPServer(latency=0.6).start()
    mailers = {"transactional": quick.mailer(), "default": slow.mailer()}
    try:
        with override_settings(MAILERS=mailers, TXMAIL={"TASK_BACKEND": "db",
                                                        "CONNECTIONS": 1}):
            first = Hello(to=["a@example.com"]).enqueue().delivery
            OnDefault(to=["b@example.com"]).enqueue()
            Hello(to=["c@example.com"]).enqueue()
            counts = queue.run(first.pk)
    finally:
        quick.stop()
        slow.stop()
    assert counts == {"sent": 3}  # not "retrying": c's send found no dead connection
    assert [r.rcpt_tos for r in quick.received] == [["a@example.com"], ["c@example.com"]]
