"""Critical messages through real ``db_worker`` processes: opt-outs ignored, bounces never.

A producer process enqueues into a file SQLite database; a real ``db_worker``
(django-tasks-db) sends to aiosmtpd on loopback. The suppression list is checked
at the hand-over in the worker, from the row's ``critical``; "send again" (the
admin action) copies it, and the copy is checked again when it is handed over.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.processes import logs_of, migrated_template
from tests.smtp import SMTPServer

pytestmark = [pytest.mark.smtp, pytest.mark.worker]

ROOT = Path(__file__).resolve().parent.parent

PRODUCE = """
from django.db import transaction
from tests.testapp.emails import Hello
from txmail.suppression.check import suppress
from txmail.suppression.models import Reason
suppress("out@example.com", Reason.UNSUBSCRIBED)  # from everything, on the page
suppress("topic@example.com", Reason.UNSUBSCRIBED, topic="security")
suppress("bounced@example.com", Reason.BOUNCED)
suppress("complained@example.com", Reason.COMPLAINED)
with transaction.atomic():
    for to in ("out", "topic", "bounced", "complained"):
        Hello(name=f"critical {to}", to=[f"{to}@example.com"]).enqueue(
            critical=True, topic="security")
    Hello(name="plain out", to=["out@example.com"]).enqueue()
"""

SEND_AGAIN = """
from django.db import transaction
from txmail.delivery.actions import send_again
from txmail.delivery.models import Delivery
from txmail.suppression.check import suppress
from txmail.suppression.models import Reason
suppress("out@example.com", Reason.BOUNCED)  # the bounce replaces the opt-out
with transaction.atomic():
    copies = send_again(Delivery.objects.filter(subject__in=["Hello critical out",
                                                             "Hello critical topic"]))
print(sorted((c.subject, c.critical) for c in copies))
"""


def env_for(db: Path, port: int) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT),
            "DJANGO_SETTINGS_MODULE": "tests.worker_settings",
            "TXMAIL_TEST_DB": str(db), "TXMAIL_TEST_SMTP_PORT": str(port),
            "TXMAIL_TEST_TXMAIL": json.dumps({"KEEP_BODIES": True})}


@pytest.fixture(scope="module")
def migrated_db(tmp_path_factory):
    return migrated_template(tmp_path_factory.mktemp("txmail-critical-db"),
                             lambda path: env_for(path, 9))


def python(env, code):
    done = subprocess.run([sys.executable, "-c", "import django\ndjango.setup()\n" + code],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def statuses(env):
    return dict(json.loads(python(env, """
import json
from txmail.delivery.models import Delivery
print(json.dumps([[f"{d.subject} #{d.pk}", [d.status, d.critical]]
                  for d in Delivery.objects.order_by("pk")]))
""")))


def wait_for(env, count, worker, tmp_path):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        rows = statuses(env)
        if len(rows) == count and all(s not in ("queued", "sending") for s, _c in rows.values()):
            return rows
        assert worker.poll() is None, logs_of(tmp_path)
        time.sleep(0.3)
    raise AssertionError(f"not done: {rows}\n{logs_of(tmp_path)}")


def test_a_worker_sends_critical_mail_past_opt_outs_never_past_bounces(tmp_path, migrated_db):
    server = SMTPServer().start()
    db = tmp_path / "db.sqlite3"
    db.write_bytes(migrated_db.read_bytes())
    env = env_for(db, server.port)
    with open(tmp_path / "worker.log", "wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "django", "db_worker", "--interval", "0.1",
             "--no-startup-delay", "--no-reload", "--worker-id", "w1"],
            env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        python(env, PRODUCE)
        rows = wait_for(env, 5, worker, tmp_path)
        assert sorted(rows.values()) == sorted([
            ["sent", True], ["sent", True], ["suppressed", True], ["suppressed", True],
            ["suppressed", False]]), rows
        assert sorted((r.rcpt_tos[0], r.message["Subject"]) for r in server.received) == [
            ("out@example.com", "Hello critical out"),
            ("topic@example.com", "Hello critical topic")]

        server.received.clear()
        assert python(env, SEND_AGAIN).strip() == (
            "[('Hello critical out', True), ('Hello critical topic', True)]")
        rows = wait_for(env, 7, worker, tmp_path)
        copies = [v for k, v in rows.items() if int(k.rsplit("#", 1)[1]) > 5]
        assert sorted(copies) == [["sent", True], ["suppressed", True]], rows
        assert [(r.rcpt_tos[0], r.message["Subject"]) for r in server.received] == [
            ("topic@example.com", "Hello critical topic")]
    finally:
        worker.terminate()
        worker.wait(10)
        server.stop()
