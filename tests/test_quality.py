"""The quality checks over rendered messages: the runner, the basic checks, client support."""

from django.core import checks
from django.test import override_settings

from tests.testapp.quality_emails import Columns, Flexbox
from txmail.quality import (
    CHECKS,
    Finding,
    Severity,
    Variant,
    at_least,
    caniemail,
    compat,
    for_clients,
    run,
    scan,
)
from txmail.quality.clients import resolve


def codes(findings):
    return [f.code for f in findings]


def rendered_variant(cls, clients=("gmail", "apple-mail", "outlook-windows", "yahoo")):
    rendered = cls.preview().render()
    return Variant(rendered.html, rendered.text, rendered.subject, message=cls.__name__,
                   clients=clients)


# -- the runner ----------------------------------------------------------------------------


def test_the_registered_checks_are_the_modules_named_in_checks():
    assert CHECKS == ("compat", "accessibility", "links", "clip", "spam")


def test_each_finding_is_reported_once_by_the_check_owning_its_code():
    html = '<html><body><p>Hello</p><img src="/logo.png"></body></html>'
    found = run(Variant(html, clients=("gmail",)), skip=("spam",))
    assert sorted(c for c in codes(found) if not c.startswith("html-partial")) == [
        "html-lang", "img-alt", "relative-url"]
    assert [f.message for f in found if f.code == "relative-url"] == [
        "Relative URL /logo.png in <img src>."]


def test_skip_leaves_a_check_out():
    html = '<html lang="en"><body><p>Hello</p></body></html>'
    assert "spam-score" in codes(run(Variant(html, text="Hello")))
    assert "spam-score" not in codes(run(Variant(html, text="Hello"), skip=("spam",)))


def test_run_orders_errors_first_and_a_broken_check_becomes_a_finding():
    def broken(variant):
        raise ValueError("boom")

    def two(variant):
        return [Finding("b", "info", severity=Severity.INFO), Finding("a", "error",
                                                                       severity=Severity.ERROR)]

    found = run(Variant("<html lang='en'></html>"), checks=[("two", two), ("broken", broken)])
    assert codes(found) == ["a", "b", "check-failed"]
    assert found[2].message == "The 'broken' check failed: ValueError('boom')"


def test_severity_and_client_filters():
    found = [Finding("e", "", severity=Severity.ERROR), Finding("w", "", clients=("yahoo",)),
             Finding("i", "", severity=Severity.INFO, clients=("gmail",))]
    assert codes(at_least(found, "warning")) == ["e", "w"]
    assert codes(at_least(found, Severity.ERROR)) == ["e"]
    assert codes(for_clients(found, ["gmail"])) == ["e", "i"]


# -- what every client needs ---------------------------------------------------------------


def test_alt_text_language_and_absolute_urls_keep_their_codes_with_severities():
    html = '<html><img src="/logo.png"><a href="https://x.example/">x</a></html>'
    found = {f.code: f for f in run(Variant(html, clients=()), skip=("spam",))}
    assert found["relative-url"].severity == Severity.ERROR
    assert found["relative-url"].message == "Relative URL /logo.png in <img src>."
    assert found["img-alt"].severity == Severity.WARNING
    assert found["html-lang"].severity == Severity.WARNING
    assert "gmail-clip" not in found


def test_gmail_clip_names_the_projects_gmail_clients():
    html = '<html lang="en"><p>' + "x" * (103 * 1024) + "</p></html>"
    [clip] = [f for f in run(Variant(html, clients=("gmail-android", "yahoo")), skip=("spam",))
              if f.code == "gmail-clip"]
    assert clip.clients == ("gmail-android",)
    assert "over Gmail's 102 KB" in clip.message


# -- client support ----------------------------------------------------------------------


def test_flexbox_is_a_warning_naming_the_clients_without_it():
    found = run(rendered_variant(Flexbox))
    [flex] = [f for f in found if f.code == "css-unsupported" and "display:flex" in f.message]
    assert flex.severity == Severity.WARNING
    assert flex.clients == ("outlook-windows",)
    assert "is not supported in Outlook for Windows." in flex.message
    assert "https://www.caniemail.com/features/css-display-flex/" in flex.hint
    [dark] = [f for f in found if "prefers-color-scheme" in f.message]
    assert set(dark.clients) >= {"gmail", "outlook-windows"}
    # The same message judged for Apple Mail only: nothing unsupported.
    apple = run(rendered_variant(Flexbox, clients=("apple-mail",)))
    assert "css-unsupported" not in codes(apple)
    assert "relative-url" in codes(apple)


def test_partial_support_is_info_with_caniemails_note():
    html = '<html lang="en"><body><p style="display:flex">x</p></body></html>'
    [partial] = [f for f in compat.findings(html, [resolve("gmail")])
                 if f.code == "css-partial" and "display:flex" in f.message]
    assert partial.severity == Severity.INFO
    assert "Gmail (iOS, Android): Not supported with non Google accounts." in partial.message


def test_unknown_features_and_vendor_properties_are_not_reported():
    html = '<html lang="en"><p style="mso-line-height-rule:exactly;-webkit-x:1">x</p></html>'
    assert [u.slug for u in scan.uses(html) if u.slug.startswith("css-")] == []


def test_what_sits_in_conditional_comments_is_not_read():
    html = '<html lang="en"><!--[if mso]><p style="display:flex">x</p><![endif]--></html>'
    assert "css-display-flex" not in [u.slug for u in scan.uses(html)]


def test_mjml_boilerplate_is_not_reported_and_outlook_only_gaps_are_one_info():
    variant = rendered_variant(Columns)
    assert "mj-column-per-50" in variant.html and "<!--[if mso" in variant.html
    found = run(variant)
    assert at_least(found, "warning") == [], [f.message for f in at_least(found, "warning")]
    [degrades] = [f for f in found if f.code == "mjml-degrades"]
    assert degrades.severity == Severity.INFO
    assert degrades.clients == ("outlook-windows",)
    assert "border-radius" in degrades.message
    # Without the MJML rule, the same HTML is judged feature by feature.
    plain = variant.html.replace("mj-column-", "col-").replace("#outlook a", "#x a")
    assert "mjml-degrades" not in codes(run(Variant(plain, clients=variant.clients)))


def test_the_snapshot_is_dated_and_ships_its_licence():
    data = caniemail.snapshot()
    assert data["date"] == "2026-06-29" and len(data["commit"]) == 40
    assert len(data["features"]) > 300
    licence = caniemail.SNAPSHOT.with_name("caniemail-LICENSE.txt").read_text()
    assert "MIT License" in licence and "Rémi Parmentier" in licence


# -- TXMAIL["CLIENTS"] ---------------------------------------------------------------------


@override_settings(TXMAIL={"CLIENTS": ["gmail", "outlok-windows", "thunderbird",
                                       "gmail.android"]})
def test_an_unknown_client_is_a_warning_with_the_closest_name():
    found = [m for m in checks.run_checks() if m.id == "txmail.W080"]
    assert len(found) == 1
    assert found[0].msg.startswith(
        "TXMAIL['CLIENTS'] names an unknown email client 'outlok-windows'. Did you mean "
        "'outlook-windows'?")


def test_caniemail_families_and_keys_are_clients_too():
    assert resolve("thunderbird").keys == ("thunderbird.macos", "thunderbird.windows")
    assert resolve("gmail.android").label == "Gmail (Android)"
    assert resolve("new-outlook").keys == ("outlook.outlook-com",)
    assert resolve("hotmail") is None


@override_settings(TXMAIL={"CLIENTS": "gmail"})
def test_clients_must_be_a_list():
    [bad] = [m for m in checks.run_checks() if m.id == "txmail.E003"]
    assert "TXMAIL['CLIENTS'] must be a list or tuple of non-empty strings" in bad.msg
