"""Transactional mail doesn't wait behind a campaign: real ``db_worker``, real server.

Two worker processes send a campaign in chunks of 400 through an aiosmtpd
server that takes 20 ms a message; password-reset-like messages enqueued
meanwhile (another process, the same task queue) are sent by a chunk that is
running (``tasks.ahead_of``), before the campaign's next messages, instead of
waiting for a chunk's end; both chunks try to claim each of them, and it
arrives once. Orders are compared, not clocks: at the
server, and between the rows' own timestamps.
"""

import time

import pytest

from tests.processes import logs_of, migrated_template
from tests.smtp import SMTPServer
from tests.test_bulk_workers import Cluster, env_for

pytestmark = [pytest.mark.smtp, pytest.mark.worker]

COUNT, CHUNK = 1200, 400

START = """
import sys
from tests.testapp.emails import Bulletin
from tests.testapp.models import Subscriber
count, chunk = int(sys.argv[1]), int(sys.argv[2])
Subscriber.objects.bulk_create(
    [Subscriber(name=f"Name {i}", email=f"user{i}@example.com") for i in range(count)],
    batch_size=500)
print(Bulletin.send_bulk(Subscriber.objects.all(), chunk_size=chunk, title="June").pk)
"""

RESETS = """
import time
from tests.testapp.emails import Hello
for i in range(3):
    Hello(name=f"Reset {i}", to=[f"reset{i}@example.com"]).enqueue()
    time.sleep(0.7)
"""


@pytest.fixture(scope="module")
def migrated_db(tmp_path_factory):
    directory = tmp_path_factory.mktemp("txmail-lanes-db")
    return migrated_template(directory, lambda path: env_for(path, 9), "--run-syncdb")


@pytest.fixture
def cluster(tmp_path, migrated_db):
    server = SMTPServer(latency=0.02).start()
    cluster = Cluster(tmp_path, migrated_db, server.port)
    cluster.server = server
    yield cluster
    cluster.stop()
    server.stop()


def campaign_count(cluster) -> int:
    return sum(1 for r in cluster.server.received if r.rcpt_tos[0].startswith("user"))


def wait_for(cluster, done, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} not after {timeout} s\n{logs_of(cluster.dir)}")
        time.sleep(0.1)


def test_resets_enqueued_during_a_chunk_go_before_the_rest_of_it(cluster):
    [campaign] = map(int, cluster.python(START, COUNT, CHUNK).split())
    cluster.start_worker()  # without the jump, a reset waits for a chunk's end
    cluster.start_worker()
    wait_for(cluster, lambda: campaign_count(cluster) >= 50, 60, "the campaign's start")
    cluster.python(RESETS)
    wait_for(cluster, lambda: len(cluster.server.received) == COUNT + 3, 120,
             "every message")
    order = [r.rcpt_tos[0] for r in cluster.server.received]
    assert sorted(order) == sorted([f"user{i}@example.com" for i in range(COUNT)]
                                   + [f"reset{i}@example.com" for i in range(3)])
    for i in range(3):
        reset = f"reset{i}@example.com"
        [(created, handed_over, status)] = cluster.query(
            "SELECT created_at, handed_over_at, status FROM txmail_delivery "
            "WHERE recipients_text = ?", reset)
        assert status == "sent"
        # Campaign rows handed over while the reset waited: a few of the
        # lanes' turns, not the rest of two chunks of 400.
        [(overtaken,)] = cluster.query(
            "SELECT COUNT(*) FROM txmail_delivery d JOIN txmail_recipient r "
            "ON r.delivery_id = d.id WHERE r.campaign_id = ? AND d.handed_over_at > ? "
            "AND d.handed_over_at < ?", campaign, created, handed_over)
        assert overtaken < 100, (reset, overtaken)
        # And at the server, the campaign was far from done when it arrived.
        assert len(order) - order.index(reset) > 300, (reset, order.index(reset))
