"""txmail.interceptors.StagingRedirect: nobody real gets a staging server's mail."""

import pytest
from django.core import mail
from django.test import override_settings

from tests.testapp.emails import Hello
from txmail.delivery.models import Delivery
from txmail.exceptions import InterceptorConfigurationError
from txmail.interceptors import StagingRedirect

STAGING = {
    "INTERCEPTORS": ["txmail.interceptors.StagingRedirect"],
    "STAGING_REDIRECT": {"to": "Staging <staging-inbox@staging.test>", "allow": ["example.com"]},
}
CUSTOMERS = ["Ada <ada@customer.test>", "bob@customer.test"]
COLLEAGUE = "colleague@EXAMPLE.com"
NOTE = ("Staging: txmail redirected this message. Its original recipients were:<br>"
        "To: Ada &lt;ada@customer.test&gt;, bob@customer.test, colleague@EXAMPLE.com<br>"
        "Cc: carol@customer.test<br>Bcc: dave@customer.test</div>")


def message():
    return Hello(name="Ada", to=[*CUSTOMERS, COLLEAGUE], cc=["carol@customer.test"],
                 bcc=["dave@customer.test"])


@pytest.mark.smtp
@override_settings(TXMAIL=STAGING)
def test_customers_are_redirected_to_the_staging_inbox_and_the_colleague_still_gets_it(
        smtp_server):
    with override_settings(MAILERS={"transactional": smtp_server.mailer()}):
        sent = message().send()
    [received] = smtp_server.received
    assert received.rcpt_tos == ["colleague@EXAMPLE.com", "staging-inbox@staging.test"]
    assert sent.recipients == ["colleague@EXAMPLE.com", "Staging <staging-inbox@staging.test>"]
    email = received.message
    assert email["To"] == "colleague@EXAMPLE.com, Staging <staging-inbox@staging.test>"
    assert email["Cc"] is None and email["Bcc"] is None
    # The stdlib folds a long unstructured header right after the colon (legal,
    # RFC 5322 3.2.2); its parser then keeps the folding space.
    assert b"\r\nX-Txmail-Original-To:\r\n Ada <ada@customer.test>, bob@customer.test, " \
        b"colleague@EXAMPLE.com\r\n" in received.data
    assert email["X-Txmail-Original-To"].strip() == (
        "Ada <ada@customer.test>, bob@customer.test, colleague@EXAMPLE.com")
    assert email["X-Txmail-Original-Cc"] == "carol@customer.test"
    assert email["X-Txmail-Original-Bcc"] == "dave@customer.test"
    text = email.get_body(preferencelist=("plain",)).get_content()
    assert text == (
        "[Staging: txmail redirected this message. Its original recipients were\r\n"
        "To: Ada <ada@customer.test>, bob@customer.test, colleague@EXAMPLE.com\r\n"
        "Cc: carol@customer.test\r\nBcc: dave@customer.test]\r\n\r\nHello Ada!\r\n\r\n"
        "Get started (https://example.com/start?ref=Ada)\r\n\r\n"
        "Questions? help@example.com\r\n")
    html = email.get_body(preferencelist=("html",)).get_content()
    body_at = html.index("<body")
    note_at = html.index('<div class="txmail-staging-note"')
    assert html.index(">", body_at) + 1 == note_at  # the first thing in the body
    assert html[note_at:].split("</div>")[0] + "</div>" == (
        '<div class="txmail-staging-note" style="background:#fff3cd;color:#664d03;'
        'border:1px solid #ffe69c;padding:8px 12px;font:13px/1.4 sans-serif;">' + NOTE)
    assert "Hello Ada!" in html
    row = Delivery.objects.get()  # the log has who really got it
    assert row.recipients == ["colleague@EXAMPLE.com", "Staging <staging-inbox@staging.test>"]


@override_settings(TXMAIL=STAGING)
def test_a_message_only_to_allowed_recipients_goes_out_unchanged():
    Hello(to=["ann@example.com"], cc=["bob@example.com"]).send()
    [email] = mail.outbox
    assert (email.to, email.cc) == (["ann@example.com"], ["bob@example.com"])
    assert "X-Txmail-Original-To" not in email.extra_headers
    assert "Staging" not in email.body


@override_settings(TXMAIL=STAGING)
def test_queued_messages_are_redirected_before_they_are_stored():
    Hello(to=["ada@customer.test"]).enqueue()
    row = Delivery.objects.get()
    assert row.recipients == ["Staging <staging-inbox@staging.test>"]
    assert b"X-Txmail-Original-To: ada@customer.test" in bytes(row.raw)


@override_settings(TXMAIL=STAGING)
def test_allowed_cc_and_bcc_recipients_keep_their_copy():
    Hello(to=["ada@customer.test"], cc=["boss@example.com", "carol@customer.test"],
          bcc=["audit@example.com"]).send()
    [email] = mail.outbox
    assert email.to == ["Staging <staging-inbox@staging.test>"]
    assert (email.cc, email.bcc) == (["boss@example.com"], ["audit@example.com"])
    assert email.extra_headers["X-Txmail-Original-Cc"] == "boss@example.com, carol@customer.test"


def test_allowed_entries_may_be_addresses_or_domains_and_the_inbox_is_not_added_twice():
    redirect = StagingRedirect(to="qa@staging.test", allow=["@partner.test", "QA@staging.test"])
    assert redirect.allows("x@partner.test") and redirect.allows("qa@staging.test")
    assert not redirect.allows("other@staging.test")
    assert not redirect.allows("x@sub.partner.test")  # exact domains only
    Hello(to=["qa@staging.test", "eve@customer.test"]).send()
    email = redirect(mail.outbox[0], None)
    assert email.to == ["qa@staging.test"]


@pytest.mark.parametrize(("config", "error"), [
    (None, 'TXMAIL["STAGING_REDIRECT"] must be a dict such as {"to": '
     '"staging-inbox@example.com", "allow": ["example.com"]}, not None. Set it, or remove '
     "'txmail.interceptors.StagingRedirect' from TXMAIL[\"INTERCEPTORS\"]."),
    ({"allow": ["example.com"]},
     'TXMAIL["STAGING_REDIRECT"] needs \'to\': the inbox every redirected message goes to, '
     'e.g. {"to": "staging-inbox@example.com", "allow": ["example.com"]}.'),
    ({"to": "qa@example.com", "allowed": ["example.com"]},
     "TXMAIL[\"STAGING_REDIRECT\"] has unknown keys ['allowed']; it takes 'to' (the staging "
     "inbox) and 'allow' (domains or addresses that still get mail)."),
    ({"to": "nobody"},
     "TXMAIL[\"STAGING_REDIRECT\"]['to'] must be one valid email address (the staging "
     "inbox), not 'nobody'; e.g. {\"to\": \"staging-inbox@example.com\", "
     "\"allow\": [\"example.com\"]}."),
    ({"to": "qa@example.com", "allow": "example.com"},
     "TXMAIL[\"STAGING_REDIRECT\"]['allow'] must be a list of domains or addresses, not "
     "'example.com'. Write it as a list: \"allow\": ['example.com']."),
])
def test_a_wrong_configuration_is_a_clear_error_and_nothing_is_sent(config, error):
    settings = {"INTERCEPTORS": ["txmail.interceptors.StagingRedirect"],
                "STAGING_REDIRECT": config}
    with override_settings(TXMAIL=settings):
        with pytest.raises(InterceptorConfigurationError) as caught:
            Hello().send()
    assert str(caught.value) == error
    assert mail.outbox == []


def test_manage_py_check_reports_a_wrong_configuration():
    from django.core import checks

    wrong = {"INTERCEPTORS": ["txmail.interceptors.StagingRedirect"], "STAGING_REDIRECT": None}
    with override_settings(TXMAIL=wrong):
        errors = [e for e in checks.run_checks() if e.id == "txmail.E030"]
    assert [(e.level, e.obj, e.msg) for e in errors] == [(
        checks.ERROR, "settings.TXMAIL",
        'TXMAIL["STAGING_REDIRECT"] must be a dict such as {"to": '
        '"staging-inbox@example.com", "allow": ["example.com"]}, not None. Set it, or remove '
        "'txmail.interceptors.StagingRedirect' from TXMAIL[\"INTERCEPTORS\"].")]
    with override_settings(TXMAIL=STAGING):
        assert [e for e in checks.run_checks() if e.id == "txmail.E030"] == []
