"""A campaign to 5,000 recipients through real ``db_worker`` processes into aiosmtpd.

Worker processes (django-tasks-db) share a file SQLite database with the
process that starts the campaign; ``manage.py txmail sweep --every 1`` runs
beside them, as production would. The SMTP server's log is checked against
the subscribers: one message each, with their own name and their own signed
unsubscribe link. The second test kills the workers (SIGKILL) mid-campaign,
while the server holds a message it has not acknowledged, and starts another.
"""

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.processes import logs_of, migrated_template
from tests.smtp import SMTPServer
from txmail.bulk.tokens import read_token

pytestmark = [pytest.mark.smtp, pytest.mark.worker]

ROOT = Path(__file__).resolve().parent.parent
COUNT = 5000
LINK = re.compile(r"<https://shop\.example\.com/mail/unsubscribe/([^/>]+)/>")

START = """
import sys
from tests.testapp.emails import Bulletin
from tests.testapp.models import Subscriber
count = int(sys.argv[1])
Subscriber.objects.bulk_create(
    [Subscriber(name=f"Name {i}", email=f"user{i}@example.com",
                language="fr" if i % 3 == 0 else "en") for i in range(count)],
    batch_size=500)
campaign = Bulletin.send_bulk(Subscriber.objects.all(), chunk_size=250, title="June")
print(campaign.pk, campaign.total, campaign.chunks.count())
"""


def env_for(db: Path, port: int) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT),
            "DJANGO_SETTINGS_MODULE": "tests.bulk_worker_settings",
            "TXMAIL_TEST_DB": str(db), "TXMAIL_TEST_SMTP_PORT": str(port),
            "TXMAIL_TEST_TXMAIL": json.dumps({})}


@pytest.fixture(scope="module")
def migrated_db(tmp_path_factory):
    """A migrated database file, copied for each test (migrating takes a while)."""
    directory = tmp_path_factory.mktemp("txmail-bulk-db")
    return migrated_template(directory, lambda path: env_for(path, 9), "--run-syncdb")


class Cluster:
    def __init__(self, tmp_path: Path, template: Path, port: int) -> None:
        self.dir = tmp_path
        self.db = tmp_path / "db.sqlite3"
        self.db.write_bytes(template.read_bytes())
        self.env = env_for(self.db, port)
        self.processes: dict[str, subprocess.Popen] = {}
        self.started = 0

    def python(self, code: str, *args: object) -> str:
        done = subprocess.run(
            [sys.executable, "-c", "import django\ndjango.setup()\n" + code, *map(str, args)],
            env=self.env, cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def spawn(self, name: str, *args: str) -> None:
        with open(self.dir / f"{name}.log", "wb") as log:
            self.processes[name] = subprocess.Popen(
                [sys.executable, "-m", "django", *args], env=self.env, cwd=ROOT,
                stdout=log, stderr=subprocess.STDOUT)

    def start_worker(self) -> str:
        self.started += 1
        name = f"worker{self.started}"
        self.spawn(name, "db_worker", "--interval", "0.1", "--no-startup-delay",
                   "--no-reload", "--worker-id", name)
        return name

    def kill(self, name: str) -> None:
        process = self.processes.pop(name)
        process.send_signal(signal.SIGKILL)
        process.wait(10)

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()

    def logs(self) -> str:
        return logs_of(self.dir)

    def query(self, sql: str, *params: object) -> list[tuple]:
        with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=60) as db:
            return db.execute(sql, params).fetchall()

    def statuses(self) -> Counter:
        return Counter(dict(self.query(
            "SELECT d.status, COUNT(*) FROM txmail_delivery d JOIN txmail_recipient r "
            "ON r.delivery_id = d.id GROUP BY d.status")))

    def wait_until_done(self, campaign: int, timeout: float, during=None) -> Counter:
        deadline = time.monotonic() + timeout
        while True:
            [(status,)] = self.query("SELECT status FROM txmail_campaign WHERE id = ?",
                                     campaign)
            statuses = self.statuses()
            if (status == "done" and sum(statuses.values()) == COUNT
                    and set(statuses) <= {"sent", "failed", "unknown", "suppressed"}):
                return statuses
            if time.monotonic() > deadline:
                pytest.fail(f"Campaign not done after {timeout} s: {status}, "
                            f"{dict(statuses)}\n{self.logs()}")
            if during is not None:
                during(statuses)
            time.sleep(0.5)


HELD = "user1700@example.com"


@pytest.fixture
def cluster(tmp_path, migrated_db):
    server = SMTPServer(hold=HELD).start()
    cluster = Cluster(tmp_path, migrated_db, server.port)
    cluster.server = server
    yield cluster
    cluster.stop()
    server.stop()


def check_each_got_their_own(cluster: Cluster) -> dict[str, int]:
    """One message per subscriber with their name and link; return the copies of each.

    A message sent again after its worker died mid hand-over is the same
    message: the same bytes, the same Message-ID.
    """
    received: dict[str, list] = {}
    for item in cluster.server.received:
        [rcpt] = item.rcpt_tos
        received.setdefault(rcpt, []).append(item)
    status_of = dict(cluster.query(
        "SELECT s.email, d.status FROM testapp_subscriber s JOIN txmail_recipient r "
        "ON r.key = CAST(s.id AS TEXT) JOIN txmail_delivery d ON d.id = r.delivery_id"))
    assert len(status_of) == COUNT
    for i in range(COUNT):
        address = f"user{i}@example.com"
        assert status_of[address] == "sent", address
        copies = received.get(address, [])
        assert copies, f"{address} got nothing"
        assert len({copy.data for copy in copies}) == 1, f"{address} got two messages"
        message = copies[0].message
        assert message["To"] == address
        assert message["Subject"] == f"June for Name {i}"
        [token] = LINK.fullmatch(message["List-Unsubscribe"]).groups()
        assert read_token(token) == (address, "bulletin")
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert set(received) <= set(status_of), "mail to an address outside the campaign"
    return {address: len(copies) for address, copies in received.items()}


def test_5000_recipients_through_two_workers_each_get_one_message(cluster):
    started = time.monotonic()
    campaign, total, chunk_count = map(int, cluster.python(START, COUNT).split())
    assert (total, chunk_count) == (COUNT, COUNT // 250)
    cluster.start_worker()
    cluster.start_worker()
    cluster.spawn("sweeper", "txmail", "sweep", "--every", "1")
    cluster.server.release.set()  # nothing is killed here: no message waits
    statuses = cluster.wait_until_done(campaign, timeout=150)
    assert statuses == Counter(sent=COUNT)
    copies = check_each_got_their_own(cluster)
    assert set(copies.values()) == {1}
    print(f"\n{COUNT} messages in {time.monotonic() - started:.1f} s")


def test_workers_killed_mid_campaign_and_restarted_skip_nobody(cluster):
    campaign, _total, _chunks = map(int, cluster.python(START, COUNT).split())
    workers = [cluster.start_worker(), cluster.start_worker()]
    cluster.spawn("sweeper", "txmail", "sweep", "--every", "1")
    killed = []

    def kill_while_held(statuses: Counter) -> None:
        # The server has HELD's message and hasn't answered: its worker can't
        # know whether it was taken. Kill every worker then, start a new one.
        if not killed and cluster.server.holding.is_set():
            for name in workers:
                cluster.kill(name)
            killed.append(len(cluster.server.received))
            cluster.server.release.set()
            cluster.start_worker()

    statuses = cluster.wait_until_done(campaign, timeout=150, during=kill_while_held)
    assert killed and killed[0] < COUNT, "the workers were never killed mid-campaign"
    # Messages the dead workers hadn't handed over were requeued; those the
    # server had (HELD's, and any other on the wire) were sent again, the same
    # bytes: nobody skipped, and no second, different message.
    assert statuses == Counter(sent=COUNT)
    copies = check_each_got_their_own(cluster)
    again = {a for a, n in copies.items() if n > 1}
    assert HELD in again
    assert len(again) <= 4  # at most one per connection of each killed worker
    resent = {email for (email,) in cluster.query(
        "SELECT s.email FROM testapp_subscriber s JOIN txmail_recipient r "
        "ON r.key = CAST(s.id AS TEXT) JOIN txmail_delivery d ON d.id = r.delivery_id "
        "WHERE d.attempts > 1")}
    assert again <= resent
    [(attempts,)] = cluster.query("SELECT MAX(attempts) FROM txmail_chunk")
    assert attempts >= 2  # the killed workers' chunks ran again
