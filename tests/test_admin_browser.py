"""The admin's delivery pages in headless Chromium (Playwright), against a live server.

Needs Chromium, as tests/test_preview_browser.py does (its ``browser`` fixture).
"""

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives
from django.test import Client
from django.utils import timezone

from tests.test_preview_browser import browser  # noqa: F401 (a fixture)
from txmail.delivery.models import Delivery, Status

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCRIPTED = ('<html><body><p class="hello">Hello Ada!</p>'
            "<script>document.body.dataset.pwned = 'script'</script>"
            "<img src=\"cid:nothing\" onerror=\"document.body.dataset.pwned = 'onerror'\">"
            "</body></html>")


@pytest.fixture
def admin_page(browser, live_server):  # noqa: F811 (the fixture imported above)
    user = get_user_model().objects.create_superuser("admin", "admin@example.com", "pw")
    client = Client()
    client.force_login(user)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "url": live_server.url,
                          "value": client.cookies[settings.SESSION_COOKIE_NAME].value}])
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def stored_row(**fields):
    email = EmailMultiAlternatives("Hello Ada", "Hello Ada! (text)", "shop@example.com",
                                   ["ada@example.com"])
    email.attach_alternative(SCRIPTED, "text/html")
    return Delivery.objects.create(
        mailer="default", from_email="shop@example.com", recipients=["ada@example.com"],
        subject="Hello Ada", message_id="<1@example.com>", status=Status.SENT, queued=True,
        raw=email.message().as_bytes(), **fields)


def test_the_frame_shows_the_html_and_runs_no_script(admin_page, live_server):
    errors: list[str] = []
    admin_page.on("pageerror", lambda exc: errors.append(str(exc)))
    row = stored_row()
    admin_page.goto(f"{live_server.url}/admin/txmail/delivery/{row.pk}/change/")
    frame = admin_page.frame_locator("iframe.tx-html")
    assert frame.locator("p.hello").inner_text() == "Hello Ada!"
    admin_page.wait_for_timeout(300)  # time for the script, or the img's onerror, to run
    assert frame.locator("body").get_attribute("data-pwned") is None
    assert admin_page.locator("pre.tx-text").inner_text().strip() == "Hello Ada! (text)"
    # The internals start folded.
    assert not admin_page.get_by_text("Claim token").is_visible()
    admin_page.locator("fieldset.tx-internals summary").click()
    assert admin_page.get_by_text("Claim token").is_visible()


LONG = "Your order has shipped and here is everything about it, word after word, " * 6


def test_long_subjects_keep_each_row_one_line_high(admin_page, live_server):
    now = timezone.now()
    Delivery.objects.bulk_create(
        Delivery(mailer="transactional", sent_via="backup", from_email="shop@example.com",
                 recipients=[f"someone.with.a.long.name{i}@example.com"],
                 subject="Hi" if i == 0 else f"{i} {LONG}", message_class="testapp.Hello",
                 status=Status.SENT, attempts=1, sent_at=now, message_id=f"<{i}@example.com>")
        for i in range(500))
    admin_page.goto(f"{live_server.url}/admin/txmail/delivery/?o=1")  # oldest first: "Hi"
    heights = admin_page.locator("#result_list tbody tr").evaluate_all(
        "rows => rows.map(r => r.getBoundingClientRect().height)")
    assert len(heights) == 100
    assert admin_page.locator("td.field-subject_cell").first.inner_text() == "Hi"
    one_line = heights[0]
    assert set(heights) == {one_line}, sorted(set(heights))
    # The whole subject is in the cell's tooltip.
    cell = admin_page.locator("td.field-subject_cell .tx-cell").nth(1)
    assert cell.get_attribute("title").endswith(LONG)
