"""Provider webhooks through Django's test client: real payloads (tests/webhook_payloads.py)
POSTed to anymail's views mounted at /webhooks/, updating the log and the suppression list.
"""

import base64
import json
from datetime import UTC, datetime

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import override_settings

from tests import webhook_payloads as payloads
from txmail.contrib.auth import PasswordReset
from txmail.delivery.models import Delivery, Status
from txmail.suppression.models import Suppression
from txmail.webhooks.models import DeliveryEvent

AUTH = {"authorization": "Basic "
        + base64.b64encode(b"txmail:hook-secret-of-the-tests").decode()}


def sent_row(provider_message_id: str, recipients=("ada@shop.example", "grace@shop.example"),
             ) -> Delivery:
    return Delivery.objects.create(
        mailer="ses", sent_via="ses", from_email="shop@example.com",
        recipients=list(recipients), subject="Hello", message_id="<1@example.com>",
        provider_message_id=provider_message_id, status=Status.SENT)


def post_sendgrid(client, events, headers=AUTH):
    return client.post("/webhooks/sendgrid/tracking/", data=json.dumps(events),
                       content_type="application/json", headers=headers)


def post_ses(client, sns_message, headers=AUTH):
    return client.post(
        "/webhooks/amazon_ses/tracking/", data=json.dumps(sns_message),
        content_type="text/plain; charset=UTF-8",  # SNS posts JSON as text/plain
        headers={**headers, "x-amz-sns-message-id": sns_message["MessageId"],
                 "x-amz-sns-message-type": sns_message["Type"]})


def events_of(row):
    return [(e.event_type, e.recipient, e.description, e.mta_response, e.esp_name)
            for e in row.events.all()]


def test_ses_bounce_matched_by_metadata_logs_and_suppresses(client):
    row = sent_row("not-the-ses-id")
    bounce = payloads.ses_bounce("0000-ses-id", {"txmail_delivery_id": str(row.pk)})
    response = post_ses(client, payloads.ses_notification(bounce, "sns-1"))
    assert response.status_code == 200
    assert events_of(row) == [("bounced", "ada@shop.example", "Permanent: General",
                               "smtp; 550 5.1.1 <ada@shop.example>: User unknown",
                               "Amazon SES")]
    event = row.events.get()
    assert event.timestamp == datetime(2026, 12, 1, 9, 30, 5, 120000, tzinfo=UTC)
    entry = Suppression.objects.get()
    assert (entry.address, entry.reason, entry.source, entry.delivery) == (
        "ada@shop.example", "bounced", "Amazon SES", row)
    assert entry.description == (
        "Permanent: General smtp; 550 5.1.1 <ada@shop.example>: User unknown")


def test_ses_soft_bounce_is_logged_but_not_suppressed(client):
    row = sent_row("0000-ses-id")
    bounce = payloads.ses_bounce("0000-ses-id", {}, bounce_type="Transient")
    assert post_ses(client, payloads.ses_notification(bounce, "sns-2")).status_code == 200
    assert [e[0] for e in events_of(row)] == ["bounced"]
    assert not Suppression.objects.exists()


def test_ses_complaint_and_delivery_matched_by_provider_message_id(client):
    row = sent_row("0000-ses-id")
    other = sent_row("another-id")
    post_ses(client, payloads.ses_notification(payloads.ses_delivery("0000-ses-id"), "sns-3"))
    post_ses(client, payloads.ses_notification(payloads.ses_complaint("0000-ses-id"), "sns-4"))
    assert events_of(row) == [
        ("delivered", "ada@shop.example", "", "250 2.0.0 OK queued as 4XKb2T1xYz",
         "Amazon SES"),
        ("complained", "grace@shop.example", "abuse", "", "Amazon SES"),
    ]
    assert events_of(other) == []
    assert list(Suppression.objects.values_list("address", "reason")) == [
        ("grace@shop.example", "complained")]


def test_a_repeated_notification_is_recorded_once(client):
    row = sent_row("0000-ses-id")
    message = payloads.ses_notification(payloads.ses_delivery("0000-ses-id"), "sns-5")
    post_ses(client, message)
    assert post_ses(client, message).status_code == 200
    assert len(events_of(row)) == 1


def test_sendgrid_events_update_their_rows_and_the_list(client):
    bounced = sent_row("de212213-bb66-4302-8f3f-20acdb7a104e", ["noreply@example.com"])
    delivered = sent_row("4ab185c2-0171-492f-9ce0-27de258efc99", ["recipient@example.com"])
    response = post_sendgrid(client, [
        payloads.sendgrid("bounce", "noreply@example.com", bounced.provider_message_id),
        payloads.sendgrid("delivered", "recipient@example.com",
                          delivered.provider_message_id),
        payloads.sendgrid("deferred", "recipient@example.com",
                          delivered.provider_message_id),
        payloads.sendgrid("spamreport", "recipient@example.com",
                          delivered.provider_message_id),
        payloads.sendgrid("bounce", "blocked@example.com", bounced.provider_message_id,
                          type="blocked", sg_event_id="other-event"),
    ])
    assert response.status_code == 200
    assert events_of(bounced) == [
        ("bounced", "noreply@example.com", "",
         "550 5.1.1 <ada@shop.example>: Recipient address rejected: User unknown", "SendGrid"),
        ("bounced", "blocked@example.com", "",
         "550 5.1.1 <ada@shop.example>: Recipient address rejected: User unknown", "SendGrid"),
    ]
    # In the order the provider reports them happening (the deferral is the latest).
    assert [e[0] for e in events_of(delivered)] == ["delivered", "complained", "deferred"]
    # A hard bounce and a complaint are suppressed; a "blocked" (soft) bounce is not.
    assert sorted(Suppression.objects.values_list("address", "reason")) == [
        ("noreply@example.com", "bounced"), ("recipient@example.com", "complained")]


def test_an_event_for_an_unknown_message_suppresses_but_logs_nothing(client):
    response = post_sendgrid(client, [payloads.sendgrid("bounce", "x@example.com", "unknown")])
    assert response.status_code == 200
    assert not DeliveryEvent.objects.exists()
    assert list(Suppression.objects.values_list("address", flat=True)) == ["x@example.com"]


@pytest.mark.parametrize(("headers", "ses_status"), [
    ({}, 401),  # SNS only sends credentials after a 401 challenge
    ({"authorization": "Basic " + base64.b64encode(b"txmail:wrong").decode()}, 400),
    ({"authorization": "Bearer hook-secret-of-the-tests"}, 400),
])
def test_forged_or_unauthenticated_posts_change_nothing(client, headers, ses_status):
    row = sent_row("de212213-bb66-4302-8f3f-20acdb7a104e", ["noreply@example.com"])
    bounce = payloads.sendgrid("bounce", "noreply@example.com", row.provider_message_id)
    assert post_sendgrid(client, [bounce], headers=headers).status_code == 400
    ses = payloads.ses_bounce("x", {"txmail_delivery_id": str(row.pk)})
    assert post_ses(client, payloads.ses_notification(ses, "sns-6"),
                    headers=headers).status_code == ses_status
    response = client.post("/webhooks/sendgrid/tracking/", data="not json",
                           content_type="application/json", headers=headers)
    assert response.status_code == 400
    assert not DeliveryEvent.objects.exists() and not Suppression.objects.exists()


def test_unknown_event_types_are_ignored(client):
    row = sent_row("de212213-bb66-4302-8f3f-20acdb7a104e", ["noreply@example.com"])
    events = [payloads.sendgrid("delivered", "noreply@example.com", row.provider_message_id,
                                event=name) for name in ("open", "group_resubscribe", "new")]
    assert post_sendgrid(client, events).status_code == 200
    assert not DeliveryEvent.objects.exists() and not Suppression.objects.exists()


def test_the_sendgrid_webhook_warns_nobody(client, recwarn):
    assert post_sendgrid(client, []).status_code == 200
    assert [str(w.message) for w in recwarn] == []


# -- a provider's unsubscribe is from one topic, not from every message ------------------

UNSUBSCRIBES = ["unsubscribe", "group_unsubscribe", "dropped"]  # dropped: "Unsubscribed Address"


def newsletter_row(topic="bulletin"):
    row = sent_row("4ab185c2-0171-492f-9ce0-27de258efc99", ["ann@example.com"])
    row.topic = topic
    row.save(update_fields=["topic"])
    return row


@pytest.mark.parametrize("kind", UNSUBSCRIBES)
def test_a_provider_unsubscribe_is_scoped_to_the_deliverys_topic(client, kind):
    row = newsletter_row()
    event = payloads.sendgrid(kind, "ann@example.com", row.provider_message_id)
    assert post_sendgrid(client, [event]).status_code == 200
    assert [e[0] for e in events_of(row)] == [
        "rejected" if kind == "dropped" else "unsubscribed"]
    assert list(Suppression.objects.values_list("address", "topic", "reason", "delivery")) == [
        ("ann@example.com", "bulletin", "unsubscribed", row.pk)]


def test_a_provider_unsubscribe_from_a_newsletter_does_not_stop_password_resets(client):
    user = get_user_model().objects.create_user("ann", "ann@example.com", "pw")
    row = newsletter_row()
    post_sendgrid(client, [payloads.sendgrid("group_unsubscribe", "ann@example.com",
                                             row.provider_message_id)])
    with override_settings(TXMAIL={"SITE_URL": "https://shop.example.com"}):
        sent = PasswordReset(user).send()
    assert sent.suppressed == {}
    assert [m.to for m in mail.outbox] == [["ann@example.com"]]


@pytest.mark.parametrize("matching", ["no delivery", "a delivery without a topic"])
def test_an_unsubscribe_without_a_topic_is_logged_but_suppresses_nothing(
        client, caplog, matching):
    caplog.set_level("INFO", logger="txmail.webhooks")
    row = newsletter_row(topic="") if matching != "no delivery" else None
    message_id = row.provider_message_id if row else "unknown"
    event = payloads.sendgrid("unsubscribe", "ann@example.com", message_id)
    assert post_sendgrid(client, [event]).status_code == 200
    assert not Suppression.objects.exists()
    why = "it matches no delivery" if row is None else f"delivery {row.pk} has no topic"
    assert [r.getMessage() for r in caplog.records if r.levelname == "INFO"][-1] == (
        "txmail: SendGrid unsubscribe of ann@example.com not added to the suppression list: "
        f"{why}, and an unsubscribe applies to one topic only.")
    if row is not None:
        assert [e[0] for e in events_of(row)] == ["unsubscribed"]


def test_bounces_and_complaints_stay_global_for_a_newsletter(client):
    row = newsletter_row()
    post_sendgrid(client, [
        payloads.sendgrid("bounce", "ann@example.com", row.provider_message_id),
        payloads.sendgrid("spamreport", "bob@example.com", row.provider_message_id)])
    assert sorted(Suppression.objects.values_list("address", "topic", "reason")) == [
        ("ann@example.com", "", "bounced"), ("bob@example.com", "", "complained")]
