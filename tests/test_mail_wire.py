"""``mail.wire``: the common email written directly is the stdlib's bytes, exactly.

The oracle is the path it replaces: ``flatten(email.message(policy=SMTP))``
(Django's ``message()``, the email package's tree and generator). Both run
with the same random state, so they draw the same MIME boundary; the Date
header is each one's own clock, compared apart.
"""

import random
import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import pytest
from django.test import override_settings
from hypothesis import event, given, settings
from hypothesis import strategies as st

from txmail.mail.mime import Attachment, TxEmailMessage
from txmail.mail.wire import email_policy, flatten, to_bytes, wire_bytes

_DATE = re.compile(rb"^Date: ([^\r\n]*)\r\n", re.M)


def both(email: TxEmailMessage, seed: int = 7) -> tuple[bytes, bytes | None]:
    """(the stdlib's bytes, wire_bytes()'s or None), with the same boundary."""
    random.seed(seed)
    stdlib = flatten(email.message(policy=email_policy()))
    random.seed(seed)
    return stdlib, wire_bytes(email)


def same(stdlib: bytes, wire: bytes) -> None:
    dates = [_DATE.search(raw) for raw in (stdlib, wire)]
    assert all(dates), (stdlib[:400], wire[:400])
    written = parsedate_to_datetime(dates[1].group(1).decode())  # type: ignore[union-attr]
    assert abs((datetime.now(UTC) - written).total_seconds()) < 60
    assert _DATE.sub(b"Date: -\r\n", wire) == _DATE.sub(b"Date: -\r\n", stdlib)


def email_of(**fields) -> TxEmailMessage:
    headers = {"Message-ID": "<1.2.3@example.com>", **fields.pop("headers", {})}
    values = {"subject": "Your statement", "body": "Hello Ann,\n\nyour statement.\n",
              "from_email": "Example Shop <news@example.com>", "to": ["ann@example.com"],
              "alternatives": [("<p>Hello Ann</p>", "text/html")], **fields}
    return TxEmailMessage(headers=headers, **values)


def test_a_statement_is_written_directly_with_the_stdlibs_bytes():
    from tests.testapp.emails import Statement, StatementDigest
    from tests.testapp.models import Subscriber

    with override_settings(TXMAIL={"SITE_URL": "https://shop.example.com"}):
        digest = StatementDigest(Subscriber(pk=3, name="Ann", email="ann@example.com"))
        emails = [Statement(seed=1).message(), digest.message()]
    assert "List-Unsubscribe" in emails[1].extra_headers
    for email in emails:
        stdlib, wire = both(email)
        assert wire is not None and len(wire) > 20_000
        assert b"Content-Transfer-Encoding: quoted-printable" in wire
        same(stdlib, wire)


@pytest.mark.parametrize("change", [
    {"attachments": [Attachment("a.pdf", b"%PDF", "application/pdf")
                     .as_django_attachment()]},
    {"alternatives": []},
    {"alternatives": [("<p>a</p>", "text/html"), ("a", "text/x-amp-html")]},
    {"body": ""},
    {"subject": "Zoë's statement"},  # encoded-words: the stdlib folds them
    {"subject": "A subject " + "long " * 20},
    {"headers": {"Date": "Tue, 08 Dec 2026 02:00:25 +0000"}},
    {"to": ["zoë@exämple.com"]},
])
def test_another_shape_takes_the_stdlibs_path(change):
    """The same bytes either way; ``to_bytes()`` falls back to the stdlib's path."""
    email = email_of(**change)
    stdlib, wire = both(email)
    assert wire is None
    random.seed(7)
    assert to_bytes(email) == stdlib or _DATE.sub(b"", to_bytes(email)) == _DATE.sub(
        b"", stdlib)


@pytest.mark.parametrize("name", ["Subject", "MIME-Version", "content-type", "Bcc"])
def test_a_header_message_writes_itself_is_left_to_it(name):
    assert wire_bytes(email_of(headers={name: "x"})) is None


def test_without_a_message_id_django_makes_one_on_the_stdlibs_path():
    email = email_of()
    email.extra_headers.pop("Message-ID")
    assert wire_bytes(email) is None


# Mostly what mail carries, with the odd value the email package writes its own way.
_PLAIN = ["statement", "for", "November", "2026", "A-1", "you"] * 4
_NAMES = st.sampled_from(["", "", "", "", "", "Ann", "Ann Smith", "Smith, Ann", 'Ann "the" Smith',
                          "Zoë Ñandú", "A" * 70, "=?utf-8?q?x?="])
_LOCALS = st.sampled_from(["ann", "ann.smith", "ann+tag", "o'brien", "a" * 60])
_DOMAINS = st.sampled_from(["example.com", "example.com", "example.com", "mail.example.co.uk",
                            "xn--bcher-kva.example", "bücher.example"])


@st.composite
def addresses(draw) -> str:
    name, local, domain = draw(_NAMES), draw(_LOCALS), draw(_DOMAINS)
    spec = f"{local}@{domain}"
    return f"{name} <{spec}>" if name else spec


_HEADER_TEXT = st.lists(st.sampled_from([*_PLAIN, *_PLAIN, "€", "=", "=?", "", "\t", "déjà",
                                         "x" * 60]), max_size=6).map(" ".join)
_WORDS = st.sampled_from([*_PLAIN, "€", "=", "=?", "  ", "\t", "déjà", "x" * 90, ".",
                          "From", "a\u2028b", "\r", "\n", "\r\n", " \n"])
_TEXT = st.lists(_WORDS, max_size=40).map(" ".join)
_BODY = st.lists(st.one_of(_TEXT, st.just("<td style=\"color: #333\">" * 4)),
                 min_size=1, max_size=30).map("\n".join)


@settings(max_examples=400, deadline=None)
@given(subject=_HEADER_TEXT, sender=addresses(), to=st.lists(addresses(), min_size=1, max_size=3),
       cc=st.lists(addresses(), max_size=2), reply_to=st.lists(addresses(), max_size=1),
       unsubscribe=st.booleans(), tag=_HEADER_TEXT, text=_BODY, html=_BODY,
       seed=st.integers(0, 2**32),
       name=st.sampled_from(["X-Tag", "Auto-Submitted", "In-Reply-To", "References",
                             "Sender", "Resent-Date", "Content-Language"]))
def test_whatever_it_writes_is_the_stdlibs_bytes(subject, sender, to, cc, reply_to,
                                                 unsubscribe, tag, text, html, seed, name):
    headers = {name: tag} if tag.strip() else {}
    if unsubscribe:
        headers["List-Unsubscribe"] = ("<https://example.com/u/" + "t" * 90 + "/>, "
                                       "<mailto:u@example.com?subject=u>")
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    email = email_of(subject=subject, from_email=sender, to=to, cc=cc, reply_to=reply_to,
                     headers=headers, body=text or "x", alternatives=[(html, "text/html")])
    try:
        stdlib, wire = both(email, seed)
    except (ValueError, TypeError):
        return  # input the stdlib refuses: build_email() refuses it earlier
    event("written directly" if wire is not None else "the stdlib's path")
    if wire is not None:
        same(stdlib, wire)


def test_plain_messages_are_written_directly():
    """The property above compares only what is written directly: most of it is."""
    written = 0
    for i in range(50):
        email = email_of(subject=f"Statement {i}", to=[f"user{i}@example.com"],
                         cc=["Ann Smith <ann@example.com>"] if i % 2 else [],
                         headers={"List-Unsubscribe": f"<https://example.com/u/{i}/>"},
                         body=("Line of text " * 10 + "\n") * (i % 15 + 1),
                         alternatives=[("<p style=\"a\">é</p>\n" * (i + 1), "text/html")])
        stdlib, wire = both(email, i)
        if wire is not None:
            same(stdlib, wire)
            written += 1
    assert written == 50


@settings(max_examples=300, deadline=None)
@given(st.from_regex(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,70}@[A-Za-z0-9.-]{1,70}",
                     fullmatch=True))
def test_a_bare_address_is_checked_as_parsing_it_would(value):
    """``check_address()``'s shortcut for a bare addr-spec returns what the parser does."""
    from txmail.exceptions import InvalidAddress
    from txmail.mail.validation import _rebuild_address, check_address

    def outcome(check):
        try:
            return check()
        except InvalidAddress as exc:
            return type(exc)
    assert outcome(lambda: check_address("M", "to", value)) == outcome(
        lambda: _rebuild_address.__wrapped__("M", "to", value))
