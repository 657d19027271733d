"""DKIM: messages signed once with their From domain's key, verified by dkimpy on the bytes
a real SMTP server received (the public key served by a stand-in for DNS)."""

import re
from io import StringIO

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.utils import timezone

from tests.smtp import ScriptedServer
from tests.testapp.emails import Hello
from txmail.delivery import queue
from txmail.delivery.models import Delivery
from txmail.mail import dkim as txdkim

pytestmark = pytest.mark.smtp

UNSUBSCRIBE = {"List-Unsubscribe": "<https://shop.example.com/unsubscribe/1>",
               "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def pem(bits: int = 2048, pkcs8: bool = False) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    form = serialization.PrivateFormat
    return key.private_bytes(serialization.Encoding.PEM,
                             form.PKCS8 if pkcs8 else form.TraditionalOpenSSL,
                             serialization.NoEncryption()).decode()


@pytest.fixture(scope="module")
def key_pem():
    return pem()


@pytest.fixture
def key_file(tmp_path, key_pem):
    path = tmp_path / "s1.pem"
    path.write_text(key_pem)
    return path


def served(zone_line: str) -> tuple[str, bytes]:
    """A zone file's TXT line as DNS serves it: its name, and its strings joined."""
    name, _txt, strings = zone_line.partition(" TXT ")
    return name, "".join(re.findall(r'"([^"]*)"', strings)).encode()


def dns_for(key: txdkim.Key | str):
    """A DNS stand-in answering the record `manage.py txmail dkim` says to publish."""
    name, value = served(key if isinstance(key, str) else key.record)

    def dnsfunc(qname, timeout=5):
        return value if qname.decode().rstrip(".") == name else None
    return dnsfunc


def signed_headers(raw: bytes) -> list[str]:
    signature = raw.split(b"\r\n\r\n", 1)[0].decode()
    tags = signature.split("h=", 1)[1].split(";", 1)[0]
    return [name.strip().lower() for name in "".join(tags.split()).split(":")]


@pytest.fixture
def relay():
    """A server that keeps what each DATA carried, refusing the first for now (451)."""
    server = ScriptedServer().start()
    server.attempts = []
    accept = server.handler.handle_DATA

    async def handle_data(srv, session, envelope):
        server.attempts.append(envelope.original_content)
        if len(server.attempts) == 1:
            return "451 4.3.0 Try again later"
        return await accept(srv, session, envelope)

    server.handler.handle_DATA = handle_data
    yield server
    server.stop()


def test_a_queued_message_is_signed_once_and_its_retry_sends_the_same_signature(
        relay, key_file):
    config = {"DKIM": {"example.com": {"selector": "s1", "key": str(key_file)}},
              "TASK_BACKEND": "db", "RETRY_DELAY": 0}
    with override_settings(MAILERS={"transactional": relay.mailer()}, TXMAIL=config):
        row = Hello(headers=UNSUBSCRIBE).enqueue().delivery
        queue.run(row.pk)
        Delivery.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
        queue.run(row.pk)
        key = txdkim.keys()[0]
    first, second = relay.attempts
    assert first == second  # the same bytes, the same signature
    [received] = relay.received
    assert received.data == second
    assert dkim.verify(received.data, dnsfunc=dns_for(key))
    assert received.message["DKIM-Signature"].count("d=example.com") == 1
    assert signed_headers(received.data) == [
        "from", "to", "subject", "date", "message-id", "mime-version", "content-type",
        "list-unsubscribe", "list-unsubscribe-post"]
    # The signature covers the unsubscribe header: changing it breaks the signature.
    tampered = received.data.replace(b"/unsubscribe/1>", b"/unsubscribe/2>")
    assert tampered != received.data and not dkim.verify(tampered, dnsfunc=dns_for(key))


def test_send_now_is_signed_too(smtp_server, key_pem):
    config = {"DKIM": {"example.com": {"selector": "s1", "key": key_pem}}}
    with override_settings(MAILERS={"transactional": smtp_server.mailer()}, TXMAIL=config):
        Hello(cc=["cc@example.com"], reply_to=["help@example.com"]).send()
        key = txdkim.keys()[0]
    [received] = smtp_server.received
    assert dkim.verify(received.data, dnsfunc=dns_for(key))
    assert signed_headers(received.data) == [
        "from", "to", "cc", "subject", "date", "message-id", "mime-version", "content-type",
        "reply-to"]
    assert received.rcpt_tos == ["ann@example.com", "cc@example.com"]


def test_send_now_keeps_the_bytes_it_sent_signed_once(smtp_server, key_pem):
    config = {"DKIM": {"example.com": {"selector": "s1", "key": key_pem}}, "KEEP_BODIES": True}
    with override_settings(MAILERS={"transactional": smtp_server.mailer()}, TXMAIL=config):
        sent = Hello().send()
    [received] = smtp_server.received
    # The log's bytes (the admin's "send again") are the signed bytes that went out.
    assert bytes(Delivery.objects.get(pk=sent.delivery_id).raw) == received.data


def test_an_api_mailer_gets_the_fields_without_the_stored_bytes_signature(key_pem):
    from txmail.mail.frozen import FrozenEmail, freeze

    config = {"DKIM": {"example.com": {"selector": "s1", "key": key_pem}}}
    with override_settings(TXMAIL=config):
        raw, sender, recipients = freeze(Hello().message())
        key = txdkim.keys()[0]
    frozen = FrozenEmail(raw, sender, recipients)
    # A provider's API rebuilds the message from these: a copied signature would fail.
    assert "DKIM-Signature" not in frozen.extra_headers
    assert frozen.extra_headers["Message-ID"] and frozen.subject
    assert dkim.verify(frozen.message().as_bytes(), dnsfunc=dns_for(key))  # SMTP's bytes


def test_a_subdomain_uses_its_parents_key_and_other_domains_are_not_signed(
        smtp_server, key_pem):
    config = {"DKIM": {"Example.com": {"selector": "s1", "key": key_pem}}}

    class FromSubdomain(Hello):
        from_email = "Shop <news@mail.example.com>"

    class FromElsewhere(Hello):
        from_email = "Shop <shop@example.org>"

    with override_settings(MAILERS={"transactional": smtp_server.mailer()}, TXMAIL=config):
        FromSubdomain().send()
        FromElsewhere().send()
        key = txdkim.keys()[0]
    sub, other = smtp_server.received
    assert dkim.verify(sub.data, dnsfunc=dns_for(key))
    assert "d=example.com" in sub.message["DKIM-Signature"]
    assert other.message["DKIM-Signature"] is None


def test_a_pkcs8_key_signs_and_its_record_is_the_public_key():
    text = pem(pkcs8=True)
    with override_settings(TXMAIL={"DKIM": {"example.com": {"selector": "s2", "key": text}}}):
        [key] = txdkim.keys()
        raw = b"From: a@example.com\r\nTo: b@example.org\r\nSubject: x\r\n\r\nbody\r\n"
        signed = txdkim.sign(raw)
    assert key.bits == 2048
    assert key.record.startswith('s2._domainkey.example.com TXT "v=DKIM1; k=rsa; p=MIIBIjAN')
    assert dkim.verify(signed, dnsfunc=dns_for(key))
    with override_settings(TXMAIL={"DKIM": {"example.com": {"selector": "s2", "key": text}}}):
        assert txdkim.sign(signed) == signed  # frozen again: not signed twice


def test_the_printed_record_of_a_2048_bit_key_is_split_and_verifies(key_file, tmp_path):
    config = {"DKIM": {"example.com": {"selector": "s1", "key": str(key_file)}}}
    out = StringIO()
    with override_settings(TXMAIL=config):
        call_command("txmail", "dkim", stdout=out)
        raw = b"From: a@example.com\r\nTo: b@example.org\r\nSubject: x\r\n\r\nbody\r\n"
        signed = txdkim.sign(raw)
    comment, record, whole = out.getvalue().splitlines()
    assert comment == "; example.com: 2048-bit RSA key, selector s1"
    name, _txt, value = record.partition(" TXT ")
    assert name == "s1._domainkey.example.com"
    strings = re.findall(r'"([^"]*)"', value)
    assert value == " ".join(f'"{s}"' for s in strings)  # quoted strings, nothing else
    # A TXT string holds at most 255 characters; a 2048-bit key's value is longer.
    assert [len(s) for s in strings[:-1]] == [255] * (len(strings) - 1) and len(strings) > 1
    assert 0 < len(strings[-1]) <= 255
    joined = "".join(strings)
    assert joined.startswith("v=DKIM1; k=rsa; p=MIIBIjAN")
    assert whole == f"; the value whole, for a DNS host's form: {joined}"
    assert dkim.verify(signed, dnsfunc=dns_for(record))
    assert not dkim.verify(signed.replace(b"body", b"bodY"), dnsfunc=dns_for(record))


def test_the_command_prints_the_good_keys_then_says_what_is_wrong_with_the_others(
        key_pem, tmp_path):
    missing = str(tmp_path / "missing.pem")
    config = {"DKIM": {"example.org": {"selector": "s1", "key": missing},
                       "example.com": {"selector": "s1", "key": key_pem}}}
    out = StringIO()
    with override_settings(TXMAIL=config), pytest.raises(CommandError) as failed:
        call_command("txmail", "dkim", stdout=out)
    assert str(failed.value).startswith(
        f"TXMAIL['DKIM']['example.org']['key']: can't read {missing!r} (No such file or "
        "directory). Give the path")
    assert out.getvalue().splitlines()[1].startswith('s1._domainkey.example.com TXT "v=DKIM1;')


def test_a_key_that_does_not_load_says_why(tmp_path):
    cases = [
        ({"selector": "s1", "key": str(tmp_path / "missing.pem")}, "can't read"),
        ({"selector": "s1", "key": "-----BEGIN RSA PRIVATE KEY-----\nnope\n-----END"},
         "is not an RSA private key in PEM"),
        ({"selector": "", "key": "x"}, "must be a DNS label"),
        ({"key": "x"}, "must be a DNS label"),
        ("s1", "must be a dict with 'selector' and 'key'"),
    ]
    for entry, said in cases:
        with pytest.raises(txdkim.DKIMError, match=said):
            txdkim.load("example.com", entry)


def test_with_verp_each_recipients_copy_has_its_return_path_and_the_same_signature(
        smtp_server, key_pem):
    from txmail.mail import verp

    config = {"DKIM": {"example.com": {"selector": "s1", "key": key_pem}},
              "BOUNCES": {"RETURN_PATH": "bounces+{token}@bounces.example.com"}}
    with override_settings(MAILERS={"transactional": smtp_server.mailer()}, TXMAIL=config):
        sent = Hello(cc=["cc@example.com"]).send()
        key = txdkim.keys()[0]
        row = Delivery.objects.get(pk=sent.delivery_id)
        paths = [verp.return_path(row.pk, row.recipients, a) for a in row.recipients]
    ann, cc = smtp_server.received
    assert [(ann.mail_from, ann.rcpt_tos), (cc.mail_from, cc.rcpt_tos)] == [
        (paths[0], ["ann@example.com"]), (paths[1], ["cc@example.com"])]
    assert ann.data == cc.data and dkim.verify(ann.data, dnsfunc=dns_for(key))
