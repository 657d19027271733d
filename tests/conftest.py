from importlib.metadata import entry_points

import pytest
from django.contrib.auth import get_user_model
from hypothesis import settings as hypothesis_settings

from tests.smtp import SMTPServer
from txmail.signals import pre_send

# The suite runs the same Hypothesis examples every time ("ci"), so a red run is
# a regression anyone can reproduce. `--hypothesis-profile=explore` draws new
# ones at random: run it to search, and keep what it finds as a named test.
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
hypothesis_settings.register_profile("explore", derandomize=False, print_blob=True)
hypothesis_settings.load_profile("ci")

PLUGIN = "txmail.testing.pytest_plugin"
if not any(ep.value == PLUGIN for ep in entry_points(group="pytest11")):
    # An editable install made before pyproject.toml declared the entry point
    # (`pip install -e .` again registers it); load the plugin by hand meanwhile.
    pytest_plugins = [PLUGIN]


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


@pytest.fixture
def postgresql():
    """A PostgreSQL server of its own (Debian's binaries, a temporary directory)."""
    from tests.postgres import INSTALL, PostgreSQL, binaries

    bin_dir = binaries()
    if bin_dir is None:
        pytest.skip(INSTALL)
    server = PostgreSQL(bin_dir).init()
    try:
        server.start()
        yield server
    finally:
        server.remove()


@pytest.fixture
def on_pre_send():
    """Connect a pre_send receiver for one test."""
    added = []

    def connect(receiver):
        pre_send.connect(receiver, weak=False)
        added.append(receiver)
        return receiver

    yield connect
    for receiver in added:
        pre_send.disconnect(receiver)


@pytest.fixture
def admin_client(client):
    user = get_user_model().objects.create_superuser("admin", "admin@example.com", "pw")
    client.force_login(user)
    return client


@pytest.fixture
def admin_urls(settings):
    settings.ROOT_URLCONF = "tests.admin_urls"
