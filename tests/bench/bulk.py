"""Benchmark bulk campaigns through real db_worker processes (a script, not a test).

    .venv/bin/python tests/bench/bulk.py                      # 100,000 recipients
    .venv/bin/python tests/bench/bulk.py --recipients 10000 --latency 0.05
    .venv/bin/python tests/bench/bulk.py --memory-only --latency 0   # 100,000 vs 10,000

1. Messages/s with 1 and 2 worker processes into an SMTP sink that waits
   ``--latency`` seconds per message (default 50 ms), as a remote server does.
   Each rate is over the whole campaign: the recipients sent, divided by the
   time from starting the workers to the last message sent. The sink (the
   lean ``relay.py``) runs in its own process, so its CPU is not taken from the
   benchmark's process; the workers' and the sink's CPU per message are printed too.
2. Peak memory (VmHWM) of one worker at N recipients (read from the one-worker
   run of 1) and at N / 10 (a run of its own, same settings).
   The floor, in the same run: stdlib ``smtplib`` alone sending the run's own
   stored bytes (the first messages the sink received, as sent) over one
   connection to the same sink (``tests/bench/floor.py``); each worker CPU
   figure is printed as a ratio to it. Worker CPU is the processes' CPU time
   (``/proc``) less what one spends starting up with nothing to send.
3. Where time goes per message, in one process: rendering, building MIME and
   the stored bytes, SMTP (into the sink without latency), and the rest (the
   database, claims, signals), the rest measured by running the chunk task
   itself with one connection.

``--connections`` defaults to 4 per worker, so that one worker is bound by the
sink's latency, not by its CPU. A worker spends ~7 ms of CPU per message
(rendering, MIME, its database bookkeeping), in threads that share one core
(the GIL); 4 lanes that each wait ~55 ms per message send ~55 messages/s, under
half a core, so a second worker (plus the sink and SQLite) still finds CPU on
a 2-core machine and the rate can double. At 10 connections one worker alone
needs most of a core, and two workers compete for the CPU instead of scaling
with the latency they wait on.

Uses tests/bulk_worker_settings.py: a file SQLite database in WAL mode.
"""

import argparse
import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from tests.bench import floor as floor_bench  # noqa: E402

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
import sys
from tests.testapp import emails
from tests.testapp.models import Subscriber
cls = getattr(emails, sys.argv[1])
campaign = cls.send_bulk(Subscriber.objects.all(), title="June")
print(campaign.pk)
"""
# The bulk message: a realistic one (the Statement's ~45 KB template), or the tiny
# Bulletin of earlier runs (--message bulletin).
CLASSES = {"statement": "StatementDigest", "bulletin": "Bulletin"}


def serve_sink(port: int, latency: float, samples: Path | None = None) -> None:
    """Run the benchmarks' relay (``relay.py``), accepting everything after ``latency`` seconds.

    Prints "ready" once listening; on SIGTERM prints how many messages it
    accepted and its CPU seconds, then exits. The first messages go to
    ``samples`` for the floor (``floor.Samples``).
    """
    from tests.bench import relay

    count = 0
    kept = floor_bench.Samples(samples) if samples is not None else None

    def on_message(sender: str, recipients: list[str], data: bytes) -> None:
        nonlocal count
        if kept is not None:
            kept.keep(sender, recipients, data)
        count += 1

    asyncio.run(relay.serve(port, latency, on_message, ready=lambda: print("ready", flush=True)))
    print(count, time.process_time(), flush=True)


class Sink:
    """The sink's process: ``stop()`` returns (messages accepted, CPU seconds)."""

    def __init__(self, latency: float, samples: Path | None = None) -> None:
        from tests.smtp import free_port

        self.port = free_port()
        kept = ["--samples", str(samples)] if samples is not None else []
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--serve-sink", str(self.port), "--latency",
             str(latency), *kept], stdout=subprocess.PIPE, text=True, cwd=ROOT)
        if self.proc.stdout.readline().strip() != "ready":  # type: ignore[union-attr]
            raise SystemExit("The SMTP sink did not start.")

    def stop(self) -> tuple[int, float]:
        self.proc.terminate()
        out, _err = self.proc.communicate(timeout=30)
        count, cpu = out.split()
        return int(count), float(cpu)


def env_for(db: Path, port: int, **txmail: object) -> dict[str, str]:
    # The worktree's txmail first: an editable install may point elsewhere.
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


def proc_status(pid: int) -> tuple[int, float]:
    """Return a live process's (peak RSS in KiB, CPU seconds so far)."""
    peak = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            peak = int(line.split()[1])
    # utime and stime: fields 14 and 15, after the parenthesised command name.
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return peak, (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


WORKER = ["-m", "django", "db_worker", "--interval", "0.1", "--no-startup-delay",
          "--no-reload"]


def startup_cpu() -> float:
    """CPU seconds one worker spends starting up, with nothing to send."""
    with tempfile.TemporaryDirectory() as tmp:
        env = env_for(Path(tmp) / "db.sqlite3", 9)
        subprocess.run([sys.executable, "-m", "django", "migrate", "--run-syncdb", "-v0"],
                       env=env, cwd=ROOT, check=True)
        return floor_bench.startup_cpu([sys.executable, *WORKER], env=env, cwd=ROOT)


def run(count: int, workers: int, latency: float, connections: int,
        startup: float = 0.0, cls: str = "StatementDigest") -> dict[str, object]:
    """Send a campaign to ``count`` recipients with ``workers`` db_worker processes.

    Then the floor: the first messages the sink received, sent again to it by
    smtplib alone.
    """
    with tempfile.TemporaryDirectory() as tmp:
        samples = Path(tmp) / "samples.jsonl"
        sink = Sink(latency, samples)
        try:
            db = Path(tmp) / "db.sqlite3"
            env = env_for(db, sink.port, CONNECTIONS=connections)
            subprocess.run([sys.executable, "-m", "django", "migrate", "--run-syncdb",
                            "-v0"], env=env, cwd=ROOT, check=True)
            python(env, SEED, count)
            campaign = int(python(env, START, cls))
            started = datetime.now(UTC)
            procs = [subprocess.Popen([sys.executable, *WORKER], env=env, cwd=ROOT,
                                      stdout=subprocess.DEVNULL) for _ in range(workers)]
            try:
                with sqlite3.connect(db, timeout=60) as conn:
                    while not finished(conn, campaign):
                        if any(proc.poll() is not None for proc in procs):
                            raise SystemExit("A worker stopped; see its output above.")
                        time.sleep(1)
                    [(sent, last)] = conn.execute(
                        "SELECT COUNT(*), MAX(sent_at) FROM txmail_delivery "
                        "WHERE status = 'sent'").fetchall()
                stats = [proc_status(proc.pid) for proc in procs]
            finally:
                for proc in procs:
                    proc.terminate()
                for proc in procs:
                    proc.wait(30)
            floor = floor_bench.measure(sink.port, samples=samples)
        finally:
            accepted, sink_cpu = sink.stop()
    accepted -= int(floor["sent"])
    # sent_at is stored in UTC (USE_TZ): the time from the start to the last send.
    elapsed = (datetime.fromisoformat(last).replace(tzinfo=UTC) - started).total_seconds()
    if sent != count or accepted != count:
        print(f"  warning: {sent} sent, the sink accepted {accepted}, of {count}")
    return {"rate": sent / elapsed, "elapsed": elapsed, "peaks": [s[0] for s in stats],
            "cpu": sum(s[1] - startup for s in stats) / max(sent, 1),
            "sink_cpu": sink_cpu / max(sent, 1), "floor": floor["cpu_ms"] / 1000}


def finished(conn: sqlite3.Connection, campaign: int) -> bool:
    [(status,)] = conn.execute("SELECT status FROM txmail_campaign WHERE id = ?",
                               (campaign,)).fetchall()
    [(waiting,)] = conn.execute("SELECT COUNT(*) FROM txmail_delivery WHERE status IN "
                                "('queued', 'retrying', 'sending')").fetchall()
    return status == "done" and not waiting


def shares(count: int, cls_name: str = "StatementDigest") -> dict[str, float]:
    """Seconds per message: render, MIME, SMTP, and the rest, in one process."""
    sink = Sink(0)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            os.environ.update(env_for(Path(tmp) / "db.sqlite3", sink.port, CONNECTIONS=1))
            import django
            django.setup()
            from django.core.management import call_command

            call_command("migrate", run_syncdb=True, verbosity=0)
            from tests.testapp import emails
            from tests.testapp.models import Subscriber
            from txmail.backends.transport import Connection
            from txmail.bulk.models import Chunk
            from txmail.bulk.tasks import run_chunk
            from txmail.mail.frozen import FrozenEmail, freeze
            from txmail.outbox import build
            from txmail.rendering.pipeline import activated, render_activated

            people = [Subscriber(pk=i, name=f"Name {i}", email=f"user{i}@example.com")
                      for i in range(count)]
            cls = getattr(emails, cls_name)
            times = {"render": 0.0, "mime": 0.0, "smtp": 0.0}
            with Connection("default") as connection:
                for person in people:
                    message = cls.get_bulk_message(person, title="June")
                    t0 = time.perf_counter()
                    draft = message.resolve()
                    with activated(draft):
                        rendered = render_activated(draft)
                        t1 = time.perf_counter()
                        email = build(draft, rendered)
                        raw, sender, recipients = freeze(email)  # the bytes a chunk stores
                    t2 = time.perf_counter()
                    # Those bytes, as a chunk's sender sends them.
                    connection.send(FrozenEmail(raw, sender, recipients))
                    t3 = time.perf_counter()
                    times["render"] += t1 - t0
                    times["mime"] += t2 - t1
                    times["smtp"] += t3 - t2
            # The same messages through the chunk task: the difference is the rest.
            Subscriber.objects.bulk_create(people, batch_size=2000)
            campaign = cls.send_bulk(Subscriber.objects.all(), title="June")
            started = time.perf_counter()
            for chunk in Chunk.objects.filter(campaign=campaign).values_list("pk", flat=True):
                run_chunk(chunk)
            whole = time.perf_counter() - started
    finally:
        sink.stop()
    per = {k: v / count for k, v in times.items()}
    per["rest"] = max(whole / count - sum(per.values()), 0.0)
    return per


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--latency", type=float, default=0.05,
                        help="Seconds the sink waits per message (default 0.05).")
    parser.add_argument("--connections", type=int, default=4,
                        help="TXMAIL['CONNECTIONS'] per worker (default 4: see above).")
    parser.add_argument("--message", choices=sorted(CLASSES), default="statement",
                        help="statement: ~45 KB of HTML and a text part; bulletin: a "
                             "minimal message (default: %(default)s)")
    parser.add_argument("--serve-sink", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--samples", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--no-memory", action="store_true",
                        help="Skip the memory run at a tenth of the recipients.")
    parser.add_argument("--memory-only", action="store_true",
                        help="Only the memory figure: one worker at N recipients and at "
                             "N / 10 (no two-worker run, no per-message shares).")
    options = parser.parse_args()
    if options.serve_sink:
        serve_sink(options.serve_sink, options.latency, options.samples)
        return
    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    startup = startup_cpu()
    n = options.recipients
    print(f"{n} recipients, sink latency {options.latency * 1000:.0f} ms, "
          f"{options.connections} connections per worker")
    results = {}
    for workers in (1,) if options.memory_only else (1, 2):
        result = results[workers] = run(n, workers, options.latency, options.connections,
                                        startup, CLASSES[options.message])
        cpu, floor = float(result["cpu"]), float(result["floor"])  # type: ignore[arg-type]
        print(f"{workers} worker(s): {result['rate']:.1f} msgs/s over "
              f"{result['elapsed']:.0f} s; worker CPU {cpu * 1000:.2f} ms/msg "
              f"= {floor_bench.ratio(cpu, floor)} the floor "
              f"(smtplib alone, the run's bytes, one connection: {floor * 1000:.3f} ms), "
              f"sink CPU {float(result['sink_cpu']) * 1000:.1f} ms/msg")  # type: ignore[arg-type]
    if 2 in results:
        print(f"2 workers / 1 worker: {results[2]['rate'] / results[1]['rate']:.2f}x")  # type: ignore[operator]
    print(f"(worker CPU: less {startup:.2f} s of start-up per worker)")
    if not options.no_memory:
        small = run(max(n // 10, 1), 1, options.latency, options.connections, startup,
                    CLASSES[options.message])
        large_kib, small_kib = results[1]["peaks"][0], small["peaks"][0]  # type: ignore[index]
        print(f"peak RSS of one worker: {large_kib / 1024:.0f} MiB at {n} (the 1-worker "
              f"run), {small_kib / 1024:.0f} MiB at {n // 10} ({large_kib / small_kib:.2f}x)")
    if not options.memory_only:
        per = shares(min(n, 2000), CLASSES[options.message])
        total = sum(per.values())
        print("per message in one process: " + ", ".join(
            f"{k} {v * 1000:.2f} ms ({v / total:.0%})" for k, v in per.items()))
    print(f"{os.cpu_count()} CPUs; load average before {load_before}, after "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
