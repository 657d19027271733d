"""URLs of the preview UI and the dev mailbox: ``path("emails/", include("txmail.urls"))``.

Every page answers 404 unless previews are enabled (see ``txmail.preview``).
Without ``'txmail'`` in INSTALLED_APPS, one pattern answers every URL with the
fix, and reports it to the URL system checks (txmail.E005).
"""

from typing import Any

from django.core import checks
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path, re_path, register_converter

from . import installed
from .preview import sent_views, views


class MessageNameConverter:
    """``app_label.ClassName`` (or a dotted module path for classes outside apps)."""

    regex = r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


class EntryIdConverter:
    regex = r"\d{20}-[0-9a-f]{12}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(MessageNameConverter, "txmail_name")
register_converter(EntryIdConverter, "txmail_entry")

app_name = "txmail"
urlpatterns = [
    path("", views.index, name="preview-index"),
    path("_assets/<str:filename>", views.asset, name="preview-asset"),
    path("sent/", sent_views.sent_list, name="sent-list"),
    path("sent/clear/", sent_views.sent_clear, name="sent-clear"),
    path("sent/<txmail_entry:entry_id>/", sent_views.sent_message, name="sent-message"),
    path("sent/<txmail_entry:entry_id>/eml/", sent_views.sent_eml, name="sent-eml"),
    path("sent/<txmail_entry:entry_id>/html/", sent_views.sent_html, name="sent-html"),
    path("sent/<txmail_entry:entry_id>/parts/<int:index>/", sent_views.sent_part,
         name="sent-part"),
    path("<txmail_name:name>/", views.class_page, name="preview-class"),
    path("<txmail_name:name>/<slug:variant>/", views.message_page,
         name="preview-message"),
    path("<txmail_name:name>/<slug:variant>/eml/", views.message_eml,
         name="preview-eml"),
    path("<txmail_name:name>/<slug:variant>/html/", views.message_html,
         name="preview-html"),
    path("<txmail_name:name>/<slug:variant>/parts/<int:index>/", views.message_part,
         name="preview-part"),
    path("<txmail_name:name>/<slug:variant>/send/", views.send_test,
         name="preview-send"),
]


class NotInstalledPattern(URLPattern):
    """Every URL below the include: txmail isn't installed (txmail.E005)."""

    def check(self) -> list[checks.CheckMessage]:
        return [installed.error()]


def not_installed(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    installed.require_installed()
    raise AssertionError("unreachable: only routed while txmail isn't installed")


if not installed.installed():
    catch_all = re_path(r"", not_installed, name="not-installed")
    urlpatterns = [NotInstalledPattern(catch_all.pattern, not_installed, name="not-installed")]
