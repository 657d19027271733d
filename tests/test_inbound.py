"""Inbound mail in one process: routing, replies linked, statuses, retries, incineration.

Tasks run on the immediate backend (tests.settings) once the storing
transaction commits; the mailboxes are ``tests.inboundapp``'s, registered here.
"""

from datetime import timedelta
from email.message import EmailMessage

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from tests.inboundapp import mailboxes as boxes
from tests.inboundapp.emails import Notice
from txmail.delivery.models import Delivery
from txmail.exceptions import MessageConfigurationError
from txmail.inbound import Mailbox, mailboxes, process, store
from txmail.inbound.incinerate import incinerate
from txmail.inbound.mailboxes import Route
from txmail.inbound.models import InboundMessage, Status
from txmail.signals import inbound_processed, inbound_received

BOXES = [boxes.Comments, boxes.Support, boxes.Flaky, boxes.Broken, boxes.NoReply, boxes.Orders]


@pytest.fixture(autouse=True)
def registered():
    for cls in BOXES:
        mailboxes.register(cls)
    yield
    for cls in BOXES:
        mailboxes.unregister(cls)


def raw_message(to="support@example.com", subject="Where is my order?", body="Order 1042.",
                **headers):
    msg = EmailMessage()
    msg["From"] = "Ann <ann@customer.example>"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = "<reply-1@customer.example>"
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg.as_bytes()


def receive(django_capture_on_commit_callbacks, recipient="support@example.com", **kwargs):
    """Store a message as an ingress does; the worker (immediate) processes it on commit."""
    with django_capture_on_commit_callbacks(execute=True):
        row = store.store(raw_message(to=recipient, **kwargs), recipient=recipient,
                          sender="ann@customer.example", source="test")
    row.refresh_from_db()
    return row


def test_a_message_is_stored_parsed_and_processed_by_its_mailbox(
        django_capture_on_commit_callbacks):
    seen = []
    inbound_received.connect(lambda sender, inbound, **kw: seen.append(("received", sender)),
                             weak=False, dispatch_uid="t-received")
    inbound_processed.connect(lambda sender, inbound, **kw: seen.append(("processed", sender)),
                              weak=False, dispatch_uid="t-processed")
    try:
        row = receive(django_capture_on_commit_callbacks)
    finally:
        inbound_received.disconnect(dispatch_uid="t-received")
        inbound_processed.disconnect(dispatch_uid="t-processed")
    assert (row.status, row.mailbox, row.attempts) == (
        Status.PROCESSED, "tests.inboundapp.mailboxes.Support", 1)
    assert row.outcome == "ticket: Where is my order? / Order 1042. / reply to None"
    assert (row.message_id, row.subject, row.from_header, row.envelope_sender) == (
        "<reply-1@customer.example>", "Where is my order?", "Ann <ann@customer.example>",
        "ann@customer.example")
    assert bytes(row.raw) == raw_message()
    assert seen == [("received", "test"), ("processed", boxes.Support)]


def test_routes_go_from_the_most_specific_to_the_catch_all():
    class Everything(Mailbox):
        route = "*"

    class Exact(Mailbox):
        route = "reply+special@example.com"

    for cls in (Everything, Exact):
        mailboxes.register(cls)
    try:
        def routed(address):
            name, _cls, kwargs = mailboxes.route_for(address)
            return name.rpartition(".")[2], kwargs

        assert routed("reply+special@example.com") == ("Exact", {})
        assert routed("Reply+ABC@Example.COM") == ("Comments", {"token": "abc"})
        assert routed("anything@example.org") == ("Orders", {})
        assert routed("someone@elsewhere.example") == ("Everything", {})
    finally:
        for cls in (Everything, Exact):
            mailboxes.unregister(cls)
    assert mailboxes.route_for("someone@elsewhere.example") is None


def test_an_apps_mailboxes_are_discovered_and_registered_by_name():
    for cls in BOXES:
        mailboxes.unregister(cls)  # the fixture's, registered outside the app

    class Base(Mailbox):
        abstract = True

    class Elsewhere(Mailbox):  # not in an app's mailboxes.py: not discovered
        route = "elsewhere@example.com"

    installed = ["django.contrib.contenttypes", "django.contrib.auth", "txmail",
                 "tests.inboundapp"]
    with override_settings(INSTALLED_APPS=installed):
        mailboxes.autodiscover()
        try:
            assert list(mailboxes.mailboxes()) == [
                "inboundapp.Broken", "inboundapp.Comments", "inboundapp.Flaky",
                "inboundapp.NoReply", "inboundapp.Orders", "inboundapp.Support"]
        finally:
            for cls in BOXES:
                mailboxes.unregister(cls)


def test_a_malformed_route_is_refused_when_the_class_is_defined():
    with pytest.raises(MessageConfigurationError, match="placeholders and '\\*' go in the part"):
        class Bad(Mailbox):
            route = "support@{domain}"
    with pytest.raises(MessageConfigurationError, match="has no route"):
        class NoRoute(Mailbox):
            pass
    with pytest.raises(MessageConfigurationError, match="each placeholder a name of its own"):
        class Twice(Mailbox):
            route = "{a}+{a}@example.com"
    assert Route("*@example.com").match("x@EXAMPLE.com") == {}


def test_a_mailbox_that_bounces_it_ends_bounced_with_its_reason(
        django_capture_on_commit_callbacks):
    row = receive(django_capture_on_commit_callbacks, "noreply@example.com")
    assert (row.status, row.error) == (
        Status.BOUNCED, "This address takes no mail; write to support@example.com.")


def test_an_address_no_mailbox_routes_ends_bounced(django_capture_on_commit_callbacks):
    row = receive(django_capture_on_commit_callbacks, "nobody@example.com")
    assert row.status == Status.BOUNCED
    assert row.error.startswith("No mailbox routes 'nobody@example.com'.")


@override_settings(TXMAIL={"RETRY_DELAY": 0, "RETRY_MAX_DELAY": 0})
def test_a_failed_attempt_is_retried_by_the_sweep_when_the_backend_cannot_defer(
        django_capture_on_commit_callbacks):
    row = receive(django_capture_on_commit_callbacks, "flaky@example.com")
    assert (row.status, row.attempts, row.error) == (
        Status.RETRYING, 1, "ConnectionError: the ticket service is down")
    with django_capture_on_commit_callbacks(execute=True):
        found = process.sweep()
    assert found == {"inbound requeued": 0, "inbound handed off": 1}
    row.refresh_from_db()
    assert (row.status, row.attempts, row.outcome) == (
        Status.PROCESSED, 2, "processed at attempt 2")


@override_settings(TXMAIL={"RETRY_DELAY": 0, "RETRY_MAX_DELAY": 0})
def test_a_message_still_failing_at_its_last_attempt_ends_failed(
        django_capture_on_commit_callbacks):
    row = receive(django_capture_on_commit_callbacks, "broken@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        process.sweep()
    row.refresh_from_db()
    assert (row.status, row.attempts) == (Status.FAILED, 2)
    assert row.error == "RuntimeError: always broken (attempt 2 of 2)"


def test_a_reply_is_linked_by_in_reply_to(django_capture_on_commit_callbacks, sent_mail):
    from tests.testapp.emails import Hello

    Hello().send()
    sent = Delivery.objects.get()
    row = receive(django_capture_on_commit_callbacks, In_Reply_To=sent.message_id)
    assert row.delivery == sent
    assert row.outcome.endswith(f"reply to {sent.pk}")
    row = receive(django_capture_on_commit_callbacks,
                  References=f"<older@elsewhere.example> {sent.message_id}")
    assert row.delivery == sent


def test_a_reply_to_a_signed_address_is_linked_and_a_forged_one_is_not(
        django_capture_on_commit_callbacks, sent_mail):
    handle = Notice().send()
    sent = Delivery.objects.get()
    assert handle.message_id == sent.message_id
    [message] = sent_mail
    [reply_to] = message.email.reply_to
    assert reply_to.startswith("reply+") and reply_to.endswith("@example.com")
    token = reply_to.removeprefix("reply+").partition("@")[0]
    # A mail system may change the local part's case: the token still holds.
    row = receive(django_capture_on_commit_callbacks, reply_to.upper())
    assert (row.status, row.delivery) == (Status.PROCESSED, sent)
    assert row.outcome == f"comment on {sent.pk} (token {token[:4]})"

    ident, _dot, signature = token.partition(".")
    forged = f"reply+{ident}.{'a' * len(signature)}@example.com"
    # Even with In-Reply-To naming the delivery: a forged token links nothing.
    row = receive(django_capture_on_commit_callbacks, forged, In_Reply_To=sent.message_id)
    assert (row.status, row.delivery) == (Status.PROCESSED, None)
    assert row.outcome.startswith("comment on None")


def test_a_message_above_the_size_limit_is_not_stored():
    with override_settings(TXMAIL={"INBOUND": {"MAX_SIZE": 100}}):
        with pytest.raises(store.TooLarge, match="above TXMAIL\\['INBOUND'\\]\\['MAX_SIZE'\\]"):
            store.store(raw_message(), recipient="support@example.com")
    assert not InboundMessage.objects.exists()


def test_ended_rows_are_incinerated_after_the_retention_period(
        django_capture_on_commit_callbacks):
    old = receive(django_capture_on_commit_callbacks)
    recent = receive(django_capture_on_commit_callbacks)
    waiting = InboundMessage.objects.create(raw=b"x", envelope_recipient="support@example.com")
    past = timezone.now() - timedelta(days=31)
    InboundMessage.objects.filter(pk__in=[old.pk, waiting.pk]).update(updated_at=past)
    assert incinerate(dry_run=True) == 1
    call_command("txmail", "prune", skip_checks=True)
    assert set(InboundMessage.objects.values_list("pk", flat=True)) == {recent.pk, waiting.pk}
    with override_settings(TXMAIL={"INBOUND": {"RETENTION": None}}):
        InboundMessage.objects.filter(pk=recent.pk).update(updated_at=past)
        assert incinerate() == 0
    with override_settings(TXMAIL={"INBOUND": {"RETENTION": 60}}):
        assert incinerate() == 1
    assert list(InboundMessage.objects.values_list("pk", flat=True)) == [waiting.pk]


def test_erasing_an_address_deletes_the_inbound_mail_that_names_it(
        django_capture_on_commit_callbacks):
    from txmail.erasure.erase import erase

    kept = receive(django_capture_on_commit_callbacks, subject="From someone else",
                   body="Hello.")
    InboundMessage.objects.filter(pk=kept.pk).update(
        raw=raw_message().replace(b"ann@customer.example", b"bob@customer.example"),
        from_header="bob@customer.example", envelope_sender="bob@customer.example")
    receive(django_capture_on_commit_callbacks, body="I am Ann@Customer.example.")
    counts = erase("ann@customer.example")
    assert (counts["inbound messages"], counts["left"]) == (1, [])
    assert list(InboundMessage.objects.values_list("pk", flat=True)) == [kept.pk]


def test_status_counts_inbound_mail_by_status(django_capture_on_commit_callbacks):
    from io import StringIO

    def status():
        out = StringIO()
        call_command("txmail", "status", stdout=out)
        return [line for line in out.getvalue().splitlines() if line.startswith("inbound")]

    assert status() == []
    receive(django_capture_on_commit_callbacks)
    receive(django_capture_on_commit_callbacks, "noreply@example.com")
    receive(django_capture_on_commit_callbacks, "nobody@example.com")
    assert status() == ["inbound mail: 1 processed, 2 bounced"]


def test_the_sweep_hands_back_what_a_dead_worker_or_a_lost_hand_off_left(
        django_capture_on_commit_callbacks):
    # Stored, as if the worker that claimed one died and the other's task was lost.
    dead = store.store(raw_message(), recipient="support@example.com")
    lost = store.store(raw_message(), recipient="support@example.com")
    fresh = store.store(raw_message(), recipient="support@example.com")
    long_ago = timezone.now() - timedelta(hours=1)
    InboundMessage.objects.filter(pk=dead.pk).update(
        status=Status.PROCESSING, claimed_at=long_ago, attempts=1)
    InboundMessage.objects.filter(pk=lost.pk).update(received_at=long_ago)
    with django_capture_on_commit_callbacks(execute=True):
        found = process.sweep()
    assert found == {"inbound requeued": 1, "inbound handed off": 1}
    statuses = dict(InboundMessage.objects.values_list("pk", "status"))
    assert statuses == {dead.pk: Status.PROCESSED, lost.pk: Status.PROCESSED,
                        fresh.pk: Status.RECEIVED}  # its own task may still come
    assert InboundMessage.objects.get(pk=dead.pk).attempts == 2
