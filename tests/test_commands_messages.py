"""manage.py txmail list/render/send on the test app's classes."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

pytestmark = pytest.mark.smtp


def txmail(*args):
    out = StringIO()
    call_command("txmail", *args, stdout=out)
    return out.getvalue()


def test_send_reaches_a_real_server_with_only_the_given_address(smtp_server):
    with override_settings(MAILERS={"transactional": smtp_server.mailer()}):
        out = txmail("send", "testapp.Hello", "--to", "qa@example.org", "--param", "name=Bo")
    [received] = smtp_server.received
    assert received.rcpt_tos == ["qa@example.org"]
    assert received.message["Subject"] == "Hello Bo"
    assert out == (f"Sent testapp.Hello (default) to qa@example.org through mailer "
                   f"'transactional' (Message-ID {received.message['Message-ID']}).\n")


def test_a_failed_send_is_a_command_error_naming_the_mailer():
    closed = {"BACKEND": "django.core.mail.backends.smtp.EmailBackend",
              "OPTIONS": {"host": "127.0.0.1", "port": 9, "timeout": 2}}
    with override_settings(MAILERS={"transactional": closed}), pytest.raises(
        CommandError
    ) as caught:
        txmail("send", "testapp.Hello", "--to", "qa@example.org")
    assert str(caught.value) == (
        "Not sent: mailer 'transactional' (127.0.0.1:9) could not send the message for now "
        "(ConnectionRefusedError: [Errno 111] Connection refused). txmail retries queued "
        "messages; check that the server is up and reachable.")


def test_list_shows_mailer_template_and_state():
    lines = txmail("list").splitlines()
    assert lines[0].split() == ["NAME", "MAILER", "TEMPLATE", "STATE"]
    table = lines[1:lines.index("")] if "" in lines else lines[1:]  # then the check errors
    rows = {line.split()[0]: line for line in table}
    assert rows["testapp.Hello"].split()[1:] == [
        "transactional", "testapp/emails/hello.mjml", "compiled"]
    assert rows["testapp.Promo"].split()[1:] == [
        "marketing", "testapp/emails/promo.html", "+", ".txt", "compiled"]
