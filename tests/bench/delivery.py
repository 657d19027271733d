"""Delivery benchmark: ``python -m tests.bench.delivery [--messages 1000]``.

Prints, from one run:

1. what ``enqueue()`` adds to a request, in ms per message, against a file
   SQLite database (WAL): render + build to MIME bytes only, ``enqueue()`` (build, the
   delivery row, the task row), and ``send()`` to a local SMTP server;
2. worker throughput in messages/s against an SMTP relay that takes 50 ms per
   message (``tests.bench.relay`` in its own process, connections served
   concurrently): one ``db_worker`` sending one
   message at a time (``CONNECTIONS=1``), one worker over 10 connections, and
   two workers over 10 connections each.

Beside them, the floor (``tests.bench.floor``): stdlib ``smtplib`` alone sending
this run's own stored bytes (the ``Delivery.raw`` of the filled queue) over one
connection to the same relay, in a process of its own. Every worker CPU figure
is printed as a ratio to it. Worker CPU is the processes' CPU time (``/proc``)
between two readings, once a twentieth of the messages (at least 20) are sent and
at the end, divided by the messages sent between them: start-up and first tasks
are not counted.

Throughput is measured from the delivery rows themselves: sent rows divided by
the time from the first claim to the last ``sent_at``, so process start-up is
not counted. Every phase starts from the same pre-filled database (a copy).
The CPU columns (workers' and relay's CPU time per message) and the load
average show whether the machine, rather than txmail, was the limit.
Not a test: numbers depend on the machine; the ratios are the point.
"""

import argparse
import json
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from tests.bench import floor as floor_bench

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = "tests.distributed.settings"
LATENCY = 0.05
PHASE_SECONDS = 25  # a phase stops after this long even if messages are left


# -- processes -------------------------------------------------------------

def setup_django() -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", SETTINGS)
    django.setup()


def make(kind: str, i: int):  # type: ignore[no-untyped-def]
    """Message ``i`` of the run: a realistic Statement (default) or the minimal Hello."""
    from tests.testapp.emails import Hello, Statement

    if kind == "hello":
        return Hello(name=f"Reader {i}", to=[f"reader{i}@example.com"])
    return Statement(seed=i, to=[f"reader{i}@example.com"])


def request_main(messages: int, kind: str) -> None:
    """Per-message cost in a request: build, enqueue(), send(); prints JSON ms/message."""
    setup_django()
    from email import policy as email_policy

    def build(i: int) -> None:
        # To bytes, as every path does: Django's message() is only the recipe.
        email = make(kind, i).message()
        email.message(policy=email_policy.SMTP).as_bytes()

    def enqueue(i: int) -> None:
        make(kind, i).enqueue()

    def send(i: int) -> None:
        make(kind, i).send()

    ways = {"build": build, "enqueue": enqueue, "send": send}
    for func in ways.values():  # warm up: templates compiled, connections open
        for i in range(20):
            func(i)
    rounds: dict[str, list[float]] = {name: [] for name in ways}
    per_round = max(messages // 5, 20)
    for _round in range(5):  # interleaved, so drift hits each way alike
        for name, func in ways.items():
            start = time.perf_counter()
            for i in range(per_round):
                func(i)
            rounds[name].append((time.perf_counter() - start) * 1000 / per_round)
    print(json.dumps({name: statistics.median(ms) for name, ms in rounds.items()}))


def fill_main(messages: int, kind: str) -> None:
    """Enqueue ``messages`` messages (rows and db tasks) for the worker phases."""
    setup_django()
    for i in range(messages):
        make(kind, i).enqueue()


# -- orchestration ---------------------------------------------------------

def free_port() -> int:
    from tests.smtp import free_port as free

    return free()


def env_for(db: Path, smtp_port: int, connections: int = 10) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": SETTINGS,
        "PYTHONPATH": str(ROOT),
        "TXMAIL_TEST_DB": str(db),
        "TXMAIL_TEST_TASKS": "db",
        "TXMAIL_TEST_SMTP_PORT": str(smtp_port),
        "TXMAIL_TEST_CONNECTIONS": str(connections),
    }


def python(*args: str, env: dict[str, str], **kwargs) -> subprocess.CompletedProcess:  # type: ignore[no-untyped-def]
    return subprocess.run([sys.executable, *args], env=env, cwd=ROOT, check=True, **kwargs)


def start_relay(latency: float) -> tuple[subprocess.Popen, int]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.bench.relay", str(port), str(latency)],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    import socket

    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the SMTP relay did not start")


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


cpu_seconds = floor_bench.cpu_seconds
WORKER = ["-m", "django", "db_worker", "--interval", "0.1", "--no-startup-delay",
          "--no-reload", "-v0"]


def checkpoint(db: Path) -> None:
    """Fold the WAL into the database file, so a plain copy is complete."""
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value)


def throughput(db: Path, until: datetime) -> tuple[int, float]:
    """(messages sent by ``until``, messages/s from the first claim to the last of them)."""
    with sqlite3.connect(db) as conn:
        first = conn.execute("SELECT MIN(claimed_at) FROM txmail_delivery").fetchone()[0]
        sent, last = conn.execute(
            "SELECT COUNT(*), MAX(sent_at) FROM txmail_delivery WHERE status = 'sent' "
            "AND sent_at <= ?", (until.strftime("%Y-%m-%d %H:%M:%S.%f"),)
        ).fetchone()
    if not sent:
        return 0, 0.0
    return sent, sent / (_when(last) - _when(first)).total_seconds()


def sent_count(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT COUNT(*) FROM txmail_delivery WHERE status = 'sent'").fetchone()[0]


CELERY = ["-m", "celery", "-A", "tests.distributed.celery_app", "worker", "--pool=solo",
          "--loglevel=WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat"]


def start_redis(work: Path) -> tuple[subprocess.Popen, str]:
    """A throwaway redis-server (Debian's) on a free loopback port: Celery's broker."""
    import socket

    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("The Celery phases need Debian's redis-server: apt-get install "
                         "redis-server (./tests/run installs it).")
    port = free_port()
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(work)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("redis-server did not start")


def celery_env(db: Path, smtp_port: int, connections: int, broker: str) -> dict[str, str]:
    return {**env_for(db, smtp_port, connections), "TXMAIL_TEST_TASKS": "celery",
            "TXMAIL_TEST_BROKER": broker}


def celery_phase(blank: Path, work: Path, relay: subprocess.Popen, smtp_port: int, *,
                 workers: int, connections: int, messages: int, kind: str
                 ) -> dict[str, float]:
    """Like ``worker_phase``, with Celery worker processes (``--pool=solo``) on Redis.

    The tasks live in Redis, not in the database: each phase fills a queue of its own.
    """
    redis, broker = start_redis(work)
    try:
        db = work / f"celery-{workers}w-{connections}c.sqlite3"
        shutil.copy(blank, db)
        env = celery_env(db, smtp_port, connections, broker)
        python("-m", "tests.bench.delivery", "fill", str(messages), kind, env=env)
        return worker_phase(db, work, relay, smtp_port, workers=workers,
                            connections=connections, messages=messages,
                            command=CELERY, env=env, name="celery-")
    finally:
        stop(redis)


def until_idle(procs: list[subprocess.Popen], quiet: float = 0.03,
               limit: float = 30.0) -> float:
    """The workers' CPU seconds once they spend under ``quiet`` s of CPU per half second
    (polling an empty queue), waiting at most ``limit`` seconds."""
    total = sum(cpu_seconds(proc.pid) for proc in procs)
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = sum(cpu_seconds(proc.pid) for proc in procs)
        if now - total < quiet * len(procs):
            return now
        total = now
    return total


def worker_phase(filled: Path, work: Path, relay: subprocess.Popen, smtp_port: int, *,
                 workers: int, connections: int, messages: int,
                 command: list[str] | None = None,
                 env: dict[str, str] | None = None, name: str = "") -> dict[str, float]:
    db = work / f"phase-{name}{workers}w-{connections}c.sqlite3"
    if db != filled:
        shutil.copy(filled, db)
    env = dict(env or env_for(db, smtp_port, connections), TXMAIL_TEST_DB=str(db))
    relay_cpu = cpu_seconds(relay.pid)
    procs = [
        subprocess.Popen([sys.executable, *(command or WORKER),
                          *([f"--hostname=w{n}@%h"] if command else [])], env=env, cwd=ROOT)
        for n in range(workers)
    ]
    try:
        deadline = time.monotonic() + PHASE_SECONDS
        # The workers' CPU is read twice, once they have sent a few messages and at
        # the end: per message is the difference over the messages sent between.
        # Start-up and each worker's first task (imports, first connections) stay
        # out, where subtracting a separately measured start-up left an error of
        # ~0.5 s per worker, most of a one-connection phase's ~1 s of sending CPU.
        warm_at, warm = max(20, messages // 20), None
        while time.monotonic() < deadline:
            cpu, sent_now = sum(cpu_seconds(proc.pid) for proc in procs), sent_count(db)
            if warm is None and sent_now >= warm_at:
                warm = (cpu, sent_now)
            if sent_now >= messages:
                break
            time.sleep(0.2)
        # Throughput up to now: the workers still send while they stop, one after
        # the other, and a lone worker's tail would count against two.
        cutoff = datetime.now(UTC)
        at_cutoff = sum(cpu_seconds(proc.pid) for proc in procs), sent_count(db)
        relay_cpu = cpu_seconds(relay.pid) - relay_cpu
        if warm is None:
            raise SystemExit(f"A phase sent fewer than {warm_at} messages in "
                             f"{PHASE_SECONDS} s: {at_cutoff[1]}.")
        # A phase that ran out of time is measured at the cutoff, as its rate is:
        # its workers go on sending, and that CPU would count against the messages
        # sent by then. A phase that sent everything is measured once the workers
        # are idle: what they run after the last message costs them CPU too.
        done = at_cutoff[1] >= messages
        end = (until_idle(procs), sent_count(db)) if done else at_cutoff
        worker_cpu = (end[0] - warm[0]) / max(end[1] - warm[1], 1)
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            stop(proc)
    sent, rate = throughput(db, until=cutoff)
    return {"sent": sent, "rate": rate, "worker_cpu": worker_cpu * 1000,
            "relay_cpu": relay_cpu / max(sent, 1) * 1000}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000,
                        help="messages per worker phase (default: %(default)s)")
    parser.add_argument("--message", choices=["statement", "hello"], default="statement",
                        help="statement: ~45 KB of HTML, a text part, every 4th with a "
                             "12 KB PDF; hello: a minimal message (default: %(default)s)")
    parser.add_argument("--phases", default="1x1,2x1,1x10,2x10",
                        help="WORKERSxCONNECTIONS phases to run with db_worker (default: "
                             "%(default)s)")
    parser.add_argument("--celery", default="",
                        help="WORKERSxCONNECTIONS phases to run with Celery worker "
                             "processes on Redis, e.g. 1x10,2x10 (default: none)")
    args = parser.parse_args(argv)
    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())

    with tempfile.TemporaryDirectory(prefix="txmail-bench-") as tmp:
        work = Path(tmp)
        fast, fast_port = start_relay(0)
        slow, slow_port = start_relay(LATENCY)
        try:
            blank = work / "blank.sqlite3"
            python("-m", "django", "migrate", "-v0", env=env_for(blank, fast_port))

            request_db = work / "request.sqlite3"
            shutil.copy(blank, request_db)
            out = python("-m", "tests.bench.delivery", "request",
                         str(min(args.messages, 500)), args.message,
                         env=env_for(request_db, fast_port), capture_output=True, text=True)
            cost = json.loads(out.stdout)

            filled = work / "filled.sqlite3"
            shutil.copy(blank, filled)
            python("-m", "tests.bench.delivery", "fill", str(args.messages), args.message,
                   env=env_for(filled, slow_port))
            checkpoint(filled)
            # The floor: this run's stored bytes, smtplib alone, one connection.
            floor = floor_bench.measure(slow_port, db=filled, limit=min(args.messages, 300))

            phases = [tuple(map(int, p.split("x"))) for p in args.phases.split(",") if p]
            rates = {
                (w, c): worker_phase(filled, work, slow, slow_port, workers=w,
                                     connections=c, messages=args.messages)
                for w, c in phases
            }
            celery = {}
            if args.celery:
                for p in args.celery.split(","):
                    w, c = map(int, p.split("x"))
                    celery[(w, c)] = celery_phase(blank, work, slow, slow_port, workers=w,
                                                  connections=c, messages=args.messages,
                                                  kind=args.message)
        finally:
            stop(fast)
            stop(slow)

    print("\nenqueue() in a request (ms per message, file SQLite in WAL mode)")
    print(f"  render + build (bytes)     {cost['build']:8.2f}")
    print(f"  enqueue()                  {cost['enqueue']:8.2f}"
          f"   (+{cost['enqueue'] - cost['build']:.2f} over build)")
    print(f"  send() to a local server   {cost['send']:8.2f}"
          f"   (+{cost['send'] - cost['build']:.2f} over build)")
    print(f"\nworkers (db_worker) against a relay taking {LATENCY * 1000:.0f} ms per message")
    print(f"  floor: smtplib alone, this run's stored bytes ({floor['sent']} of them), one "
          f"connection: {floor['cpu_ms']:.3f} ms of client CPU per message")
    print("  (worker CPU: from a twentieth of the messages sent, at least 20, to the end;"
          " start-up and first tasks not counted)")
    print(f"  {'workers':>7} {'CONNECTIONS':>11} {'sent':>6} {'msg/s':>8} {'vs 1x1':>7}"
          f" {'worker CPU ms/msg':>18} {'/floor':>7} {'relay CPU ms/msg':>17}")
    base = rates[(1, 1)]["rate"] if (1, 1) in rates else float("nan")
    for (w, c), r in rates.items():
        print(f"  {w:>7} {c:>11} {r['sent']:>6} {r['rate']:>8.1f} {r['rate'] / base:>6.1f}x"
              f" {r['worker_cpu']:>18.2f} {floor_bench.ratio(r['worker_cpu'], floor['cpu_ms']):>7}"
              f" {r['relay_cpu']:>17.2f}")
    if celery:
        print("\n  Celery worker processes (--pool=solo, Redis)")
        for (w, c), r in celery.items():
            db_cpu = rates.get((w, c), rates.get((1, c), {})).get("worker_cpu", float("nan"))
            to_floor = floor_bench.ratio(r["worker_cpu"], floor["cpu_ms"])
            print(f"  {w:>7} {c:>11} {r['sent']:>6} {r['rate']:>8.1f}"
                  f" {r['worker_cpu']:>18.2f} {to_floor:>7}"
                  f" {r['relay_cpu']:>17.2f}   CPU vs db_worker: {r['worker_cpu'] / db_cpu:.2f}x"
                  " (target <= 1.5x)")
        for width in sorted({c for _w, c in celery}):
            if (1, width) in celery and (2, width) in celery:
                print(f"  2 Celery workers vs 1, {width} connection(s) each: "
                      f"{celery[(2, width)]['rate'] / celery[(1, width)]['rate']:.2f}x "
                      "(target >= 1.8x)")

    def rate(phase: tuple[int, int]) -> float:
        return rates[phase]["rate"] if phase in rates else float("nan")

    one, two = rate((1, 10)), rate((2, 10))
    print(f"\n  10 connections vs 1, one worker: {one / base:.1f}x (target >= 8x)")
    print(f"  2 workers vs 1, one connection each: {rate((2, 1)) / base:.2f}x"
          " (target >= 1.8x; the relay's latency bounds both)")
    print(f"  2 workers vs 1, 10 connections each: {two / one:.2f}x (bounded by the CPUs"
          " when worker CPU x msg/s nears the cores left beside the relay)")
    print(f"  {os.cpu_count()} CPUs; load average before {load_before}, after "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")

if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "request":
        request_main(int(sys.argv[2]), sys.argv[3])
    elif len(sys.argv) > 1 and sys.argv[1] == "fill":
        fill_main(int(sys.argv[2]), sys.argv[3])
    else:
        main()
