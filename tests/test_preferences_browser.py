"""The preference centre in headless Chromium (Playwright), against a live server.

Needs Chromium, as tests/test_preview_browser.py does (its ``browser`` fixture).
"""

import pytest
from playwright.sync_api import expect

from tests.test_preview_browser import browser  # noqa: F401 (a fixture)
from txmail.bulk.tokens import make_preferences_token
from txmail.suppression.models import Reason, Suppression

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page(browser, settings):  # noqa: F811 (the fixture imported above)
    settings.TXMAIL = {"TOPICS": {"bulletin": {"label": "The bulletin",
                                               "description": "News, once a month."}}}
    context = browser.new_context(viewport={"width": 1000, "height": 800})
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def test_a_topic_switched_off_in_the_browser_is_saved_and_shown(page, live_server):
    url = f"{live_server.url}/mail/preferences/{make_preferences_token('ann@example.com')}/"
    page.goto(url)
    switch = page.get_by_label("The bulletin")
    expect(switch).to_be_checked()
    switch.uncheck()
    page.get_by_role("button", name="Save").click()  # the form, with its CSRF token
    expect(page.get_by_role("status")).to_have_text("Your preferences are saved.")
    assert list(Suppression.objects.values_list("address", "topic", "reason")) == [
        ("ann@example.com", "bulletin", Reason.UNSUBSCRIBED)]
    page.goto(url)  # a fresh load shows the stored choice
    expect(page.get_by_label("The bulletin")).not_to_be_checked()
    page.get_by_label("The bulletin").check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_be_visible()
    assert not Suppression.objects.exists()
