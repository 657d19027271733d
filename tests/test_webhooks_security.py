"""Webhook security through Django's test client: no secret, no events; credentials
before the body; a malformed body gets a 400 and never reaches a log.
"""

import base64
import json
import logging

import pytest
from anymail import urls as anymail_urls
from anymail.signals import tracking
from django.contrib.auth import get_user_model
from django.core import checks, mail
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.urls import include, path, resolve, reverse
from django.urls.resolvers import RegexPattern

from tests import webhook_payloads as payloads
from tests.test_webhooks import AUTH, events_of, post_sendgrid, post_ses, sent_row
from txmail.contrib.auth import PasswordReset
from txmail.suppression.models import Suppression
from txmail.webhooks.models import DeliveryEvent

NO_SECRET = override_settings(ANYMAIL={})
WRONG = {"authorization": "Basic " + base64.b64encode(b"txmail:wrong").decode()}
SES_HEADERS = {"x-amz-sns-message-id": "sns-x", "x-amz-sns-message-type": "Notification"}


class AnymailOwnURLs:
    """A project that mounts anymail's views itself, not txmail's."""

    urlpatterns = [path("hooks/", include("anymail.urls"))]


class NoWebhooks:
    urlpatterns = [path("mail/", include("txmail.bulk.urls"))]


def check_webhook_secret():
    from txmail.webhooks.checks import check_webhook_secret

    return check_webhook_secret()


@pytest.fixture
def signals_sent():
    sent = []
    tracking.connect(lambda sender, event, **kw: sent.append(event), weak=False,
                     dispatch_uid="test-webhooks-security")
    yield sent
    tracking.disconnect(dispatch_uid="test-webhooks-security")


# -- no webhook secret: a system check, and every request refused -----------------------

@NO_SECRET
def test_manage_py_check_fails_when_webhooks_are_mounted_without_a_secret():
    with pytest.raises(CommandError) as raised:  # SystemCheckError
        call_command("check")
    assert "txmail.E040" in str(raised.value)


@NO_SECRET
def test_the_check_is_an_error_that_says_the_fix():
    [error] = check_webhook_secret()
    assert (type(error), error.id) == (checks.Error, "txmail.E040")
    assert error.msg == (
        "Provider webhooks are mounted at /webhooks/amazon_ses/tracking/, "
        "/webhooks/brevo/tracking/ and 8 more without a webhook secret: txmail refuses "
        "every request to them until one is set, so no bounce, complaint or delivery is "
        "recorded.")
    assert error.hint == (
        'Set ANYMAIL = {"WEBHOOK_SECRET": "user:long-random-password"} (or '
        "ANYMAIL_WEBHOOK_SECRET) and give the same credentials to the provider's webhook "
        "URL: https://user:long-random-password@your-host/<path>.")


@override_settings(ANYMAIL={}, DEBUG=True)
def test_in_debug_the_check_is_a_warning():
    assert [(type(m), m.id) for m in check_webhook_secret()] == [
        (checks.Warning, "txmail.W040")]


@override_settings(ANYMAIL={}, ROOT_URLCONF=AnymailOwnURLs)
def test_the_check_finds_anymails_own_views_and_says_they_accept_anyone():
    [error] = check_webhook_secret()
    assert error.id == "txmail.E040"
    assert error.msg == (
        "Provider webhooks are mounted at /hooks/amazon_ses/tracking/, /hooks/brevo/tracking/"
        " and 7 more without a webhook secret: these are anymail's own views, which accept "
        "provider events from anyone (a forged bounce suppresses an address for every "
        "message, password resets included).")


def test_the_check_is_quiet_with_a_secret_or_without_webhooks():
    assert check_webhook_secret() == []
    with override_settings(ANYMAIL={}, ROOT_URLCONF=NoWebhooks):
        assert check_webhook_secret() == []


@pytest.mark.parametrize("debug", [False, True])
def test_without_a_secret_forged_bounces_are_refused_and_resets_still_go_out(
        client, signals_sent, debug):
    user = get_user_model().objects.create_user("ada", "ada@shop.example", "pw")
    row = sent_row("de212213-bb66-4302-8f3f-20acdb7a104e", ["ada@shop.example"])
    with override_settings(ANYMAIL={}, DEBUG=debug):
        sendgrid = post_sendgrid(client, [payloads.sendgrid(
            "bounce", "ada@shop.example", row.provider_message_id)], headers={})
        ses = post_ses(client, payloads.ses_notification(
            payloads.ses_bounce("x", {"txmail_delivery_id": str(row.pk)}), "sns-1"), headers={})
    assert (sendgrid.status_code, ses.status_code) == (403, 403)
    assert b'ANYMAIL = {"WEBHOOK_SECRET": "user:long-random-password"}' in sendgrid.content
    assert signals_sent == []
    assert not Suppression.objects.exists() and not DeliveryEvent.objects.exists()
    with override_settings(TXMAIL={"SITE_URL": "https://shop.example.com"}):
        PasswordReset(user).send()
    assert [m.to for m in mail.outbox] == [["ada@shop.example"]]


def test_every_anymail_webhook_stays_at_its_path_and_name_behind_the_guard():
    from txmail.webhooks.views import WebhookGuard

    for pattern in anymail_urls.urlpatterns:
        original = pattern.callback.view_class
        if isinstance(pattern.pattern, RegexPattern):  # mailgun/inbound(_mime)?/
            paths = ["/webhooks/mailgun/inbound/", "/webhooks/mailgun/inbound_mime/"]
        else:
            paths = [reverse(f"anymail:{pattern.name}")]
            assert paths == [f"/webhooks/{pattern.pattern}"]
        for found in paths:
            match = resolve(found)
            assert match.view_name == f"anymail:{pattern.name}"
            assert issubclass(match.func.view_class, original)
            assert issubclass(match.func.view_class, WebhookGuard)
    assert reverse("txmail_sendgrid_tracking_webhook") == "/webhooks/sendgrid/tracking/"


# -- credentials first, then the body ----------------------------------------------------

MARKER = "do-not-log-this-body-"
LARGE = MARKER * (200_000 // len(MARKER))  # ~200 KB, not JSON


def post_raw(client, url, body, headers, content_type="application/json"):
    return client.post(url, data=body, content_type=content_type, headers=headers)


def assert_no_body_logged(caplog):
    formatter = logging.Formatter()
    for record in caplog.records:
        assert MARKER not in formatter.format(record), record.name


@pytest.mark.parametrize(("headers", "status"), [(WRONG, 400), ({}, 401)])
def test_ses_checks_credentials_before_it_reads_the_body(client, caplog, headers, status):
    caplog.set_level(logging.DEBUG)
    response = post_raw(client, "/webhooks/amazon_ses/tracking/", LARGE,
                        {**headers, **SES_HEADERS}, content_type="text/plain")
    assert response.status_code == status
    assert MARKER.encode() not in response.content
    assert_no_body_logged(caplog)


def test_sendgrid_with_wrong_credentials_and_a_large_body_logs_no_body(client, caplog):
    caplog.set_level(logging.DEBUG)
    response = post_raw(client, "/webhooks/sendgrid/tracking/", LARGE, WRONG)
    assert (response.status_code, response.content) == (400, b"Missing or invalid basic auth.")
    assert_no_body_logged(caplog)


MALFORMED = {
    "not JSON": ("not json", "The body is not a {esp} webhook payload."),
    "empty": ("", "The body is empty."),
    "JSON null": ("null", "The body is not a {esp} webhook payload."),
    "JSON of the wrong shape": ("[1, 2]", "The body is not a {esp} webhook payload."),
    "deeply nested JSON": ("[" * 100_000 + "]" * 100_000, "The body is nested too deeply."),
}
PROVIDERS = {
    "SendGrid": ("/webhooks/sendgrid/tracking/", "application/json", {}),
    "Amazon SES": ("/webhooks/amazon_ses/tracking/", "text/plain", SES_HEADERS),
}


@pytest.mark.parametrize("esp", PROVIDERS)
@pytest.mark.parametrize("kind", MALFORMED)
def test_an_authenticated_malformed_body_gets_a_400_with_a_short_reason(
        client, signals_sent, esp, kind):
    url, content_type, headers = PROVIDERS[esp]
    body, reason = MALFORMED[kind]
    response = post_raw(client, url, body, {**AUTH, **headers}, content_type=content_type)
    assert (response.status_code, response.content.decode()) == (400, reason.format(esp=esp))
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert signals_sent == [] and not Suppression.objects.exists()


@pytest.mark.parametrize("esp", PROVIDERS)
def test_a_large_malformed_body_is_not_logged(client, caplog, esp):
    caplog.set_level(logging.DEBUG)
    url, content_type, headers = PROVIDERS[esp]
    response = post_raw(client, url, LARGE, {**AUTH, **headers}, content_type=content_type)
    assert response.status_code == 400
    assert [r.getMessage() for r in caplog.records if r.name == "txmail.webhooks"] == [
        f"txmail: refused a {esp} webhook body: The body is not a {esp} webhook payload."]
    assert_no_body_logged(caplog)


def test_an_sns_type_that_does_not_match_its_header_gets_a_400(client):
    message = {**payloads.ses_notification(payloads.ses_delivery("x"), "sns-x"),
               "Type": LARGE}
    response = post_raw(client, "/webhooks/amazon_ses/tracking/", json.dumps(message),
                        {**AUTH, **SES_HEADERS}, content_type="text/plain")
    assert (response.status_code, response.content) == (
        400, b"The request did not validate as a Amazon SES webhook (signature or headers).")


# -- regression: authenticated webhooks still work ---------------------------------------

def test_an_authenticated_sendgrid_webhook_still_suppresses_and_logs(client):
    row = sent_row("de212213-bb66-4302-8f3f-20acdb7a104e", ["noreply@example.com"])
    response = post_sendgrid(client, [
        payloads.sendgrid("bounce", "noreply@example.com", row.provider_message_id),
        payloads.sendgrid("delivered", "noreply@example.com", row.provider_message_id)])
    assert response.status_code == 200
    assert [e[0] for e in events_of(row)] == ["bounced", "delivered"]
    assert list(Suppression.objects.values_list("address", "topic", "reason")) == [
        ("noreply@example.com", "", "bounced")]


def test_an_authenticated_ses_webhook_still_suppresses_and_logs(client):
    row = sent_row("0000-ses-id")
    assert post_ses(client, payloads.ses_notification(
        payloads.ses_bounce("0000-ses-id", {}), "sns-1")).status_code == 200
    assert post_ses(client, payloads.ses_notification(
        payloads.ses_delivery("0000-ses-id"), "sns-2")).status_code == 200
    assert [e[0] for e in events_of(row)] == ["bounced", "delivered"]
    assert list(Suppression.objects.values_list("address", "topic", "reason")) == [
        ("ada@shop.example", "", "bounced")]


# -- a provider's own signature counts as the secret -------------------------------------

def test_a_sendgrid_signature_key_authenticates_without_basic_auth(client):
    ec = pytest.importorskip("cryptography.hazmat.primitives.asymmetric.ec")
    from cryptography.hazmat.primitives import hashes, serialization

    key = ec.generate_private_key(ec.SECP256R1())
    public = base64.b64encode(key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()
    row = sent_row("de212213-bb66-4302-8f3f-20acdb7a104e", ["noreply@example.com"])
    body = json.dumps([payloads.sendgrid("bounce", "noreply@example.com",
                                         row.provider_message_id)])
    signature = base64.b64encode(key.sign(b"1764700000" + body.encode(),
                                          ec.ECDSA(hashes.SHA256()))).decode()
    signed = {"X-Twilio-Email-Event-Webhook-Signature": signature,
              "X-Twilio-Email-Event-Webhook-Timestamp": "1764700000"}
    with override_settings(ANYMAIL={"SENDGRID_TRACKING_WEBHOOK_VERIFICATION_KEY": public}):
        forged = post_raw(client, "/webhooks/sendgrid/tracking/", body,
                          {**signed, "X-Twilio-Email-Event-Webhook-Timestamp": "1"})
        assert not Suppression.objects.exists()
        genuine = post_raw(client, "/webhooks/sendgrid/tracking/", body, signed)
    assert (forged.status_code, genuine.status_code) == (400, 200)
    assert list(Suppression.objects.values_list("address", flat=True)) == [
        "noreply@example.com"]
