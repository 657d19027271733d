"""txmail's C quoted-printable encoder gives the stdlib's parts, byte for byte decoded."""

import email
import email.errors
import email.headerregistry
import email.message
import email.policy

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.testapp.emails import Hello
from txmail.mail.mime import fast_policy

POLICIES = [email.policy.default, email.policy.SMTP, email.policy.SMTPUTF8]
# Long lines force the quoted-printable branch; short ones the 7bit/8bit ones.
text = st.lists(
    st.one_of(
        st.text(min_size=0, max_size=300),
        st.text(alphabet=st.characters(codec="ascii"), min_size=70, max_size=400),
        st.sampled_from(["", ".", "From here", "a=b", "tab\tend\t", "trailing  ", "é" * 90]),
    ),
    min_size=0, max_size=40,
).map("\n".join)


def build(policy, content, subtype="html"):
    part = email.message.EmailMessage(policy=policy)
    part.set_content(content, subtype=subtype, charset="utf-8")
    return part


def reparse(part):
    return email.message_from_bytes(part.as_bytes(), policy=email.policy.default)


@settings(max_examples=200, deadline=None)
@given(content=text, policy_index=st.integers(0, len(POLICIES) - 1))
def test_fast_encoder_decodes_to_what_the_stdlib_would_send(content, policy_index):
    policy = POLICIES[policy_index]
    stdlib, fast = build(policy, content), build(fast_policy(policy), content)
    assert fast["Content-Transfer-Encoding"] == stdlib["Content-Transfer-Encoding"]
    assert fast["Content-Type"] == stdlib["Content-Type"]
    assert reparse(fast).get_content() == reparse(stdlib).get_content()
    assert all(len(line) <= 78 for line in fast.as_bytes().splitlines())


def test_long_html_line_takes_the_fast_quoted_printable_path():
    html = "<p>" + "Zoë & co = friends. " * 400 + "</p>\n" + "<br>\n" * 20
    part = build(fast_policy(email.policy.SMTP), html)
    assert part["Content-Transfer-Encoding"] == "quoted-printable"
    assert "=3D" in part.get_payload() and "=C3=AB" in part.get_payload()
    assert part.get_content() == html


HEADER_TEXT = st.one_of(
    st.text(max_size=120).filter(lambda s: "\r" not in s and "\n" not in s),
    st.sampled_from(["Zoë Ünal", "Tom & Jerry", "=?utf-8?q?x?=", "a" * 200, "日本語の件名"]),
)


@settings(max_examples=150, deadline=None)
@given(subject=HEADER_TEXT, name=HEADER_TEXT, policy_index=st.integers(0, len(POLICIES) - 1))
def test_header_classes_built_once_give_the_stdlib_bytes(subject, name, policy_index):
    """fast_policy's header registry caches classes; headers come out byte for byte."""
    policy = POLICIES[policy_index]

    def message(policy):
        msg = email.message.EmailMessage(policy=policy)
        try:
            msg["Subject"] = subject
            msg["From"] = email.headerregistry.Address(display_name=name, addr_spec="a@b.example")
        except (ValueError, IndexError, email.errors.HeaderParseError):
            return None  # the stdlib refuses it either way (checked below)
        msg["To"] = "Ann <ann@example.com>, bob@example.com"
        msg["Message-ID"] = "<1.2@example.com>"
        msg["Auto-Submitted"] = "auto-generated"
        msg.set_content("Hello\n")
        return msg

    stdlib, fast = message(policy), message(fast_policy(policy))
    assert (stdlib is None) == (fast is None)
    if stdlib is not None:
        assert fast.as_bytes() == stdlib.as_bytes()
    # The classes are built once per header name and reused.
    factory = fast_policy(policy).header_factory
    assert factory["Subject"] is factory["subject"]


def test_messages_built_with_the_fast_policy_pickle():
    # Task queues and the dev mailbox may pickle built messages with their policy.
    import pickle

    msg = email.message.EmailMessage(policy=fast_policy(email.policy.SMTP))
    msg["Subject"] = "Zoë"
    msg["To"] = "Ann <ann@example.com>"
    msg.set_content("<p>Hi</p>\n" * 30, subtype="html")
    again = pickle.loads(pickle.dumps(msg))
    assert again.as_bytes() == msg.as_bytes()


def test_header_types_mapped_later_still_count():
    registry = email.headerregistry.HeaderRegistry()
    policy = fast_policy(email.policy.default.clone(header_factory=registry))
    assert not isinstance(policy.header_factory("X-Reviewers", "a@b.example"),
                          email.headerregistry.AddressHeader)
    registry.map_to_type("x-reviewers", email.headerregistry.AddressHeader)
    header = policy.header_factory("X-Reviewers", "Ann <ann@example.com>")
    assert isinstance(header, email.headerregistry.AddressHeader)
    assert header.addresses[0].username == "ann"


def test_list_unsubscribe_keeps_long_urls_whole_and_unencoded():
    # A signed one-click link is longer than a line; the stdlib would fold it
    # into RFC 2047 encoded-words, which no client decodes in a URL list.
    url = "https://shop.example.com/email/unsubscribe/" + "WyJhZGFAZXhhbXBsZS5jb20i" * 5 + "/"
    value = f"<{url}>, <mailto:unsubscribe@shop.example.com?subject=u>"
    built = Hello(headers={"List-Unsubscribe": value,
                           "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}).message()
    raw = built.message(policy=email.policy.SMTP).as_bytes()
    assert (f"\r\nList-Unsubscribe: <{url}>,\r\n <mailto:unsubscribe@shop.example.com"
            "?subject=u>\r\n").encode() in raw
    assert b"=?utf-8?" not in raw.split(b"\r\n\r\n")[0]
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert [p.strip() for p in str(parsed["List-Unsubscribe"]).split(",")] == [
        f"<{url}>", "<mailto:unsubscribe@shop.example.com?subject=u>"]
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
