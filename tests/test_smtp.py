"""Messages sent through a real SMTP server and parsed as a receiver would."""

import smtplib

import pytest
from django.test import override_settings
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.testapp.emails import Hello, Promo
from txmail import Attachment, InlineImage

pytestmark = pytest.mark.smtp

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06"
    b"\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe"
    b"\x02\xfe\xa7\x35\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82"
)


class Receipt(Hello):
    template_name = "testapp/emails/core_receipt"
    subject = "Receipt {{ number }}"

    def get_context_data(self, **kwargs):
        return super().get_context_data(number="A-17", **kwargs)

    def get_attachments(self):
        return [
            Attachment("receipt.pdf", b"%PDF-1.4\n%fake\n", "application/pdf"),
            InlineImage("logo", PNG, "image/png", "logo.png"),
        ]


def mailers(**servers):
    return {alias: server.mailer() for alias, server in servers.items()}


def send_one(server, message, alias="transactional"):
    with override_settings(MAILERS=mailers(**{alias: server, "default": server})):
        sent = message.send()
    [received] = server.received
    return sent, received


def test_received_message_has_no_defects_and_the_right_structure(smtp_server):
    _, received = send_one(smtp_server, Hello(name="Ann", cc=["cc@example.com"],
                                                 bcc=["bcc@example.com"]))
    msg = received.message
    assert received.rcpt_tos == ["ann@example.com", "cc@example.com", "bcc@example.com"]
    assert received.mail_from == "shop@example.com"
    assert [part.defects for part in msg.walk()] == [[]] * len(list(msg.walk()))
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]


def test_received_headers(smtp_server):
    sent, received = send_one(smtp_server, Hello(name="Ann", reply_to=["help@example.com"]))
    msg = received.message
    assert msg["Subject"] == "Hello Ann"
    assert msg["From"] == "Example Shop <shop@example.com>"
    assert msg["To"] == "ann@example.com"
    assert msg["Reply-To"] == "help@example.com"
    assert msg["Message-ID"] == sent.message_id
    assert msg["Message-ID"].endswith("@example.com>")
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["Date"].datetime is not None
    assert "Bcc" not in msg


def test_received_parts_content(smtp_server):
    _, received = send_one(smtp_server, Hello(name="Zoë & Co"))
    msg = received.message
    text = msg.get_body(preferencelist=("plain",)).get_content()
    html = msg.get_body(preferencelist=("html",)).get_content()
    assert text.startswith("Hello Zoë & Co!")
    assert "Get started (https://example.com/start?ref=Zo%C3%AB%20%26%20Co)" in text
    assert "Hello Zoë &amp; Co!" in html
    assert "<mj-" not in html


def test_attachments_and_inline_images_arrive_in_mixed_and_related(smtp_server):
    _, received = send_one(smtp_server, Receipt())
    msg = received.message
    assert msg.get_content_type() == "multipart/mixed"
    alternative, pdf = list(msg.iter_parts())
    assert alternative.get_content_type() == "multipart/alternative"
    text, related = list(alternative.iter_parts())
    assert text.get_content_type() == "text/plain"
    assert related.get_content_type() == "multipart/related"
    html, logo = list(related.iter_parts())
    assert 'src="cid:logo"' in html.get_content()
    assert logo["Content-ID"] == "<logo>"
    assert logo.get_content_disposition() == "inline"
    assert logo.get_content() == PNG
    assert pdf.get_filename() == "receipt.pdf"
    assert pdf.get_content_disposition() == "attachment"
    assert pdf.get_content() == b"%PDF-1.4\n%fake\n"
    assert all(not part.defects for part in msg.walk())


def test_two_classes_on_two_aliases_reach_two_servers(smtp_server, second_smtp_server):
    with override_settings(MAILERS=mailers(
        default=smtp_server, transactional=smtp_server, marketing=second_smtp_server
    )):
        Hello(name="Ann").send()
        Promo(name="Bob").send()
    assert [r.message["Subject"] for r in smtp_server.received] == ["Hello Ann"]
    assert [r.message["Subject"] for r in second_smtp_server.received] == ["Deals for Bob"]


def test_send_using_reaches_the_other_server(smtp_server, second_smtp_server):
    with override_settings(MAILERS=mailers(
        default=smtp_server, transactional=smtp_server, backup=second_smtp_server
    )):
        sent = Hello().send(using="backup")
    assert sent.mailer == "backup"
    assert smtp_server.received == []
    assert len(second_smtp_server.received) == 1


def test_invalid_message_never_reaches_the_server(smtp_server):
    from txmail import InvalidAddress

    with override_settings(MAILERS=mailers(transactional=smtp_server)):
        with pytest.raises(InvalidAddress):
            Hello(to=["ok@example.com", "broken"]).send()
    assert smtp_server.received == []


# asend() writes its log row from asgiref's worker thread, outside the test's
# transaction: a transactional test flushes it afterwards.
@pytest.mark.django_db(transaction=True)
def test_async_send(smtp_server):
    import asyncio

    with override_settings(MAILERS=mailers(transactional=smtp_server)):
        sent = asyncio.run(Hello(name="Async").asend())
    assert smtp_server.received[0].message["Message-ID"] == sent.message_id


@pytest.mark.parametrize("body", [
    b"Subject: plain\r\n\r\nNo line starts with a period.\r\n",
    b"Subject: dots\r\n\r\n.hidden\r\nmid.line\r\n.\r\n..two\r\n",
    b".Subject-like first line\r\n\r\nx\r\n",
    b"Subject: no final line break\r\n\r\nend",
])
def test_the_bytes_arrive_as_given_with_or_without_lines_that_need_stuffing(smtp_server, body):
    # txmail's SMTP connection stuffs dots itself (not by smtplib's regular
    # expression): a line starting with "." unstuffed would lose it, or end DATA.
    from txmail.backends.smtp import TrackingSMTP

    connection = TrackingSMTP("127.0.0.1", smtp_server.port, timeout=10)
    try:
        assert connection.sendmail("a@example.com", ["b@example.com"], body) == {}
    finally:
        connection.quit()
    [received] = smtp_server.received
    assert received.data == (body if body.endswith(b"\r\n") else body + b"\r\n")
    assert connection.data_handed_over


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([b".", b"..", b"\r\n", b"\n", b"\r", b"x", b" "]),
                max_size=12).map(b"".join))
def test_dots_are_stuffed_as_smtplib_stuffs_them(body):
    from txmail.backends.smtp import dot_stuffed

    assert dot_stuffed(body) == smtplib._quote_periods(body)
