import pytest

from tests.smtp import SMTPServer


@pytest.fixture
def smtp_server():
    """A running SMTP server on a free loopback port."""
    server = SMTPServer().start()
    yield server
    server.stop()


@pytest.fixture
def second_smtp_server():
    server = SMTPServer().start()
    yield server
    server.stop()
