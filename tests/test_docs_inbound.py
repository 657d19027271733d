"""The inbound and bounces pages' code runs as written, and does what the pages say.

Each test takes a Python block from the page (found by a phrase it contains), runs it in
a namespace holding what the page assumes (the reader's Ticket and Order models, stood in
for by small tables), feeds real MIME through txmail's stdin ingress (``manage.py txmail
inbound``, as the page's Postfix pipe runs it), and checks the rows after. The settings
blocks are applied and the system checks run clean.
"""

import io
import sys
from email.message import EmailMessage
from email.utils import parseaddr
from types import SimpleNamespace
from unittest import mock

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core import checks
from django.core.management import CommandError, call_command
from django.test import override_settings

from tests.docs_pages import assert_covered, block, pages
from tests.test_dkim import dns_for
from tests.testapp.emails import Hello
from txmail import Message
from txmail.delivery.models import Delivery
from txmail.inbound import Bounce, Mailbox, mailboxes
from txmail.inbound.models import InboundMessage, Status

# Blocks no test here runs, by page and a phrase of the block, with the reason.
NOT_RUN: dict[tuple[str, str], str] = {}
RUN = {
    ("inbound.md", "class Support(Mailbox)"),
    ("inbound.md", "class Comments(Mailbox)"),
    ("inbound.md", '"INBOUND": {'),
    ("bounces.md", '"BOUNCES": {'),
    ("bounces.md", '"DKIM": {'),
}
@pytest.mark.parametrize("page", pages(RUN, NOT_RUN))
def test_every_python_block_of_the_page_is_run_or_listed_with_a_reason(page):
    assert_covered(page, RUN, NOT_RUN)


# -- what the pages assume ------------------------------------------------------------


class Found(list):
    def first(self):
        return self[0] if self else None


class Table:
    """A stand-in for a model's manager, as the page's code uses one."""

    def __init__(self):
        self.rows = []

    def create(self, **fields):
        row = SimpleNamespace(**fields)
        self.rows.append(row)
        return row

    def filter(self, **lookup):
        return Found(r for r in self.rows
                     if all(getattr(r, name) == value for name, value in lookup.items()))


@pytest.fixture
def page(settings, tmp_path):
    """Run a page's block in a namespace like the reader's ``shop`` app; return it."""
    (tmp_path / "emails").mkdir()
    (tmp_path / "emails" / "comment_notice.html").write_text("<p>Bob commented.</p>")
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path]}]
    registered = []

    def run(name: str, phrase: str, **names) -> dict:
        namespace = {"__name__": "shop", "Mailbox": Mailbox, "Bounce": Bounce,
                     "Message": Message, **names}
        exec(block(name, phrase), namespace)  # the page's own code
        for value in namespace.values():
            if isinstance(value, type) and issubclass(value, Mailbox) and \
                    value.__module__ == namespace["__name__"]:
                mailboxes.register(value)  # as autodiscovery would, from shop/mailboxes.py
                registered.append(value)
        return namespace

    yield run
    for cls in registered:
        mailboxes.unregister(cls)


def mime(to: str, subject: str = "Where is my parcel?", body: str = "It hasn't come.",
         sender: str = "Ann <ann@customer.example>", **headers) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{InboundMessage.objects.count()}@customer.example>"
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg.as_bytes()


def pipe(capture, recipient: str, raw: bytes | None = None) -> InboundMessage:
    """Pipe ``raw`` to ``manage.py txmail inbound`` as Postfix does; the worker runs it."""
    stdin = io.TextIOWrapper(io.BytesIO(raw or mime(recipient)))
    with capture(execute=True), mock.patch.object(sys, "stdin", stdin):
        call_command("txmail", "inbound", "--recipient", recipient,
                     "--sender", "ann@customer.example")
    return InboundMessage.objects.latest("pk")


def checked(txmail: dict) -> list[str]:
    """The txmail warnings and errors of the system checks with ``txmail`` applied."""
    # The test project has no site: its bulk classes need SITE_URL (txmail.E050).
    with override_settings(TXMAIL={"SITE_URL": "https://shop.example.com", **txmail}):
        return [f"{m.id}: {m.msg}" for m in checks.run_checks()
                if (m.id or "").startswith("txmail.") and m.level >= checks.WARNING]


# -- inbound.md -----------------------------------------------------------------------


def test_the_three_mailboxes_get_their_mail(page, django_capture_on_commit_callbacks):
    order = SimpleNamespace(number="1042", notes=Table())
    ticket, orders = SimpleNamespace(objects=Table()), SimpleNamespace(objects=Table())
    orders.objects.rows.append(order)
    page("inbound.md", "class Support(Mailbox)", Ticket=ticket, Order=orders)
    capture = django_capture_on_commit_callbacks

    support = pipe(capture, "support@example.com")
    assert (support.status, support.attempts) == (Status.PROCESSED, 1)
    [made] = ticket.objects.rows
    assert (made.subject, made.sender, made.body.strip()) == (
        "Where is my parcel?", "Ann <ann@customer.example>", "It hasn't come.")

    noted = pipe(capture, "orders+1042@example.com",
                 mime("orders+1042@example.com", body="Please send it to my office."))
    assert noted.status == Status.PROCESSED
    assert [n.text.strip() for n in order.notes.rows] == ["Please send it to my office."]

    unknown = pipe(capture, "orders+999@example.com")
    assert (unknown.status, unknown.error) == (Status.BOUNCED, "No such order.")
    assert len(order.notes.rows) == 1

    caught = pipe(capture, "hello@elsewhere.example")
    assert (caught.status, caught.outcome) == (Status.PROCESSED, "")
    assert len(ticket.objects.rows) == 1


def test_without_the_catch_all_an_unrouted_address_is_refused_at_the_pipe(
        page, django_capture_on_commit_callbacks):
    namespace = page("inbound.md", "class Support(Mailbox)", Ticket=None, Order=None)
    mailboxes.unregister(namespace["Everything"])
    with pytest.raises(CommandError) as refused:
        pipe(django_capture_on_commit_callbacks, "hello@elsewhere.example")
    assert str(refused.value) == ("No mailbox routes 'hello@elsewhere.example': the message "
                                  "is refused.")
    assert refused.value.returncode == 67  # EX_NOUSER: Postfix bounces it
    assert not InboundMessage.objects.exists()


def test_a_reply_to_the_signed_address_is_linked_and_one_without_a_delivery_bounces(
        page, django_capture_on_commit_callbacks, sent_mail):
    namespace = page("inbound.md", "class Comments(Mailbox)")
    namespace["CommentNotice"](to=["ann@customer.example"]).send()
    sent = Delivery.objects.get()
    [notice] = sent_mail
    [reply_to] = notice.email.reply_to
    assert reply_to.startswith("reply+") and reply_to.endswith("@example.com")
    capture = django_capture_on_commit_callbacks

    reply = pipe(capture, reply_to, mime(reply_to, subject="Re: a comment", body="Thanks!",
                                         In_Reply_To=sent.message_id))
    assert (reply.status, reply.delivery) == (Status.PROCESSED, sent)
    # The token proves the address, not the sender (the page says so): a forward's reader
    # writing to it is linked as well; only the From tells them apart.
    other = pipe(capture, reply_to, mime(reply_to, sender="Eve <eve@elsewhere.example>"))
    assert (other.status, other.delivery) == (Status.PROCESSED, sent)
    assert [parseaddr(r.from_header)[1] in sent.recipients for r in (reply, other)] == [
        True, False]

    token = reply_to.removeprefix("reply+").partition("@")[0]
    ident, _dot, signature = token.partition(".")
    forged = f"reply+{ident}.{'a' * len(signature)}@example.com"
    # Its In-Reply-To names the delivery, but the token is forged: it links nothing.
    refused = pipe(capture, forged, mime(forged, In_Reply_To=sent.message_id))
    assert (refused.status, refused.delivery) == (Status.BOUNCED, None)
    assert refused.error == "Reply to a notification to comment."


def test_the_inbound_setting_and_the_mailboxes_pass_the_checks(page):
    page("inbound.md", "class Support(Mailbox)", Ticket=None, Order=None)
    page("inbound.md", "class Comments(Mailbox)")
    txmail = page("inbound.md", '"INBOUND": {')["TXMAIL"]
    assert checked(txmail) == []
    # The checks can fail: a route the mailboxes share is an error.
    page("inbound.md", "class Support(Mailbox)", Ticket=None, Order=None,
         __name__="shop.more")
    assert [m.split(":")[0] for m in checked(txmail)] == ["txmail.E110"] * 3


# -- bounces.md -----------------------------------------------------------------------


def test_the_bounces_setting_passes_the_checks(page):
    txmail = page("bounces.md", '"BOUNCES": {')["TXMAIL"]
    assert checked(txmail) == []
    broken = {"BOUNCES": {**txmail["BOUNCES"], "SOFT_BOUNCE_LIMIT": 0}}
    assert [m.split(":")[0] for m in checked(broken)] == ["txmail.E120"]


@pytest.fixture(scope="module")
def key_pem():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM,
                             serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption()).decode()


def test_the_dkim_setting_passes_the_checks_and_signs(tmp_path, key_pem, smtp_server):
    key_file = tmp_path / "example.com.s1.pem"
    key_file.write_text(key_pem)
    code = block("bounces.md", '"DKIM": {')
    assert "/etc/dkim/example.com.s1.pem" in code
    namespace: dict = {}
    exec(code.replace("/etc/dkim/example.com.s1.pem", str(key_file)), namespace)
    txmail = namespace["TXMAIL"]
    assert checked(txmail) == []
    with override_settings(TXMAIL=txmail):
        out = io.StringIO()
        call_command("txmail", "dkim", stdout=out)
    # The record the command prints, as DNS serves it, verifies what is sent.
    record = out.getvalue().splitlines()[1]
    assert record.startswith("s1._domainkey.example.com TXT ")
    with override_settings(TXMAIL=txmail, MAILERS={"transactional": smtp_server.mailer()}):
        Hello().send()
    [received] = smtp_server.received
    assert dkim.verify(received.data, dnsfunc=dns_for(record))
