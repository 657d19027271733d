"""The same txmail code on a distributed task engine: Celery workers on a Redis broker.

Nothing in txmail knows about Celery. The settings swap the ``TASKS`` backend
for django-tasks-celery's; a producer process calls ``Message.enqueue()``; two
Celery worker processes (separate interpreters, as on separate machines) share
the queue through Redis and the delivery rows through one database. Every
message must reach the SMTP server exactly once, and both workers must have
sent some.
"""

import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.smtp import SMTPServer, free_port

pytest.importorskip("django_tasks_celery", reason='needs pip install -e ".[distributed]"')

pytestmark = [pytest.mark.smtp, pytest.mark.worker]

ROOT = Path(__file__).resolve().parent.parent
MESSAGES = 300
WORKERS = 2


@pytest.fixture
def redis_url(tmp_path):
    """A throwaway redis-server on a free loopback port, no persistence."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("needs Debian's redis-server: apt-get install redis-server "
                    "(./tests/run installs it)")
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
def worker_env(tmp_path, redis_url, smtp_server):
    """The environment of every process: file database, broker, SMTP port."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.distributed.settings",
        "PYTHONPATH": str(ROOT),
        "TXMAIL_TEST_DB": str(tmp_path / "db.sqlite3"),
        "TXMAIL_TEST_TASKS": "celery",
        "TXMAIL_TEST_BROKER": redis_url,
        "TXMAIL_TEST_SMTP_PORT": str(smtp_server.port),
        # Small claims, so the two workers share the load rather than the
        # first task draining the whole queue.
        "TXMAIL_TEST_BATCH_SIZE": "20",
        "TXMAIL_TEST_CONNECTIONS": "4",
    }
    subprocess.run([sys.executable, "-m", "django", "migrate", "-v0"], env=env, cwd=ROOT,
                   check=True, timeout=60)
    return env


def start_worker(env: dict, name: str, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "tests.distributed.celery_app", "worker",
         "--pool=solo", f"--hostname={name}@%h", "--loglevel=INFO", "--without-gossip",
         "--without-mingle", "--without-heartbeat", f"--logfile={log}"],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )


def wait_until_ready(workers: list[subprocess.Popen], logs: list[Path]) -> None:
    deadline = time.monotonic() + 60
    while not all(log.exists() and " ready." in log.read_text() for log in logs):
        assert all(w.poll() is None for w in workers), [
            log.read_text() for log in logs if log.exists()]
        assert time.monotonic() < deadline, "the Celery workers did not start in 60 s"
        time.sleep(0.2)


def sent_per_worker(log: Path) -> int:
    """Messages a worker sent, from its log: each task returns its counts."""
    text = log.read_text()
    return sum(int(n) for n in re.findall(r"deliver_(?:queued|ready)\[[^\]]+\] succeeded in "
                                          r"[^:]+: \{[^}]*'sent': (\d+)", text))


def statuses(env: dict) -> Counter:
    with sqlite3.connect(env["TXMAIL_TEST_DB"]) as db:
        return Counter(dict(db.execute(
            "SELECT status, COUNT(*) FROM txmail_delivery GROUP BY status").fetchall()))


def test_celery_workers_on_redis_send_each_message_once(tmp_path, worker_env,
                                                         smtp_server: SMTPServer):
    logs = [tmp_path / f"worker{i}.log" for i in range(WORKERS)]
    workers = [start_worker(worker_env, f"worker{i}", log) for i, log in enumerate(logs)]
    try:
        # Both consuming before the first message: a lone worker would drain it all.
        wait_until_ready(workers, logs)
        produced = subprocess.run(
            [sys.executable, "-m", "tests.distributed.produce", str(MESSAGES)],
            env=worker_env, cwd=ROOT, check=True, timeout=90, capture_output=True, text=True,
        )
        message_ids = json.loads(produced.stdout)
        deadline = time.monotonic() + 90
        while len(smtp_server.received) < MESSAGES and time.monotonic() < deadline:
            assert all(w.poll() is None for w in workers), [log.read_text() for log in logs]
            time.sleep(0.2)
        while statuses(worker_env)["sent"] < MESSAGES and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1)  # a duplicate would arrive now
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)  # Celery's warm shutdown
        for worker in workers:
            worker.wait(30)

    received = Counter(r.message["Message-ID"] for r in smtp_server.received)
    assert len(message_ids) == MESSAGES
    assert received == Counter(message_ids)  # each once, and nothing else
    assert {r.rcpt_tos[0] for r in smtp_server.received} == {
        f"reader{i}@example.com" for i in range(MESSAGES)}
    assert statuses(worker_env) == Counter({"sent": MESSAGES})
    per_worker = [sent_per_worker(log) for log in logs]
    assert sum(per_worker) == MESSAGES
    assert all(per_worker), f"one worker sent nothing: {per_worker}"
