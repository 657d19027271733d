"""The delivery-options pages' settings blocks are what the system checks accept."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core import checks
from django.test import override_settings

HOW_TO = Path(__file__).resolve().parents[1] / "docs" / "how-to"
PYTHON = re.compile(r"^```python\n(.*?)^```$", re.M | re.S)
LOCMEM = {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}


def txmail_setting(page: str) -> dict:
    """Run the page's first block that sets TXMAIL and return it."""
    for block in PYTHON.findall((HOW_TO / page).read_text()):
        if re.search(r"^TXMAIL = \{", block, re.M):
            namespace: dict = {}
            exec(block, namespace)  # the page's own example
            return namespace["TXMAIL"]
    raise AssertionError(f"{page} shows no TXMAIL block")


def errors_with(txmail: dict) -> list[str]:
    # The test project has no site: bulk classes need SITE_URL (txmail.E050).
    mailers = {**settings.MAILERS, "ses": LOCMEM, "relay": LOCMEM}
    txmail = {"SITE_URL": "https://shop.example.com", **txmail}
    with override_settings(TXMAIL=txmail, MAILERS=mailers):
        return [f"{m.id}: {m.msg}" for m in checks.run_checks()
                if m.level >= checks.ERROR and (m.id or "").startswith("txmail.")]


@pytest.mark.parametrize("page", ["rate-limits.md", "retention.md", "preferences.md"])
def test_the_pages_txmail_setting_passes_the_checks(page):
    assert errors_with(txmail_setting(page)) == []


def test_a_wrong_rate_on_the_page_would_fail():
    # The test can fail: a rate that doesn't read is an error.
    assert any(e.startswith("txmail.E003") for e in errors_with({"RATE_LIMITS": {"ses": "14/x"}}))
