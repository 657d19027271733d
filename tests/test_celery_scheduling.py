"""Scheduled messages on the Celery + Redis path: ``run_after`` becomes Celery's ``eta``.

django-tasks-celery's backend supports deferred tasks, so a scheduled row's
task waits in the Celery worker until its time. The message must arrive no
earlier than that, and a rescheduled one no earlier than its new time (its
first task fires early and must leave it alone).
"""

import json
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from datetime import UTC, datetime

import pytest

from tests.test_delivery_distributed import (  # noqa: F401  (fixtures)
    ROOT,
    redis_url,
    start_worker,
    wait_until_ready,
    worker_env,
)

pytestmark = [pytest.mark.smtp, pytest.mark.worker]

PRODUCE = """
import django
django.setup()
from datetime import timedelta
from tests.testapp.emails import Hello
Hello(to=['now@example.com']).enqueue()
Hello(to=['soon@example.com']).enqueue(delay=timedelta(seconds=3))
moved = Hello(to=['moved@example.com']).enqueue(delay=timedelta(seconds=1))
assert moved.reschedule(timedelta(seconds=4))
"""


def rows(env: dict) -> dict[str, tuple[str, datetime | None]]:
    with closing(sqlite3.connect(env["TXMAIL_TEST_DB"])) as db:
        found = db.execute("SELECT recipients, status, send_at FROM txmail_delivery").fetchall()
    return {json.loads(to)[0]: (status, send_at and datetime.fromisoformat(send_at).replace(
        tzinfo=UTC)) for to, status, send_at in found}


def test_scheduled_messages_through_celery_arrive_no_earlier_than_their_time(
        tmp_path, worker_env, smtp_server):  # noqa: F811
    log = tmp_path / "worker.log"
    worker = start_worker(worker_env, "worker0", log)
    try:
        wait_until_ready([worker], [log])
        subprocess.run([sys.executable, "-c", PRODUCE], env=worker_env, cwd=ROOT, check=True,
                       timeout=60)
        deadline = time.monotonic() + 60
        while {s for s, _at in rows(worker_env).values()} != {"sent"} or len(
                smtp_server.received) < 3:
            assert worker.poll() is None, log.read_text()
            assert time.monotonic() < deadline, (rows(worker_env), log.read_text())
            time.sleep(0.2)
        time.sleep(1)  # a duplicate would arrive now
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(30)
    arrived = {r.rcpt_tos[0]: r.arrived for r in smtp_server.received}
    assert sorted(r.rcpt_tos[0] for r in smtp_server.received) == [
        "moved@example.com", "now@example.com", "soon@example.com"]  # each once
    found = rows(worker_env)
    for to in ("soon@example.com", "moved@example.com"):
        assert arrived[to] >= found[to][1], (to, arrived[to], found[to][1])
