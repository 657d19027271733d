"""The admin's Reschedule button, page and form in headless Chromium (Playwright)."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.utils import timezone

from tests.test_admin_browser import admin_page, stored_row  # noqa: F401 (fixtures)
from tests.test_preview_browser import browser  # noqa: F401
from txmail.delivery.models import Delivery, Status

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_scheduled_delivery_is_rescheduled_from_its_page(admin_page, live_server,  # noqa: F811
                                                           tmp_path):
    row = stored_row()
    soon = timezone.now() + timedelta(hours=1)
    Delivery.objects.filter(pk=row.pk).update(status=Status.SCHEDULED, send_at=soon,
                                              next_attempt_at=soon)
    admin_page.goto(f"{live_server.url}/admin/txmail/delivery/{row.pk}/change/")
    admin_page.screenshot(path=str(tmp_path / "page.png"))
    admin_page.get_by_role("button", name="Reschedule").click()
    admin_page.get_by_label("Send at").fill("2031-05-01T10:30")
    admin_page.screenshot(path=str(tmp_path / "reschedule.png"))
    admin_page.get_by_role("button", name="Reschedule").click()
    assert "1 message rescheduled for 2031-05-01 10:30" in admin_page.locator(
        "ul.messagelist").inner_text()
    row.refresh_from_db()
    assert row.status == Status.SCHEDULED
    assert row.send_at == datetime(2031, 5, 1, 10, 30, tzinfo=ZoneInfo(settings.TIME_ZONE))
