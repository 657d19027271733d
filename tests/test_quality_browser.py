"""The preview's findings in headless Chromium: filtered by severity and client."""

import pytest
from playwright.sync_api import expect

from tests.test_preview_browser import browser, page  # noqa: F401 (fixtures)
from tests.testapp.quality_emails import registered

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def preview_settings(settings):
    settings.DEBUG = True
    settings.TXMAIL = {"CLIENTS": ["apple-mail", "outlook-windows", "yahoo"],
                       "PREVIEW_SPAM_SCORE": False}
    with registered():
        yield


def test_findings_filter_by_severity_and_client(page, live_server, settings):  # noqa: F811
    settings.TXMAIL = {**settings.TXMAIL, "PREVIEW_SPAM_SCORE": True}
    page.goto(f"{live_server.url}/emails/testapp.Flexbox/default/")
    box = page.locator(".findings")
    expect(box.locator("summary")).to_have_text("1 error, 4 warnings, 9 info")  # spam: info
    box.locator("summary").click()
    error = box.locator(".finding.issue-relative-url")
    flex = box.locator(".finding.issue-css-unsupported", has_text="display:flex")
    partial = box.locator(".finding.severity-info").first
    # Errors and warnings by default; info is one choice away.
    expect(error).to_be_visible()
    expect(flex).to_be_visible()
    expect(partial).to_be_hidden()
    box.locator("select.findings-severity").select_option("info")
    expect(partial).to_be_visible()
    box.locator("select.findings-severity").select_option("error")
    expect(flex).to_be_hidden()
    expect(error).to_be_visible()
    # The spam score stays above the list whatever the filter.
    expect(box.locator(".spam-score")).to_be_visible()
    expect(box.locator(".spam-score")).to_contain_text("SpamAssassin")

    # A client shows what affects it, and what affects every client.
    box.locator("select.findings-severity").select_option("warning")
    box.locator("select.findings-client").select_option("apple-mail")
    expect(flex).to_be_hidden()  # flexbox works in Apple Mail
    expect(error).to_be_visible()
    box.locator("select.findings-client").select_option("outlook-windows")
    expect(flex).to_be_visible()
    expect(box.locator(".findings-count")).to_contain_text(" shown")


def test_a_clean_filter_says_so(page, live_server):  # noqa: F811
    page.goto(f"{live_server.url}/emails/testapp.Columns/default/")
    box = page.locator(".findings")
    box.locator("summary").click()
    expect(box.locator(".findings-none")).to_be_visible()  # nothing at warning for MJML
    box.locator("select.findings-severity").select_option("info")
    expect(box.locator(".findings-none")).to_be_hidden()
    expect(box.locator(".finding.issue-mjml-degrades")).to_be_visible()
