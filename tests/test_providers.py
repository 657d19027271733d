"""Providers through django-anymail, over HTTP on loopback.

SES: anymail's Amazon SES backend (boto3) talking to moto in server mode.
SendGrid: txmail.backends.sendgrid (anymail's backend) talking to a small v3
mail-send server that records each request. Neither provider's live service is
used: SES's real acceptance rules (sandbox, DKIM) and SendGrid's can only be
checked against the services themselves.
"""

import base64
import json
import socket
import struct
import threading
import time
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest
import requests
from django.test import override_settings
from django.utils import timezone
from moto.core import DEFAULT_ACCOUNT_ID
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.ses.models import ses_backends

from tests.smtp import SMTPServer, free_port
from tests.testapp.emails import Hello
from txmail import DeliveryOptions, PermanentDeliveryError, TransientDeliveryError
from txmail.delivery import queue
from txmail.delivery.models import Delivery, Status
from txmail.exceptions import DeliveryOutcomeUnknown
from txmail.mail.mime import Attachment

CREDENTIALS = {"region_name": "us-east-1", "aws_access_key_id": "testing",
               "aws_secret_access_key": "testing"}


@pytest.fixture(scope="module")
def moto_url():
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def ses(moto_url):
    requests.post(f"{moto_url}/moto-api/reset", timeout=10)
    client = boto3.client("sesv2", endpoint_url=moto_url, **CREDENTIALS)
    client.create_email_identity(EmailIdentity="example.com")
    mailer = {"BACKEND": "anymail.backends.amazon_ses.EmailBackend",
              "OPTIONS": {"client_params": {"endpoint_url": moto_url, **CREDENTIALS}}}
    with override_settings(MAILERS={"transactional": mailer, "ses": mailer}):
        yield ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]


class WithAttachment(Hello):
    attachments = [Attachment("terms.txt", b"Be nice.\n", "text/plain")]
    delivery_options = DeliveryOptions(metadata={"order": "1042"})


TAG = "tests.test_providers.WithAttachment"  # its registry name: the default tag


def test_ses_receives_the_message_with_tags_and_metadata(ses):
    sent = WithAttachment(name="Ada", to=["Ada <ada@example.com>"]).send()
    (raw,) = ses.sent_messages
    row = Delivery.objects.get(pk=sent.delivery_id)
    assert (row.status, row.sent_via, row.provider_message_id) == (
        Status.SENT, "transactional", raw.id)
    assert sent.provider_message_id == raw.id
    assert raw.source == "shop@example.com"
    message = message_from_bytes(raw.raw_data.encode(), policy=policy.default)
    assert message["Subject"] == "Hello Ada"
    assert message["To"] == "Ada <ada@example.com>"
    assert message["Message-ID"] == row.message_id
    assert message["X-Tag"] == TAG
    assert json.loads(message["X-Metadata"]) == {"order": "1042",
                                                 "txmail_delivery_id": str(row.pk)}
    assert "Hello Ada" in message.get_body(("plain",)).get_content()
    assert "Hello Ada" in message.get_body(("html",)).get_content()
    (attachment,) = message.iter_attachments()
    assert (attachment.get_filename(), attachment.get_content()) == ("terms.txt", "Be nice.\n")


def test_ses_queued_message_keeps_tags_and_metadata(ses, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        row = WithAttachment(name="Bo").enqueue(using="ses").delivery
    row.refresh_from_db()
    assert row.esp_options == {"tags": [TAG], "metadata": {"order": "1042"}}
    (raw,) = ses.sent_messages
    assert (row.status, row.provider_message_id) == (Status.SENT, raw.id)
    message = message_from_bytes(raw.raw_data.encode(), policy=policy.default)
    assert message["X-Tag"] == TAG
    assert json.loads(message["X-Metadata"]) == {"order": "1042",
                                                 "txmail_delivery_id": str(row.pk)}


def test_ses_rejecting_an_unverified_sender_is_permanent(ses):
    with pytest.raises(PermanentDeliveryError) as caught:
        Hello(from_email="other@elsewhere.test").send()
    assert caught.value.alias == "transactional"
    assert str(caught.value).startswith(
        "mailer 'transactional' refused the message (AnymailAPIError: An error occurred "
        "(MessageRejected) when calling the SendEmail operation")
    assert Delivery.objects.latest("pk").status == Status.FAILED


def test_ses_unreachable_is_transient():
    mailer = {"BACKEND": "anymail.backends.amazon_ses.EmailBackend",
              "OPTIONS": {"client_params": {"endpoint_url": f"http://127.0.0.1:{free_port()}",
                                            **CREDENTIALS}}}
    with override_settings(MAILERS={"transactional": mailer}):
        with pytest.raises(TransientDeliveryError):
            Hello().send()


class V3Handler(BaseHTTPRequestHandler):
    """SendGrid's v3 mail/send: 202 and an X-Message-Id header; records what it got."""

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.requests.append((self.path, dict(self.headers), json.loads(body)))
        status = self.server.statuses.pop(0) if self.server.statuses else 202
        if status == "hang up":  # the whole request arrived; no answer is sent
            self.close_connection = True
            return
        if status == "stall":  # longer than the client's read timeout
            time.sleep(2)
        self.send_response(status)
        self.send_header("X-Message-Id", "sg-queue-id-1")
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        if status >= 400:
            self.wfile.write(json.dumps({"errors": [{"message": "nope"}]}).encode())

    def log_message(self, *args):
        pass


@pytest.fixture
def sendgrid():
    server = ThreadingHTTPServer(("127.0.0.1", 0), V3Handler)
    server.requests, server.statuses = [], []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    mailer = {"BACKEND": "txmail.backends.sendgrid.EmailBackend",
              "OPTIONS": {"api_key": "SG.test-key",
                          "api_url": f"http://127.0.0.1:{server.server_address[1]}/v3/"}}
    with override_settings(MAILERS={"transactional": mailer}):
        yield server
    server.shutdown()
    server.server_close()


def test_sendgrid_receives_recipients_parts_attachments_tags_and_metadata(sendgrid, recwarn):
    sent = WithAttachment(name="Ada", to=["Ada <ada@example.com>"],
                          cc=["bob@example.com"]).send()
    ((path, headers, payload),) = sendgrid.requests
    row = Delivery.objects.get(pk=sent.delivery_id)
    assert path == "/v3/mail/send"
    assert headers["Authorization"] == "Bearer SG.test-key"
    (personalization,) = payload["personalizations"]
    assert personalization["to"] == [{"email": "ada@example.com", "name": "Ada"}]
    assert personalization["cc"] == [{"email": "bob@example.com"}]
    assert payload["from"] == {"email": "shop@example.com", "name": "Example Shop"}
    assert payload["subject"] == "Hello Ada"
    assert [c["type"] for c in payload["content"]] == ["text/plain", "text/html"]
    assert all("Hello Ada" in c["value"] for c in payload["content"])
    assert payload["attachments"] == [{
        "filename": "terms.txt", "type": 'text/plain; charset="utf-8"',
        "content": base64.b64encode(b"Be nice.\n").decode()}]
    assert payload["categories"] == [TAG]
    assert payload["custom_args"] == {"order": "1042", "txmail_delivery_id": str(row.pk)}
    anymail_id = personalization["custom_args"]["anymail_id"]
    assert payload["headers"]["Message-ID"] == row.message_id
    assert (row.status, row.provider_message_id) == (Status.SENT, anymail_id)
    assert sent.provider_message_id == anymail_id
    assert [str(w.message) for w in recwarn] == []  # anymail's "unsupported" notice


def test_sendgrid_errors_are_sorted(sendgrid):
    sendgrid.statuses = [503, 400]
    with pytest.raises(TransientDeliveryError):
        Hello().send()
    with pytest.raises(PermanentDeliveryError):
        Hello().send()
    assert list(Delivery.objects.order_by("-pk").values_list("status", flat=True)[:2]) == [
        Status.FAILED, Status.FAILED]


def test_failover_from_an_unreachable_ses_to_sendgrid(sendgrid):
    from django.conf import settings

    down_ses = {"BACKEND": "anymail.backends.amazon_ses.EmailBackend",
                "OPTIONS": {"client_params": {
                    "endpoint_url": f"http://127.0.0.1:{free_port()}", **CREDENTIALS}}}
    with override_settings(MAILERS={
            "ses": down_ses, "sendgrid": settings.MAILERS["transactional"],
            "transactional": {"BACKEND": "txmail.backends.failover.EmailBackend",
                              "OPTIONS": {"mailers": ["ses", "sendgrid"], "cache": "shared"}}}):
        sent = Hello().send()
    assert sent.sent_via == "sendgrid" and len(sendgrid.requests) == 1
    row = Delivery.objects.get(pk=sent.delivery_id)
    assert (row.status, row.sent_via, row.provider_message_id) == (
        Status.SENT, "sendgrid", sent.provider_message_id)


def test_a_provider_400_does_not_cascade_or_mark_it_down(sendgrid):
    from django.conf import settings
    from django.core.cache import caches

    caches["shared"].clear()
    backup = {"BACKEND": "django.core.mail.backends.smtp.EmailBackend",
              "OPTIONS": {"host": "127.0.0.1", "port": free_port(), "timeout": 2}}
    sendgrid.statuses = [400]
    with override_settings(MAILERS={
            "sendgrid": settings.MAILERS["transactional"], "backup": backup,
            "transactional": {"BACKEND": "txmail.backends.failover.EmailBackend",
                              "OPTIONS": {"mailers": ["sendgrid", "backup"],
                                          "cache": "shared"}}}):
        with pytest.raises(PermanentDeliveryError) as caught:
            Hello().send()
        assert caught.value.alias == "sendgrid"  # the backup (closed port) was not tried
        assert Hello().send().sent_via == "sendgrid"  # and SendGrid is not marked down
    assert len(sendgrid.requests) == 2


# -- an HTTP request that went out, and an account that can't send ------------------


def failover_to_a_second_sendgrid(first_options, second):
    from django.conf import settings

    second_mailer = {"BACKEND": "txmail.backends.sendgrid.EmailBackend",
                     "OPTIONS": {"api_key": "SG.test-key",
                                 "api_url": f"http://127.0.0.1:{second.server_address[1]}/v3/"}}
    first = dict(settings.MAILERS["transactional"])
    first["OPTIONS"] = {**first["OPTIONS"], **first_options}
    return {"first": first, "second": second_mailer,
            "transactional": {"BACKEND": "txmail.backends.failover.EmailBackend",
                              "OPTIONS": {"mailers": ["first", "second"], "cache": "shared"}}}


@pytest.fixture
def second_sendgrid():
    from django.core.cache import caches

    caches["shared"].clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), V3Handler)
    server.requests, server.statuses = [], []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()
    caches["shared"].clear()


@pytest.mark.parametrize("fault", ["hang up", "stall"])
def test_an_answer_lost_after_the_request_is_not_sent_again_elsewhere(
        sendgrid, second_sendgrid, fault):
    sendgrid.statuses = [fault]
    with override_settings(MAILERS=failover_to_a_second_sendgrid({"timeout": 0.5},
                                                                 second_sendgrid)):
        with pytest.raises(DeliveryOutcomeUnknown) as caught:
            Hello().send()
    assert caught.value.alias == "first"
    assert "The provider may have accepted it" in str(caught.value)
    assert len(sendgrid.requests) == 1 and second_sendgrid.requests == []
    assert Delivery.objects.get().status == Status.UNKNOWN


def test_a_queued_message_whose_answer_was_lost_is_not_sent_twice(
        sendgrid, django_capture_on_commit_callbacks):
    from django.conf import settings

    from txmail.delivery import queue

    sendgrid.statuses = ["hang up"]
    mailer = settings.MAILERS["transactional"]
    with override_settings(MAILERS={"transactional": {**mailer, "OPTIONS": {
            **mailer["OPTIONS"], "timeout": 0.5}}}):
        with django_capture_on_commit_callbacks(execute=False):
            row = Hello().enqueue().delivery
        assert queue.run(row.pk) == {"unknown": 1}
        assert queue.run(row.pk) == {}
    assert len(sendgrid.requests) == 1


class PausedSES(BaseHTTPRequestHandler):
    """Amazon SES v2 answering every send with its account-level error (REST-JSON)."""

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.server.posts += 1
        body = json.dumps({"message": "Sending is paused for this account."}).encode()
        self.send_response(400)
        self.send_header("x-amzn-ErrorType", f"{self.server.code}:http://internal.amazon.com/")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.mark.parametrize("code", ["SendingPausedException", "AccountSuspendedException",
                                  "LimitExceededException"])
def test_an_ses_account_that_cannot_send_fails_over_and_is_retried(sendgrid, code):
    from django.conf import settings
    from django.core.cache import caches

    caches["shared"].clear()
    paused = ThreadingHTTPServer(("127.0.0.1", 0), PausedSES)
    paused.posts, paused.code = 0, code
    threading.Thread(target=paused.serve_forever, daemon=True).start()
    ses = {"BACKEND": "anymail.backends.amazon_ses.EmailBackend",
           "OPTIONS": {"client_params": {
               "endpoint_url": f"http://127.0.0.1:{paused.server_address[1]}", **CREDENTIALS}}}
    try:
        with override_settings(MAILERS={"ses": ses}):
            with pytest.raises(TransientDeliveryError) as caught:  # queued: retried later
                Hello().send(using="ses")
        assert code in str(caught.value)
        assert str(caught.value).endswith(
            "check the provider account: paused, suspended or over its sending limits.")
        with override_settings(MAILERS={
                "ses": ses, "sendgrid": settings.MAILERS["transactional"],
                "transactional": {"BACKEND": "txmail.backends.failover.EmailBackend",
                                  "OPTIONS": {"mailers": ["ses", "sendgrid"],
                                              "cache": "shared"}}}):
            assert Hello().send().sent_via == "sendgrid"
    finally:
        paused.shutdown()
        paused.server_close()
        caches["shared"].clear()
    # botocore itself retries a throttling code (LimitExceeded) before giving up.
    assert paused.posts >= 2 and len(sendgrid.requests) == 1


class ResettingV3(V3Handler):
    """Reads the whole request, records it, then resets the connection (a crashed proxy)."""

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.requests.append((self.path, dict(self.headers), json.loads(body)))
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()  # RST, no FIN: nothing comes back
        self.close_connection = True


def v3_mailer(server) -> dict:
    return {"BACKEND": "txmail.backends.sendgrid.EmailBackend",
            "OPTIONS": {"api_key": "SG.test-key",
                        "api_url": f"http://127.0.0.1:{server.server_address[1]}/v3/"}}


def test_a_reset_after_the_whole_request_is_not_sent_again_elsewhere(
        sendgrid, second_sendgrid):
    resetting = second_sendgrid
    resetting.RequestHandlerClass = ResettingV3
    with override_settings(MAILERS={
            "first": v3_mailer(resetting), "second": v3_mailer(sendgrid),
            "transactional": {"BACKEND": "txmail.backends.failover.EmailBackend",
                              "OPTIONS": {"mailers": ["first", "second"], "cache": "shared"}}}):
        with pytest.raises(DeliveryOutcomeUnknown) as caught:
            Hello().send()
    assert caught.value.alias == "first" and len(resetting.requests) == 1
    assert sendgrid.requests == []  # the first provider may have it: not sent again


def test_a_retry_for_recipients_refused_for_now_mails_only_them_through_an_api(
        sendgrid, django_capture_on_commit_callbacks):
    from django.core.cache import caches

    caches["shared"].clear()
    smtp = SMTPServer().start()

    async def greylist_bob(srv, session, envelope, address, rcpt_options):
        if address == "bob@example.com":
            return "450 4.2.0 Greylisted, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    smtp.handler.handle_RCPT = greylist_bob
    from django.conf import settings

    mailers = {"smtp": smtp.mailer(), "sendgrid": settings.MAILERS["transactional"],
               "transactional": {"BACKEND": "txmail.backends.failover.EmailBackend",
                                 "OPTIONS": {"mailers": ["smtp", "sendgrid"],
                                             "cache": "shared"}}}
    try:
        with override_settings(MAILERS=mailers):
            with django_capture_on_commit_callbacks(execute=False):
                row = Hello(to=["ann@example.com", "bob@example.com"]).enqueue().delivery
            assert queue.run(row.pk) == {"sent": 1}
            follow_up = Delivery.objects.get(resent_from=row)
            smtp.stop()  # the relay is down when the retry is due: SendGrid sends it
            Delivery.objects.filter(pk=follow_up.pk).update(next_attempt_at=timezone.now())
            assert queue.run(follow_up.pk) == {"sent": 1}
    finally:
        smtp.stop()
        caches["shared"].clear()
    assert [r.rcpt_tos for r in smtp.received] == [["ann@example.com"]]
    ((_path, _headers, payload),) = sendgrid.requests
    mailed = [to["email"] for p in payload["personalizations"]
              for to in p.get("to", []) + p.get("cc", []) + p.get("bcc", [])]
    assert mailed == ["bob@example.com"]  # ann has it already


LATIN1 = "caf\xe9 cr\xe8me\n".encode("latin-1")
ATTACHED_EMAIL = b"From: a@example.com\r\nTo: b@example.com\r\nSubject: hi\r\n\r\nhello\r\n"


@pytest.mark.parametrize("queued", [False, True])
def test_attachments_reach_an_api_provider_byte_for_byte(
        sendgrid, django_capture_on_commit_callbacks, queued):
    message = Hello(attachments=[Attachment("menu.txt", LATIN1, "text/plain"),
                                 Attachment("fwd.eml", ATTACHED_EMAIL, "message/rfc822")])
    if queued:
        with django_capture_on_commit_callbacks(execute=True):
            message.enqueue()
    else:
        message.send()
    ((_path, _headers, payload),) = sendgrid.requests
    menu, forwarded = payload["attachments"]
    assert (menu["filename"], base64.b64decode(menu["content"])) == ("menu.txt", LATIN1)
    assert (forwarded["filename"], forwarded["type"]) == ("fwd.eml", "message/rfc822")
    inner = message_from_bytes(base64.b64decode(forwarded["content"]), policy=policy.default)
    assert inner["Subject"] == "hi" and inner.get_content().strip() == "hello"


def test_a_queued_message_to_an_idn_address_keeps_its_to(
        sendgrid, django_capture_on_commit_callbacks):
    # The stored header has the domain in IDNA form; the envelope may not.
    with django_capture_on_commit_callbacks(execute=True):
        Hello(to=["Ann <ann@bücher.example>", "bob@example.com"]).enqueue()
    ((_path, _headers, payload),) = sendgrid.requests
    (personalization,) = payload["personalizations"]
    assert [t["email"] for t in personalization["to"]] == [
        "ann@xn--bcher-kva.example", "bob@example.com"]
    assert "bcc" not in personalization


def anymail_copy(built, message):
    """An interceptor returning another email: anymail's, with its own features."""
    from anymail.message import AnymailMessage

    return AnymailMessage(
        subject=built.subject, body=built.body, from_email=built.from_email, to=built.to,
        headers=dict(built.extra_headers), alternatives=built.alternatives,
        tags=["rerouted"], metadata={"order": "1042"}, esp_extra={"asm": {"group_id": 7}},
    )


@pytest.mark.parametrize("queued", [False, True])
def test_an_interceptors_anymail_message_keeps_its_provider_options(
        sendgrid, django_capture_on_commit_callbacks, queued):
    with override_settings(TXMAIL={"INTERCEPTORS": ["tests.test_providers.anymail_copy"]}):
        with django_capture_on_commit_callbacks(execute=True):
            Hello().enqueue().delivery if queued else Hello().send()
    ((_path, _headers, payload),) = sendgrid.requests
    assert payload["categories"] == ["rerouted"]
    assert payload["custom_args"]["order"] == "1042"
    assert payload["asm"] == {"group_id": 7}
