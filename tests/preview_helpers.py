"""Fixtures and helpers shared by the preview UI tests."""

import re
from html import unescape

import pytest
from django.test import Client

from tests.testapp.preview_emails import registered

ALIASES = ("default", "transactional", "marketing")


@pytest.fixture(autouse=True)
def preview_classes():
    with registered():
        yield


@pytest.fixture
def debug(settings):
    settings.DEBUG = True
    return settings


@pytest.fixture
def mailbox_path(settings, tmp_path):
    """Every mailer stores into a mailbox in tmp_path."""
    path = tmp_path / "mailbox"
    settings.TXMAIL = {"MAILBOX_PATH": str(path)}
    settings.MAILERS = {a: {"BACKEND": "txmail.backends.mailbox.MailboxBackend"} for a in ALIASES}
    return path


def srcdoc(html: str) -> str:
    """The HTML shown in the preview frame (unescaped from its attribute)."""
    match = re.search(r'<iframe class="frame frame-light"[^>]*srcdoc="([^"]*)"', html)
    assert match, "no preview iframe on the page"
    return unescape(match.group(1))


def csrf_token(client: Client, url: str) -> str:
    page = client.get(url).content.decode()
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
