"""The preview UI in headless Chromium (Playwright), against a live server.

Needs Chromium: Debian's ``chromium`` package, or TXMAIL_CHROMIUM=/path/to/it.
Playwright's own browser download is not used.
"""

import os
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.testapp.preview_emails import registered

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parent.parent
# Screenshots go to artifacts/ (ignored by git); TXMAIL_UPDATE_SCREENSHOTS=1 also
# copies them over the README's docs/screenshots/, so a test run leaves no
# tracked file changed.
SCREENSHOT_DIR = ROOT / "artifacts" / "screenshots"
DOCS_SCREENSHOT_DIR = ROOT / "docs" / "screenshots"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run",
]
ALIASES = ("default", "transactional", "marketing")


def chromium_path() -> str:
    path = os.environ.get("TXMAIL_CHROMIUM") or shutil.which("chromium") or (
        "/usr/bin/chromium")
    if not Path(path).exists():
        pytest.fail(
            f"Chromium not found at {path!r}: the browser tests need it. Install "
            "Debian's 'chromium' package (apt-get install chromium) or set "
            "TXMAIL_CHROMIUM=/path/to/chromium.", pytrace=False,
        )
    return path


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an asyncio loop running in this thread, which
    # makes Django refuse the test database setup and flush done here (the
    # workaround Playwright documents for Django).
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=chromium_path(), args=CHROMIUM_ARGS
            )
            yield browser
            browser.close()
    finally:
        if previous is None:
            del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1360, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


@pytest.fixture(autouse=True)
def preview_settings(settings, tmp_path):
    settings.DEBUG = True
    settings.TXMAIL = {"MAILBOX_PATH": str(tmp_path / "mailbox"), "PREVIEW_SPAM_SCORE": False}
    settings.MAILERS = {a: {"BACKEND": "txmail.backends.mailbox.MailboxBackend"} for a in ALIASES}
    with registered():
        yield


def screenshot(page, name: str) -> None:
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    target = SCREENSHOT_DIR / name
    page.screenshot(path=str(target))
    assert target.stat().st_size > 0
    if os.environ.get("TXMAIL_UPDATE_SCREENSHOTS") == "1":
        shutil.copyfile(target, DOCS_SCREENSHOT_DIR / name)


def frame_width(page) -> float:
    box = page.locator("iframe.frame-light").bounding_box()
    assert box is not None, "the HTML frame is not visible"
    return box["width"]


def test_index_message_tabs_viewport_and_dark_mode(page, live_server):
    page.goto(f"{live_server.url}/emails/")
    assert page.locator("h1").inner_text() == "Messages"
    assert page.locator(".class-name", has_text="testapp.Rich").is_visible()
    screenshot(page, "index.png")

    page.locator(".class-name", has_text="testapp.Hello").click()
    page.wait_for_url("**/emails/testapp.Hello/default/")
    frame = page.frame_locator("iframe.frame-light")
    assert frame.get_by_text("Hello Ann!").is_visible()
    page.set_viewport_size({"width": 1360, "height": 1500})
    screenshot(page, "message.png")

    # Width: desktop by default, then mobile and full.
    assert frame_width(page) == pytest.approx(720, abs=2)
    iframe = page.locator("iframe.frame-light")
    page.locator("label[for=tx-vp-mobile]").click()
    expect(iframe).to_have_css("width", "375px")
    assert frame_width(page) == pytest.approx(375, abs=2)
    page.locator("label[for=tx-vp-full]").click()
    expect(iframe).not_to_have_css("width", "375px")
    expect(iframe).not_to_have_css("width", "720px")
    assert frame_width(page) > 800

    # Dark: the forced and the own dark mode replace the light frame, side by side
    # (tests/test_preview_dark.py checks what they show).
    assert not page.locator("iframe.frame-forced").is_visible()
    page.locator("label[for=tx-dark]").click()
    expect(page.locator("iframe.frame-forced")).to_be_visible()
    expect(page.locator("iframe.frame-dark")).to_be_visible()
    expect(page.locator("iframe.frame-light")).to_be_hidden()
    page.locator("label[for=tx-dark]").click()
    expect(page.locator("iframe.frame-light")).to_be_visible()
    expect(page.locator("iframe.frame-forced")).to_be_hidden()

    # Parts: text and source replace the frame.
    page.get_by_text("Text", exact=True).click()
    assert page.locator(".panel-text pre").is_visible()
    assert "Hello Ann!" in page.locator(".panel-text pre").inner_text()
    assert not page.locator("iframe.frame-light").is_visible()
    page.get_by_text("Source", exact=True).click()
    assert "Content-Type: multipart/alternative" in (
        page.locator(".panel-source pre").inner_text())
    page.get_by_text("HTML", exact=True).click()
    assert page.locator("iframe.frame-light").is_visible()

    # The chosen width is remembered on the next page (preview.js).
    page.locator("label[for=tx-vp-mobile]").click()
    page.goto(f"{live_server.url}/emails/testapp.Promo/default/")
    expect(page.locator("iframe.frame-light")).to_have_css("width", "375px")


def test_scripts_in_a_message_never_run(page, live_server):
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{live_server.url}/emails/testapp.Scripted/default/")
    frame = page.frame_locator("iframe.frame-light")
    assert frame.get_by_text("Script test body").is_visible()
    page.wait_for_timeout(300)  # give a script, or the img's onerror, time to run
    assert page.title().startswith("Scripted")
    assert frame.locator("body").get_attribute("data-pwned") is None
    frame.get_by_text("click").click()  # a javascript: link
    page.wait_for_timeout(200)
    assert page.title().startswith("Scripted")

    page.goto(f"{live_server.url}/emails/testapp.Scripted/default/html/")
    page.wait_for_timeout(300)
    assert page.title() == "Scripted"
    assert page.locator("body").get_attribute("data-pwned") is None


def test_send_a_test_and_find_it_in_the_sent_view(page, live_server):
    page.goto(f"{live_server.url}/emails/testapp.Hello/default/?lang=fr")
    page.locator("#tx-send-to").fill("qa@example.com")
    page.get_by_role("button", name="Send test").click()
    page.wait_for_url("**/emails/testapp.Hello/default/?lang=fr")
    assert "Sent to qa@example.com" in page.locator(".flashes").inner_text()

    page.locator(".topnav a", has_text="Sent").click()
    row = page.locator(".sent-table tbody tr").first
    assert "qa@example.com" in row.inner_text()
    assert "transactional" in row.inner_text()
    row.get_by_role("link", name="Hello Ann").click()
    assert page.locator("h1").inner_text() == "Hello Ann"
    frame = page.frame_locator("iframe.frame-light")
    assert frame.get_by_text("Hello Ann!").is_visible()
    assert frame.locator("html").get_attribute("lang") == "fr"

    page.locator(".topnav a", has_text="Sent").click()
    page.get_by_role("button", name="Clear").click()
    assert page.get_by_text("The mailbox is empty.").is_visible()


FRAME_FIT = """f => {
    const root = f.contentDocument.documentElement;
    return {height: f.getBoundingClientRect().height, top: f.getBoundingClientRect().top,
            content: root.scrollHeight, inner: root.clientHeight};
}"""


def fitted_frame(page):
    """The HTML frame's box and its content's height, once preview.js has sized it."""
    frame = page.locator("iframe.frame-light")
    expect(frame).to_have_class("frame frame-light is-fitted")
    return frame.evaluate(FRAME_FIT)


@pytest.mark.parametrize("variant", ["Hello/default", "Rich/huge"])
def test_the_email_starts_above_the_fold_in_a_frame_its_own_height(browser, live_server,
                                                                    variant):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(f"{live_server.url}/emails/testapp.{variant}/")
    fit = fitted_frame(page)
    assert fit["top"] < 450, fit  # a good part of the email shows at once
    # Its height is the content's: no scrollbar inside the frame, none to spare.
    assert fit["content"] <= fit["inner"] + 1, fit
    assert fit["height"] == pytest.approx(fit["content"] + 2, abs=3), fit  # + borders
    # Narrower, the content is taller: the frame follows.
    page.locator("label[for=tx-vp-mobile]").click()
    expect(page.locator("iframe.frame-light")).to_have_css("width", "375px")
    page.wait_for_function(
        "() => { const f = document.querySelector('iframe.frame-light');"
        " const r = f.contentDocument.documentElement;"
        " return r.scrollHeight <= r.clientHeight + 1; }")
    mobile = fitted_frame(page)
    assert mobile["height"] >= fit["height"], (mobile, fit)
    assert mobile["content"] <= mobile["inner"] + 1, mobile
    context.close()


def test_the_language_switch_offers_the_translated_languages(page, live_server, settings):
    from django.conf import global_settings

    settings.LANGUAGES = global_settings.LANGUAGES  # Django's hundred
    page.goto(f"{live_server.url}/emails/testapp.Rich/default/")
    switch = page.locator(".seg-lang a")
    expect(switch).to_have_text(["en", "fr"])  # the test app translates French only
    switch.nth(1).click()
    page.wait_for_url("**/emails/testapp.Rich/default/?lang=fr")
    expect(page.frame_locator("iframe.frame-light").locator("#greeting")).to_have_class(
        "lang-fr")


def test_no_parameters_box_without_parameters(page, live_server):
    page.goto(f"{live_server.url}/emails/testapp.Scripted/default/")
    expect(page.locator("iframe.frame-light")).to_be_visible()
    expect(page.get_by_text("Parameters", exact=True)).to_have_count(0)
    page.goto(f"{live_server.url}/emails/testapp.Rich/default/")
    expect(page.get_by_text("Parameters", exact=True)).to_be_visible()
