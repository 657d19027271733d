"""Property: any display name, subject, header value or file name either raises a
TxmailError from ``message()``, or goes out as bytes that re-parse cleanly."""

import email
import email.policy
import email.utils
from email.headerregistry import AddressHeader

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.testapp.emails import Hello
from txmail import Attachment, TxmailError

# Group syntax, quoting, specials, non-ASCII, tab, every C0 control, DEL, the
# C1 controls (U+0085 included), U+2028/2029 and a lone surrogate.
SPECIAL = [*":;\"\\,.<>@()[]=? \t", "é", "中", "😀", "\udc80", "\u2028", "\u2029"]
CONTROLS = [chr(c) for c in range(0x20)] + [chr(c) for c in range(0x7F, 0xA0)]
ENCODED_WORDS = ["=?utf-8?q?", "?=", "=?utf-8?q?hi?=", "=?utf-8?b?w6k=?=", "=?utf-8?q?a=0Ab?="]

pieces = st.one_of(
    st.characters(codec="utf-8", categories=["L", "N", "P", "S", "Zs"]),
    st.sampled_from(SPECIAL),
    st.sampled_from(ENCODED_WORDS),
)
short_text = st.lists(pieces, max_size=30).map("".join)
# Long unbroken names: a run of one character (the stdlib cannot fold these).
long_text = st.builds(lambda char, n: char * n, st.sampled_from(["x", "é", '"', ","]),
                      st.integers(70, 1200))
# One control character somewhere: any one is enough to refuse a value, so
# mixing them into every piece would leave little else tested.
with_control = st.builds(lambda t, c, i: t[:i] + c + t[i:], short_text,
                         st.sampled_from(CONTROLS), st.integers(0, 30))
text = st.one_of(short_text, long_text, st.builds(str.__add__, short_text, long_text),
                 with_control)


def quoted(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def addresses(name: str, quote: bool) -> str:
    return f"{quoted(name) if quote else name} <reply@example.com>"


def expected_names(reply_to: bool, cc: bool, header: bool) -> set[str]:
    names = {"From", "To", "Subject", "Date", "Message-ID", "MIME-Version",
             "Content-Type", "Auto-Submitted"}
    for name, given_ in (("Reply-To", reply_to), ("Cc", cc), ("X-Tag", header)):
        if given_:
            names.add(name)
    return names


def squeeze(value: str) -> str:
    # Python 3.13.0 keeps the space between adjacent encoded-words (RFC 2047
    # 6.2 drops it), and runs of whitespace collapse: compare without spaces.
    return "".join(value.split())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.one_of(st.none(), text),
    quote=st.booleans(),
    subject=st.one_of(st.none(), text),
    value=st.one_of(st.none(), text),
    # Several named addresses in one header: folding between them.
    cc=st.lists(st.tuples(text, st.booleans()), max_size=3),
    filename=st.one_of(st.none(), text),
)
def test_every_input_raises_a_txmail_error_or_goes_out_well_formed(
    name, quote, subject, value, cc, filename
):
    message = Hello(
        reply_to=[addresses(name, quote)] if name is not None else None,
        cc=[f"{quoted(n) if q else n} <cc{i}@example.com>" for i, (n, q) in enumerate(cc)],
        headers={"X-Tag": value} if value is not None else None,
    )
    if subject is not None:
        message.subject = subject
    try:
        if filename is not None:
            message.attachments = [Attachment(filename, b"%PDF", "application/pdf")]
        email_message = message.message()
    except TxmailError:
        return
    # What Django's SMTP backend sends: message(policy=SMTP).as_bytes().
    data = email_message.message(policy=email.policy.SMTP).as_bytes()
    assert max(len(line) for line in data.split(b"\r\n")) <= 998
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    assert [part.defects for part in parsed.walk()] == [[] for _ in parsed.walk()]
    for part in parsed.walk():
        for key in part.keys():
            assert part[key].defects == (), (key, part[key])
    keys = parsed.keys()
    assert sorted(keys) == sorted(
        expected_names(name is not None, bool(cc), value is not None)
    )
    if name is not None:
        [sent] = email_message.reply_to
        [mailbox] = AddressHeader.value_parser(sent).all_mailboxes
        [received] = parsed["Reply-To"].addresses
        assert received.addr_spec == "reply@example.com"
        assert squeeze(received.display_name) == squeeze(mailbox.display_name or "")
    if filename is not None:
        [attachment] = parsed.iter_attachments()
        # The stdlib parser unquotes an RFC 2231 value that starts and ends
        # with '"' (what was sent is %22…%22): one quote off each end.
        assert attachment.get_filename() in (filename, email.utils.unquote(filename))
    if cc:
        assert [a.addr_spec for a in parsed["Cc"].addresses] == [
            f"cc{i}@example.com" for i in range(len(cc))
        ]
