"""A deploy's SIGTERM: the worker finishes what is on the wire and hands the rest back.

A real ``db_worker`` sends to an SMTP server that takes a moment over each
message, so a task is mid-drain (or mid-chunk) when the test sends SIGTERM.
The worker must exit well within the 10 s a deploy waits before SIGKILL
(``docker stop``), send no more than what was on the wire then (one message
per connection), leave no row claimed, and a second worker must send the
rest: each Message-ID exactly once.
"""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from contextlib import closing
from pathlib import Path

import pytest

from tests.faulty_smtp import FaultySMTPServer
from tests.processes import logs_of, migrated_template

pytestmark = [pytest.mark.smtp, pytest.mark.worker]

ROOT = Path(__file__).resolve().parent.parent
COUNT = 300
CONNECTIONS = 2
# Long enough that nothing here is the sweep's doing: what is ready again
# right after the worker exits, the worker handed back.
TXMAIL = {"CLAIM_TIMEOUT": 60, "BATCH_SIZE": 50, "CONNECTIONS": CONNECTIONS,
          "SITE_URL": "https://shop.example.com"}

PRODUCE = """
import sys
from django.db import transaction
from tests.testapp.emails import Hello
with transaction.atomic():
    for i in range(int(sys.argv[1])):
        Hello(name=f"n{i}", to=[f"user{i}@example.com"]).enqueue()
"""

CAMPAIGN = """
import sys
from tests.testapp.emails import Bulletin
from tests.testapp.models import Subscriber
count = int(sys.argv[1])
Subscriber.objects.bulk_create(
    [Subscriber(name=f"Name {i}", email=f"user{i}@example.com") for i in range(count)])
campaign = Bulletin.send_bulk(Subscriber.objects.all(), chunk_size=count, title="June")
print(campaign.pk)
"""


class Worker:
    """A database file, the SMTP server, and ``db_worker`` processes on them."""

    def __init__(self, tmp_path: Path, template: Path, smtp: FaultySMTPServer) -> None:
        self.dir, self.smtp = tmp_path, smtp
        self.db = tmp_path / "db.sqlite3"
        self.db.write_bytes(template.read_bytes())
        self.env = env_for(self.db, smtp.port)
        self.processes: list[subprocess.Popen] = []

    def python(self, code: str, *args: object) -> str:
        done = subprocess.run(
            [sys.executable, "-c", "import django\ndjango.setup()\n" + code, *map(str, args)],
            env=self.env, cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def start(self) -> subprocess.Popen:
        name = f"worker{len(self.processes) + 1}"
        with open(self.dir / f"{name}.log", "wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "django", "db_worker", "--interval", "0.1",
                 "--no-startup-delay", "--no-reload", "--worker-id", name],
                env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        self.processes.append(process)
        return process

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait()

    def logs(self) -> str:
        return logs_of(self.dir)

    def query(self, sql: str, *params: object) -> list[tuple]:
        with closing(sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=60)) as db:
            return db.execute(sql, params).fetchall()

    def statuses(self) -> Counter:
        return Counter(dict(self.query(
            "SELECT status, COUNT(*) FROM txmail_delivery GROUP BY status")))

    def wait(self, until, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not until():
            if time.monotonic() > deadline:
                pytest.fail(f"{what} not after {timeout} s: {dict(self.statuses())}, "
                            f"{len(self.smtp.received)} received\n{self.logs()}")
            time.sleep(0.05)

    def terminate_mid_run(self, process: subprocess.Popen) -> tuple[float, int]:
        """SIGTERM ``process`` once some messages arrived; return its exit time and
        how many arrived after the signal."""
        self.wait(lambda: len(self.smtp.received) >= 20, 60, "20 messages")
        before = len(self.smtp.received)
        signalled = time.monotonic()
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the worker was still running 10 s after SIGTERM, "
                        f"{len(self.smtp.received) - before} messages later\n{self.logs()}")
        took, after = time.monotonic() - signalled, len(self.smtp.received) - before
        print(f"\nexited {took:.2f} s after SIGTERM; {after} messages arrived after it; "
              f"{dict(self.statuses())}")
        return took, after


def env_for(db: Path, port: int) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT),
            "DJANGO_SETTINGS_MODULE": "tests.worker_settings",
            "TXMAIL_TEST_DB": str(db), "TXMAIL_TEST_SMTP_PORT": str(port),
            "TXMAIL_TEST_SMTP_TIMEOUT": "5", "TXMAIL_TEST_TXMAIL": json.dumps(TXMAIL)}


@pytest.fixture(scope="module")
def migrated_db(tmp_path_factory):
    """A migrated database file, copied for each test (migrating takes a while)."""
    directory = tmp_path_factory.mktemp("txmail-shutdown-db")
    return migrated_template(directory, lambda path: env_for(path, 9), "--run-syncdb")


@pytest.fixture
def worker(tmp_path, migrated_db):
    smtp = FaultySMTPServer(latency=0.1).start()  # 0.1 s over each message
    worker = Worker(tmp_path, migrated_db, smtp)
    yield worker
    worker.stop()
    smtp.stop()


def check_each_once(worker: Worker) -> None:
    arrived = worker.smtp.plan.by_message_id
    assert {mid: n for mid, n in arrived.items() if n > 1} == {}
    assert set(arrived) == {mid for (mid,) in worker.query(
        "SELECT message_id FROM txmail_delivery")}
    assert worker.statuses() == Counter(sent=COUNT)


def test_sigterm_stops_the_drain_hands_the_rest_back_and_a_new_worker_sends_it(worker):
    worker.python(PRODUCE, COUNT)
    took, after = worker.terminate_mid_run(worker.start())
    assert worker.processes[0].returncode == 0
    assert took < 5  # well within a deploy's 10 s
    assert after <= CONNECTIONS  # only what was on the wire
    statuses = worker.statuses()
    assert statuses["sent"] == len(worker.smtp.received) < COUNT
    # Ready again at once, not a claim timeout later; none left claimed.
    assert set(statuses) <= {"sent", "queued", "retrying"}, statuses

    worker.start()
    worker.wait(lambda: worker.statuses()["sent"] == COUNT, 60, "every row sent")
    check_each_once(worker)


def test_sigterm_puts_a_bulk_chunk_back_and_a_new_worker_continues_it(worker):
    [campaign] = worker.python(CAMPAIGN, COUNT).split()
    took, after = worker.terminate_mid_run(worker.start())
    assert worker.processes[0].returncode == 0
    assert took < 5
    assert after <= CONNECTIONS
    assert worker.query("SELECT status, claim_token FROM txmail_chunk") == [("queued", "")]
    statuses = worker.statuses()
    assert statuses["sent"] == len(worker.smtp.received) < COUNT
    assert set(statuses) <= {"sent", "queued", "retrying"}, statuses

    worker.start()
    worker.wait(lambda: worker.query("SELECT status FROM txmail_campaign WHERE id = ?",
                                     int(campaign)) == [("done",)]
                and worker.statuses()["sent"] == COUNT, 60, "the campaign done")
    check_each_once(worker)
    recipients = Counter(rcpt for item in worker.smtp.received for rcpt in item.rcpt_tos)
    assert recipients == Counter({f"user{i}@example.com": 1 for i in range(COUNT)})
