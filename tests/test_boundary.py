"""The address and header boundary: every value either raises a TxmailError
from ``message()`` (before any connection) or goes out as well-formed bytes."""

import base64
import email
import email.policy
from datetime import UTC, datetime
from email.headerregistry import Address

import pytest
from django.core import mail
from django.test import override_settings

from tests.testapp.emails import Hello
from txmail import (
    Attachment,
    HeaderInjection,
    InlineImage,
    InvalidAddress,
    InvalidAttachment,
    InvalidHeader,
    MessageConfigurationError,
    TxmailError,
)
from txmail.mail.build import message_id_domain

HOSTILE = "éééééééééé:Subject: URGENT wire money é <a@example.com>"
PNG = b"\x89PNG\r\n\x1a\n"


def smtp_bytes(message) -> bytes:
    """What Django's SMTP backend writes to the socket for ``message``."""
    return message.message().message(policy=email.policy.SMTP).as_bytes()


def header_lines(data: bytes) -> list[bytes]:
    return data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")


def reparse(data: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(data, policy=email.policy.default)  # type: ignore[return-value]


def display_names(data: bytes, header: str) -> list[tuple[str, str]]:
    return [(a.display_name, a.addr_spec) for a in reparse(data)[header].addresses]


# -- 1. addresses are rebuilt from their parts --------------------------------


def test_group_label_in_a_display_name_raises_instead_of_injecting_a_subject():
    with pytest.raises(InvalidAddress) as info:
        Hello(reply_to=[HOSTILE]).message()
    assert str(info.value) == (
        f"Hello: reply_to address {HOSTILE!r} uses group syntax (':' or ';' outside "
        "quotes). Give one address per list item, and quote a display name that "
        "contains ':' or ';' (e.g. '\"Sales: EU\" <sales@example.com>')."
    )


def test_quoted_hostile_display_name_goes_out_as_text_in_one_header():
    data = smtp_bytes(Hello(reply_to=[f'"{HOSTILE.partition(" <")[0]}" <a@example.com>']))
    assert [line for line in header_lines(data) if line.startswith(b"Subject:")] == [
        b"Subject: Hello Ann"
    ]
    assert b"\r\nReply-To: =?utf-8?b?w6nDqcOpw6nDqcOpw6nDqcOpw6k6U3ViamVjdDo=?= URGENT wire\r\n" \
           b" money =?utf-8?b?w6k=?= <a@example.com>\r\n" in data
    assert display_names(data, "Reply-To") == [
        ("éééééééééé:Subject: URGENT wire money é", "a@example.com")
    ]


def test_empty_group_label_raises_instead_of_an_index_error():
    with pytest.raises(InvalidAddress) as info:
        Hello(to=[" : <a@example.com>"]).message()
    assert str(info.value).startswith(
        "Hello: to address ' : <a@example.com>' uses group syntax"
    )


def test_obsolete_unquoted_period_is_accepted_and_quoted():
    email_message = Hello(reply_to=["Dr. Joe Smith <joe@example.com>"]).message()
    assert email_message.reply_to == ['"Dr. Joe Smith" <joe@example.com>']
    data = email_message.message(policy=email.policy.SMTP).as_bytes()
    assert b'\r\nReply-To: "Dr. Joe Smith" <joe@example.com>\r\n' in data


def test_non_ascii_display_name_is_an_encoded_word():
    data = smtp_bytes(Hello(reply_to=["jose.pérez <jose@example.com>"]))
    assert b"\r\nReply-To: =?utf-8?b?am9zZS5ww6lyZXo=?= <jose@example.com>\r\n" in data
    assert display_names(data, "Reply-To") == [("jose.pérez", "jose@example.com")]


def test_thousand_character_display_name_folds_under_the_line_limit():
    data = smtp_bytes(Hello(to=["x" * 1000 + " <ann@example.com>"]))
    assert max(len(line) for line in data.split(b"\r\n")) <= 78
    [(name, addr_spec)] = display_names(data, "To")
    # Python 3.13.0's parser keeps the folding space between adjacent encoded
    # words (RFC 2047 6.2 says to drop it); mail clients read 1000 x's.
    assert (name.replace(" ", ""), addr_spec) == ("x" * 1000, "ann@example.com")
    assert all(not part.defects for part in reparse(data).walk())


def test_long_quoted_name_with_a_comma_stays_one_address():
    # The stdlib folder drops the quotes of a quoted-string longer than a line.
    name = "Smith, John " + "y" * 70
    data = smtp_bytes(Hello(to=[f'"{name}" <john@example.com>', "ann@example.com"]))
    addresses = display_names(data, "To")
    assert [addr for _, addr in addresses] == ["john@example.com", "ann@example.com"]
    assert addresses[0][0].replace(" ", "") == name.replace(" ", "")


def test_encoded_word_hiding_a_line_break_raises():
    with pytest.raises(HeaderInjection) as info:
        Hello(to=["=?utf-8?q?a=0Ab?= <a@example.com>"]).message()
    assert str(info.value) == (
        "Hello: to display name contains a line break (U+000A LINE FEED): 'a\\nb'. "
        "Header values must be a single line; remove it (it could inject headers)."
    )


def test_plain_addresses_still_work():
    email_message = Hello(to=["Ann Lee <ann@example.com>", "bob@example.com"]).message()
    assert email_message.to == ["Ann Lee <ann@example.com>", "bob@example.com"]


# -- 2, 3. characters a header cannot carry ---------------------------------

LINE_BREAKS = [
    ("\u2028", "U+2028 LINE SEPARATOR"),
    ("\u2029", "U+2029 PARAGRAPH SEPARATOR"),
    ("\x85", "U+0085 NEXT LINE"),
    ("\v", "U+000B LINE TABULATION"),
    ("\f", "U+000C FORM FEED"),
    ("\x1c", "U+001C FILE SEPARATOR"),
    ("\x1d", "U+001D GROUP SEPARATOR"),
    ("\x1e", "U+001E RECORD SEPARATOR"),
]
CONTROLS = [
    ("\x00", "U+0000 NULL"),
    ("\x1b", "U+001B ESCAPE"),
    ("\x7f", "U+007F DELETE"),
    ("\x01", "U+0001 (a control character)"),
    ("\x9b", "U+009B (a control character)"),
]


def with_subject(text):
    message = Hello()
    message.subject = text  # an instance subject is used as it is
    return message


def _line_break(what, value, described):
    return (
        f"Hello: {what} contains a line break ({described}): {value!r}. Header "
        "values must be a single line; remove it (it could inject headers)."
    )


def _control(what, value, described):
    return (
        f"Hello: {what} contains a control character ({described}): {value!r}. "
        "Headers carry printable text only; remove it."
    )


PLACES = {
    "subject": lambda v: with_subject(v),
    "header 'X-Tag'": lambda v: Hello(headers={"X-Tag": v}),
    "to address": lambda v: Hello(to=[f"{v} <a@example.com>"]),
}


@pytest.mark.parametrize(("char", "described"), LINE_BREAKS)
@pytest.mark.parametrize("place", PLACES)
def test_every_line_break_character_is_header_injection(place, char, described):
    value = f"a{char}b"
    message = PLACES[place](value)
    shown = f"{value} <a@example.com>" if place == "to address" else value
    with pytest.raises(HeaderInjection) as info:
        message.message()
    assert str(info.value) == _line_break(place, shown, described)


@pytest.mark.parametrize(("char", "described"), CONTROLS)
@pytest.mark.parametrize("place", PLACES)
def test_control_characters_are_refused(place, char, described):
    value = f"a{char}b"
    shown = f"{value} <a@example.com>" if place == "to address" else value
    with pytest.raises(InvalidHeader) as info:
        PLACES[place](value).message()
    assert not isinstance(info.value, HeaderInjection)
    assert str(info.value) == _control(place, shown, described)


@pytest.mark.parametrize("place", PLACES)
def test_lone_surrogate_is_refused_before_encoding(place):
    value = "a\udc80b"
    shown = f"{value} <a@example.com>" if place == "to address" else value
    with pytest.raises(InvalidHeader) as info:
        PLACES[place](value).message()
    assert str(info.value) == (
        f"Hello: {place} contains U+DC80 (a lone surrogate), which no encoding can "
        f"write: {shown!r}. Decode the bytes it came from correctly (or with "
        "errors='replace'), or remove it."
    )


def test_tab_in_a_header_value_is_whitespace():
    data = smtp_bytes(Hello(headers={"X-Tag": "a\tb"}))
    assert b"\r\nX-Tag: a\tb\r\n" in data


@pytest.mark.parametrize("name", ["Content-Type", "MIME-Version", "content-transfer-encoding"])
def test_mime_headers_are_reserved(name):
    with pytest.raises(HeaderInjection) as info:
        Hello(headers={name: "text/plain"}).message()
    assert str(info.value) == (
        f"Hello: {name!r} is set by txmail from the message's parts; remove it from "
        "'headers' (attach files with 'attachments')."
    )


def test_message_id_given_under_two_spellings_raises():
    with pytest.raises(HeaderInjection) as info:
        Hello(headers={"Message-ID": "<a@example.com>", "Message-Id": "<b@example.com>"}).message()
    assert str(info.value) == (
        "Hello: headers 'Message-ID' and 'Message-Id' are the same header (header "
        "names ignore case); give it once."
    )


def test_given_message_id_must_be_a_message_id():
    with pytest.raises(InvalidHeader) as info:
        Hello(headers={"Message-ID": "<é@example.com>"}).message()
    assert str(info.value) == (
        "Hello: header 'Message-ID' is '<é@example.com>', not a message ID. Give one "
        "like '<order-17@example.com>', or leave it out and txmail makes one."
    )


def test_given_date_must_be_a_date():
    with pytest.raises(InvalidHeader) as info:
        Hello(headers={"Date": "tomorrow"}).message()
    assert str(info.value) == (
        "Hello: header 'Date' is 'tomorrow', not an RFC 5322 date. Give a datetime "
        "(or leave it out and the mailer adds the current time)."
    )
    when = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    data = smtp_bytes(Hello(headers={"Date": when}))
    assert b"\r\nDate: Tue, 02 Jan 2024 03:04:05 +0000\r\n" in data


def test_header_name_with_a_trailing_newline_is_refused():
    with pytest.raises(HeaderInjection) as info:
        Hello(headers={"Bcc\n": "x"}).message()
    assert str(info.value) == (
        "Hello: 'Bcc\\n' is not a valid header name. Use printable ASCII without "
        "spaces or ':' (e.g. 'X-Campaign')."
    )


# -- attachments and inline images ------------------------------------------


@pytest.mark.parametrize("filename", ["a\r\nb.pdf", "a\u2028b.pdf"])
def test_attachment_filename_with_a_line_break_raises_at_construction(filename):
    with pytest.raises(HeaderInjection) as info:
        Attachment(filename, b"%PDF", "application/pdf")
    assert str(info.value).startswith(
        f"Attachment: filename contains a line break (U+{ord(filename[1]):04X} "
    )


def test_attachment_filename_with_a_control_or_surrogate_raises():
    with pytest.raises(InvalidHeader) as info:
        Attachment("a\x00.pdf", b"%PDF")
    assert str(info.value) == (
        "Attachment: filename contains a control character (U+0000 NULL): "
        "'a\\x00.pdf'. Headers carry printable text only; remove it."
    )
    with pytest.raises(InvalidHeader):
        Attachment("\udc80.pdf", b"%PDF")


def test_attachment_tuple_is_checked_when_the_message_is_built():
    message = Hello()
    message.attachments = [("a\nb.txt", "hi", "text/plain")]
    with pytest.raises(HeaderInjection):
        message.message()


def test_attachment_mimetype_must_be_a_mime_type():
    with pytest.raises(InvalidHeader) as info:
        Attachment("a.pdf", b"%PDF", "application/pdf\r\nBcc: x@example.com")
    assert str(info.value) == (
        "Attachment 'a.pdf': mimetype 'application/pdf\\r\\nBcc: x@example.com' is "
        "not a MIME type. Give one like 'application/pdf', or None to guess it from "
        "the file name."
    )


@pytest.mark.parametrize("cid", ["logo\r\nX-Evil: 1", "lo go", "<logo>", ""])
def test_inline_image_cid_must_be_a_content_id(cid):
    with pytest.raises(InvalidHeader) as info:
        InlineImage(cid, PNG, "image/png")
    assert str(info.value) == (
        f"InlineImage: cid {cid!r} is not a valid Content-ID. Use letters, digits "
        "and '.-_@' only (e.g. 'logo' or 'logo@example.com')."
    )


def test_inline_image_filename_with_a_line_break_raises():
    with pytest.raises(HeaderInjection) as info:
        InlineImage("logo", PNG, "image/png", "logo\n.png")
    assert str(info.value) == (
        "InlineImage 'logo': filename contains a line break (U+000A LINE FEED): "
        "'logo\\n.png'. Header values must be a single line; remove it (it could "
        "inject headers)."
    )


# -- 5. internationalized domains -------------------------------------------


def test_idn_from_domain_gives_an_ascii_message_id():
    assert message_id_domain("shop@bücher.example") == "xn--bcher-kva.example"
    email_message = Hello(from_email="Shop <shop@bücher.example>").message()
    assert email_message.extra_headers["Message-ID"].endswith("@xn--bcher-kva.example>")


def test_message_id_domain_setting_is_given_in_idna_form():
    with override_settings(TXMAIL={"MESSAGE_ID_DOMAIN": "bücher.example"}):
        assert message_id_domain("shop@example.com") == "xn--bcher-kva.example"
    with override_settings(TXMAIL={"MESSAGE_ID_DOMAIN": "a..b"}):
        with pytest.raises(MessageConfigurationError) as info:
            message_id_domain("shop@example.com")
    assert str(info.value) == (
        "TXMAIL['MESSAGE_ID_DOMAIN'] is 'a..b', not a valid domain name. Set it to "
        "your sending domain (e.g. 'example.com')."
    )


def test_every_new_error_shares_the_root():
    assert issubclass(InvalidHeader, TxmailError)
    assert issubclass(InvalidHeader, ValueError)
    assert issubclass(HeaderInjection, InvalidHeader)


# -- through a real SMTP server ---------------------------------------------


def _mailers(server):
    return {"default": server.mailer(), "transactional": server.mailer()}


@pytest.mark.smtp
def test_hostile_reply_to_never_reaches_the_server(smtp_server):
    with override_settings(MAILERS=_mailers(smtp_server)):
        with pytest.raises(InvalidAddress):
            Hello(reply_to=[HOSTILE]).send()
    assert smtp_server.received == []
    assert mail.outbox == []


@pytest.mark.smtp
def test_quoted_hostile_reply_to_arrives_with_one_subject(smtp_server):
    name = HOSTILE.partition(" <")[0]
    with override_settings(MAILERS=_mailers(smtp_server)):
        Hello(reply_to=[f'"{name}" <a@example.com>']).send()
    [received] = smtp_server.received
    msg = received.message
    assert msg.get_all("Subject") == ["Hello Ann"]
    assert [(a.display_name, a.addr_spec) for a in msg["Reply-To"].addresses] == [
        (name, "a@example.com")
    ]
    assert all(not part.defects for part in msg.walk())


@pytest.mark.smtp
def test_idn_from_arrives_in_idna_form(smtp_server):
    with override_settings(MAILERS=_mailers(smtp_server)):
        sent = Hello(from_email="Bücher Shop <shop@bücher.example>").send()
    [received] = smtp_server.received
    msg = received.message
    assert received.mail_from == "shop@xn--bcher-kva.example"
    assert msg["From"].addresses[0].display_name == "Bücher Shop"
    assert msg["From"].addresses[0].addr_spec == "shop@xn--bcher-kva.example"
    assert msg["Message-ID"] == sent.message_id
    assert sent.message_id.endswith("@xn--bcher-kva.example>")
    assert all(not part.defects for part in msg.walk())


# -- encoded-words the email package would decode ----------------------------


@pytest.mark.parametrize("place", ["subject", "header 'X-Tag'"])
def test_encoded_word_hiding_a_line_break_in_a_value_raises(place):
    value = "=?utf-8?q?a=0D=0ABcc:_x@example.com?="
    with pytest.raises(HeaderInjection) as info:
        PLACES[place](value).message()
    assert str(info.value) == _line_break(
        f"{place} (decoded)", "a\r\nBcc: x@example.com", "U+000D CARRIAGE RETURN"
    )


def test_encoded_word_in_a_value_that_decodes_to_text_is_kept():
    data = smtp_bytes(with_subject("=?utf-8?q?Caf=C3=A9?="))
    assert reparse(data)["Subject"] == "Café"


def test_attachment_filename_with_an_encoded_word_raises():
    # The email package decodes it into the parameter: a bare LF in the part header.
    with pytest.raises(InvalidHeader) as info:
        Attachment("=?utf-8?q?a=0Ab?=", b"%PDF", "application/pdf")
    assert str(info.value) == (
        "Attachment: filename '=?utf-8?q?a=0Ab?=' contains an RFC 2047 encoded-word "
        "('=?charset?q?…?='). Give the decoded name; txmail encodes it."
    )


def test_empty_attachment_filename_raises():
    with pytest.raises(InvalidHeader) as info:
        Attachment("", b"%PDF", "application/pdf")
    assert str(info.value) == (
        "Attachment: filename '' is empty. Give the name the recipient sees "
        "(e.g. 'receipt.pdf')."
    )


def test_inline_image_cid_with_an_encoded_word_raises():
    # With no filename the cid is the filename, where it would be decoded.
    with pytest.raises(InvalidHeader):
        InlineImage("=?utf-8?q?a=0Ab?=", PNG, "image/png")


def test_non_ascii_local_part_raises_instead_of_failing_in_the_smtp_backend():
    with pytest.raises(InvalidAddress) as info:
        Hello(to=["jösé@example.com"]).message()
    assert str(info.value) == (
        "Hello: to address 'jösé@example.com' is not a valid email address. Give it "
        "as 'name@example.com' or 'Name <name@example.com>'."
    )


def test_a_filename_with_white_space_at_its_edges_is_refused():
    with pytest.raises(InvalidHeader) as caught:
        Attachment(" " + "x" * 70, b"%PDF", "application/pdf")
    assert str(caught.value) == (
        f"Attachment: filename {' ' + 'x' * 70!r} starts or ends with white space, which "
        "the email's header folding drops. Remove it (filename.strip()).")


# -- 5. address headers given in 'headers', and what else reaches a header ----


@pytest.mark.parametrize("name", ["Sender", "Resent-From", "Resent-To", "resent-cc"])
def test_a_group_label_in_an_address_header_raises_instead_of_injecting(name):
    with pytest.raises(InvalidAddress) as info:
        Hello(headers={name: HOSTILE}).message()
    assert str(info.value).startswith(f"Hello: header {name!r} address ")
    assert "uses group syntax" in str(info.value)


def test_a_quoted_hostile_sender_goes_out_folded_as_one_header():
    name = HOSTILE.partition(" <")[0]
    data = smtp_bytes(Hello(headers={"Sender": f'"{name}" <a@example.com>',
                                     "Resent-To": ["b@example.com", "Bo <c@example.com>"]}))
    assert [line for line in header_lines(data) if line.startswith(b"Subject:")] == [
        b"Subject: Hello Ann"]
    assert display_names(data, "Sender") == [(name, "a@example.com")]
    assert display_names(data, "Resent-To") == [("", "b@example.com"), ("Bo", "c@example.com")]
    assert max(len(line) for line in data.split(b"\r\n")) <= 78


def test_sender_takes_one_address():
    with pytest.raises(InvalidAddress) as info:
        Hello(headers={"Sender": "a@example.com, b@example.com"}).message()
    assert str(info.value) == (
        "Hello: header 'Sender' is 'a@example.com, b@example.com'; it takes one address.")


def test_an_address_object_is_accepted_and_a_comma_gets_quoting_advice():
    email_message = Hello(to=[Address("Smith, John", addr_spec="john@example.com")]).message()
    assert email_message.to == ['"Smith, John" <john@example.com>']
    with pytest.raises(InvalidAddress) as info:
        Hello(to=["Smith, John <john@example.com>"]).message()
    assert str(info.value) == (
        "Hello: to address 'Smith, John <john@example.com>' is not one email address. "
        "Give each address as its own list item, or quote a display name that contains "
        "a comma: '\"Smith, John\" <john@example.com>'.")


def test_a_display_name_that_decodes_to_an_encoded_line_break_raises():
    # Decoded once it is the text "=?utf-8?q?a=0Ab?=": rebuilt, or copied into an
    # unstructured header (staging's X-Txmail-Original-To), it is a line break.
    inner = base64.b64encode(b"=?utf-8?q?a=0Ab?=").decode()
    with pytest.raises(HeaderInjection) as info:
        Hello(to=[f"=?utf-8?b?{inner}?= <a@example.com>"]).message()
    assert str(info.value).startswith("Hello: to display name (decoded) contains a line break")


def test_a_header_given_in_lower_case_replaces_the_default_auto_submitted():
    data = smtp_bytes(Hello(headers={"auto-submitted": "no"}))
    lines = [line.lower() for line in header_lines(data)]
    assert [line for line in lines if line.startswith(b"auto-submitted:")] == [
        b"auto-submitted: no"]


def test_a_header_name_too_long_for_a_line_is_refused():
    with pytest.raises(InvalidHeader) as info:
        Hello(headers={"X-" + "a" * 998: "1"}).message()
    assert "header names can be at most 76" in str(info.value)


# -- 6. attachment contents ---------------------------------------------------


def attached(data: bytes) -> email.message.EmailMessage:
    [part] = [p for p in reparse(data).walk() if p.get_content_disposition() == "attachment"]
    return part  # type: ignore[return-value]


def test_text_bytes_that_are_not_utf8_go_out_byte_for_byte():
    content = "naïve,café\r\n".encode("latin-1")
    part = attached(smtp_bytes(Hello(attachments=[Attachment("list.csv", content)])))
    # No charset is known: a file (as Django does); text/csv would be read as ASCII.
    assert part.get_content_type() == "application/octet-stream"
    assert part.get_filename() == "list.csv"
    assert part.get_payload(decode=True) == content


def test_an_attached_email_is_a_message_part_readers_can_open():
    raw = b"From: a@example.com\r\nSubject: The original\r\n\r\nHi.\r\n"
    part = attached(smtp_bytes(Hello(attachments=[Attachment("fwd.eml", raw)])))
    assert part.get_content_type() == "message/rfc822"
    assert part["Content-Transfer-Encoding"] != "base64"
    inner = part.get_content()
    assert inner["Subject"] == "The original" and inner.get_content().strip() == "Hi."


@pytest.mark.parametrize(("args", "error"), [
    (("a.txt", "caf\udce9"), "Attachment 'a.txt': content contains a lone surrogate"),
    (("a", b"x", "multipart/mixed"), "Attachment 'a': multipart/mixed can't be attached"),
    (("a", b"x", "message/partial"), "Attachment 'a': message/partial can't be attached"),
    (("a", 5), "Attachment 'a': content must be bytes or str, not int."),
])
def test_attachments_that_cannot_be_written_are_refused_when_made(args, error):
    with pytest.raises(InvalidAttachment) as info:
        Attachment(*args)
    assert str(info.value).startswith(error)


def test_resent_date_is_checked_and_written_like_date():
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    data = smtp_bytes(Hello(headers={"Resent-From": "a@example.com", "Resent-Date": when}))
    assert reparse(data)["Resent-Date"].datetime == when
    with pytest.raises(InvalidHeader) as info:
        Hello(headers={"Resent-Date": "tomorrow"}).message()
    assert "not an RFC 5322 date" in str(info.value)


def test_an_address_header_given_as_bytes_is_refused_by_name():
    with pytest.raises(InvalidAddress) as info:
        Hello(headers={"Sender": b"a@example.com"}).message()
    assert str(info.value) == (
        "Hello: header 'Sender' must be a str, not bytes (b'a@example.com'); decode it first.")


def test_sender_with_an_unquoted_comma_gets_the_quoting_hint():
    with pytest.raises(InvalidAddress) as info:
        Hello(headers={"Sender": "Smith, John <j@example.com>"}).message()
    assert "quote a display name that contains a comma: '\"Smith, John\" <j@example.com>'" in (
        str(info.value))
