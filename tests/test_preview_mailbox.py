"""The dev mailbox (txmail.backends.mailbox) and the preview UI's Sent pages."""

import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
from django.core.mail import InvalidMailer, mailers
from django.test import Client

from tests.preview_helpers import csrf_token, debug, mailbox_path, preview_classes, srcdoc
from tests.testapp import emails
from tests.testapp.preview_emails import Rich
from txmail.backends.mailbox import Mailbox, MailboxBackend
from txmail.preview.display import parse

pytestmark = pytest.mark.django_db
__all__ = ["debug", "mailbox_path", "preview_classes"]  # fixtures used by name


# -- dev mailbox --------------------------------------------------------------------------


def test_mailbox_backend_stores_raw_bytes_and_metadata(mailbox_path):
    sent = emails.Hello(to=["bob@example.com"], bcc=["audit@example.com"]).send()
    (entry,) = Mailbox(mailbox_path).entries()
    assert entry.mailer == "transactional"
    assert entry.meta["message_id"] == sent.message_id
    assert entry.meta["recipients"] == ["bob@example.com", "audit@example.com"]
    assert entry.meta["bcc"] == ["audit@example.com"]
    assert entry.subject == "Hello Ann"
    assert parse(entry.raw())["Message-ID"] == sent.message_id
    assert (mailbox_path / f"{entry.id}.eml").exists()


def test_mailbox_default_path(settings, tmp_path):
    settings.TXMAIL = {}
    settings.BASE_DIR = tmp_path
    assert Mailbox().path == tmp_path / "txmail-mailbox"
    del settings.BASE_DIR
    assert Mailbox().path == Path(tempfile.gettempdir()) / "txmail-mailbox"
    settings.TXMAIL = {"MAILBOX_PATH": str(tmp_path / "box"), "MAILBOX_SIZE": 7}
    assert (Mailbox().path, Mailbox().size) == (tmp_path / "box", 7)


def test_messages_sent_by_another_process_show_up(client, debug, mailbox_path):
    worker = "\n".join([
        "import django; django.setup()",
        "from django.conf import settings",
        # No database in this process: no delivery-log row, no suppression check.
        f"settings.TXMAIL = {{'MAILBOX_PATH': {str(mailbox_path)!r}, 'LOG_SENDS': False, "
        "'SUPPRESSION': False}",
        "settings.MAILERS = {'default': {'BACKEND': 'txmail.backends.mailbox.MailboxBackend'}}",
        "from tests.testapp.emails import Promo",
        "Promo(name='worker').send(using='default')",
    ])
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings",
           "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    subprocess.run([sys.executable, "-c", worker], env=env, check=True, timeout=60)
    assert "Deals for worker" in client.get("/emails/sent/").content.decode()


def test_mailbox_keeps_only_the_newest(tmp_path, settings):
    settings.MAILERS = {"default": {"BACKEND": "txmail.backends.mailbox.MailboxBackend",
                                    "OPTIONS": {"path": str(tmp_path), "size": 3}}}
    for number in range(5):
        emails.Promo(name=f"n{number}").send(using="default")
    subjects = [e.subject for e in Mailbox(tmp_path).entries()]
    assert subjects == ["Deals for n4", "Deals for n3", "Deals for n2"]
    assert len(list(tmp_path.glob("*.eml"))) == 3


def test_mailbox_backend_rejects_unknown_and_bad_options(tmp_path, settings):
    settings.MAILERS = {
        "typo": {"BACKEND": "txmail.backends.mailbox.MailboxBackend", "OPTIONS": {"pth": "x"}},
        "bad": {"BACKEND": "txmail.backends.mailbox.MailboxBackend", "OPTIONS": {"size": 0}},
    }
    with pytest.raises(InvalidMailer, match="Unknown options 'pth'"):
        mailers["typo"]
    with pytest.raises(InvalidMailer, match="'size' must be a positive integer"):
        mailers["bad"]
    assert MailboxBackend(alias="x", path=tmp_path).mailbox.path == tmp_path


@pytest.mark.txmail_allow_undefined  # Rich's {{ padding }}: for the preview's lint
def test_sent_view_lists_newest_first_and_opens_each(client, debug, mailbox_path):
    emails.Promo(name="first").send()
    Rich.preview().send()
    page = client.get("/emails/sent/").content.decode()
    assert page.index("Your order A-1") < page.index("Deals for first")
    url = re.search(r'<a href="(/emails/sent/[\d-]+[0-9a-f]+/)">Your order A-1', page)
    message = client.get(url.group(1)).content.decode()
    assert "Hi Ann, your code is A-1." in srcdoc(message)
    assert "data:image/png;base64," in srcdoc(message)
    assert '<th scope="row">Bcc</th><td>audit@example.com</td>' in message
    assert "terms.pdf" in message
    eml = client.get(url.group(1) + "eml/")
    (entry,) = [e for e in Mailbox(mailbox_path).entries() if "order" in e.subject]
    assert eml.content == entry.raw()


def test_send_test_lands_in_the_sent_view(client, debug, mailbox_path):
    client.post("/emails/testapp.Hello/default/send/", {"to": "qa@example.com"})
    page = client.get("/emails/sent/").content.decode()
    assert "Hello Ann" in page and "qa@example.com" in page and "transactional" in page


def test_clear_empties_the_mailbox(debug, mailbox_path):
    emails.Promo().send()
    client = Client(enforce_csrf_checks=True)
    assert client.post("/emails/sent/clear/").status_code == 403
    assert len(Mailbox(mailbox_path).entries()) == 1
    token = csrf_token(client, "/emails/sent/")
    response = client.post("/emails/sent/clear/", {"csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert Mailbox(mailbox_path).entries() == []
    assert "The mailbox is empty." in client.get("/emails/sent/").content.decode()


def test_sent_view_explains_how_to_enable_the_mailbox(client, debug):
    page = client.get("/emails/sent/").content.decode()
    assert "txmail.backends.mailbox.MailboxBackend" in page and "No mailer stores" in page


def test_unknown_sent_entry_is_404(client, debug, mailbox_path):
    assert client.get("/emails/sent/00000000000000000001-0123456789ab/").status_code == 404


# -- robustness ----------------------------------------------------------------------------


def stored(mailbox_path, subject="Kept"):
    return Mailbox(mailbox_path).add(b"Subject: " + subject.encode() + b"\r\n\r\nBody\r\n",
                                     {"subject": subject, "timestamp": "2026-01-02T03:04:05"})


BAD_ENTRIES = {
    "no timestamp": b'{"subject": "No time"}',
    "bad timestamp": b'{"subject": "Bad time", "timestamp": "yesterday"}',
    "a list": b'["not", "an", "object"]',
    "not JSON": b"{",
    "not UTF-8": b'{"subject": "\xff"}',
    "a bad size": b'{"timestamp": "2026-01-02T03:04:05", "size": "big"}',
    "bad recipients": b'{"timestamp": "2026-01-02T03:04:05", "recipients": "a@b.c"}',
}


@pytest.mark.parametrize("content", BAD_ENTRIES.values(), ids=BAD_ENTRIES.keys())
def test_a_malformed_entry_is_skipped(client, debug, mailbox_path, content):
    good = stored(mailbox_path)
    bad_id = "00000000000000000001-0123456789ab"
    (mailbox_path / f"{bad_id}.json").write_bytes(content)
    (mailbox_path / f"{bad_id}.eml").write_bytes(b"Subject: bad\r\n\r\n")
    assert [e.id for e in Mailbox(mailbox_path).entries()] == [good.id]
    assert Mailbox(mailbox_path).get(bad_id) is None
    response = client.get("/emails/sent/")
    assert response.status_code == 200
    assert f"/emails/sent/{good.id}/" in response.content.decode()
    assert client.get(f"/emails/sent/{bad_id}/").status_code == 404


def test_a_directory_named_like_an_entry_is_skipped(client, debug, mailbox_path):
    good = stored(mailbox_path)
    (mailbox_path / "00000000000000000001-0123456789ab.json").mkdir()
    assert [e.id for e in Mailbox(mailbox_path).entries()] == [good.id]
    assert client.get("/emails/sent/").status_code == 200
    assert client.get("/emails/sent/00000000000000000001-0123456789ab/").status_code == 404


@pytest.mark.parametrize("page", ["", "eml/", "html/", "parts/0/"])
def test_a_missing_eml_is_404(client, debug, mailbox_path, page):
    entry = stored(mailbox_path)
    (mailbox_path / f"{entry.id}.eml").unlink()
    response = client.get(f"/emails/sent/{entry.id}/{page}")
    assert response.status_code == 404


def test_readers_next_to_writers_never_fail(debug, mailbox_path):
    # The mailbox rolls over all the time (size 5): prune deletes entries while
    # the reader lists and opens them. Gone entries are skipped or 404, never 500.
    raw = b"Subject: Busy\r\nContent-Type: text/plain\r\n\r\nBody\r\n"
    stop = threading.Event()
    failures: list[BaseException] = []

    def write() -> None:
        box = Mailbox(mailbox_path, 5)
        while not stop.is_set():
            try:
                box.add(raw, {"subject": "Busy", "timestamp": "2026-01-02T03:04:05"})
            except BaseException as exc:  # counted, then reported
                failures.append(exc)

    writers = [threading.Thread(target=write) for _ in range(3)]
    for writer in writers:
        writer.start()
    client = Client(raise_request_exception=True)
    statuses: set[int] = set()
    opened = 0
    deadline = time.monotonic() + 3
    try:
        while time.monotonic() < deadline:
            try:
                listing = client.get("/emails/sent/")
                statuses.add(listing.status_code)
                for entry_id in re.findall(r"/emails/sent/(\d{20}-[0-9a-f]{12})/",
                                           listing.content.decode()):
                    for page in ("", "eml/", "html/", "parts/0/"):
                        statuses.add(client.get(f"/emails/sent/{entry_id}/{page}").status_code)
                        opened += 1
                Mailbox(mailbox_path, 5).entries()
            except BaseException as exc:  # counted, then reported
                failures.append(exc)
    finally:
        stop.set()
        for writer in writers:
            writer.join()
    assert failures == []
    assert statuses <= {200, 404} and 200 in statuses
    assert opened > 20
    assert len(Mailbox(mailbox_path).entries()) == 5
