"""Peers side by side: ``python -m tests.bench.peers [--messages 400]``.

One run, one template (the realistic ``Statement``: ~45 KB of HTML, a text part,
every fourth with a 12 KB PDF), the same recipients and the same SMTP relay (50 ms per
message, in its own process). Each way is measured from "the content is known" to "the
relay has it", as CPU per message (the processes' CPU time) and messages per second:

- **django**: Django's own loop, ``EmailMultiAlternatives`` sent one by one over one
  open connection of the SMTP mailer;
- **post_office**: django-post-office 3.12, ``mail.send_many()`` then ``send_queued()``
  (its threaded sender: 5 threads) until the queue is empty;
- **txmail**: ``Statement(...).enqueue()`` in a request, then one ``db_worker`` with 10
  connections (the default ``CONNECTIONS``), and with 20 (``tests.bench.delivery``'s
  worker phase).

Rates are the senders': ``send_queued()``'s and the worker's, from the first message
sent to the last; ``send_many()`` and ``enqueue()`` run in requests, and their CPU
counts in the CPU column.

Two variants for the peers: *rendered* (given the HTML, text and subject txmail
rendered, outside the timing) and *naive* (each renders its own template per message:
Django templates then mjml-python, and html2text for the text part, as a project
without txmail would). txmail always renders (compiled once per template).

django-post-office is installed into the benchmark's own directory
(``~/.cache/txmail/bench-peers``, ``pip install --target``) on first use and put on
the path of its processes only: it is never a dependency of txmail or of its test
environment. Not a test: the ratios within one run are the point.
"""

import argparse
import base64
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.bench import delivery as bench

ROOT = Path(__file__).resolve().parents[2]
PEERS_DIR = Path(os.environ.get("TXMAIL_BENCH_PEERS", Path.home() / ".cache/txmail/bench-peers"))
POST_OFFICE = "django-post-office==3.12.0"
TEMPLATES = ROOT / "tests/testapp/templates"


def install_peers() -> None:
    """django-post-office (and nh3, which it imports) into PEERS_DIR, once."""
    if (PEERS_DIR / "post_office").is_dir():
        return
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--disable-pip-version-check", "--target", str(PEERS_DIR),
                    POST_OFFICE, "nh3"], check=True)


# -- inside the processes --------------------------------------------------------------

def content_main(out: str, messages: int) -> None:
    """Render ``messages`` Statements with txmail; write what the peers are given (JSON)."""
    bench.setup_django()
    from tests.testapp.emails import Statement

    items = []
    for i in range(messages):
        message = Statement(seed=i, to=[f"reader{i}@example.com"])
        email = message.message()
        html = next(c for c, t in email.alternatives if t == "text/html")
        item = {"to": email.to, "from": email.from_email, "subject": email.subject,
                "text": email.body, "html": html, "context": message.get_context_data()}
        item["context"] = {k: v for k, v in item["context"].items()
                           if k in ("name", "account", "period", "card", "due", "lines",
                                    "total", "offers")}
        for part in email.attachments:  # MIME parts, as txmail builds them
            item["attachment"] = [part.get_filename(),
                                  base64.b64encode(part.get_content()).decode(),
                                  part.get_content_type()]
        items.append(item)
    Path(out).write_text(json.dumps(items))


def _naive(item: dict) -> tuple[str, str, str]:
    """What a project without txmail renders per message: template, MJML, text part."""
    import html2text
    from django.template.loader import render_to_string
    from mjml import mjml2html

    html = mjml2html(render_to_string("statement-inlined.mjml", item["context"]))
    converter = html2text.HTML2Text()
    converter.body_width = 0
    return f"Your statement for {item['context']['period']}", html, converter.handle(html)


def _email(item: dict, naive: bool):  # type: ignore[no-untyped-def]
    from django.core.mail import EmailMultiAlternatives

    subject, html, text = _naive(item) if naive else (item["subject"], item["html"],
                                                      item["text"])
    email = EmailMultiAlternatives(subject, text, item["from"], item["to"])
    email.attach_alternative(html, "text/html")
    if "attachment" in item:
        name, content, mimetype = item["attachment"]
        email.attach(name, base64.b64decode(content), mimetype)
    return email


def django_main(path: str, naive: bool) -> None:
    import django

    django.setup()
    from django.core.mail import mailers

    items = json.loads(Path(path).read_text())
    backend = mailers["smtp"]
    backend.open()
    start, cpu = time.monotonic(), time.process_time()
    for item in items:
        backend.send_messages([_email(item, naive)])
    cpu, wall = time.process_time() - cpu, time.monotonic() - start
    backend.close()
    print(json.dumps({"sent": len(items), "cpu": cpu, "wall": wall}))


def post_office_main(path: str, naive: bool) -> None:
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from post_office import mail
    from post_office.models import STATUS, Email

    items = json.loads(Path(path).read_text())
    cpu = time.process_time()
    kwargs = []
    for item in items:
        subject, html, text = _naive(item) if naive else (item["subject"], item["html"],
                                                          item["text"])
        kwargs.append({"sender": item["from"], "recipients": item["to"], "subject": subject,
                       "message": text, "html_message": html})
    mail.send_many(kwargs)  # attachments: send_many takes none; the bytes differ by 12 KB
    request_cpu = time.process_time() - cpu
    # Its rate is its sender's, as txmail's is its worker's: send_many() runs in
    # requests (its CPU counts; its time would not hold up the queue).
    sending = time.monotonic()
    while mail.send_queued(processes=1, log_level=0)[0]:
        pass
    cpu, wall = time.process_time() - cpu, time.monotonic() - sending
    sent = Email.objects.filter(status=STATUS.sent).count()
    print(json.dumps({"sent": sent, "cpu": cpu, "wall": wall, "request_cpu": request_cpu}))


# -- orchestration ---------------------------------------------------------------------

def peer_env(port: int, work: Path) -> dict[str, str]:
    return {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.bench.peer_settings",
            "PYTHONPATH": os.pathsep.join([str(ROOT), str(PEERS_DIR)]),
            "TXMAIL_PEER_SMTP_PORT": str(port), "TXMAIL_PEER_TEMPLATES": str(work),
            "TXMAIL_PEER_DB": str(work / "peer.sqlite3")}


def inline_template(work: Path) -> None:
    """The Statement template with its mj-include inlined, for the naive peers."""
    source = (TEMPLATES / "testapp/emails/statement.mjml").read_text()
    header = (TEMPLATES / "testapp/partials/header.mjml").read_text()
    source = source.replace('<mj-include path="testapp/partials/header.mjml" />', header)
    (work / "statement-inlined.mjml").write_text(source)


def run_peer(kind: str, content: Path, port: int, work: Path, naive: bool) -> dict:
    for leftover in work.glob("peer.sqlite3*"):
        leftover.unlink()
    out = subprocess.run([sys.executable, "-m", "tests.bench.peers", kind, str(content),
                          "naive" if naive else "rendered"],
                         env=peer_env(port, work), cwd=ROOT, check=True, capture_output=True,
                         text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def txmail_phase(messages: int, port: int, work: Path, widths: tuple[int, ...]) -> list[dict]:
    """enqueue() in a request (CPU per message), then one db_worker with each of
    ``widths`` connections, each from the same filled queue."""
    blank = work / "txmail.sqlite3"
    bench.python("-m", "django", "migrate", "-v0", env=bench.env_for(blank, port))
    code = ("import time, sys; from tests.bench.delivery import setup_django, make; "
            "setup_django(); n = int(sys.argv[1]); make('statement', n).message(); "
            "c = time.process_time(); [make('statement', i).enqueue() for i in range(n)]; "
            "print((time.process_time() - c) / n)")
    out = subprocess.run([sys.executable, "-c", code, str(messages)], cwd=ROOT,
                         env=bench.env_for(blank, port), check=True, capture_output=True,
                         text=True)
    request_cpu = float(out.stdout.strip().splitlines()[-1])
    bench.checkpoint(blank)
    relay_proc = RELAY[0]
    runs = []
    for width in widths:
        phase = bench.worker_phase(blank, work, relay_proc, port, workers=1,
                                   connections=width, messages=messages)
        runs.append({"sent": phase["sent"], "rate": phase["rate"], "connections": width,
                     "request_ms": request_cpu * 1000, "worker_ms": phase["worker_cpu"]})
    return runs


RELAY: list = []
# txmail's worker at its default CONNECTIONS, and at twice it: against a relay that
# takes 50 ms a message, a worker's rate is its connections' (10 send 200/s at most).
WIDTHS = (10, 20)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=400)
    args = parser.parse_args(argv)
    install_peers()
    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    with tempfile.TemporaryDirectory(prefix="txmail-peers-") as tmp:
        work = Path(tmp)
        relay, port = bench.start_relay(bench.LATENCY)
        RELAY.append(relay)
        try:
            content = work / "content.json"
            blank = work / "content.sqlite3"
            bench.python("-m", "django", "migrate", "-v0", env=bench.env_for(blank, port))
            bench.python("-m", "tests.bench.peers", "content", str(content),
                         str(args.messages), env=bench.env_for(blank, port))
            inline_template(work)
            results = {}
            for naive in (False, True):
                for kind in ("django", "post_office"):
                    results[(kind, naive)] = run_peer(kind, content, port, work, naive)
            mine = txmail_phase(args.messages, port, work, WIDTHS)
        finally:
            bench.stop(relay)

    print(f"\nPeers: {args.messages} Statement messages to a relay taking "
          f"{bench.LATENCY * 1000:.0f} ms per message")
    print(f"  {'way':<34} {'sent':>5} {'msg/s':>7} {'CPU ms/msg':>11}")
    for run in mine:
        cpu = run["request_ms"] + run["worker_ms"]
        label = f"txmail (enqueue + 1 worker x {run['connections']})"
        print(f"  {label:<34} {run['sent']:>5} {run['rate']:>7.1f} {cpu:>11.2f}"
              f"   (enqueue {run['request_ms']:.2f} with rendering, "
              f"worker {run['worker_ms']:.2f})")
    mine_cpu = mine[0]["request_ms"] + mine[0]["worker_ms"]
    for (kind, naive), r in results.items():
        label = f"{kind} ({'renders its own' if naive else 'given the content'})"
        rate = r["sent"] / r["wall"]
        cpu = r["cpu"] * 1000 / max(r["sent"], 1)
        ratios = ", ".join(f"{run['rate'] / rate:.1f}x at {run['connections']}" for run in mine)
        print(f"  {label:<34} {r['sent']:>5} {rate:>7.1f} {cpu:>11.2f}"
              f"   txmail: {ratios} the rate, {mine_cpu / cpu:.2f}x the CPU")
    print("  goals: txmail >= 5x post_office and >= 3x Django's loop (rate), given the content")
    print(f"  {os.cpu_count()} CPUs; load average before {load_before}, after "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "content":
        content_main(sys.argv[2], int(sys.argv[3]))
    elif len(sys.argv) > 1 and sys.argv[1] == "django":
        django_main(sys.argv[2], sys.argv[3] == "naive")
    elif len(sys.argv) > 1 and sys.argv[1] == "post_office":
        post_office_main(sys.argv[2], sys.argv[3] == "naive")
    else:
        main()
