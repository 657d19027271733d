"""The suppression list: checked per recipient before anything goes out.

Real parts: aiosmtpd on loopback (what the server received), Django's immediate
task backend for enqueue(), the admin through Django's test client.
"""

import pytest
from django.contrib.auth import get_user_model
from django.test import override_settings

from tests.smtp import SMTPServer
from tests.testapp.emails import Hello
from txmail import DeliveryOptions, signals
from txmail.delivery.models import Delivery, Status
from txmail.suppression.check import suppress
from txmail.suppression.models import Suppression

pytestmark = pytest.mark.smtp


class AlwaysTry(Hello):
    """A class that sends even to suppressed addresses."""

    delivery_options = DeliveryOptions(respect_suppression=False)


@pytest.fixture
def server():
    server = SMTPServer().start()
    with override_settings(MAILERS={"transactional": server.mailer()}):
        yield server
    server.stop()


def test_a_bounced_address_is_skipped_on_the_next_send(server):
    suppress("Ann@Example.com", "bounced", description="550 5.1.1 user unknown")
    seen = []
    signals.message_suppressed.connect(
        lambda sender, **kw: seen.append((sender, kw["suppressed"])), weak=False,
        dispatch_uid="test-suppressed")
    try:
        sent = Hello().send()
    finally:
        signals.message_suppressed.disconnect(dispatch_uid="test-suppressed")
    assert server.received == []
    assert (sent.recipients, sent.suppressed) == ([], {"ann@example.com": "bounced"})
    row = Delivery.objects.get(pk=sent.delivery_id)
    assert (row.status, row.recipients, row.suppressed) == (
        Status.SUPPRESSED, ["ann@example.com"], {"ann@example.com": "bounced"})
    assert row.last_error == "Not sent to suppressed addresses: ann@example.com (hard bounce)"
    assert seen == [("transactional", {"ann@example.com": "bounced"})]


def test_a_class_that_opts_out_still_sends(server):
    suppress("ann@example.com", "bounced")
    sent = AlwaysTry().send()
    assert [r.rcpt_tos for r in server.received] == [["ann@example.com"]]
    assert sent.suppressed == {}
    row = Delivery.objects.get(pk=sent.delivery_id)
    assert (row.status, row.respect_suppression) == (Status.SENT, False)


def test_a_mixed_message_goes_only_to_the_unsuppressed(server):
    suppress("bob@example.com", "complained")
    suppress("Eve <eve@example.com>", "manual")
    sent = Hello(to=["Ann <ann@example.com>", "Bob <BOB@example.com>"],
                 cc=["eve@example.com"], bcc=["dan@example.com"]).send()
    (received,) = server.received
    assert received.rcpt_tos == ["ann@example.com", "dan@example.com"]
    assert received.message["To"] == "Ann <ann@example.com>"
    assert received.message["Cc"] is None
    assert sent.recipients == ["Ann <ann@example.com>", "dan@example.com"]
    row = Delivery.objects.get(pk=sent.delivery_id)
    assert row.status == Status.SENT
    assert row.suppressed == {"Bob <BOB@example.com>": "complained",
                              "eve@example.com": "manual"}


def test_a_queued_message_is_checked_when_it_goes_out(server,
                                                      django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        mixed = Hello(to=["ann@example.com", "bob@example.com"]).enqueue().delivery
        only_bob = Hello(name="Bob", to=["bob@example.com"]).enqueue().delivery
    suppress("bob@example.com", "bounced")  # the bounce arrives before the worker runs
    for callback in callbacks:
        callback()
    mixed.refresh_from_db()
    only_bob.refresh_from_db()
    assert [r.rcpt_tos for r in server.received] == [["ann@example.com"]]
    assert (mixed.status, mixed.suppressed) == (Status.SENT, {"bob@example.com": "bounced"})
    assert (only_bob.status, only_bob.raw) == (Status.SUPPRESSED, None)
    assert only_bob.last_error == (
        "Not sent to suppressed addresses: bob@example.com (hard bounce)")


def test_a_queued_class_that_opts_out_still_sends(server, django_capture_on_commit_callbacks):
    suppress("ann@example.com", "bounced")
    with django_capture_on_commit_callbacks(execute=True):
        row = AlwaysTry().enqueue().delivery
    row.refresh_from_db()
    assert row.status == Status.SENT
    assert [r.rcpt_tos for r in server.received] == [["ann@example.com"]]


@pytest.fixture
def admin_client(client, settings):
    settings.ROOT_URLCONF = "tests.admin_urls"
    user = get_user_model().objects.create_superuser("admin", "admin@example.com", "pw")
    client.force_login(user)
    return client


def test_admins_add_and_remove_entries(server, admin_client):
    response = admin_client.post("/admin/txmail/suppression/add/", {
        "address": "Zed@Example.com", "reason": "manual", "description": "asked by phone"})
    assert response.status_code == 302
    entry = Suppression.objects.get()
    assert (entry.address, entry.reason, entry.source) == ("zed@example.com", "manual", "admin")
    Hello(to=["zed@example.com"]).send()
    assert server.received == []
    page = admin_client.get("/admin/txmail/suppression/", {"q": "zed"})
    assert "zed@example.com" in page.content.decode()
    response = admin_client.post(f"/admin/txmail/suppression/{entry.pk}/delete/",
                                 {"post": "yes"})
    assert response.status_code == 302 and not Suppression.objects.exists()
    Hello(to=["zed@example.com"]).send()
    assert [r.rcpt_tos for r in server.received] == [["zed@example.com"]]


@override_settings(TXMAIL={"SUPPRESSION": False})
def test_the_check_can_be_switched_off(server):
    suppress("ann@example.com", "bounced")
    Hello().send()
    assert [r.rcpt_tos for r in server.received] == [["ann@example.com"]]
