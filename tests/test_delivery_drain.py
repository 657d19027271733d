"""One task drains its queue: its connections take row after row, batch after batch."""

import pytest
from django.test import override_settings

from tests.testapp.emails import Hello
from txmail.delivery import queue
from txmail.delivery.models import Delivery

pytestmark = [pytest.mark.smtp, pytest.mark.django_db]


def test_one_task_sends_every_ready_row_of_its_queue_once_over_few_batches(smtp_server):
    mailers = {"transactional": smtp_server.mailer(), "default": smtp_server.mailer()}
    # "db": tasks are stored, not run, so the rows wait for the one task run below.
    with override_settings(MAILERS=mailers, TXMAIL={"TASK_BACKEND": "db", "BATCH_SIZE": 3,
                                                    "CONNECTIONS": 1}):
        rows = [Hello(name=f"R{i}", to=[f"r{i}@example.com"]).enqueue().delivery for i in range(8)]
        counts = queue.run(rows[0].pk)
    assert counts == {"sent": 8}
    assert sorted(r.rcpt_tos[0] for r in smtp_server.received) == sorted(
        f"r{i}@example.com" for i in range(8))
    assert set(Delivery.objects.values_list("status", "attempts")) == {("sent", 1)}


def test_a_task_stops_claiming_after_drain_seconds(smtp_server, monkeypatch):
    monkeypatch.setattr(queue, "DRAIN_SECONDS", -1.0)  # past its deadline at once
    mailers = {"transactional": smtp_server.mailer(), "default": smtp_server.mailer()}
    with override_settings(MAILERS=mailers, TXMAIL={"TASK_BACKEND": "db", "BATCH_SIZE": 3,
                                                    "CONNECTIONS": 1}):
        rows = [Hello(name=f"R{i}", to=[f"r{i}@example.com"]).enqueue().delivery for i in range(8)]
        counts = queue.run(rows[0].pk)
    assert counts == {"sent": 3}  # its first batch; the other tasks send the rest
    assert Delivery.objects.filter(status="queued").count() == 5
