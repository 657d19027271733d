"""Bodies with secrets (reset links) don't outlive their delivery; other bodies expire.

``DeliveryOptions(secret_body=True)`` drops the stored bytes the moment the row ends
(sent, failed, unknown, cancelled, suppressed), whatever ``KEEP_BODIES`` says,
and such a row can't be sent again. ``BODY_RETENTION`` has the sweep drop the
bodies of every other ended row after that many seconds.
"""

from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from tests.smtp import ScriptedServer
from tests.testapp.emails import Hello
from txmail import DeliveryOptions
from txmail.contrib.auth import PasswordReset
from txmail.delivery import actions, queue, recovery
from txmail.delivery.models import FINAL, Delivery, Status
from txmail.suppression.models import Reason, Suppression

pytestmark = pytest.mark.smtp

DAY = 24 * 3600


class SecretHello(Hello):
    delivery_options = DeliveryOptions(secret_body=True)


def action(client, name, rows):
    return client.post("/admin/txmail/delivery/", {
        "action": name, "_selected_action": [r.pk for r in rows]}, follow=True)


@pytest.fixture
def server():
    server = ScriptedServer().start()
    with override_settings(MAILERS={a: server.mailer() for a in ("default", "transactional")},
                           TXMAIL={"TASK_BACKEND": "db", "KEEP_BODIES": True, "BATCH_SIZE": 1,
                                   "SITE_URL": "https://shop.example.com"}):
        yield server
    server.stop()


def sent(server, row):
    queue.run(row.pk)


def failed(server, row):
    server.replies = ["550 5.7.1 Blocked"]
    queue.run(row.pk)


def unknown(server, row):
    # Its worker died while the mailer had it.
    Delivery.objects.filter(pk=row.pk).update(
        status=Status.SENDING, claim_token="dead", claimed_at=timezone.now(),
        handed_over_at=timezone.now() - timedelta(hours=1))
    queue.sweep()


def cancelled(server, row):
    actions.cancel(Delivery.objects.filter(pk=row.pk))


def suppressed(server, row):
    Suppression.objects.get_or_create(address="ann@example.com", reason=Reason.BOUNCED)
    queue.run(row.pk)


@pytest.mark.parametrize("end", [sent, failed, unknown, cancelled, suppressed],
                         ids=lambda f: f.__name__)
def test_a_secret_body_is_dropped_when_the_delivery_ends(server, end):
    secret = SecretHello(name="Secret").enqueue().delivery
    kept = Hello(name="Kept").enqueue().delivery
    assert secret.secret_body and secret.raw  # the queue needs it until then
    for row in (secret, kept):
        end(server, row)
        row.refresh_from_db()
        assert row.status == end.__name__
    assert secret.raw is None
    assert kept.raw is not None  # KEEP_BODIES: the others keep theirs


def test_a_password_reset_is_marked_secret_and_keeps_no_link(server):
    user = get_user_model().objects.create_user("ada", "ada@example.com", "pw")
    row = PasswordReset(user).enqueue().delivery
    assert row.secret_body is True
    queue.run(row.pk)
    row.refresh_from_db()
    assert (row.status, row.raw) == (Status.SENT, None)
    assert "/accounts/reset/" in server.received[0].message.get_body(("plain",)).get_content()


def test_send_again_of_an_unknown_secret_row_is_refused(server, admin_client, admin_urls):
    row = SecretHello().enqueue().delivery
    unknown(server, row)
    response = action(admin_client, "send_again", [row])
    text = response.content.decode()
    assert "0 new deliveries queued." in text
    assert ("1 message can&#x27;t be sent again: its body is no longer stored: it held a "
            "secret such as a reset link") in text
    assert "Send a new message instead." in text
    assert Delivery.objects.count() == 1 and server.received == []


def test_retry_of_a_failed_secret_row_is_refused_by_the_admin(server, admin_client,
                                                              admin_urls):
    row = SecretHello().enqueue().delivery
    failed(server, row)
    text = action(admin_client, "retry_now", [row]).content.decode()
    assert "0 messages queued for another attempt." in text
    assert "Send a new message instead." in text
    row.refresh_from_db()
    assert row.status == Status.FAILED


def test_retry_of_a_failed_secret_row_is_refused_by_the_command(server):
    row = SecretHello().enqueue().delivery
    failed(server, row)
    out, err = StringIO(), StringIO()
    call_command("txmail", "retry", str(row.pk), stdout=out, stderr=err)
    assert out.getvalue() == "0 queued for another attempt.\n"
    assert err.getvalue() == (
        f"Not retried: {row.pk}: its body is no longer stored: it held a secret such as a "
        "reset link (DeliveryOptions.secret_body), or TXMAIL['KEEP_BODIES'] or "
        "TXMAIL['BODY_RETENTION'] let it go. Send a new message instead.\n")
    row.refresh_from_db()
    assert row.status == Status.FAILED and server.received == []


def ended_rows(server, ages_in_days):
    """Sent rows with their bodies kept (KEEP_BODIES), each ended that many days ago."""
    rows = []
    for age in ages_in_days:
        row = Hello(name=f"{age} days").enqueue().delivery
        queue.run(row.pk)
        Delivery.objects.filter(pk=row.pk).update(
            updated_at=timezone.now() - timedelta(days=age))
        rows.append(row)
    return rows


def bodies(rows):
    return [Delivery.objects.get(pk=r.pk).raw is not None for r in rows]


def test_the_sweep_drops_bodies_after_the_retention(server):
    old, recent = ended_rows(server, [8, 6])
    waiting = Hello(name="waiting").enqueue().delivery  # not ended: the queue needs its body
    Delivery.objects.filter(pk=waiting.pk).update(updated_at=timezone.now() - timedelta(days=30))
    assert queue.sweep()["bodies_dropped"] == 1  # the default: seven days
    assert bodies([old, recent, waiting]) == [False, True, True]
    with override_settings(TXMAIL={"KEEP_BODIES": True, "BODY_RETENTION": DAY, "BATCH_SIZE": 1}):
        assert queue.sweep()["bodies_dropped"] == 1
    assert bodies([recent]) == [False]


@override_settings(TXMAIL={"KEEP_BODIES": True, "BODY_RETENTION": None, "BATCH_SIZE": 1})
def test_no_retention_keeps_bodies(server):
    rows = ended_rows(server, [400])
    assert queue.sweep()["bodies_dropped"] == 0
    assert bodies(rows) == [True]


def test_the_sweep_drops_old_bodies_in_bounded_batches(server, monkeypatch):
    monkeypatch.setattr(recovery, "BODY_BATCH", 2)
    monkeypatch.setattr(recovery, "BODY_BATCHES", 2)
    rows = ended_rows(server, [10] * 5)
    assert [queue.sweep()["bodies_dropped"] for _ in range(3)] == [4, 1, 0]
    assert bodies(rows) == [False] * 5
    assert set(Delivery.objects.values_list("status", flat=True)) <= set(FINAL)
