"""Password resets while a campaign runs: how long they wait (a script, not a test).

    python -m tests.bench.lanes                          # 10,000 recipients, 40 resets
    python -m tests.bench.lanes --recipients 2000 --resets 10

Two runs, each on a fresh file SQLite database (WAL), with real ``db_worker``
processes (``--workers``, default 2, ``--connections`` each, default 4) and an
SMTP sink in its own process that waits ``--latency`` seconds per message, as
a remote server does (tests/bench/bulk.py's setup):

1. the campaign alone: its rate, the recipients sent over the time from
   starting the workers to the last message sent;
2. the campaign again and, once ``--after`` of its messages are sent, a
   ``PasswordReset(user).enqueue()`` every ``--every`` seconds from another
   process (``--resets`` of them, the default mailer, the default queue: the
   same workers). Per reset: the time from calling ``enqueue()`` to the
   worker handing it to the mailer (``handed_over_at``) and to its arrival at
   the sink (the end of its DATA), as p50 / p95 / max; the campaign's rate;
   and how many campaign messages were sent after the last reset arrived
   (the campaign was still running).

All clocks are this machine's (``time.time()`` and the rows' UTC timestamps).
The load average before and after is printed: the machine's other work slows
every process here.
"""

import argparse
import asyncio
import json
import math
import os
import signal
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

from tests.bench.bulk import env_for, finished, python  # noqa: E402

SEED = """
import sys
from django.contrib.auth.models import User
from tests.testapp.models import Subscriber
count, resets = int(sys.argv[1]), int(sys.argv[2])
Subscriber.objects.bulk_create(
    (Subscriber(name=f"Name {i}", email=f"user{i}@example.com",
                language="fr" if i % 3 == 0 else "en") for i in range(count)),
    batch_size=2000)
User.objects.bulk_create(User(username=f"reset{i}", email=f"reset{i}@example.com")
                         for i in range(resets))
"""
START = """
from tests.testapp.emails import Bulletin
from tests.testapp.models import Subscriber
print(Bulletin.send_bulk(Subscriber.objects.all(), title="June").pk)
"""
TRICKLE = """
import json, sys, time
from django.contrib.auth.models import User
from txmail.contrib.auth.emails import PasswordReset
count, every = int(sys.argv[1]), float(sys.argv[2])
users = list(User.objects.order_by("pk")[:count])
PasswordReset(users[0]).render()  # templates compiled before the first is timed
start = time.monotonic()
for i, user in enumerate(users):
    time.sleep(max(0.0, start + i * every - time.monotonic()))
    called = time.time()
    row = PasswordReset(user).enqueue().delivery
    print(json.dumps({"pk": row.pk, "to": user.email, "called": called,
                      "returned": time.time()}), flush=True)
"""


def serve_sink(port: int, latency: float) -> None:
    """An aiosmtpd sink: answers after ``latency`` s; notes when each reset arrived.

    On SIGTERM prints one JSON line: the messages accepted and the arrival
    times (``time.time()`` at the end of DATA) of those to reset*@.
    """
    from aiosmtpd.controller import Controller

    count = 0
    arrived: dict[str, float] = {}
    copies: dict[str, int] = {}

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
            nonlocal count
            at = time.time()
            for rcpt in envelope.rcpt_tos:
                if rcpt.startswith("reset"):
                    arrived.setdefault(rcpt, at)
                    copies[rcpt] = copies.get(rcpt, 0) + 1
            if latency:
                await asyncio.sleep(latency)
            count += 1
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()

    def stop(*_args: object) -> None:
        controller.stop()
        print(json.dumps({"count": count, "arrived": arrived, "copies": copies}), flush=True)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    print("ready", flush=True)
    while True:
        time.sleep(3600)


class Sink:
    def __init__(self, latency: float) -> None:
        from tests.smtp import free_port

        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.bench.lanes", "--serve-sink", str(self.port),
             "--latency", str(latency)], stdout=subprocess.PIPE, text=True, cwd=ROOT)
        if self.proc.stdout.readline().strip() != "ready":  # type: ignore[union-attr]
            raise SystemExit("The SMTP sink did not start.")

    def stop(self) -> dict:
        self.proc.terminate()
        out, _err = self.proc.communicate(timeout=30)
        return json.loads(out.strip().splitlines()[-1])


def stamp(value: str | None) -> float:
    """A row's UTC timestamp (SQLite text) as ``time.time()`` seconds."""
    if value is None:
        return math.nan
    return datetime.fromisoformat(value).replace(tzinfo=UTC).timestamp()


def run(options: argparse.Namespace, resets: int) -> dict:
    """One campaign, with ``resets`` password resets trickled in once it is sending."""
    sink = Sink(options.latency)
    trickle: list[dict] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            db = Path(tmp) / "db.sqlite3"
            env = env_for(db, sink.port, CONNECTIONS=options.connections)
            subprocess.run([sys.executable, "-m", "django", "migrate", "--run-syncdb",
                            "-v0"], env=env, cwd=ROOT, check=True)
            python(env, SEED, options.recipients, max(resets, 1))
            campaign = int(python(env, START))
            started = time.time()
            procs = [subprocess.Popen([sys.executable, "-m", "django", "db_worker",
                                       "--interval", "0.1", "--no-startup-delay",
                                       "--no-reload"], env=env, cwd=ROOT,
                                      stdout=subprocess.DEVNULL)
                     for _ in range(options.workers)]
            enqueuer = None
            try:
                with sqlite3.connect(db, timeout=60) as conn:
                    while not finished(conn, campaign):
                        if any(proc.poll() is not None for proc in procs):
                            raise SystemExit("A worker stopped; see its output above.")
                        if resets and enqueuer is None and sent_of(conn) >= options.after:
                            enqueuer = subprocess.Popen(
                                [sys.executable, "-c", "import django\ndjango.setup()\n"
                                 + TRICKLE, str(resets), str(options.every)],
                                env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True)
                        time.sleep(0.5)
                    if enqueuer is not None:
                        out, _err = enqueuer.communicate(timeout=600)
                        trickle = [json.loads(line) for line in out.splitlines()]
                        while resets_left(conn):  # enqueued as the campaign ended
                            time.sleep(0.2)
                    rows = {pk: (handed, sent) for pk, handed, sent in conn.execute(
                        "SELECT id, handed_over_at, sent_at FROM txmail_delivery "
                        "WHERE message_class LIKE '%PasswordReset'")}
                    times = [stamp(s) for (s,) in conn.execute(
                        "SELECT d.sent_at FROM txmail_delivery d JOIN txmail_recipient r "
                        "ON r.delivery_id = d.id WHERE d.status = 'sent'")]
            finally:
                for proc in procs:
                    proc.terminate()
                for proc in procs:
                    proc.wait(30)
    finally:
        arrivals = sink.stop()
    last = max(times)
    if len(times) != options.recipients or arrivals["count"] != options.recipients + resets:
        print(f"  warning: {len(times)} campaign messages sent, the sink accepted "
              f"{arrivals['count']}, of {options.recipients} + {resets} resets")
    if any(n != 1 for n in arrivals["copies"].values()):
        print(f"  warning: resets that arrived more than once: {arrivals['copies']}")
    result = {"sent": len(times), "rate": len(times) / (last - started),
              "elapsed": last - started, "accepted": arrivals["count"]}
    if trickle:
        handed = [stamp(rows[t["pk"]][0]) - t["called"] for t in trickle]
        arrived = [arrivals["arrived"].get(t["to"], math.nan) - t["called"] for t in trickle]
        last_reset = max(arrivals["arrived"].values())
        result.update(handed=handed, arrived=arrived,
                      enqueue=[t["returned"] - t["called"] for t in trickle],
                      after_last=sum(1 for t in times if t > last_reset))
    return result


def resets_left(conn: sqlite3.Connection) -> int:
    [(left,)] = conn.execute("SELECT COUNT(*) FROM txmail_delivery WHERE message_class "
                             "LIKE '%PasswordReset' AND status IN ('queued', 'retrying', "
                             "'sending', 'scheduled', 'throttled')").fetchall()
    return int(left)


def sent_of(conn: sqlite3.Connection) -> int:
    [(sent,)] = conn.execute("SELECT COUNT(*) FROM txmail_delivery WHERE status = 'sent'"
                             ).fetchall()
    return int(sent)


def percentiles(values: list[float]) -> str:
    """p50 / p95 / max in seconds (nearest rank); missing values count as never."""
    ordered = sorted(math.inf if math.isnan(v) else v for v in values)
    rank = lambda p: ordered[max(math.ceil(p * len(ordered)) - 1, 0)]  # noqa: E731
    return f"p50 {rank(0.5):.2f} s, p95 {rank(0.95):.2f} s, max {ordered[-1]:.2f} s"


def load() -> str:
    return " ".join(f"{n:.2f}" for n in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--resets", type=int, default=40)
    parser.add_argument("--every", type=float, default=0.5,
                        help="seconds between two resets (default 0.5)")
    parser.add_argument("--after", type=int, default=500,
                        help="campaign messages sent before the first reset (default 500)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=4,
                        help="TXMAIL['CONNECTIONS'] per worker (default 4)")
    parser.add_argument("--latency", type=float, default=0.05,
                        help="seconds the sink waits per message (default 0.05)")
    parser.add_argument("--serve-sink", type=int, metavar="PORT", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.serve_sink:
        serve_sink(options.serve_sink, options.latency)
        return
    print(f"{options.recipients} recipients, {options.workers} worker(s) x "
          f"{options.connections} connections, sink latency "
          f"{options.latency * 1000:.0f} ms; load average {load()}")
    alone = run(options, 0)
    print(f"campaign alone: {alone['rate']:.1f} msgs/s over {alone['elapsed']:.0f} s")
    mixed = run(options, options.resets)
    print(f"campaign with {options.resets} resets, one every {options.every} s: "
          f"{mixed['rate']:.1f} msgs/s over {mixed['elapsed']:.0f} s "
          f"({mixed['rate'] / alone['rate']:.2f}x alone); "
          f"{mixed['after_last']} campaign messages sent after the last reset arrived")
    print(f"reset enqueue() -> handed over: {percentiles(mixed['handed'])}")
    print(f"reset enqueue() -> at the server: {percentiles(mixed['arrived'])}")
    print(f"(enqueue() itself: {percentiles(mixed['enqueue'])}); "
          f"load average {load()}")


if __name__ == "__main__":
    main()
