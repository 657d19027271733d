"""``manage.py txmail`` says what it did and why: the queue subcommands, campaigns, checks.

Through ``call_command`` on real rows, and through a real ``manage.py`` process
where the command line itself matters (``--skip-checks``'s place, the checks).
The test settings fail one system check (txmail.E050: no base URL for the
bulk classes' unsubscribe links), which the subprocess tests rely on.
"""

import os
import subprocess
import sys
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.utils import timezone

from tests.testapp.emails import Hello
from txmail.bulk.models import Campaign
from txmail.delivery.models import Body, Delivery, Status

ROOT = Path(__file__).resolve().parent.parent


def txmail(*args, **options):
    out = StringIO()
    call_command("txmail", *args, stdout=out, **options)
    return out.getvalue()


def txmail_both(*args):
    """The command's stdout and stderr lines, and the CommandError it ended with (or None)."""
    out, err = StringIO(), StringIO()
    try:
        call_command("txmail", *args, stdout=out, stderr=err)
    except CommandError as exc:
        return out.getvalue().splitlines(), err.getvalue().splitlines(), str(exc)
    return out.getvalue().splitlines(), err.getvalue().splitlines(), None


def manage(*args):
    return subprocess.run([sys.executable, "-m", "django", *args], cwd=ROOT, timeout=120,
                          capture_output=True, text=True,
                          env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"})


def stored(n=1):
    """``n`` real queued rows on the "db" task backend (stored, no worker runs them)."""
    with override_settings(TXMAIL={"TASK_BACKEND": "db"}):
        return [Hello(name=f"n{i}").enqueue().delivery_id for i in range(n)]


# -- retry ----------------------------------------------------------------------------


def test_retry_failed_says_which_rows_it_skipped_and_why():
    kept, gone = stored(2)
    Delivery.objects.filter(pk__in=[kept, gone]).update(status=Status.FAILED)
    Body.objects.filter(delivery=gone).delete()  # a secret body, dropped
    with override_settings(TXMAIL={"TASK_BACKEND": "db"}):
        out, err, error = txmail_both("retry", "--failed")
    assert (out, error) == ([f"1 queued for another attempt: {kept}."], None)
    assert err == [
        f"Not retried: {gone}: its body is no longer stored: it held a secret such as a "
        "reset link (DeliveryOptions.secret_body), or TXMAIL['KEEP_BODIES'] or "
        "TXMAIL['BODY_RETENTION'] let it go. Send a new message instead.",
    ]
    assert Delivery.objects.get(pk=kept).status == Status.RETRYING


def test_retry_failed_with_none_failed_says_so():
    stored(1)
    assert txmail("retry", "--failed") == "No failed messages: nothing to retry.\n"


def test_retry_by_id_names_each_status_it_leaves_alone_and_unknown_ids():
    waiting, sent, suppressed = stored(3)
    Delivery.objects.filter(pk=sent).update(status=Status.SENT)
    Delivery.objects.filter(pk=suppressed).update(status=Status.SUPPRESSED)
    out, err, error = txmail_both("retry", str(waiting), str(sent), str(suppressed), "999")
    assert out == ["0 queued for another attempt."]
    assert err == [
        f"Not retried: {waiting} (queued): it is already queued; a worker sends it when "
        "it's due.",
        f"Not retried: {sent} (sent): it was sent; send a new copy with the admin's "
        "'Send again'.",
        f"Not retried: {suppressed} (suppressed): every recipient is on the suppression "
        "list; remove them from it (admin: Suppressions), then use the admin's 'Send again'.",
    ]
    assert error == (
        "No delivery 999: nothing retried for it. Check the ids in the admin's delivery "
        "log or with `manage.py txmail status`.")


def test_retry_refuses_ids_and_failed_together():
    with pytest.raises(CommandError, match=r"^Pass either IDs or --failed, not both"):
        txmail("retry", "3", "--failed")


# -- cancel ---------------------------------------------------------------------------


def test_cancel_names_unknown_ids_and_rows_it_cannot_cancel():
    waiting, sending, sent = stored(3)
    Delivery.objects.filter(pk=sending).update(status=Status.SENDING)
    Delivery.objects.filter(pk=sent).update(status=Status.SENT)
    out, err, error = txmail_both("cancel", str(waiting), str(sending), str(sent), "999", "1000")
    assert out == [f"1 cancelled: {waiting}."]
    assert err == [
        f"Not cancelled: {sending} (sending): a worker is sending it now; it can't be stopped.",
        f"Not cancelled: {sent} (sent): it has ended; only queued, scheduled, "
        "throttled or retrying messages can be cancelled.",
    ]
    assert error.startswith("No deliveries 999, 1000: nothing cancelled for them.")
    assert Delivery.objects.get(pk=waiting).status == Status.CANCELLED


def test_cancel_of_an_unknown_id_alone_names_it():
    with pytest.raises(CommandError, match=r"^No delivery 999: nothing cancelled for it\."):
        txmail("cancel", "999")


# -- status, sweep --------------------------------------------------------------------


def test_status_tells_due_rows_from_later_retries():
    _due, later = stored(2)
    Delivery.objects.filter(pk=later).update(
        status=Status.RETRYING, next_attempt_at=timezone.now() + timedelta(hours=1))
    lines = txmail("status").splitlines()
    assert [line.split() for line in lines[:2]] == [["queued", "1"], ["sending", "0"]]
    assert [line.split()[0] for line in lines[2:11]] == [
        "sent", "retrying", "failed", "unknown", "cancelled", "suppressed", "scheduled",
        "expired", "throttled"]
    assert lines[11].startswith("oldest waiting since ") and lines[11].endswith(" (1 due now)")
    assert lines[12].startswith("next retry at ")
    assert lines[12].endswith(" (1 waiting for a later attempt)")
    assert lines[13:] == ["last claimed by a worker: never"]


def test_sweep_with_nothing_to_do_says_so_and_otherwise_names_what_it_did():
    assert txmail("sweep") == ("Nothing to recover: no stale claim, no overdue or lost "
                               "hand-off, no body past TXMAIL['BODY_RETENTION'].\n")
    [pk] = stored(1)
    Delivery.objects.filter(pk=pk).update(needs_handoff=True)
    with override_settings(TXMAIL={"TASK_BACKEND": "db"}):
        assert txmail("sweep") == "1 handed to the task backend again.\n"


# -- requeue-stuck, campaigns --------------------------------------------------------


def test_requeue_stuck_with_nothing_stuck_says_so():
    assert txmail("requeue-stuck") == "Nothing stuck: no worker's claim is older than 300 s.\n"


def test_campaign_list_with_none_says_so():
    assert txmail("campaign", "list") == (
        "No campaigns. Start one with `manage.py txmail campaign start "
        "app_label.ClassName`.\n")


def test_campaign_start_without_default_recipients_is_a_clean_error():
    with pytest.raises(CommandError) as caught:
        txmail("campaign", "start", "testapp.Bulletin")
    assert str(caught.value) == (
        "testapp.Bulletin can't start: Bulletin has no default recipients: implement the "
        "classmethod 'get_bulk_queryset()' to start it from `manage.py txmail campaign "
        "start`.")
    assert not Campaign.objects.exists()


# -- system checks --------------------------------------------------------------------


def test_list_works_while_a_check_fails_and_shows_the_error():
    result = manage("txmail", "list")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["NAME", "MAILER", "TEMPLATE", "STATE"]
    assert ("System check found 1 error: `txmail send`, `retry`, `cancel`, `sweep` and "
            "`campaign start` refuse to run until it is fixed (`manage.py check` shows the "
            "same):") in lines
    assert lines[-1].startswith("  settings.TXMAIL: (txmail.E050) testapp.Bulletin, ")


def test_render_works_while_a_check_fails():
    result = manage("txmail", "render", "testapp.Hello", "--format", "text")
    assert result.returncode == 0, result.stderr
    assert "Ann" in result.stdout


def test_send_refuses_while_a_check_fails():
    result = manage("txmail", "send", "testapp.Hello", "--to", "qa@example.com")
    assert result.returncode == 1
    assert "SystemCheckError: System check identified some issues:" in result.stderr
    assert "(txmail.E050)" in result.stderr


@pytest.mark.parametrize("argv", [
    ("txmail", "--skip-checks", "list"),
    ("txmail", "list", "--skip-checks"),
])
def test_skip_checks_goes_before_or_after_the_subcommand(argv):
    result = manage(*argv)
    assert result.returncode == 0, result.stderr
    assert "testapp.Hello" in result.stdout


def test_django_options_after_a_sending_subcommand_apply():
    # The checks are skipped and the send goes on, to the settings' in-memory
    # database, which a new process has no tables in: that error proves it.
    result = manage("txmail", "send", "testapp.Hello", "--to", "qa@example.com",
                    "--skip-checks", "--settings", "tests.settings", "-v", "0")
    assert "no such table: txmail_suppression" in result.stderr
    assert "SystemCheckError" not in result.stderr


def test_call_command_runs_the_checks_for_sending_subcommands_when_asked():
    from django.core.management.base import SystemCheckError

    with pytest.raises(SystemCheckError):
        txmail("retry", "--failed", skip_checks=False)
    assert "testapp.Hello" in txmail("list", skip_checks=False)
