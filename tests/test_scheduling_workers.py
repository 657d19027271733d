"""Scheduled, expiring and last-checked messages through real ``db_worker`` processes.

A producer process enqueues, ``db_worker`` (django-tasks-db) processes send to a
real SMTP server (aiosmtpd), and the test compares what arrived, and when, with
the rows: a scheduled message arrives no earlier than its time, an expired one
never, and one whose order was cancelled after it was queued never either.
"""

import json
import os
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.processes import logs_of, migrated_template

pytestmark = [pytest.mark.smtp, pytest.mark.worker]

ROOT = Path(__file__).resolve().parent.parent


def env_for(db: Path, port: int = 9) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT),
            "DJANGO_SETTINGS_MODULE": "tests.scheduling_worker_settings",
            "TXMAIL_TEST_DB": str(db), "TXMAIL_TEST_SMTP_PORT": str(port),
            "TXMAIL_TEST_TXMAIL": json.dumps({"CLAIM_TIMEOUT": 30})}


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    # --run-syncdb: the orders app of the last check has no migrations.
    return migrated_template(tmp_path_factory.mktemp("sched-db"), env_for, "--run-syncdb")


class Site:
    """A database file, the code that enqueues (in other processes), and workers."""

    def __init__(self, tmp_path: Path, template: Path, port: int) -> None:
        self.dir, self.db = tmp_path, tmp_path / "db.sqlite3"
        self.db.write_bytes(template.read_bytes())
        self.env = env_for(self.db, port)
        self.workers: list[subprocess.Popen] = []

    def python(self, code: str) -> str:
        done = subprocess.run(
            [sys.executable, "-c", "import django\ndjango.setup()\n" + code],
            env=self.env, cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def txmail(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "django", "txmail", *args],
                              env=self.env, cwd=ROOT, capture_output=True, text=True,
                              timeout=120)

    def start_worker(self) -> None:
        with open(self.dir / f"worker{len(self.workers)}.log", "wb") as log:
            self.workers.append(subprocess.Popen(
                [sys.executable, "-m", "django", "db_worker", "--interval", "0.1",
                 "--no-startup-delay", "--no-reload"],
                env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT))

    def stop(self) -> None:
        for worker in self.workers:
            worker.terminate()
        for worker in self.workers:
            try:
                worker.wait(10)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()

    def rows(self) -> dict[str, dict]:
        """Rows by their first recipient: status, last error, send time (aware)."""
        with closing(sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=60)) as db:
            found = db.execute("SELECT recipients, status, last_error, send_at "
                               "FROM txmail_delivery").fetchall()
        return {json.loads(to)[0]: {"status": status, "last_error": error,
                                    "send_at": _aware(send_at)}
                for to, status, error, send_at in found}

    def wait_for(self, statuses: dict[str, str], timeout: float = 60) -> dict[str, dict]:
        deadline = time.monotonic() + timeout
        while True:
            rows = self.rows()
            if {to: rows.get(to, {}).get("status") for to in statuses} == statuses:
                return rows
            if time.monotonic() > deadline:
                pytest.fail(f"Rows not {statuses} after {timeout} s: {rows}\n"
                            f"{logs_of(self.dir)}")
            time.sleep(0.2)


def _aware(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def site(tmp_path, template, smtp_server):
    made = Site(tmp_path, template, smtp_server.port)
    yield made
    made.stop()


def arrivals(server) -> dict[str, datetime]:
    return {r.rcpt_tos[0]: r.arrived for r in server.received}


def test_scheduled_messages_arrive_no_earlier_than_their_time(site, smtp_server):
    site.start_worker()
    site.python(
        "from datetime import timedelta\n"
        "from tests.testapp.emails import Hello\n"
        "now = Hello(to=['now@example.com']).enqueue()\n"
        "soon = Hello(to=['soon@example.com']).enqueue(delay=timedelta(seconds=2))\n"
        "later = Hello(to=['later@example.com']).enqueue(delay=timedelta(seconds=4))\n"
        # Moved from 1 s to 4 s: its first task still fires at 1 s, within the
        # worker's clock margin of the new time, and must not send it then.
        "moved = Hello(to=['moved@example.com']).enqueue(delay=timedelta(seconds=1))\n"
        "assert moved.reschedule(timedelta(seconds=4))\n")
    rows = site.wait_for({"now@example.com": "sent", "soon@example.com": "sent",
                          "later@example.com": "sent", "moved@example.com": "sent"})
    received = sorted(r.rcpt_tos[0] for r in smtp_server.received)
    assert received == ["later@example.com", "moved@example.com", "now@example.com",
                        "soon@example.com"]  # each once
    arrived = arrivals(smtp_server)
    # The promise is "never early"; their order isn't one: a worker slowed by a loaded
    # machine may send the unscheduled message alongside one that has come due.
    for to in ("soon@example.com", "later@example.com", "moved@example.com"):
        assert arrived[to] >= rows[to]["send_at"], (to, arrived[to], rows[to]["send_at"])


def test_an_expired_message_never_arrives_and_its_row_says_why(site, smtp_server):
    # No worker yet: the deadline passes while the row waits in the queue.
    site.python("from datetime import timedelta\nfrom tests.testapp.emails import Hello\n"
                "Hello(to=['code@example.com']).enqueue(expires_after=timedelta(seconds=1))\n"
                "Hello(to=['kept@example.com']).enqueue(expires_after=timedelta(hours=1))\n")
    time.sleep(1.5)
    site.start_worker()
    rows = site.wait_for({"code@example.com": "expired", "kept@example.com": "sent"})
    time.sleep(0.5)
    assert [r.rcpt_tos for r in smtp_server.received] == [["kept@example.com"]]
    error = rows["code@example.com"]["last_error"]
    assert error.startswith("Not handed over by ") and error.endswith(
        ", its deadline (DeliveryOptions.expires_at / expires_after): expired, never sent "
        "late."), error


def test_the_last_check_drops_a_notice_for_an_order_cancelled_after_enqueue(site, smtp_server):
    site.python(
        "from tests.schedapp.emails import OrderDispatched\n"
        "from tests.schedapp.models import Order\n"
        "for to in ('kept@example.com', 'gone@example.com'):\n"
        "    OrderDispatched(Order.objects.create(email=to)).enqueue()\n"
        "Order.objects.filter(email='gone@example.com').update(cancelled=True)\n")
    site.start_worker()
    rows = site.wait_for({"kept@example.com": "sent", "gone@example.com": "cancelled"})
    time.sleep(0.5)
    assert [r.rcpt_tos for r in smtp_server.received] == [["kept@example.com"]]
    assert rows["gone@example.com"]["last_error"].startswith(
        "Cancelled by the last check: order "), rows
    assert rows["gone@example.com"]["last_error"].endswith(" was cancelled")


def test_a_scheduled_message_cancelled_from_the_command_never_arrives(site, smtp_server):
    site.start_worker()
    # 10 s: the cancel is a process of its own, which takes a few seconds to start
    # on a loaded machine (at 2 s the worker had sometimes sent it first).
    ids = json.loads(site.python(
        "import json\nfrom datetime import timedelta\n"
        "from tests.testapp.emails import Hello\n"
        "print(json.dumps([Hello(to=[f'{n}@example.com']).enqueue(delay=timedelta(seconds=10))"
        ".delivery_id for n in ('off', 'on')]))\n"))
    done = site.txmail("cancel", str(ids[0]))
    assert done.stdout.strip() == f"1 cancelled: {ids[0]}.", done
    site.wait_for({"off@example.com": "cancelled", "on@example.com": "sent"})
    time.sleep(0.5)
    assert [r.rcpt_tos for r in smtp_server.received] == [["on@example.com"]]
