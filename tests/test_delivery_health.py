"""A queue you can see is stuck: ``delivery.health.stalled()`` and where it shows.

Real rows queued on the database task backend ("db": stored, never run here),
aged by moving their timestamps; real claims made by the worker's own code
(``queue.run``); the command's output, the admin's changelist and the Sent page.
"""

import os
import subprocess
import sys
import time
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone
from django.utils.html import escape

from tests.preview_helpers import debug, mailbox_path
from tests.processes import logs_of
from tests.testapp.emails import Hello
from txmail.delivery import queue
from txmail.delivery.health import stalled
from txmail.delivery.models import Delivery, Status

__all__ = ["debug", "mailbox_path"]  # fixtures used by name

ROOT = Path(__file__).resolve().parent.parent
ON_DB = override_settings(TXMAIL={"TASK_BACKEND": "db"})


def queued(n=1, *, due_ago=timedelta(minutes=5, seconds=10), **options):
    """``n`` rows queued on the "db" task backend, due ``due_ago`` ago."""
    with ON_DB:
        ids = [Hello(name=f"n{i}").enqueue().delivery_id for i in range(n)]
    Delivery.objects.filter(pk__in=ids).update(next_attempt_at=timezone.now() - due_ago,
                                               **options)
    return ids


def when(moment):
    return f"{timezone.localtime(moment):%Y-%m-%d %H:%M:%S UTC}"


def test_due_rows_no_worker_ever_claimed_are_a_stall_naming_the_worker_to_start():
    ids = queued(2)
    now = timezone.now()
    with ON_DB:
        [stall] = stalled(now)
    due = Delivery.objects.get(pk=ids[0]).next_attempt_at
    assert str(stall) == (
        f"2 messages are waiting (task backend 'db', queue 'default'; due since {when(due)} "
        "(5\xa0minutes ago)) and no worker has claimed one yet: start "
        "`python manage.py db_worker --backend db`.")


def test_rows_just_queued_are_not_a_stall_yet():
    queued(3, due_ago=timedelta(seconds=20))
    assert stalled() == []


def test_a_worker_claiming_rows_is_a_backlog_not_a_stall():
    first, second = queued(2)
    Delivery.objects.filter(pk=second).update(next_attempt_at=timezone.now() + timedelta(hours=1))
    queue.run(first)  # a real claim, as a worker makes it (then sent to locmem)
    assert Delivery.objects.get(pk=first).claimed_at is not None
    Delivery.objects.filter(pk=second).update(
        next_attempt_at=timezone.now() - timedelta(minutes=5))
    assert stalled() == []
    # Ten minutes later, nothing more was claimed: now it is a stall, since the last claim.
    claimed = Delivery.objects.get(pk=first).claimed_at
    [stall] = stalled(claimed + timedelta(minutes=10))
    assert f"no worker has claimed one since {when(claimed)} (10\xa0minutes ago)" in str(stall)
    assert stall.count == 1


def test_a_lost_hand_off_on_the_immediate_backend_says_run_the_sweep():
    [pk] = queued(1, needs_handoff=True)
    Delivery.objects.filter(pk=pk).update(task_backend="default")
    [stall] = stalled()
    assert str(stall).endswith(
        "no worker has claimed one yet: run `python manage.py txmail sweep` (or keep "
        "`txmail sweep --every 60` running), which hands them to the task backend again.")
    # The sweep's fix works: the row is handed off (and here sent, immediately).
    call_command("txmail", "sweep", stdout=StringIO())
    assert Delivery.objects.get(pk=pk).status == Status.SENT
    assert stalled() == []


def test_ended_rows_and_rows_not_yet_due_are_never_a_stall():
    ids = queued(2)
    Delivery.objects.filter(pk=ids[0]).update(status=Status.FAILED)
    Delivery.objects.filter(pk=ids[1]).update(
        status=Status.RETRYING, next_attempt_at=timezone.now() + timedelta(minutes=1))
    assert stalled() == []


def test_status_says_the_queue_is_stuck_and_what_to_run():
    queued(1)
    out = StringIO()
    with ON_DB:
        call_command("txmail", "status", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["queued", "1"]
    assert "last claimed by a worker: never" in lines
    assert lines[-1].startswith("Stuck: 1 message is waiting (task backend 'db', queue "
                                "'default'; due since ")
    assert lines[-1].endswith("and no worker has claimed one yet: start "
                              "`python manage.py db_worker --backend db`.")


def test_status_of_a_healthy_queue_has_no_warning():
    queued(1, due_ago=timedelta(0))
    out = StringIO()
    call_command("txmail", "status", stdout=out)
    assert "Stuck" not in out.getvalue()


def test_the_admin_changelist_warns_of_a_stuck_queue(admin_client, admin_urls):
    url = "/admin/txmail/delivery/"
    assert "no worker has claimed" not in admin_client.get(url).content.decode()
    queued(3)
    page = admin_client.get(url).content.decode()
    assert '<li class="warning">3 messages are waiting (task backend ' in page
    assert escape("no worker has claimed one yet: start `python manage.py db_worker "
                  "--backend db`.") in page


def test_the_admin_warns_once_after_an_action(admin_client, admin_urls):
    waiting, _other = queued(2)
    response = admin_client.post("/admin/txmail/delivery/", {
        "action": "cancel", "_selected_action": [waiting]}, follow=True)
    page = response.content.decode()
    assert "1 message cancelled." in page
    assert page.count("no worker has claimed one yet") == 1
    assert "1 message is waiting" in page


def test_the_sent_page_warns_of_a_stuck_queue(client, debug, mailbox_path):
    assert "Stuck:" not in client.get("/emails/sent/").content.decode()
    queued(2)
    page = client.get("/emails/sent/").content.decode()
    assert '<section class="alert alert-warning" role="alert"><p><strong>Stuck:</strong> ' \
           "2 messages are waiting (task backend " in page
    assert escape("start `python manage.py db_worker --backend db`.") in page


@pytest.mark.parametrize(("backend", "fix"), [
    ("gone", "task backend 'gone' is no longer in settings.TASKS; add it back, then start "
             "its worker."),
])
def test_a_backend_that_was_removed_says_so(backend, fix):
    [pk] = queued(1)
    Delivery.objects.filter(pk=pk).update(task_backend=backend)
    [stall] = stalled()
    assert str(stall).endswith(fix)


# -- with a real worker -----------------------------------------------------------------


@pytest.mark.smtp
@pytest.mark.worker
def test_a_real_worker_started_as_the_warning_says_unsticks_the_queue(tmp_path, smtp_server):
    """The command says stuck while no worker runs; `db_worker` sends it all; then it doesn't."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DJANGO_SETTINGS_MODULE":
           "tests.worker_settings", "TXMAIL_TEST_DB": str(tmp_path / "db.sqlite3"),
           "TXMAIL_TEST_SMTP_PORT": str(smtp_server.port), "TXMAIL_TEST_TXMAIL": "{}"}

    def manage(*args, timeout=120):
        done = subprocess.run([sys.executable, "-m", "django", *args], env=env, cwd=ROOT,
                              capture_output=True, text=True, timeout=timeout)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    manage("migrate", "-v0")
    manage("shell", "-c", AGED_ROWS)
    assert "Stuck: 2 messages are waiting (task backend 'default', queue 'default'; " \
           "due since " in manage("txmail", "status")
    assert "start `python manage.py db_worker`." in manage("txmail", "status")
    with open(tmp_path / "worker.log", "wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "django", "db_worker", "--interval", "0.1",
             "--no-startup-delay", "--no-reload"],
            env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while len(smtp_server.received) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(smtp_server.received) == 2, logs_of(tmp_path)
        status = manage("txmail", "status")
    finally:
        worker.terminate()
        worker.wait(10)
    assert "sent              2" in status and "Stuck" not in status


# Two queued rows, due ten minutes ago: their tasks are in the database queue.
AGED_ROWS = """
from datetime import timedelta
from django.utils import timezone
from tests.testapp.emails import Hello
from txmail.delivery.models import Delivery
Hello(name="a").enqueue(); Hello(name="b").enqueue()
Delivery.objects.update(next_attempt_at=timezone.now() - timedelta(minutes=10))
"""
