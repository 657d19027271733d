"""Idempotency keys on the distributed path: Celery workers on a Redis broker.

The same concurrent callers as tests/test_idempotency_workers.py (fifty threads
of a producer process, one key), with the settings and worker processes of
tests/test_delivery_distributed.py: one delivery row, one message at the
SMTP server, whichever of the two Celery workers sends it.
"""

import json
import signal
import subprocess
import sys
import time

import pytest

from tests.test_delivery_distributed import (  # noqa: F401 (fixtures)
    ROOT,
    redis_url,
    start_worker,
    statuses,
    wait_until_ready,
    worker_env,
)
from tests.test_idempotency_workers import CALLERS, PRODUCE

pytest.importorskip("django_tasks_celery", reason='needs pip install -e ".[distributed]"')

pytestmark = [pytest.mark.smtp, pytest.mark.worker]


def test_fifty_callers_with_one_key_send_one_message_through_celery(
        tmp_path, worker_env, smtp_server):  # noqa: F811
    logs = [tmp_path / f"worker{i}.log" for i in range(2)]
    workers = [start_worker(worker_env, f"worker{i}", log) for i, log in enumerate(logs)]
    try:
        wait_until_ready(workers, logs)
        produced = subprocess.run(
            [sys.executable, "-c", "import django\ndjango.setup()\n" + PRODUCE, str(CALLERS)],
            env=worker_env, cwd=ROOT, timeout=180, capture_output=True, text=True)
        assert produced.returncode == 0, produced.stderr
        results = json.loads(produced.stdout)
        deadline = time.monotonic() + 60
        while (statuses(worker_env) != {"sent": 1} or not smtp_server.received) and (
                time.monotonic() < deadline):
            time.sleep(0.2)
        time.sleep(1)  # a duplicate would arrive now
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            worker.wait(30)

    assert [r for r in results if not isinstance(r, list)] == []
    assert len({delivery_id for delivery_id, _key in results}) == 1
    assert sorted(key or "" for _id, key in results) == [""] + ["receipt/1042"] * (CALLERS - 1)
    assert statuses(worker_env) == {"sent": 1}
    assert len(smtp_server.received) == 1
    assert smtp_server.received[0].message["Subject"] == "Hello receipt 1042"
