"""Absolute URLs: TXMAIL["SITE_URL"], django.contrib.sites, {% load txmail %}."""

import pytest
from django.conf import settings
from django.db import connection
from django.template import engines
from django.test import RequestFactory, override_settings

from tests.testapp.emails import Hello
from txmail import InvalidSetting, MessageConfigurationError
from txmail.quality import Variant, links
from txmail.sites import absolute, get_site_url

SITE = {"SITE_URL": "https://shop.example.com/"}


def render(source, **context):
    return engines["django"].from_string("{% load txmail %}" + source).render(context)


@override_settings(TXMAIL=SITE)
def test_tags_and_filter_make_urls_absolute():
    assert render("{% absurl 'password_reset_confirm' 'MQ' 'tok' %}") == (
        "https://shop.example.com/accounts/reset/MQ/tok/")
    assert render("{% absstatic 'shop/logo.png' %}") == (
        "https://shop.example.com/static/shop/logo.png")
    assert render("{{ p|absolute }}", p="/a?x=1&y=2") == (
        "https://shop.example.com/a?x=1&amp;y=2")
    assert render("{% absurl 'password_reset_done' as u %}<{{ u }}>") == (
        "<https://shop.example.com/accounts/password_reset/done/>")


@override_settings(TXMAIL=SITE)
def test_absolute_keeps_urls_that_have_a_scheme():
    for url, expected in [
        ("https://cdn.example.net/x.png", "https://cdn.example.net/x.png"),
        ("mailto:help@example.com", "mailto:help@example.com"),
        ("//cdn.example.net/x.png", "https://cdn.example.net/x.png"),
        ("help/", "https://shop.example.com/help/"),
    ]:
        assert absolute(url) == expected


@override_settings(STATIC_URL="https://cdn.example.net/static/", TXMAIL=SITE)
def test_static_on_a_cdn_stays_on_the_cdn():
    assert render("{% absstatic 'logo.png' %}") == "https://cdn.example.net/static/logo.png"


@pytest.mark.parametrize(("value", "reason"), [
    ("shop.example.com", "it has no scheme: use 'https://shop.example.com'"),
    ("https://example.com/shop", "paths come from reverse(), which already adds "
     "settings.FORCE_SCRIPT_NAME: use 'https://example.com'"),
])
def test_a_bad_site_url_says_what_to_write(value, reason):
    # The same words as `manage.py check` (txmail.E003), at the first read.
    with override_settings(TXMAIL={"SITE_URL": value}), pytest.raises(InvalidSetting) as caught:
        get_site_url()
    assert str(caught.value) == (
        "TXMAIL['SITE_URL'] must be the site's scheme and host only, e.g. "
        f"'https://shop.example.com', or None, not {value!r} ({reason}). Fix it in "
        "settings.TXMAIL.")


@pytest.fixture
def current_site():
    """django.contrib.sites installed, with its table and the Site of SITE_ID 1."""
    with override_settings(INSTALLED_APPS=["django.contrib.sites", *settings.INSTALLED_APPS],
                           SITE_ID=1):
        from django.contrib.sites.models import Site

        with connection.schema_editor() as editor:
            editor.create_model(Site)
        try:
            yield Site.objects.create(pk=1, domain="sites.example.org", name="Sites")
        finally:
            Site.objects.clear_cache()
            with connection.schema_editor() as editor:
                editor.delete_model(Site)
            # Installing the app registered Site with the admin (autodiscover);
            # the admin of later tests must not list an app that is gone.
            from django.contrib import admin

            if admin.site.is_registered(Site):
                admin.site.unregister(Site)


@pytest.mark.django_db(transaction=True)
def test_contrib_sites_is_the_fallback(current_site):
    assert get_site_url() == "https://sites.example.org"
    assert get_site_url(RequestFactory().get("/")) == "http://sites.example.org"
    with override_settings(TXMAIL=SITE):
        assert get_site_url() == "https://shop.example.com"


@pytest.mark.django_db(transaction=True)
def test_a_site_domain_with_a_path_says_what_to_fix(current_site):
    current_site.domain = "sites.example.org/shop"
    current_site.save()
    with pytest.raises(MessageConfigurationError) as caught:
        get_site_url()
    assert str(caught.value) == (
        "The current Site's domain 'sites.example.org/shop' (fix it in the admin's Sites, or "
        "set TXMAIL['SITE_URL']) must be the site's scheme and host only, e.g. "
        "'https://shop.example.com', not 'https://sites.example.org/shop' (paths come from "
        "reverse(), which already adds settings.FORCE_SCRIPT_NAME: use "
        "'https://sites.example.org').")


def test_a_request_is_the_last_resort():
    request = RequestFactory().get("/", secure=True, HTTP_HOST="localhost")
    assert get_site_url(request) == "https://localhost"


@override_settings(TXMAIL=SITE)
def test_templates_using_the_tags_stay_precompiled():
    class Absolute(Hello):
        template_name = "testapp/emails/absolute"

        def get_context_data(self, **kwargs):
            return super().get_context_data(uid="MQ", path="/orders/7/", **kwargs)

    rendered = Absolute().render()
    assert rendered.fallback_reason is None
    assert 'src="https://shop.example.com/static/testapp/logo.png"' in rendered.html
    assert 'href="https://shop.example.com/accounts/reset/MQ/t-1/"' in rendered.html
    assert 'href="https://shop.example.com/orders/7/"' in rendered.html
    assert [i.code for i in links.check(Variant(rendered.html))] == []


def test_lint_names_the_tags_for_relative_urls():
    [issue] = links.check(Variant('<html lang="en"><a href="/account/">x</a></html>'))
    assert (issue.code, issue.message) == ("relative-url", "Relative URL /account/ in <a href>.")
    assert issue.hint == (
        "Mail clients have no base URL: {% load txmail %} and write {% absurl 'name' %}, "
        "{% absstatic 'file' %} or {{ path|absolute }} (the base is TXMAIL['SITE_URL']).")
