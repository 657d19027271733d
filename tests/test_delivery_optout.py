"""An opt-out that arrives while its message is claimed is honoured at the hand-over.

A worker claims a batch and checks the suppression list for it once; a bounce
or an unsubscribe that comes in while the batch is sending (seconds, behind a
slow server) must still stop the later messages of that batch.
"""

import pytest
from django.test import override_settings

from tests.faulty_smtp import FaultySMTPServer
from tests.testapp.emails import Hello
from txmail.delivery import queue
from txmail.delivery.models import Delivery, Status
from txmail.signals import message_sent
from txmail.suppression.models import Reason, Suppression

pytestmark = pytest.mark.smtp


@pytest.fixture
def slow_sink():
    server = FaultySMTPServer(latency=0.3).start()  # 0.3 s before each reply to DATA
    with override_settings(MAILERS={a: server.mailer() for a in ("default", "transactional")},
                           TXMAIL={"TASK_BACKEND": "db", "CONNECTIONS": 1}):
        yield server
    server.stop()


def test_a_bounce_during_the_batch_stops_a_later_message_of_it(slow_sink):
    rows = [Hello(name=f"n{i}", to=[f"r{i}@example.com"]).enqueue().delivery for i in range(4)]

    def bounce_arrives(sender, delivery, **kwargs):
        # The webhook of a hard bounce, while the rest of the batch is claimed.
        if delivery.recipients == ["r0@example.com"]:
            Suppression.objects.create(address="r2@example.com", reason=Reason.BOUNCED)

    message_sent.connect(bounce_arrives)
    try:
        counts = queue.run(rows[0].pk)  # claims all four in one batch
    finally:
        message_sent.disconnect(bounce_arrives)
    assert counts == {"sent": 3, "suppressed": 1}
    assert sorted(r.rcpt_tos[0] for r in slow_sink.received) == [
        "r0@example.com", "r1@example.com", "r3@example.com"]
    row = Delivery.objects.get(pk=rows[2].pk)
    assert (row.status, row.suppressed) == (Status.SUPPRESSED, {"r2@example.com": "bounced"})
