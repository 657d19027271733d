"""Each fixture in tests/fixtures/bounces/ read to what it reports (txmail.bounces.parse)."""

from pathlib import Path

import pytest

from txmail.bounces.parse import (
    AUTO_REPLY,
    COMPLAINT,
    DELAYED,
    DELIVERED,
    DSN,
    HARD,
    SOFT,
    UNKNOWN,
    parse,
)

FIXTURES = Path(__file__).parent / "fixtures" / "bounces"
ORIGINAL = "<177.hello@example.com>"
ANN = "ann@example.com"

EXPECTED = {
    "postfix-hard.eml": (DSN, [(ANN, HARD, "5.1.1")], ORIGINAL),
    "postfix-soft.eml": (DSN, [(ANN, SOFT, "4.2.2")], ORIGINAL),
    "postfix-delayed.eml": (DSN, [(ANN, DELAYED, "4.4.1")], ORIGINAL),
    "exim-text.eml": (DSN, [(ANN, HARD, "5.1.1")], ""),
    "exim-text-no-enhanced-code.eml": (DSN, [(ANN, HARD, "5.0.0")], ""),
    "exchange-hard.eml": (DSN, [(ANN, HARD, "5.1.10")], ORIGINAL),
    "gmail-hard.eml": (DSN, [(ANN, HARD, "5.1.1")], ORIGINAL),
    "rfc3464-envid.eml": (DSN, [(ANN, HARD, "5.2.1"), ("bob@example.com", DELIVERED, "2.0.0")],
                          ORIGINAL),
    "arf-abuse.eml": (COMPLAINT, [(ANN, COMPLAINT, "")], ORIGINAL),
    "arf-redacted.eml": (COMPLAINT, [], ORIGINAL),
    "auto-reply-rfc3834.eml": (AUTO_REPLY, [], ""),
    "auto-reply-exchange-oof.eml": (AUTO_REPLY, [], ""),
    "auto-reply-gmail-vacation.eml": (AUTO_REPLY, [], ""),
    "auto-reply-precedence.eml": (AUTO_REPLY, [], ""),
    # Sent from the null sender (RFC 3834, 3.3), with bounce words and its own address.
    "auto-reply-null-sender.eml": (AUTO_REPLY, [], ""),
    "human-reply.eml": (UNKNOWN, [], ""),
}


def test_every_fixture_has_an_expectation():
    assert sorted(p.name for p in FIXTURES.glob("*.eml")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_is_read_to_its_outcome(name):
    kind, recipients, original = EXPECTED[name]
    report = parse((FIXTURES / name).read_bytes())
    assert report.kind == kind
    assert [(r.address, r.outcome, r.status) for r in report.recipients] == recipients
    assert report.original_message_id == original


def test_a_dsn_keeps_the_servers_reply_and_the_envelope_id():
    report = parse((FIXTURES / "rfc3464-envid.eml").read_bytes())
    assert report.original_envelope_id == "txmail-177"
    assert report.recipients[0].diagnostic == "smtp; 550 5.2.1 Mailbox disabled"
    gmail = parse((FIXTURES / "gmail-hard.eml").read_bytes()).recipients[0]
    assert gmail.diagnostic.startswith("smtp; 550-5.1.1 The email account that you tried")
    exim = parse((FIXTURES / "exim-text.eml").read_bytes()).recipients[0]
    assert "550 5.1.1 <ann@example.com>: Recipient address rejected" in exim.diagnostic


def test_an_abuse_report_says_its_feedback_type():
    report = parse((FIXTURES / "arf-abuse.eml").read_bytes())
    assert (report.feedback_type, report.identity) == ("abuse", "<arf-0001@mailbox.example>")


def test_the_identity_is_the_reports_message_id_else_its_body():
    raw = (FIXTURES / "postfix-hard.eml").read_bytes()
    assert parse(raw).identity == "<20261201093005.4F2A81C0123@mx.shop.example>"
    bare = raw.replace(b"Message-Id: <20261201093005.4F2A81C0123@mx.shop.example>\n", b"")
    relayed = b"Received: from another.relay.example; Tue, 1 Dec 2026\n" + bare
    assert parse(bare).identity.startswith("sha256:")
    assert parse(relayed).identity == parse(bare).identity  # a header added on the way


def test_a_bounce_word_from_a_person_is_not_a_bounce():
    raw = (b"From: Bob <bob@example.com>\nSubject: Mail delivery failed?\n"
           b"Content-Type: text/plain\n\nann@example.com\n    550 5.1.1 no such user\n")
    assert parse(raw).kind == UNKNOWN
