"""End to end: a personalised newsletter to N recipients through a real SMTP server.

The server (aiosmtpd, counting and discarding messages) runs in its own process
on a free loopback port. Each measurement runs in a fresh subprocess, so its
peak RSS (``ru_maxrss``) is its own. Recipients come from a generator — as
``Recipient.objects.iterator(chunk_size=...)`` would — and only one batch of
messages exists at a time: one SMTP connection per batch.
"""

import email.policy
import json
import multiprocessing
import os
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from itertools import islice
from pathlib import Path

BENCH = Path(__file__).resolve().parent / "bench.py"
TEMPLATE = "corpus/newsletter"


def _serve(port: int, ready, count) -> None:  # type: ignore[no-untyped-def]
    from aiosmtpd.controller import Controller

    class Sink:
        async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
            with count.get_lock():
                count.value += 1
            return "250 OK"

    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


class SMTPSink:
    """An SMTP server in a child process; ``count`` is what it received."""

    def __init__(self) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        ctx = multiprocessing.get_context("spawn")
        self._count = ctx.Value("l", 0)
        ready = ctx.Event()
        self.process = ctx.Process(target=_serve, args=(self.port, ready, self._count),
                                   daemon=True)
        self.process.start()
        if not ready.wait(30):
            raise RuntimeError("the SMTP sink did not start within 30 s")

    @property
    def count(self) -> int:
        return int(self._count.value)

    def stop(self) -> None:
        self.process.terminate()
        self.process.join(10)


def recipients(n: int) -> Iterator[tuple[int, str]]:
    """Stream recipients one by one (a queryset iterator in a real project)."""
    for i in range(n):
        yield i, f"reader{i}@example.com"


def worker(mode: str, n: int, batch: int) -> None:
    """Send ``n`` newsletters; print one JSON line of timings (runs in a subprocess)."""
    from tests.bench.bench import corpus_message
    from txmail.backends import deliver_many
    from txmail.outbox import build as build_email
    from txmail.rendering.pipeline import render as render_draft

    render = build = smtp = 0.0
    started = time.perf_counter()
    stream = recipients(n)
    sent = 0
    while chunk := list(islice(stream, batch)):
        t0 = time.perf_counter()
        messages = [corpus_message(TEMPLATE, i) for i, _ in chunk]
        for message, (_, address) in zip(messages, chunk, strict=True):
            message.to = [address]
        drafts = [m.resolve() for m in messages]
        rendered = [render_draft(d) for d in drafts]
        t1 = time.perf_counter()
        emails = [build_email(d, r) for d, r in zip(drafts, rendered, strict=True)]
        t2 = time.perf_counter()
        # One SMTP connection per batch, through the delivery layer (no log rows:
        # this measures the pipeline; the queue has its own benchmark).
        sent += sum(not isinstance(outcome, Exception)
                    for _email, outcome in deliver_many(emails, "bench"))
        t3 = time.perf_counter()
        render, build, smtp = render + t1 - t0, build + t2 - t1, smtp + t3 - t2
        sample = emails[0]
        del messages, rendered, emails
    total = time.perf_counter() - started
    # What Django's SMTP backend spends building and serializing each email with
    # the stdlib (inside the SMTP column), timed apart on one sent email.
    t0 = time.perf_counter()
    for _ in range(50):
        sample.message(policy=email.policy.SMTP).as_bytes()
    stdlib_mime = (time.perf_counter() - t0) / 50
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({
        "mode": mode, "recipients": n, "sent": sent, "seconds": total,
        "render": render, "build": build, "smtp": smtp, "peak_mb": peak_kb / 1024,
        "stdlib_mime": stdlib_mime * n,
    }))


def _measure(mode: str, n: int, batch: int, port: int) -> dict:
    env = {**os.environ, "TXMAIL_BENCH_SMTP_PORT": str(port),
           "TXMAIL_BENCH_PRECOMPILE": "1" if mode == "txmail" else "0",
           "DJANGO_SETTINGS_MODULE": "tests.bench.settings"}
    out = subprocess.run(
        [sys.executable, str(BENCH), "--worker", mode, "--recipients", str(n),
         "--batch", str(batch)],
        env=env, check=True, capture_output=True, text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _row(r: dict) -> str:
    n = r["recipients"]
    per = {k: r[k] / n * 1000 for k in ("render", "build", "smtp", "stdlib_mime")}
    return (f"{r['mode']:<8}{n:>8}{n / r['seconds']:>10.0f}{per['render']:>9.3f}"
            f"{per['build']:>9.3f}{per['smtp']:>9.3f}{per['stdlib_mime']:>14.3f}"
            f"{r['peak_mb']:>10.0f}")


HEADER = (f"{'mode':<8}{'msgs':>8}{'msgs/s':>10}{'render':>9}{'build':>9}{'SMTP':>9}"
          f"{'(of it MIME)':>14}{'peak MB':>10}")


def run(n: int, naive_n: int, batch: int) -> None:
    sink = SMTPSink()
    try:
        print(f"\nNewsletter ({TEMPLATE}, 5 articles each) through SMTP on "
              f"127.0.0.1:{sink.port}, {batch} messages per connection; per-message ms")
        print(HEADER)
        print("-" * len(HEADER))
        results = {}
        for mode, count in (("naive", min(naive_n, n)), ("txmail", n)):
            before = sink.count
            results[mode] = r = _measure(mode, count, batch, sink.port)
            if sink.count - before != count:
                raise RuntimeError(f"{mode}: sent {count}, server got {sink.count - before}")
            print(_row(r))
        speedup = (results["txmail"]["recipients"] / results["txmail"]["seconds"]) / (
            results["naive"]["recipients"] / results["naive"]["seconds"])
        print("-" * len(HEADER))
        print(f"txmail sends {speedup:.1f}x the naive pipeline's messages/second.")
        print("render: templates to subject/HTML/text; build: the Django EmailMessage; "
              "SMTP: Django's SMTP backend, which builds and serializes the MIME tree "
              "with the stdlib ('of it MIME', timed apart) and talks to the server.")
    finally:
        sink.stop()


def memory(n: int, batch: int) -> None:
    sink = SMTPSink()
    try:
        print(f"\nPeak memory (txmail, recipients streamed, {batch} per batch)")
        print(HEADER)
        print("-" * len(HEADER))
        small = _measure("txmail", n, batch, sink.port)
        print(_row(small))
        large = _measure("txmail", n * 10, batch, sink.port)
        print(_row(large))
        print(f"peak memory {n * 10} vs {n} recipients: "
              f"{large['peak_mb'] / small['peak_mb']:.2f}x")
    finally:
        sink.stop()
