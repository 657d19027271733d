"""A frozen email thawed for a mailer: the same bytes over SMTP, the same fields for APIs."""

import email.policy

import pytest
from django.core.mail import EmailMultiAlternatives
from django.test import override_settings
from hypothesis import given, settings
from hypothesis import strategies as st

from txmail.backends.transport import deliver
from txmail.mail.frozen import FrozenEmail, freeze


def original(**headers) -> EmailMultiAlternatives:
    email = EmailMultiAlternatives(
        subject="Your receipt", body="Thanks, Ann.", from_email="Shop <shop@example.com>",
        to=["Ann <ann@example.com>"], cc=["cc@example.com"], bcc=["audit@example.com"],
        reply_to=["help@example.com"], headers={"Message-ID": "<r1@example.com>", **headers},
    )
    email.attach_alternative("<p>Thanks, Ann.</p>", "text/html")
    email.attach("receipt.pdf", b"%PDF-1.4\n", "application/pdf")
    return email


def thawed(email: EmailMultiAlternatives) -> FrozenEmail:
    return FrozenEmail(*freeze(email))


def test_fields_are_those_of_the_email_that_was_frozen():
    frozen = thawed(original())
    assert (frozen.subject, frozen.body.splitlines(), frozen.from_email) == (
        "Your receipt", ["Thanks, Ann."], "Shop <shop@example.com>")
    assert (frozen.to, frozen.cc, frozen.bcc, frozen.reply_to) == (
        ["Ann <ann@example.com>"], ["cc@example.com"], ["audit@example.com"],
        ["help@example.com"])
    assert [(h.splitlines(), t) for h, t in frozen.alternatives] == [
        (["<p>Thanks, Ann.</p>"], "text/html")]
    assert frozen.attachments == [("receipt.pdf", b"%PDF-1.4\n", "application/pdf")]
    assert frozen.extra_headers["Message-ID"] == "<r1@example.com>"
    assert "From" not in frozen.extra_headers


def test_a_from_header_set_apart_from_the_sender_is_kept():
    frozen = thawed(original(From="Ann's Shop <ann@shop.example>"))
    assert frozen.from_email == "Shop <shop@example.com>"
    assert frozen.extra_headers["From"] == "Ann's Shop <ann@shop.example>"


def test_unknown_attributes_still_raise_attribute_error():
    frozen = thawed(original())
    with pytest.raises(AttributeError, match="'FrozenEmail' object has no attribute 'nope'"):
        frozen.nope  # noqa: B018
    assert getattr(frozen, "anymail_status", None) is None


@pytest.mark.smtp
def test_smtp_sends_the_stored_bytes_from_the_envelope_without_parsing_them(smtp_server):
    email = original(From="Ann's Shop <ann@shop.example>")
    raw, sender, recipients = freeze(email)
    frozen = FrozenEmail(raw, sender, recipients)
    with override_settings(MAILERS={"default": smtp_server.mailer()}):
        sent = deliver(frozen, "default")
    assert sent.message_id == "<r1@example.com>"
    [received] = smtp_server.received
    assert received.data == raw
    assert received.mail_from == "shop@example.com"
    assert received.rcpt_tos == ["ann@example.com", "cc@example.com", "audit@example.com"]
    # Byte-oriented backends never needed the parsed fields (costly in a worker).
    assert not {"subject", "body", "to"} & set(vars(frozen))


def test_message_hands_over_the_stored_bytes_and_parses_only_when_asked():
    raw, sender, recipients = freeze(original())
    mime = FrozenEmail(raw, sender, recipients).message(policy=email.policy.SMTP)
    assert mime.as_bytes() == raw and mime._parsed is None  # no parsing for SMTP
    assert mime["Message-ID"] == "<r1@example.com>"  # anything else parses once
    assert mime.as_bytes() == raw  # unchanged: still the stored bytes
    mime["X-Tag"] = "welcome"  # a backend adding a header (anymail's SES does)
    changed = mime.as_bytes()
    assert changed != raw and b"\r\nX-Tag: welcome\r\n" in changed


@pytest.mark.parametrize("shape", ["statement", "with attachment", "unicode", "long lines"])
def test_freeze_writes_the_bytes_the_stdlib_generator_writes(shape):
    """``flatten()`` joins each body's lines before writing: the bytes must not change."""
    from tests.testapp.emails import Hello, Statement
    from txmail.mail.wire import email_policy, flatten

    if shape == "statement":
        email = Statement(seed=1).message()
    elif shape == "with attachment":
        email = Statement(seed=4).message()
    elif shape == "unicode":
        email = Hello(name="Zoë Ñandú 東京", to=["Zoë <zoe@example.com>"]).message()
    else:
        email = original()
        email.body = ("word " * 400 + "\n") * 3 + "trailing"
    message = email.message(policy=email_policy())
    stdlib = message.as_bytes()
    assert flatten(message) == stdlib
    assert freeze(email)[0].count(b"\r\n") == stdlib.count(b"\r\n") > 20


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="\r\nab\u2028\x0c", max_size=20), st.sampled_from(["\r\n", "\n"]))
def test_line_breaks_are_the_stdlib_generators(text, nl):
    from email.generator import NLCRE  # type: ignore[attr-defined]

    from txmail.mail.wire import line_breaks

    assert line_breaks(text, nl) == nl.join(NLCRE.split(text))


def test_a_boundary_found_in_the_parts_is_not_used(monkeypatch):
    import random

    from txmail.mail.wire import _Generator

    monkeypatch.setattr(random, "randrange", lambda _n: 42)
    first = _Generator._make_boundary()
    taken = f"text\r\n--{first}\r\nmore --{first}.0 and --{first}.1--".encode()
    chosen = _Generator._make_boundary(taken)
    assert chosen == f"{first}.2" and f"--{chosen}".encode() not in taken
    assert _Generator._make_boundary(b"nothing like it") == first
