"""Benchmark bulk campaigns through real db_worker processes (a script, not a test).

    .venv/bin/python tests/bench/bulk.py                      # 100,000 recipients
    .venv/bin/python tests/bench/bulk.py --recipients 10000 --latency 0.05

1. Messages/s with 1 and 2 worker processes into an SMTP sink that waits
   ``--latency`` seconds per message (default 50 ms), as a remote server does.
2. Peak memory (VmHWM) of one worker at N recipients and at N / 10.
3. Where one worker's time goes per message: rendering, building MIME, SMTP
   (in-process, into the sink without latency), and the rest (database).

Uses tests/bulk_worker_settings.py: a file SQLite database in WAL mode.
"""

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

SEED = """
import sys
from tests.testapp.models import Subscriber
count = int(sys.argv[1])
Subscriber.objects.bulk_create(
    (Subscriber(name=f"Name {i}", email=f"user{i}@example.com",
                language="fr" if i % 3 == 0 else "en") for i in range(count)),
    batch_size=2000)
"""
START = """
from tests.testapp.emails import Bulletin
from tests.testapp.models import Subscriber
campaign = Bulletin.send_bulk(Subscriber.objects.all(), title="June")
print(campaign.pk)
"""


class Sink:
    """An aiosmtpd server that accepts everything after ``latency`` seconds."""

    def __init__(self, latency: float) -> None:
        from aiosmtpd.controller import Controller

        from tests.smtp import free_port

        self.count = 0
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                if latency:
                    await asyncio.sleep(latency)
                sink.count += 1
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()


def env_for(db: Path, port: int, **txmail: object) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT),
            "DJANGO_SETTINGS_MODULE": "tests.bulk_worker_settings",
            "TXMAIL_TEST_DB": str(db), "TXMAIL_TEST_SMTP_PORT": str(port),
            "TXMAIL_TEST_TXMAIL": json.dumps({"CLAIM_TIMEOUT": 300, **txmail})}


def python(env: dict[str, str], code: str, *args: object) -> str:
    done = subprocess.run([sys.executable, "-c", "import django\ndjango.setup()\n" + code,
                           *map(str, args)], env=env, cwd=ROOT, capture_output=True,
                          text=True, check=False)
    if done.returncode:
        raise SystemExit(done.stderr)
    return done.stdout


def peak_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def run(count: int, workers: int, latency: float, connections: int) -> tuple[float, list[int]]:
    """Return (messages per second, each worker's peak KiB)."""
    sink = Sink(latency)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "db.sqlite3"
        env = env_for(db, sink.port, CONNECTIONS=connections)
        subprocess.run([sys.executable, "-m", "django", "migrate", "--run-syncdb", "-v0"],
                       env=env, cwd=ROOT, check=True)
        python(env, SEED, count)
        campaign = int(python(env, START))
        started = time.monotonic()
        procs = [subprocess.Popen([sys.executable, "-m", "django", "db_worker", "--interval",
                                   "0.1", "--no-startup-delay", "--no-reload"], env=env,
                                  cwd=ROOT, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL) for _ in range(workers)]
        peaks = [0] * workers
        try:
            import sqlite3
            while sink.count < count:
                time.sleep(0.5)
                peaks = [max(p, peak_kib(proc.pid)) for p, proc in zip(peaks, procs,
                                                                       strict=True)]
                with sqlite3.connect(db, timeout=60) as conn:
                    [(status,)] = conn.execute("SELECT status FROM txmail_campaign WHERE id=?",
                                               (campaign,)).fetchall()
                    [(waiting,)] = conn.execute(
                        "SELECT COUNT(*) FROM txmail_delivery WHERE status IN "
                        "('queued', 'retrying', 'sending')").fetchall()
                if status == "done" and not waiting:
                    break
            elapsed = time.monotonic() - started
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(30)
            sink.stop()
    return sink.count / elapsed, peaks


def shares(count: int) -> dict[str, float]:
    """Seconds per message: render, MIME, SMTP, in one process against a file DB."""
    sink = Sink(0)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.update(env_for(Path(tmp) / "db.sqlite3", sink.port))
        import django
        django.setup()
        from django.core.management import call_command

        call_command("migrate", run_syncdb=True, verbosity=0)
        from tests.testapp.emails import Bulletin
        from tests.testapp.models import Subscriber
        from txmail.delivery.stored import freeze
        from txmail.delivery.transport import Connection
        from txmail.render import render_activated

        people = [Subscriber(pk=i, name=f"Name {i}", email=f"user{i}@example.com")
                  for i in range(count)]
        times = {"render": 0.0, "mime": 0.0, "smtp": 0.0}
        with Connection("default") as connection:
            for person in people:
                message = Bulletin.get_bulk_message(person, title="June")
                t0 = time.perf_counter()
                with message.activated():
                    rendered = render_activated(message)
                    t1 = time.perf_counter()
                    email = message.build(rendered)
                    freeze(email)  # the bytes a chunk stores
                t2 = time.perf_counter()
                connection.send(email)
                t3 = time.perf_counter()
                times["render"] += t1 - t0
                times["mime"] += t2 - t1
                times["smtp"] += t3 - t2
    sink.stop()
    return {k: v / count for k, v in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--latency", type=float, default=0.05,
                        help="Seconds the sink waits per message (default 0.05).")
    parser.add_argument("--connections", type=int, default=10,
                        help="TXMAIL['CONNECTIONS'] per worker (default 10).")
    options = parser.parse_args()
    n = options.recipients
    print(f"{n} recipients, sink latency {options.latency * 1000:.0f} ms, "
          f"{options.connections} connections per worker")
    rates = {}
    for workers in (1, 2):
        rate, peaks = run(n, workers, options.latency, options.connections)
        rates[workers] = rate
        print(f"{workers} worker(s): {rate:.0f} msgs/s; peak RSS "
              + ", ".join(f"{p / 1024:.0f} MiB" for p in peaks))
    print(f"2 workers / 1 worker: {rates[2] / rates[1]:.2f}x")
    _rate, small = run(max(n // 10, 1), 1, 0, options.connections)
    _rate, large = run(n, 1, 0, options.connections)
    print(f"peak RSS of one worker: {large[0] / 1024:.0f} MiB at {n}, "
          f"{small[0] / 1024:.0f} MiB at {n // 10} ({large[0] / small[0]:.2f}x)")
    per = shares(min(n, 2000))
    total = sum(per.values())
    print("per message: " + ", ".join(
        f"{k} {v * 1000:.2f} ms ({v / total:.0%})" for k, v in per.items()))


if __name__ == "__main__":
    main()
