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


@pytest.fixture(autouse=True)
def _database(request):
    """Every test may use the database: send() writes a delivery-log row."""
    if not {"transactional_db", "live_server", "django_db_setup_off"} & set(request.fixturenames):
        request.getfixturevalue("db")
