"""One rate limit held across Celery workers on a Redis broker (TXMAIL["RATE_LIMITS"]).

The Celery + Redis path of test_ratelimit_workers.py: two Celery worker
processes (separate interpreters, as on separate machines) share the queue
through Redis and the limit through the database. The SMTP server's arrival
times over the whole run stay within 5 % of the limit, each message arrives
once, and both workers sent some.
"""

import json
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest

from tests.smtp import SMTPServer
from tests.test_delivery_distributed import (  # noqa: F401  (fixtures)
    ROOT,
    redis_url,
    sent_per_worker,
    start_worker,
    statuses,
    wait_until_ready,
    worker_env,
)

pytest.importorskip("django_tasks_celery", reason='needs pip install -e ".[distributed]"')

pytestmark = [pytest.mark.smtp, pytest.mark.worker]

MESSAGES = 200
LIMIT = 20


@pytest.fixture
def limited_env(worker_env):  # noqa: F811
    return {**worker_env, "TXMAIL_TEST_TXMAIL": json.dumps(
        {"RATE_LIMITS": {"transactional": f"{LIMIT}/s"}})}


def test_celery_workers_share_one_rate_limit(tmp_path, limited_env, smtp_server: SMTPServer):
    logs = [tmp_path / f"worker{i}.log" for i in range(2)]
    workers = [start_worker(limited_env, f"worker{i}", log) for i, log in enumerate(logs)]
    try:
        wait_until_ready(workers, logs)
        produced = subprocess.run(
            [sys.executable, "-m", "tests.distributed.produce", str(MESSAGES)],
            env=limited_env, cwd=ROOT, check=True, timeout=90, capture_output=True, text=True,
        )
        message_ids = json.loads(produced.stdout)
        deadline = time.monotonic() + 60
        while statuses(limited_env)["sent"] < MESSAGES and time.monotonic() < deadline:
            assert all(w.poll() is None for w in workers), [log.read_text() for log in logs]
            time.sleep(0.2)
        time.sleep(1)  # a duplicate would arrive now
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)  # Celery's warm shutdown
        for worker in workers:
            worker.wait(30)

    received = Counter(r.message["Message-ID"] for r in smtp_server.received)
    assert received == Counter(message_ids)  # each once, and nothing else
    times = sorted(r.at for r in smtp_server.received)
    rate = (len(times) - 1) / (times[-1] - times[0])
    print(f"\n{MESSAGES} messages, two Celery workers, limit {LIMIT}/s: {rate:.2f}/s")
    assert LIMIT * 0.95 <= rate <= LIMIT * 1.05, rate
    per_worker = [sent_per_worker(log) for log in logs]
    assert sum(per_worker) == MESSAGES and all(per_worker), per_worker
