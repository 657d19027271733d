"""The database restarts twice while real workers send: every message arrives once.

Real ``db_worker`` processes and ``manage.py txmail sweep --every 1`` run on a
PostgreSQL server of the test's own (``tests/postgres.py``) and send to an
SMTP server that takes a moment to answer each message, so connections are
mid-send when the database goes away: the server has said 250, and the
write that records it fails. The test restarts PostgreSQL twice mid-run,
then counts what the SMTP server received per Message-ID.

``db_worker`` itself re-raises a lost connection in its polling loop, so a
worker caught waiting for tasks exits and its supervisor (systemd, Docker)
starts it again (django-tasks-db issue #49): the test restarts an exited
worker as a supervisor would. What a worker had in hand when the database
went away (a message the server accepted) is txmail's to keep.
"""

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import psycopg
import pytest

from tests.faulty_smtp import FaultySMTPServer
from tests.postgres import PostgreSQL
from tests.processes import logs_of

pytestmark = [pytest.mark.smtp, pytest.mark.worker]

ROOT = Path(__file__).resolve().parent.parent
COUNT = 300
DOWN = 3.0  # seconds the database stays down, each time
TXMAIL = {"CLAIM_TIMEOUT": 10, "BATCH_SIZE": 20, "CONNECTIONS": 2,
          "SITE_URL": "https://shop.example.com"}

PRODUCE = """
import sys
from django.db import transaction
from tests.testapp.emails import Hello
count = int(sys.argv[1])
for start in range(0, count, 100):
    with transaction.atomic():
        for i in range(start, min(count, start + 100)):
            Hello(name=f"n{i}", to=[f"user{i}@example.com"]).enqueue()
"""

CAMPAIGN = """
import sys
from tests.testapp.emails import Bulletin
from tests.testapp.models import Subscriber
count = int(sys.argv[1])
Subscriber.objects.bulk_create(
    [Subscriber(name=f"Name {i}", email=f"user{i}@example.com") for i in range(count)])
campaign = Bulletin.send_bulk(Subscriber.objects.all(), chunk_size=100, title="June")
print(campaign.pk)
"""


class Cluster:
    """Workers, a sweeper and Django code on the test's PostgreSQL server."""

    def __init__(self, tmp_path: Path, db: PostgreSQL, smtp: FaultySMTPServer,
                 **txmail: object) -> None:
        self.dir, self.db, self.smtp = tmp_path, db, smtp
        self.env = {**os.environ, **db.settings(), "PYTHONPATH": str(ROOT),
                    "DJANGO_SETTINGS_MODULE": "tests.pg_worker_settings",
                    "TXMAIL_TEST_SMTP_PORT": str(smtp.port), "TXMAIL_TEST_SMTP_TIMEOUT": "5",
                    "TXMAIL_TEST_TXMAIL": json.dumps({**TXMAIL, **txmail})}
        self.workers: dict[str, subprocess.Popen] = {}
        self.sweeper: subprocess.Popen | None = None
        self.started = 0
        self.exited: list[tuple[str, int, str]] = []
        subprocess.run([sys.executable, "-m", "django", "migrate", "--run-syncdb", "-v0"],
                       check=True, env=self.env, cwd=ROOT, timeout=120)

    def python(self, code: str, *args: object) -> str:
        done = subprocess.run(
            [sys.executable, "-c", "import django\ndjango.setup()\n" + code, *map(str, args)],
            env=self.env, cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def spawn(self, name: str, *args: str) -> subprocess.Popen:
        with open(self.dir / f"{name}.log", "wb") as log:
            return subprocess.Popen([sys.executable, "-m", "django", *args], env=self.env,
                                    cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)

    def start_worker(self) -> None:
        self.started += 1
        name = f"worker{self.started}"
        self.workers[name] = self.spawn(name, "db_worker", "--interval", "0.1",
                                        "--no-startup-delay", "--no-reload",
                                        "--worker-id", name)

    def supervise(self) -> None:
        """Start a worker again in place of one that exited (as systemd would)."""
        for name, process in list(self.workers.items()):
            if process.poll() is not None:
                lines = (self.dir / f"{name}.log").read_text().strip().splitlines()
                self.exited.append((name, process.returncode, lines[-1] if lines else ""))
                del self.workers[name]
                self.start_worker()

    def stop(self) -> None:
        processes = [*self.workers.values(), *([self.sweeper] if self.sweeper else [])]
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def logs(self) -> str:
        return logs_of(self.dir)

    def query(self, sql: str, *params: object) -> list[tuple]:
        with psycopg.connect(host="127.0.0.1", port=self.db.port, user="postgres",
                             dbname="postgres", connect_timeout=5) as conn:
            return conn.execute(sql, params).fetchall()

    def statuses(self) -> Counter:
        return Counter(dict(self.query(
            "SELECT status, COUNT(*) FROM txmail_delivery GROUP BY status")))

    def run_with_restarts(self, done, times: int = 2, down: float = DOWN,
                          timeout: float = 120) -> list[int]:
        """Restart the database ``times`` times, evenly spread; wait for ``done``."""
        restarts: list[int] = []
        deadline = time.monotonic() + timeout
        while not done():
            arrived = len(self.smtp.received)
            if len(restarts) < times and arrived >= COUNT * (len(restarts) + 1) // (times + 1):
                restarts.append(arrived)
                self.db.restart(down)
            self.supervise()
            if time.monotonic() > deadline:
                pytest.fail(f"Not done after {timeout} s: {dict(self.statuses())}; "
                            f"restarts at {restarts}; exited {self.exited}\n{self.logs()}")
            time.sleep(0.3)
        return restarts


@pytest.fixture
def cluster_factory(tmp_path, postgresql):
    smtp = FaultySMTPServer(latency=0.1).start()  # every message a moment in flight
    clusters: list[Cluster] = []

    def make(**txmail: object) -> Cluster:
        clusters.append(Cluster(tmp_path, postgresql, smtp, **txmail))
        return clusters[-1]

    yield make
    for cluster in clusters:
        cluster.stop()
    smtp.stop()


@pytest.fixture
def cluster(cluster_factory):
    return cluster_factory()


def start(cluster: Cluster, code: str) -> str:
    """Run ``code`` (it queues the messages), then two workers and the sweep loop."""
    output = cluster.python(code, COUNT)
    cluster.start_worker()
    cluster.start_worker()
    cluster.sweeper = cluster.spawn("sweeper", "txmail", "sweep", "--every", "1")
    return output


def all_final(cluster: Cluster) -> bool:
    statuses = cluster.statuses()
    return sum(statuses.values()) == COUNT and set(statuses) <= {"sent", "failed", "unknown"}


def check_each_once(cluster: Cluster, restarts: list[int], times: int = 2) -> None:
    arrived = cluster.smtp.plan.by_message_id
    assert len(restarts) == times and restarts[-1] < COUNT, restarts
    assert {mid: n for mid, n in arrived.items() if n > 1} == {}  # no copy
    # Rows that didn't end sent, with what they say, before the counts.
    unsent = cluster.query("SELECT id, status, attempts, last_error FROM txmail_delivery "
                           "WHERE status <> 'sent'")
    assert unsent == [], f"{unsent}\nexited {cluster.exited}\n{cluster.logs()}"
    message_ids = {mid for (mid,) in cluster.query("SELECT message_id FROM txmail_delivery")}
    assert set(arrived) == message_ids  # none lost, none from nowhere
    assert cluster.statuses() == Counter(sent=COUNT)
    assert cluster.sweeper is not None and cluster.sweeper.poll() is None  # it lived through
    print(f"\nrestarts at {restarts} messages; workers that exited (and were started "
          f"again): {cluster.exited}")


def test_queued_messages_through_two_database_restarts_arrive_once(cluster):
    start(cluster, PRODUCE)
    restarts = cluster.run_with_restarts(lambda: all_final(cluster))
    check_each_once(cluster, restarts)


def test_an_outage_longer_than_the_claim_timeout_leaves_live_workers_their_rows(
        cluster_factory):
    # Every claim is older than the timeout when the database comes back: the
    # sweep loop must leave them to their workers, which record them sent.
    cluster = cluster_factory(CLAIM_TIMEOUT=5)
    start(cluster, PRODUCE)
    restarts = cluster.run_with_restarts(lambda: all_final(cluster), times=1, down=6)
    check_each_once(cluster, restarts, times=1)


def test_a_campaign_through_two_database_restarts_reaches_each_recipient_once(cluster):
    [campaign] = start(cluster, CAMPAIGN).split()

    def done() -> bool:
        [(status,)] = cluster.query("SELECT status FROM txmail_campaign WHERE id = %s",
                                    int(campaign))
        return status == "done" and all_final(cluster)

    restarts = cluster.run_with_restarts(done)
    check_each_once(cluster, restarts)
    recipients = Counter(rcpt for item in cluster.smtp.received for rcpt in item.rcpt_tos)
    assert recipients == Counter({f"user{i}@example.com": 1 for i in range(COUNT)})


HELD_ACROSS = """
from datetime import timedelta
from django.utils import timezone
from txmail.delivery.models import Delivery
long_ago = timezone.now() - timedelta(minutes=1)
row = Delivery.objects.create(
    mailer="default", from_email="shop@example.com", recipients=["a@example.com"],
    message_id="<held@example.com>", status="sending", queued=True, attempts=1,
    claim_token="a-live-worker", claimed_at=long_ago, handed_over_at=long_ago)
print(row.pk)
"""


def test_the_sweep_loop_leaves_claims_alone_for_a_claim_timeout_after_an_outage(
        cluster_factory):
    # A claim not renewed for a minute, as a worker's is after a long outage:
    # it may be alive, with the outcome in hand, waiting to record it.
    cluster = cluster_factory(CLAIM_TIMEOUT=3)
    cluster.sweeper = cluster.spawn("sweeper", "txmail", "sweep", "--every", "0.2")
    time.sleep(4)  # past its first claim timeout: it judges claims now
    cluster.db.restart(1)
    back = time.monotonic()
    [pk] = cluster.python(HELD_ACROSS).split()

    def status() -> str:
        [(value,)] = cluster.query("SELECT status FROM txmail_delivery WHERE id = %s",
                                   int(pk))
        return value

    while time.monotonic() - back < 2:
        assert status() == "sending"  # its worker has a claim timeout to renew it
        time.sleep(0.2)
    deadline = time.monotonic() + 10
    while status() == "sending":  # no worker did: it ends as a dead worker's would
        assert time.monotonic() < deadline, cluster.logs()
        time.sleep(0.2)
    assert status() == "unknown"
    assert cluster.sweeper.poll() is None
