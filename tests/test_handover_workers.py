"""Where the delivery options meet at a worker's hand-over, with real db_workers (issue #20).

A worker killed while it waits for its alias's next rate-limit slot had not
given the message to the mailer: the sweep must requeue the row, and the
message arrive once.
"""

import time

import pytest

from tests.smtp import SMTPServer
from tests.test_delivery_faults import Cluster, migrated_db  # noqa: F401  (a fixture)
from tests.test_ratelimit_workers import PRODUCE

pytestmark = [pytest.mark.smtp, pytest.mark.worker]

SWEEP = """
from txmail.delivery.queue import sweep
print(sweep(older_than=0))
"""


def wait_for(cluster: Cluster, done, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not done(cluster.statuses()):
        if time.monotonic() > deadline:
            pytest.fail(f"{what} after {timeout} s: {dict(cluster.statuses())}\n"
                        f"{cluster.logs()}")
        time.sleep(0.1)


def test_a_worker_killed_while_it_waits_for_a_slot_leaves_its_row_to_be_sent_once(
        tmp_path, migrated_db):  # noqa: F811
    server = SMTPServer().start()
    cluster = Cluster(tmp_path, migrated_db, server.port, CONNECTIONS=1,
                      RATE_LIMITS={"transactional": "1/3s"}, RATE_LIMIT_WAIT=10)
    try:
        cluster.python(PRODUCE, 2)
        cluster.start_worker()
        # The first goes at once; the second waits about 3 s for its slot.
        wait_for(cluster, lambda s: s["sent"] == 1 and s["sending"] == 1, 20,
                 "Not one sent and one waiting for its slot")
        time.sleep(0.5)
        cluster.kill_worker("worker1")
        handed = cluster.query("SELECT handed_over_at FROM txmail_delivery "
                               "WHERE status = 'sending'")
        assert handed == [(None,)]  # the mailer never had it
        assert "'requeued': 1" in cluster.python(SWEEP)
        cluster.start_worker()
        wait_for(cluster, lambda s: s["sent"] == 2, 20, "Not both sent")
        time.sleep(0.5)  # a duplicate would arrive now
    finally:
        cluster.stop()
        server.stop()
    ids = [r.message["Message-ID"] for r in server.received]
    assert len(ids) == 2 and len(set(ids)) == 2
    assert [row["attempts"] for row in cluster.rows()] == [1, 1]
