"""Building blocks shared by the preview and the Sent views: sidebar, pages, files."""

import hashlib
import re
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from django.apps import apps
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from ..conf import txmail_settings
from ..message import Message
from ..quality import Finding, Severity, caniemail, clients
from ..registry import message_classes
from . import previews
from .display import Display, human_size

STATIC_DIR = Path(__file__).resolve().parent.parent / "static" / "txmail"
ASSETS = {"preview.css": "text/css", "preview.js": "text/javascript"}


def asset_url(filename: str) -> str:
    """URL of a preview asset, versioned by content so browsers can cache it."""
    digest = hashlib.sha256((STATIC_DIR / filename).read_bytes()).hexdigest()[:12]
    return reverse("txmail:preview-asset", args=[filename]) + f"?v={digest}"


def description(cls: type[Message]) -> str:
    """First line of the class's own docstring (not an inherited one)."""
    doc = (cls.__dict__.get("__doc__") or "").strip()
    return doc.splitlines()[0].strip() if doc else ""


def catalogue() -> list[dict[str, Any]]:
    """Registered classes grouped by app, for the index and the sidebar."""
    groups: dict[str, dict[str, Any]] = {}
    for name, cls in message_classes().items():
        label = name.rpartition(".")[0]
        if label not in groups:
            try:
                verbose = str(apps.get_app_config(label).verbose_name)
            except LookupError:
                verbose = label
            groups[label] = {"label": label, "verbose_name": verbose, "classes": []}
        variants = [
            {"name": v, "url": reverse("txmail:preview-message", args=[name, v])}
            for v in previews.variants(cls)
        ]
        groups[label]["classes"].append({
            "name": name,
            "class_name": cls.__name__,
            "description": description(cls),
            "variants": variants,
            "url": reverse("txmail:preview-class", args=[name]),
            "mailer": cls.mailer or "",
            "template_name": cls.template_name or "",
            "module": cls.__module__,
        })
    return list(groups.values())


def page(request: HttpRequest, template: str, context: dict[str, Any],
         status: int = 200) -> HttpResponse:
    base = {
        "css_url": asset_url("preview.css"),
        "js_url": asset_url("preview.js"),
        "groups": catalogue(),
        "debug": settings.DEBUG,
    }
    return render(request, f"txmail/preview/{template}", {**base, **context},
                  status=status)


def error_page(request: HttpRequest, exc: BaseException, *, title: str,
               name: str | None = None, variant: str | None = None) -> HttpResponse:
    """Show an exception in the page (traceback only in DEBUG), status 500."""
    tb = "".join(traceback.format_exception(exc)) if settings.DEBUG else ""
    return page(request, "error.html", {
        "title": title,
        "current": name,
        "current_variant": variant,
        "error_type": f"{type(exc).__module__}.{type(exc).__qualname__}"
        if type(exc).__module__ != "builtins" else type(exc).__qualname__,
        "error": str(exc),
        "tried": getattr(exc, "tried_paths", None),
        "traceback": tb,
    }, status=500)


def log_exception(exc: BaseException) -> None:
    """Also print to stderr: the runserver console is where developers look."""
    traceback.print_exception(exc, file=sys.stderr)


# Types a browser could execute or render in the UI's origin if a page loaded
# the download as a subresource; those are served as opaque bytes (nosniff).
_OPAQUE = "application/octet-stream"
_SAFE_DOWNLOAD_TYPES = ("message/rfc822", "application/pdf", "image/png", "image/jpeg",
                        "image/gif", "image/webp", "text/plain", "text/csv")


def download(content: bytes, filename: str, content_type: str) -> HttpResponse:
    """An attachment download; anything scriptable goes out as opaque bytes."""
    if content_type.split(";")[0].strip().lower() not in _SAFE_DOWNLOAD_TYPES:
        content_type = _OPAQUE
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = content_disposition(filename)
    return response


# Not allowed in the quoted ASCII fallback: path separators (a browser that
# honours them would save outside the downloads folder), the quote and
# backslash of the quoted-string, controls and anything outside ASCII.
_UNSAFE_FALLBACK = re.compile(r'[^\x20-\x7e]|[/\\"]')


def content_disposition(filename: str) -> str:
    """``attachment`` with an ASCII ``filename`` and the exact UTF-8 ``filename*``.

    RFC 5987's ``filename*`` allows only attr-chars unencoded, so everything
    else, "/" included, is percent-encoded (``quote()``'s default keeps "/").
    Clients that don't read ``filename*`` (RFC 6266 section 4.3) use the
    fallback, with path separators, quotes and non-ASCII replaced by "_".
    """
    fallback = _UNSAFE_FALLBACK.sub("_", filename).strip(" .") or "download"
    encoded = quote(filename, safe="")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"


def get_class(name: str) -> type[Message]:
    try:
        return message_classes()[name]
    except KeyError:
        raise Http404(f"No message class is registered as {name!r}.") from None


def message_context(display: Display, issues: list[Finding], *, urls: dict[str, str],
                    part_url: Callable[[int], str], query: str = "") -> dict[str, Any]:
    """Context for message.html, the page shared by previews and sent messages."""
    parts: list[dict[str, Any]] = [
        {"part": p, "size": human_size(p.size),
         "url": part_url(p.index) + query}
        for p in display.parts
    ]
    return {
        "display": display,
        "issues": issues,
        "findings": findings_summary(issues),
        "parts": parts,
        "attachments": [p for p in parts if not p["part"].inline],
        "inline_parts": [p for p in parts if p["part"].inline],
        "size": human_size(display.size),
        "html_size": human_size(display.html_size),
        "urls": {key: url + query for key, url in urls.items()},
    }


def findings_summary(findings: list[Finding]) -> dict[str, Any]:
    """The findings fold's title, its client filter, the spam score and the data's date."""
    counts = {severity: sum(f.severity == severity for f in findings) for severity in Severity}
    # Shown above the list whatever the filter: the score is worth seeing when it's low too.
    spam = next((f for f in findings if f.code == "spam-score"), None)
    said = [f"{n} {severity.value}{'s' if n != 1 and severity != Severity.INFO else ''}"
            for severity, n in counts.items() if n]
    return {
        "errors": counts[Severity.ERROR],
        "summary": ", ".join(said),
        "clients": clients.chosen(tuple(txmail_settings.CLIENTS)),
        "spam": spam,
        "snapshot": caniemail.snapshot()["date"],
    }
