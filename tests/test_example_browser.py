"""The example project's own server (runserver) in headless Chromium, offline.

Its newsletter's images are the shop's static files, at absolute URLs built from
``SITE_URL``, whose default follows ``PORT`` as ``./run`` does.
"""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.test_preview_browser import browser, screenshot  # noqa: F401 (a fixture)

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def example_server(tmp_path_factory):
    """``http://127.0.0.1:PORT`` of the example's runserver, on a migrated database."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("SITE_URL", "DJANGO_DEBUG")} | {
        "DJANGO_SETTINGS_MODULE": "tests.example_server_settings",
        "TXMAIL_EXAMPLE_DB": str(tmp_path_factory.mktemp("example") / "db.sqlite3"),
        "PYTHONPATH": str(ROOT), "PORT": str(port),
    }
    cwd = ROOT / "example_project"
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], check=True, env=env,
                   cwd=cwd, timeout=180)
    log = tmp_path_factory.mktemp("example-log") / "runserver.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
            env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/emails/", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"The example's runserver did not start:\n{log.read_text()}")
                time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def offline_page(browser, example_server):  # noqa: F811 (the fixture imported above)
    """A 1280x800 page that reaches the example's server and nothing else."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    blocked: list[str] = []

    def route(route):
        if route.request.url.startswith(example_server) or route.request.url.startswith(
                ("about:", "data:")):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.blocked = blocked
    yield page
    context.close()


IMAGES = """f => Array.from(f.contentDocument.images).map(
    img => ({src: img.currentSrc, complete: img.complete, width: img.naturalWidth}))"""


def test_the_newsletters_images_come_from_the_site_and_load_offline(offline_page,
                                                                   example_server):
    page = offline_page
    page.goto(f"{example_server}/emails/shop.Newsletter/default/")
    frame = page.locator("iframe.frame-light")
    expect(frame).to_have_class("frame frame-light is-fitted")
    page.wait_for_function(
        "() => Array.from(document.querySelector('iframe.frame-light')"
        ".contentDocument.images).every(img => img.complete)")
    images = [i for i in frame.evaluate(IMAGES) if "/journal/" in i["src"]]
    assert len(images) == 3, images
    for image in images:
        assert image["src"].startswith(f"{example_server}/static/shop/journal/"), image
        assert image["width"] > 0, image
    assert not [u for u in page.blocked if "/journal/" in u], page.blocked
    # The links follow the server's port too (PORT, as ./run serves it).
    unsubscribe = page.frame_locator("iframe.frame-light").locator(
        "a[href*='/email/unsubscribe/']").first.get_attribute("href")
    assert unsubscribe.startswith(f"{example_server}/email/unsubscribe/")
    # The email starts above the fold; the README's screenshot.
    assert frame.bounding_box()["y"] < 450
    screenshot(page, "preview.png")


def test_the_unsubscribe_pages_have_the_shops_look(offline_page, example_server):
    page = offline_page
    page.goto(f"{example_server}/emails/shop.Newsletter/default/")
    link = page.frame_locator("iframe.frame-light").locator(
        "a[href*='/email/unsubscribe/']").first.get_attribute("href")
    page.goto(link)
    expect(page.locator("h1")).to_have_text("Unsubscribe")
    expect(page.locator("img[alt='Acme Shop']")).to_be_visible()  # the shop's layout
    page.get_by_role("button", name="Unsubscribe").click()
    expect(page.locator("h1")).to_have_text("You are unsubscribed")
    page.goto(link)  # asked again later: it says so
    expect(page.locator("h1")).to_have_text("You are unsubscribed")
    page.get_by_role("button", name="Resubscribe").click()
    expect(page.locator("h1")).to_have_text("You are subscribed again")
    # The preference centre, in the shop's look too, with the topic's label.
    page.get_by_role("link", name="Choose which emails you get").click()
    expect(page.locator("h1")).to_have_text("Email preferences")
    expect(page.locator("img[alt='Acme Shop']")).to_be_visible()
    expect(page.get_by_label("The Acme Journal")).to_be_checked()
