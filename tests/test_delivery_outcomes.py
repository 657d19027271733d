"""A worker writes its sent rows' outcomes a batch at a time (``delivery/outcomes.py``).

With real db_worker processes on a file SQLite database (the in-memory test
database writes each at once): every row ends sent, its claim released and its
body dropped; and while a slow send keeps the only lane waiting, the message
before it is recorded sent all the same (the writer thread).
"""

import pytest

from tests.smtp import SMTPServer
from tests.test_delivery_faults import Cluster, migrated_db  # noqa: F401  (a fixture)
from tests.test_handover_workers import wait_for
from tests.test_ratelimit_workers import PRODUCE

pytestmark = [pytest.mark.smtp, pytest.mark.worker]


def test_a_workers_outcomes_are_written_in_batches_and_complete(tmp_path, migrated_db):  # noqa: F811
    server = SMTPServer().start()
    cluster = Cluster(tmp_path, migrated_db, server.port, CONNECTIONS=4, BATCH_SIZE=50)
    try:
        cluster.python(PRODUCE, 120)
        cluster.start_worker()
        wait_for(cluster, lambda s: s["sent"] == 120, 60, "Not all 120 sent")
    finally:
        cluster.stop()
        server.stop()
    assert len(server.received) == 120
    assert cluster.query("SELECT COUNT(*) FROM txmail_body") == [(0,)]
    assert cluster.query(
        "SELECT COUNT(*) FROM txmail_delivery WHERE claim_token = '' AND status = 'sent' "
        "AND sent_at >= handed_over_at AND attempts = 1") == [(120,)]
    # Each row's sent_at is its own message's moment, not its batch's.
    assert cluster.query("SELECT COUNT(DISTINCT sent_at) FROM txmail_delivery") == [(120,)]


def test_an_outcome_is_written_while_the_lane_waits_on_a_slow_send(tmp_path, migrated_db):  # noqa: F811
    # The second message is kept unanswered: the first is recorded sent
    # meanwhile (by the writer thread), not once the lane is free again.
    server = SMTPServer(hold="user1@example.com").start()
    cluster = Cluster(tmp_path, migrated_db, server.port, CONNECTIONS=1)
    cluster.env["TXMAIL_TEST_SMTP_TIMEOUT"] = "30"  # the held reply is not a lost one
    try:
        cluster.python(PRODUCE, 2)
        cluster.start_worker()
        assert server.holding.wait(30), cluster.logs()
        wait_for(cluster, lambda s: s["sent"] == 1 and s["sending"] == 1, 5,
                 "The first not recorded sent while the second is with the server")
        server.release.set()
        wait_for(cluster, lambda s: s["sent"] == 2, 20, "Not both sent")
    finally:
        cluster.stop()
        server.stop()
    assert len(server.received) == 2
