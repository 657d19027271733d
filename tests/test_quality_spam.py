"""txmail.quality.spam: SpamAssassin's local rules score each message.

Needs Debian's ``spamassassin`` package; ./tests/run installs it and sets
TXMAIL_REQUIRE_SPAMASSASSIN=1, so there a missing SpamAssassin fails these tests
instead of skipping them.
"""

import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.test_example_project import EXAMPLE, STRICT_MANAGE
from txmail.quality import spam
from txmail.quality.findings import Severity

REPORT = """\
Content analysis details:   (0.7 points, 5.0 required)

 pts rule name              description
---- ---------------------- --------------------------------------------------
-0.0 NO_RECEIVED            Informational: message has no Received headers
 0.0 HTML_MESSAGE           BODY: HTML included in message
 0.7 HTML_FONT_LOW_CONTRAST BODY: HTML font color similar or identical to
                            background

"""
PAGE = """<html lang="en"><body style="background-color:#ffffff">
<p style="color:#111827">Your order 1042 has shipped. Track it on our site.</p>
{extra}</body></html>"""
# White on near-white: SpamAssassin's HTML_FONT_LOW_CONTRAST, 0.7 points.
LOW_CONTRAST = '<div style="color:#ffffff;background-color:#fafafa">Hidden words</div>'
TEXT = "Your order 1042 has shipped. Track it on our site."


@pytest.fixture
def spamassassin():
    if spam.spamassassin() is None:
        if os.environ.get("TXMAIL_REQUIRE_SPAMASSASSIN"):
            pytest.fail("TXMAIL_REQUIRE_SPAMASSASSIN is set but spamassassin isn't on PATH: "
                        "install Debian's 'spamassassin' package.", pytrace=False)
        pytest.skip("spamassassin isn't installed (apt-get install spamassassin)")


def test_the_report_is_read_with_every_rule():
    report = spam.parse_report(REPORT, 1.25)
    assert (report.score, report.required, report.seconds) == (0.7, 5.0, 1.25)
    assert [(r.name, r.points) for r in report.rules] == [
        ("NO_RECEIVED", 0.0), ("HTML_MESSAGE", 0.0), ("HTML_FONT_LOW_CONTRAST", 0.7)]
    assert report.rules[2].description == (
        "BODY: HTML font color similar or identical to background")
    assert [r.name for r in report.hits()] == ["HTML_FONT_LOW_CONTRAST"]
    assert spam.parse_report("no report here") is None


def test_without_spamassassin_one_info_finding_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    [finding] = spam.check(SimpleNamespace(html=PAGE, text=TEXT, subject="Shipped"))
    assert (finding.code, finding.severity) == ("spam-score", Severity.INFO)
    assert "apt-get install spamassassin" in finding.hint


def test_low_contrast_text_scores_over_the_threshold(spamassassin):
    bad = SimpleNamespace(html=PAGE.format(extra=LOW_CONTRAST), text=TEXT, subject="Shipped")
    [finding] = spam.check(bad)
    assert (finding.code, finding.severity) == ("spam-score", Severity.WARNING)
    assert "HTML_FONT_LOW_CONTRAST (+0.7: BODY: HTML font color similar" in finding.message
    good = SimpleNamespace(html=PAGE.format(extra=""), text=TEXT, subject="Shipped")
    [finding] = spam.check(good)
    assert finding.severity == Severity.INFO, finding.message
    assert "HTML_FONT_LOW_CONTRAST" not in finding.message


def test_threshold_setting(spamassassin, settings):
    raw = spam.build_mime(PAGE.format(extra=LOW_CONTRAST), TEXT, "Shipped")
    settings.TXMAIL = {"SPAM_THRESHOLD": 1.0}
    assert spam.check_message(raw)[0].severity == Severity.INFO
    settings.TXMAIL = {"SPAM_THRESHOLD": 0.5}
    assert spam.check_message(raw)[0].severity == Severity.WARNING


def test_results_are_kept_per_content(spamassassin):
    html = PAGE.format(extra=f"<p>{time.time()}</p>")  # not scored before
    first = spam.score(spam.build_mime(html, TEXT, "Shipped"))
    assert first.seconds > 0.05  # a real run
    started = time.monotonic()
    # A new render: another Date and Message-ID, the same content.
    again = spam.score(spam.build_mime(html, TEXT, "Shipped"))
    assert again is first and time.monotonic() - started < 0.05
    other = spam.score(spam.build_mime(html, TEXT, "Shipped today"))
    assert other is not first


# Renders every preview variant of every example message, as the preview does,
# and writes each message's bytes to a file in $OUT.
DUMP = """
import os
from pathlib import Path
from txmail.preview import previews
from txmail.registry import message_classes
out = Path(os.environ["OUT"])
for name, cls in message_classes().items():
    for variant in previews.variants(cls):
        preview = previews.make_preview(name, cls, variant, {}, None, lint=False)
        (out / f"{name}-{variant}.eml").write_bytes(preview.raw)
"""


def test_every_example_message_scores_at_most_half_a_point(spamassassin, tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", STRICT_MANAGE, "shell", "-c", DUMP], cwd=EXAMPLE,
        capture_output=True, text=True, timeout=300,
        env={k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
        | {"OUT": str(tmp_path)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    messages = sorted(tmp_path.glob("*.eml"))
    assert len(messages) >= 8, [m.name for m in messages]
    scores = {}
    for path in messages:
        report = spam.score(Path(path).read_bytes())
        scores[path.stem] = (report.score, [f"{r.name} {r.points:+g}" for r in report.hits()])
    over = {name: found for name, found in scores.items() if found[0] > 0.5}
    assert not over, over


def test_the_variants_threshold_wins(spamassassin):
    bad = SimpleNamespace(html=PAGE.format(extra=LOW_CONTRAST), text=TEXT, subject="Shipped",
                          settings={"SPAM_THRESHOLD": 1.0})
    assert [f.severity for f in spam.check(bad)] == [Severity.INFO]


def test_mjml_preheader_is_hidden_without_white_text():
    from txmail.rendering.markup import mjml_to_html

    html = mjml_to_html(
        "<mjml><mj-head><mj-preview>Your order shipped</mj-preview></mj-head><mj-body>"
        "<mj-section><mj-column><mj-text>Hi</mj-text></mj-column></mj-section></mj-body></mjml>",
        origin="test", include_loader=lambda path: "")
    preheader = html.split("Your order shipped")[0].rsplit("<div", 1)[1]
    assert "color" not in preheader
    assert "display:none" in preheader and "mso-hide:all" in preheader


@pytest.mark.django_db
def test_the_preview_scores_the_message_as_sent_and_shows_the_score(spamassassin, client,
                                                                      settings):
    from tests.testapp.quality_emails import Columns, registered
    from txmail.preview import previews

    settings.DEBUG = True
    settings.TXMAIL = {"PREVIEW_SPAM_SCORE": True}
    spam._cache.clear()  # another test in this process may have scored the rebuilt parts
    with registered():
        page = client.get("/emails/testapp.Columns/default/").content.decode()
        sent = previews.make_preview("testapp.Columns", Columns, "default", {}, None,
                                     lint=False)
    # The bytes scored are the message's (its From, headers, MIME), not parts rebuilt.
    assert spam.content_key(sent.raw) in spam._cache
    assert spam.content_key(spam.build_mime(sent.rendered.html, sent.rendered.text,
                                            sent.rendered.subject)) not in spam._cache
    shown = page.split('<p class="spam-score severity-info">')[1].split("</p>")[0]
    assert "SpamAssassin scores this 0" in shown and "local rules only" in shown
    assert page.count("SpamAssassin scores this") == 1  # above the list, not in it too


@pytest.mark.django_db
def test_the_preview_scores_after_its_transaction_ends(spamassassin, client, settings,
                                                       monkeypatch):
    from django.db import connection

    from tests.testapp.quality_emails import registered

    settings.DEBUG = True
    settings.TXMAIL = {"PREVIEW_SPAM_SCORE": True}
    spam._cache.clear()
    outside = len(connection.atomic_blocks)  # the test's own transaction
    depths = []
    run = subprocess.run

    def recording_run(*args, **kwargs):
        depths.append(len(connection.atomic_blocks))
        return run(*args, **kwargs)

    monkeypatch.setattr(subprocess, "run", recording_run)
    with registered():
        page = client.get("/emails/testapp.Columns/default/").content.decode()
    assert "SpamAssassin scores this" in page
    assert depths == [outside]  # the preview's rolled-back transaction had ended


@pytest.mark.django_db
def test_the_preview_shows_no_score_when_the_setting_is_off(spamassassin, client, settings):
    from tests.testapp.quality_emails import registered

    settings.DEBUG = True
    settings.TXMAIL = {"PREVIEW_SPAM_SCORE": False}
    spam._cache.clear()
    with registered():
        page = client.get("/emails/testapp.Columns/default/").content.decode()
    assert "findings" in page
    assert "SpamAssassin" not in page and "spam-score" not in page
    assert spam._cache == {}  # not scored at all
