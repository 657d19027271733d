"""Retention: ended delivery rows deleted after TXMAIL["RETENTION"], by status and class.

Real parts: the database (rows made old by their ``updated_at``), the command,
the system checks, a worker's task on Django's immediate backend sending to
aiosmtpd on loopback.
"""

from datetime import timedelta
from io import StringIO

import pytest
from django.core import checks
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from tests.testapp.emails import Hello
from txmail import tasking
from txmail.bulk.models import Campaign, CampaignStatus, Recipient
from txmail.delivery import retention
from txmail.delivery.models import Delivery, Status
from txmail.message import name_of
from txmail.webhooks.models import DeliveryEvent

DAY = 86400
HELLO = name_of(Hello)


def row(status, days, message_class="testapp.Other"):
    """A delivery row of ``status`` that ended ``days`` ago."""
    made = Delivery.objects.create(message_class=message_class, mailer="default",
                                   from_email="shop@example.com", recipients=["ann@example.com"],
                                   status=status, raw=b"body")
    Delivery.objects.filter(pk=made.pk).update(updated_at=timezone.now() - timedelta(days=days))
    return made.pk


def left():
    return set(Delivery.objects.values_list("pk", flat=True))


RETENTION = {"statuses": {"sent": 10 * DAY, "cancelled": 0},
             "classes": {HELLO: DAY, "testapp.Forever": None}}


@override_settings(TXMAIL={"RETENTION": RETENTION})
def test_rows_go_by_status_and_class_a_class_entry_winning():
    old_sent = row(Status.SENT, 11)
    young_sent = row(Status.SENT, 5)
    old_failed = row(Status.FAILED, 400)  # no entry for failed: kept for good
    cancelled = row(Status.CANCELLED, 0.01)
    hello_sent = row(Status.SENT, 2, HELLO)  # its class says one day: gone before ten
    hello_failed = row(Status.FAILED, 2, HELLO)  # the class's entry covers every status
    hello_young = row(Status.SENT, 0.5, HELLO)
    forever = row(Status.SENT, 400, "testapp.Forever")  # None: kept, whatever its status says
    queued = row(Status.QUEUED, 400, HELLO)  # not ended: never
    retrying = row(Status.RETRYING, 400, HELLO)
    sending = row(Status.SENDING, 400)
    scheduled = row(Status.SCHEDULED, 400, HELLO)
    throttled = row(Status.THROTTLED, 400, HELLO)
    event = DeliveryEvent.objects.create(delivery_id=old_sent, event_type="delivered",
                                         recipient="ann@example.com", esp_name="test")
    kept_event = DeliveryEvent.objects.create(delivery_id=young_sent, event_type="delivered",
                                              recipient="ann@example.com", esp_name="test")
    campaign = Campaign.objects.create(message_class=HELLO, model="auth.User", query=b"",
                                       status=CampaignStatus.DONE)
    recipient = Recipient.objects.create(campaign=campaign, key="7", delivery_id=hello_sent)

    assert retention.prune(dry_run=True) == {
        ("sent", "testapp.Other"): 1, ("cancelled", "testapp.Other"): 1,
        ("sent", HELLO): 1, ("failed", HELLO): 1}
    assert len(left()) == 13
    pruned = retention.prune()

    assert pruned == {("sent", "testapp.Other"): 1, ("cancelled", "testapp.Other"): 1,
                      ("sent", HELLO): 1, ("failed", HELLO): 1}
    assert left() == {young_sent, old_failed, hello_young, forever, queued, retrying, sending,
                      scheduled, throttled}
    assert not {old_sent, cancelled, hello_sent, hello_failed} & left()
    assert list(DeliveryEvent.objects.values_list("pk", flat=True)) == [kept_event.pk]
    assert not DeliveryEvent.objects.filter(pk=event.pk).exists()
    recipient.refresh_from_db()  # the campaign's record stays, without its delivery
    assert recipient.delivery_id is None
    assert retention.prune() == {}


def test_nothing_goes_by_default():
    row(Status.SENT, 4000)
    row(Status.FAILED, 4000)
    assert not retention.configured()
    assert retention.prune() == {}
    assert len(left()) == 2


@override_settings(TXMAIL={"RETENTION": {"statuses": {"sent": 0}}})
def test_prune_deletes_in_bounded_batches(monkeypatch):
    monkeypatch.setattr(retention, "BATCH", 2)
    for _ in range(5):
        row(Status.SENT, 1)
    # Out of time after the first batch: the rest waits for the next prune.
    assert retention.prune(seconds=0) == {("sent", "testapp.Other"): 2}
    assert len(left()) == 3
    assert retention.prune() == {("sent", "testapp.Other"): 3}
    assert left() == set()


@override_settings(TXMAIL={"RETENTION": RETENTION})
def test_the_command_prints_counts_and_dry_run_deletes_nothing():
    row(Status.SENT, 11)
    row(Status.SENT, 12)
    row(Status.FAILED, 2, HELLO)
    out = StringIO()
    call_command("txmail", "prune", "--dry-run", stdout=out)
    assert out.getvalue().split("\n") == [
        f"failed     {HELLO:<13}        1",
        f"sent       {'testapp.Other':<13}        2",
        "3 deliveries would be deleted, with their events.", ""]
    assert len(left()) == 3
    out = StringIO()
    call_command("txmail", "prune", stdout=out)
    assert out.getvalue().endswith("3 deliveries deleted, with their events.\n")
    assert left() == set()
    out = StringIO()
    call_command("txmail", "prune", stdout=out)
    assert out.getvalue() == ("No delivery is past TXMAIL['RETENTION']: nothing deleted.\n")


def test_the_command_says_when_nothing_is_configured():
    out = StringIO()
    call_command("txmail", "prune", stdout=out)
    assert "TXMAIL['RETENTION'] keeps every delivery: nothing to prune." in out.getvalue()


@override_settings(TXMAIL={"RETENTION": {"statuses": {"sent": 0}}})
def test_a_worker_prunes_in_passing_at_most_once_an_hour(smtp_server, monkeypatch,
                                                         django_capture_on_commit_callbacks):
    monkeypatch.setattr(retention, "_throttle", tasking.Throttle())
    old = row(Status.SENT, 1)
    with override_settings(MAILERS={"transactional": smtp_server.mailer()}):
        with django_capture_on_commit_callbacks(execute=True):
            sent = Hello().enqueue().delivery
        assert [r.rcpt_tos for r in smtp_server.received] == [["ann@example.com"]]
        # The worker's task pruned the old row, and the one it sent (sent, 0 s kept).
        assert left() == set()
        again = row(Status.SENT, 1)
        with django_capture_on_commit_callbacks(execute=True):
            Hello().enqueue()
    assert len(smtp_server.received) == 2
    assert again in left()  # within the hour: not pruned again
    assert old != sent.pk


@override_settings(TXMAIL={"RETENTION": {"classes": {HELLO: 0}}})
def test_the_task_prunes_for_a_scheduler():
    row(Status.SENT, 1, HELLO)
    result = retention.prune_task.enqueue()
    assert result.return_value == {f"sent {HELLO}": 1}
    assert left() == set()


def ids(found):
    return [(m.id, m.msg) for m in found]


def run_checks():
    return [m for m in checks.run_checks() if m.id in ("txmail.E003", "txmail.E090",
                                                       "txmail.W090")]


@pytest.mark.parametrize(("retention_setting", "expected"), [
    ({"statuses": {"snet": 60}}, [(
        "txmail.E090", "TXMAIL['RETENTION']['statuses']['snet']: 'snet' isn't a delivery "
        "status. Did you mean 'sent'? Statuses that end a row: sent, failed, unknown, "
        "cancelled, suppressed, expired.")]),
    ({"statuses": {"queued": 60}}, [(
        "txmail.E090", "TXMAIL['RETENTION']['statuses']['queued']: 'queued' rows haven't "
        "ended (they are waiting to be sent or being sent) and are never pruned. Remove it; "
        "statuses that end a row: sent, failed, unknown, cancelled, suppressed, expired.")]),
    ({"classes": {"testapp.Helo": 60}}, [(
        "txmail.W090", "TXMAIL['RETENTION']['classes']['testapp.Helo'] names no registered "
        "message class, so it applies to no row. Did you mean 'testapp.Hello'? Use a "
        "registry name ('<app_label>.<ClassName>', as `manage.py txmail list` shows them). "
        "For the old rows of a class you removed, keep it and add txmail.W090 to "
        "SILENCED_SYSTEM_CHECKS.")]),
    ({"status": {"sent": 60}}, [(
        "txmail.E003", "TXMAIL['RETENTION'] must be a dict like {'statuses': {'sent': "
        "2592000}, 'classes': {'shop.PasswordReset': 86400}}, not {'status': {'sent': 60}} "
        "(it has an unknown key 'status': did you mean 'statuses'?). Fix it in "
        "settings.TXMAIL.")]),
    ({"statuses": {"sent": "30d"}}, [(
        "txmail.E003", "TXMAIL['RETENTION'] must be a dict like {'statuses': {'sent': "
        "2592000}, 'classes': {'shop.PasswordReset': 86400}}, not {'statuses': {'sent': "
        "'30d'}} ('statuses'['sent'] is '30d', not a number of seconds, 0 or more, or None "
        "(keep for good)). Fix it in settings.TXMAIL.")]),
    ({"statuses": {"sent": 60, "failed": None}, "classes": {HELLO: 0}}, []),
])
def test_the_checks_say_what_is_wrong_and_the_fix(retention_setting, expected):
    with override_settings(TXMAIL={"RETENTION": retention_setting}):
        assert ids(run_checks()) == expected


def test_a_bad_value_raises_when_read():
    from txmail.exceptions import InvalidSetting

    with override_settings(TXMAIL={"RETENTION": {"statuses": {"sent": -1}}}):
        with pytest.raises(InvalidSetting, match=r"'statuses'\['sent'\] is -1"):
            retention.prune()


@override_settings(TXMAIL={"RETENTION": {"statuses": {"sent": 0}}})
def test_prune_never_reads_the_message_bytes():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    pk = row(Status.SENT, 1)
    DeliveryEvent.objects.create(delivery_id=pk, event_type="delivered", esp_name="test")
    with CaptureQueriesContext(connection) as queries:
        assert retention.prune() == {("sent", "testapp.Other"): 1}
    selects = [q["sql"] for q in queries if q["sql"].startswith("SELECT")]
    assert selects and not [sql for sql in selects if '"raw"' in sql]
    assert not DeliveryEvent.objects.exists()


def test_in_passing_work_is_due_at_once_on_a_machine_booted_a_minute_ago(monkeypatch):
    # The monotonic clock counts from boot: a worker started soon after must not
    # wait an interval before its first prune (or sweep) in passing.
    clock = iter([60.0, 120.0, 3661.0])
    monkeypatch.setattr(tasking.time, "monotonic", lambda: next(clock))
    throttle = tasking.Throttle()
    assert [throttle.due(3600), throttle.due(3600), throttle.due(3600)] == [True, False, True]
