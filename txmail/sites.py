"""The site's base URL, and absolute URLs built from it.

Mail clients have no base URL, so every link and image in an email must be
absolute. The base comes from one place: ``TXMAIL["SITE_URL"]``, else the
current ``Site`` of ``django.contrib.sites`` when it is installed. A caller
holding a request (the password reset form) may pass it as the last resort,
as Django's own ``PasswordResetView`` does.
"""

from urllib.parse import urljoin, urlsplit

from django.apps import apps
from django.http import HttpRequest
from django.templatetags.static import static
from django.urls import reverse

from .conf import txmail_settings
from .exceptions import MessageConfigurationError
from .kinds import site_url_problem


def check_site_url(value: str, where: str = "TXMAIL['SITE_URL']") -> str:
    """Return ``value`` without a trailing slash, or raise if it isn't a bare origin."""
    problem = site_url_problem(str(value))
    if problem:
        raise MessageConfigurationError(
            f"{where} must be the site's scheme and host only, e.g. "
            f"'https://shop.example.com', not {str(value)!r} ({problem})."
        )
    parts = urlsplit(str(value))
    return f"{parts.scheme}://{parts.netloc}"


def get_site_url(request: HttpRequest | None = None) -> str:
    """Return the site's base URL (``scheme://host``) that emails link to."""
    configured = txmail_settings.SITE_URL  # checked by its Kind (txmail.E003) when read
    if configured:
        return check_site_url(configured)
    if apps.is_installed("django.contrib.sites"):
        from django.contrib.sites.shortcuts import get_current_site

        # A Site has no scheme: the request's when there is one (as Django's
        # PasswordResetView does), else https, which a site worth emailing uses.
        scheme = request.scheme if request is not None else "https"
        domain = get_current_site(request).domain
        return check_site_url(
            f"{scheme}://{domain}",
            f"The current Site's domain {domain!r} (fix it in the admin's Sites, or set "
            "TXMAIL['SITE_URL'])")
    if request is not None:
        return request.build_absolute_uri("/").rstrip("/")
    raise MessageConfigurationError(
        "txmail can't make URLs in emails absolute: no base URL is configured. Set "
        "TXMAIL['SITE_URL'] = 'https://your.domain' (or install django.contrib.sites)."
    )


def absolute(url: str, base: str | None = None) -> str:
    """Return ``url`` made absolute against ``base`` (default: ``get_site_url()``).

    URLs that already have a scheme (``https:``, ``mailto:``, ``tel:``) are
    returned as they are; ``//cdn…`` gets the base's scheme.
    """
    url = str(url)
    if urlsplit(url).scheme:
        return url
    return urljoin((base or get_site_url()) + "/", url)


def absolute_reverse(viewname: str, *args: object, **kwargs: object) -> str:
    """Return ``reverse(viewname, args, kwargs)`` as an absolute URL."""
    return absolute(reverse(viewname, args=args or None, kwargs=kwargs or None))


def absolute_static(path: str) -> str:
    """Return the URL of static file ``path`` as an absolute URL (a CDN's stays)."""
    return absolute(static(path))
