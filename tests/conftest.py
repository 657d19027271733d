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


def pytest_collection_modifyitems(items):
    """Every test may use the database: send() writes a delivery-log row."""
    for item in items:
        if item.get_closest_marker("django_db") is None:
            item.add_marker(pytest.mark.django_db)
