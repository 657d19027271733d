"""Absolute URLs in email templates: ``{% load txmail %}``.

    <a href="{% absurl 'order-detail' order.pk %}">…</a>
    <img src="{% absstatic 'shop/logo.png' %}" alt="…">
    <a href="{{ article.path|absolute }}">…</a>
    <a href="{% preferences_url email %}">Email preferences</a>

The base is ``txmail.sites.get_site_url()``: ``TXMAIL["SITE_URL"]``, else
``django.contrib.sites``. Like ``{% url %}``, ``absurl`` takes positional or
keyword arguments and ``as name``. ``preferences_url`` is the signed link to an
address's preference centre (``txmail.bulk.preferences``; bulk messages have
``{{ preferences_url }}`` already).
"""

from django import template

from ..bulk.preferences import preferences_url as signed_preferences_url
from ..sites import absolute as absolute_url
from ..sites import absolute_reverse, absolute_static

register = template.Library()


@register.simple_tag
def absurl(viewname: str, *args: object, **kwargs: object) -> str:
    """``{% absurl 'name' arg %}``: ``{% url %}`` with the site's scheme and host."""
    return absolute_reverse(viewname, *args, **kwargs)


@register.simple_tag
def absstatic(path: str) -> str:
    """``{% absstatic 'x.png' %}``: ``{% static %}`` made absolute."""
    return absolute_static(path)


@register.filter
def absolute(url: object) -> str:
    """``{{ path|absolute }}``: a path or relative URL made absolute."""
    return absolute_url(str(url)) if url not in (None, "") else ""


@register.simple_tag
def preferences_url(address: str) -> str:
    """``{% preferences_url email %}``: the signed link to the address's preference centre."""
    return signed_preferences_url(str(address))
