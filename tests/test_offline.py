"""Rendering never touches the network.

Sockets are replaced with ones that raise, so any fetch — premailer loading a
<link> stylesheet, MRML or anything else resolving a font — fails the test.
"""

import socket

import pytest

from tests.testapp.emails import Hello, Promo
from txmail import Message


class Linked(Message):
    template_name = "testapp/emails/core_linked"
    subject = "Offline"


class NetworkUsed(AssertionError):
    pass


@pytest.fixture
def no_network(monkeypatch):
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise NetworkUsed(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    yield attempts
    assert attempts == []


def test_the_guard_catches_network_use(no_network):
    with pytest.raises(NetworkUsed):
        socket.create_connection(("example.com", 80))
    no_network.clear()


def test_rendering_with_linked_stylesheets_stays_offline(no_network):
    rendered = Linked(to=["a@example.com"], context={"name": "Ann"}).render()
    assert "Offline Ann" in rendered.html
    # The local <style> is still inlined.
    assert "style=\"color:#333; mso-line-height-rule:exactly\"" in rendered.html


def test_rendering_mjml_and_html_messages_stays_offline(no_network):
    assert "fonts.googleapis.com" not in Hello().render().html
    Promo().render()
    Hello().message().message().as_bytes()
