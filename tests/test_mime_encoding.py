"""txmail's C quoted-printable encoder gives the stdlib's parts, byte for byte decoded."""

import email
import email.message
import email.policy

from hypothesis import given, settings
from hypothesis import strategies as st

from txmail.mime import fast_policy

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
