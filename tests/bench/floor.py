"""The floor the benchmarks measure against: stdlib ``smtplib`` alone sending the run's bytes.

``python -m tests.bench.floor PORT (--db FILE | --samples FILE) [--limit N]``
sends, over one ``smtplib.SMTP`` connection to the sink on 127.0.0.1:``PORT``,
the stored bytes and envelopes of a run: the ``Delivery.raw`` of a database's
rows (``--db``), or the messages a sink kept as it received them
(``--samples``, see ``Samples``). It prints JSON: how many it sent and this
process's CPU time per message in ms (``time.process_time()`` around the
sends only: no start-up, no connect, no reading). Its own process, so nothing
else runs in it: what a worker spends per message is compared with what the
protocol costs in Python (``ratio()``).

Worker CPU is read from ``/proc/<pid>/stat`` (``cpu_seconds()``) minus what a
worker spends starting up with nothing to do (``startup_cpu()``): Django's
set-up and imports are not a per-message cost.
"""

import argparse
import base64
import json
import os
import smtplib
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

# Enough for a stable per-message figure; a sink taking 50 ms a message sends
# them in 15 s over one connection.
LIMIT = 300


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live process, all its threads (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    # utime and stime: fields 14 and 15, after the parenthesised command name.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def startup_cpu(args: list[str], *, env: dict[str, str], cwd: Path,
                settle: float = 3.0) -> float:
    """CPU seconds a worker (``args``) spends starting up and idling ``settle`` seconds.

    Run against a queue with nothing in it; the benchmarks subtract it from
    each worker's CPU time before dividing by the messages sent.
    """
    proc = subprocess.Popen(args, env=env, cwd=cwd, stdout=subprocess.DEVNULL)
    try:
        time.sleep(settle)
        return cpu_seconds(proc.pid)
    finally:
        proc.terminate()
        proc.wait(30)


def from_db(db: Path, limit: int) -> list[tuple[str, list[str], bytes]]:
    """The first ``limit`` stored messages of a txmail database: (sender, recipients, raw)."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT from_email, recipients, raw FROM txmail_delivery JOIN txmail_body "
            "ON txmail_body.delivery_id = txmail_delivery.id ORDER BY id LIMIT ?",
            (limit,)).fetchall()
    return [(sender, json.loads(recipients), bytes(raw)) for sender, recipients, raw in rows]


class Samples:
    """What a sink keeps of the first ``limit`` messages it receives, for the floor.

    Bulk runs drop each body once sent (``KEEP_BODIES`` off), so the sink keeps
    the bytes as they arrived: the stored bytes, as smtplib sends them
    unchanged (its dot-stuffing undone by the server).
    """

    def __init__(self, path: Path, limit: int = LIMIT) -> None:
        self.path, self.limit, self.count = path, limit, 0

    def keep(self, sender: str, recipients: list[str], raw: bytes) -> None:
        if self.count >= self.limit:
            return
        self.count += 1
        with self.path.open("a") as out:
            out.write(json.dumps([sender, recipients, base64.b64encode(raw).decode()]) + "\n")


def from_samples(path: Path, limit: int) -> list[tuple[str, list[str], bytes]]:
    lines = path.read_text().splitlines()[:limit]
    return [(s, r, base64.b64decode(raw)) for s, r, raw in map(json.loads, lines)]


def send(messages: list[tuple[str, list[str], bytes]], port: int) -> dict[str, float]:
    """Send ``messages`` over one connection; return the count and CPU ms per message."""
    smtp = smtplib.SMTP("127.0.0.1", port, timeout=30)
    try:
        smtp.ehlo()
        start = time.process_time()
        for sender, recipients, raw in messages:
            smtp.sendmail(sender, recipients, raw)
        cpu = time.process_time() - start
    finally:
        smtp.quit()
    return {"sent": len(messages), "cpu_ms": cpu * 1000 / max(len(messages), 1)}


def measure(port: int, *, db: Path | None = None, samples: Path | None = None,
            limit: int = LIMIT, cwd: Path | None = None) -> dict[str, float]:
    """Run the floor in a process of its own; return ``send()``'s figures."""
    source = ["--db", str(db)] if db is not None else ["--samples", str(samples)]
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-m", "tests.bench.floor", str(port), *source, "--limit", str(limit)],
        cwd=cwd or root, env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def ratio(cpu_ms: float, floor_ms: float) -> str:
    """``cpu_ms`` as a multiple of the floor, for the tables."""
    return f"{cpu_ms / floor_ms:.1f}x" if floor_ms > 0 else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("port", type=int)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--db", type=Path)
    source.add_argument("--samples", type=Path)
    parser.add_argument("--limit", type=int, default=LIMIT)
    options = parser.parse_args()
    messages = (from_db(options.db, options.limit) if options.db is not None
                else from_samples(options.samples, options.limit))
    if not messages:
        raise SystemExit("No stored messages to send for the floor.")
    print(json.dumps(send(messages, options.port)))


if __name__ == "__main__":
    main()
