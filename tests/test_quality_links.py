"""txmail.quality.links: each check flags a bad HTML and passes a good one."""

from types import SimpleNamespace

import pytest

from txmail.quality import links
from txmail.quality.findings import Severity

SITE = "https://shop.example.com"
GOOD = """<html lang="en"><body>
<a href="https://shop.example.com/orders/1">Your order</a>
<img src="https://cdn.shop.example.com/logo.png" alt="Acme">
<a href="mailto:support@shop.example.com?subject=Order%201&amp;body=Hello">Write to us</a>
<a href="tel:+441234567">Call us</a> <a href="#top">Top</a>
<p class="footer"><a href="https://shop.example.com/unsubscribe/abc">Unsubscribe</a></p>
</body></html>"""
HOSTS = ["shop.example.com", "*.shop.example.com"]


def codes(html, **kwargs):
    kwargs = {"site_url": SITE, "hosts": HOSTS, **kwargs}
    return [f.code for f in links.check_html(html, **kwargs)]


def test_good_html_has_no_findings():
    assert codes(GOOD) == []
    assert codes(GOOD, bulk=True) == []


@pytest.mark.parametrize("url", ["/orders/1", "orders/1", "//shop.example.com/x"[1:]])
def test_relative_urls(url):
    found = links.check_html(GOOD.replace("https://shop.example.com/orders/1", url),
                             site_url=SITE, hosts=HOSTS)
    assert [(f.code, f.severity) for f in found] == [("relative-url", Severity.ERROR)]
    assert codes(GOOD.replace("https://cdn.shop.example.com/logo.png", url)) == [
        "relative-url"]


def test_http_link_on_an_https_site():
    html = GOOD.replace("https://shop.example.com/orders/1", "http://shop.example.com/orders/1")
    assert codes(html) == ["http-url"]
    assert codes(html, site_url="http://localhost:8000", hosts=[]) == []


def test_hosts_outside_the_allowlist_are_errors():
    html = GOOD.replace("https://shop.example.com/orders/1", "https://staging.acme.dev/orders/1")
    found = links.check_html(html, site_url=SITE, hosts=HOSTS)
    assert [(f.code, f.severity) for f in found] == [("link-host", Severity.ERROR)]
    assert "'staging.acme.dev'" in found[0].message
    assert codes(html, hosts=[*HOSTS, "*.acme.dev"]) == []
    assert codes(html, hosts=[]) == []  # no allowlist: any host


def test_allowlist_defaults_to_the_site_host(settings):
    settings.TXMAIL = {"SITE_URL": SITE}
    html = GOOD.replace("https://shop.example.com/orders/1", "https://127.0.0.1:8000/orders/1")
    # The CDN subdomain isn't the site's host either.
    assert [f.where for f in links.check_html(GOOD)] == [
        'line 3: <img src="https://cdn.shop.example.com/logo.png">']
    assert [f.code for f in links.check_html(html)] == ["link-host", "link-host"]
    settings.TXMAIL = {"SITE_URL": SITE, "LINK_HOSTS": HOSTS}
    assert [f.code for f in links.check_html(html)] == ["link-host"]
    settings.TXMAIL = {}
    assert [f.code for f in links.check_html(html)] == []  # no site, no check


@pytest.mark.parametrize("mailto", [
    "mailto:support@", "mailto:", "mailto:support@shop.example.com?sbject=Hi",
    "mailto:support@shop.example.com?cc=not-an-address", "mailto:a@b.example?oops",
])
def test_malformed_mailto(mailto):
    html = GOOD.replace("mailto:support@shop.example.com?subject=Order%201&amp;body=Hello", mailto)
    assert codes(html) == ["mailto"]


def test_bulk_message_needs_a_visible_unsubscribe_link():
    no_link = GOOD.replace("/unsubscribe/abc\">Unsubscribe", "/account\">Your account")
    assert codes(no_link) == []
    found = links.check_html(no_link, site_url=SITE, hosts=HOSTS, bulk=True)
    assert [(f.code, f.severity) for f in found] == [("unsubscribe-link", Severity.ERROR)]
    hidden = GOOD.replace('<p class="footer">', '<p class="footer" style="display:none">')
    assert codes(hidden, bulk=True) == ["unsubscribe-hidden"]
    # The text or the href may say it.
    prefs = no_link.replace(">Your account<", ">Email preferences<")
    assert codes(prefs, bulk=True) == []


def test_check_reads_the_variant(settings):
    settings.TXMAIL = {"SITE_URL": SITE, "LINK_HOSTS": HOSTS}
    no_link = GOOD.replace("/unsubscribe/abc\">Unsubscribe", "/account\">Your account")
    bulk = SimpleNamespace(html=no_link, text="", kind="bulk", language="en")
    assert [f.code for f in links.check(bulk)] == ["unsubscribe-link"]
    assert list(links.check(SimpleNamespace(html=no_link, kind="transactional"))) == []


def test_the_variants_settings_win():
    staging = GOOD.replace("https://shop.example.com/orders/1", "https://staging.acme.dev/o/1")
    variant = SimpleNamespace(html=staging, kind="transactional",
                              settings={"SITE_URL": SITE, "LINK_HOSTS": HOSTS})
    assert [f.code for f in links.check(variant)] == ["link-host"]
    variant.settings = SimpleNamespace(SITE_URL=SITE, LINK_HOSTS=[*HOSTS, "*.acme.dev"])
    assert [f.code for f in links.check(variant)] == []


@pytest.mark.parametrize("footer", [
    '<p class="footer" style="background:#ffffff"><a href="https://shop.example.com/'
    'unsubscribe/abc" style="color:#ffffff">Unsubscribe</a></p>',  # white on white
    '<p class="footer" style="background:#ffffff"><a href="https://shop.example.com/'
    'unsubscribe/abc" style="color:#eeeeee">Unsubscribe</a></p>',  # 1.16:1
    '<p class="footer" style="background:#000044"><a href="https://shop.example.com/'
    'unsubscribe/abc">Unsubscribe</a></p>',  # link blue on navy
])
def test_an_invisible_unsubscribe_link_counts_as_hidden(footer):
    html = GOOD.replace(
        '<p class="footer"><a href="https://shop.example.com/unsubscribe/abc">Unsubscribe</a>'
        "</p>", footer)
    assert html != GOOD
    assert codes(html, bulk=True) == ["unsubscribe-hidden"]
    shown = footer.replace("#ffffff\">Unsub", "#4b5563\">Unsub").replace(
        "#eeeeee", "#4b5563").replace("#000044", "#ffffff")
    assert codes(GOOD.replace('<p class="footer"><a href="https://shop.example.com/'
                              'unsubscribe/abc">Unsubscribe</a></p>', shown), bulk=True) == []
