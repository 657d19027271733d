"""The preview pages: index, one page per class variant, its files, send-a-test."""

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
)
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST, require_safe

from .. import outbox
from ..backends.describe import describe_mailer
from ..backends.mailbox import uses_mailbox
from ..message import Message
from . import languages, previews
from .display import display, part_download
from .lint import cid_findings
from .pages import (
    ASSETS,
    STATIC_DIR,
    download,
    error_page,
    get_class,
    log_exception,
    message_context,
    page,
)
from .security import CSP_SANDBOXED, may_preview, preview_view, secure_headers


def _query(request: HttpRequest) -> dict[str, str]:
    return {key: request.GET[key] for key in request.GET}


def _language(request: HttpRequest) -> str | None:
    code = request.GET.get("lang")
    return code if code in dict(languages.project_languages()) else None


def _variant(cls: type[Message], variant: str) -> None:
    if variant not in previews.variants(cls):
        raise Http404(f"{cls.__name__} has no preview variant {variant!r}.")


def _build(request: HttpRequest, name: str, variant: str, *, lint: bool = False
           ) -> previews.Preview | HttpResponse:
    """Return the preview of ``name``/``variant``, or the error page showing why not."""
    cls = get_class(name)
    _variant(cls, variant)
    try:
        return previews.make_preview(
            name, cls, variant, _query(request), _language(request), lint=lint
        )
    except Exception as exc:
        log_exception(exc)
        return error_page(request, exc, title=f"{name} · {variant}", name=name,
                          variant=variant)


@preview_view
@require_safe
def index(request: HttpRequest) -> HttpResponse:
    return page(request, "index.html", {"title": "Messages"})


@preview_view
@require_safe
def class_page(request: HttpRequest, name: str) -> HttpResponse:
    """Redirect to the class's first variant; explain how to add one if none."""
    cls = get_class(name)
    variants = previews.variants(cls)
    if variants:
        first = next(iter(variants))
        return redirect("txmail:preview-message", name, first)
    return page(request, "no_preview.html", {
        "title": name, "current": name, "cls": cls, "class_name": cls.__name__,
    })


@preview_view
@require_safe
def message_page(request: HttpRequest, name: str, variant: str) -> HttpResponse:
    preview = _build(request, name, variant, lint=True)
    if isinstance(preview, HttpResponse):
        return preview
    shown = display(preview.mime, preview.raw, bcc=list(preview.email.bcc))
    issues = preview.lint + cid_findings(shown.missing_cids)
    args = [name, variant]
    query = request.GET.urlencode()
    context = message_context(
        shown, issues,
        urls={
            "eml": reverse("txmail:preview-eml", args=args),
            "html": reverse("txmail:preview-html", args=args),
        },
        part_url=lambda i: reverse("txmail:preview-part", args=[*args, i]),
        query=f"?{query}" if query else "",
    )
    method = getattr(preview.cls, previews.variants(preview.cls)[variant])
    params, var_kw = previews.parameters(method)
    user_email = getattr(getattr(request, "user", None), "email", "") or ""
    context.update({
        "mode": "preview",
        "title": f"{shown.subject} · {name}",
        "current": name,
        "current_variant": variant,
        "name": name,
        "variant": variant,
        "variants": list(previews.variants(preview.cls)),
        "preview": preview,
        "info": [
            ("Class", f"{preview.cls.__module__}.{preview.cls.__qualname__}"),
            ("Preview", f"{method.__name__}()"),
            ("Mailer", preview.mailer),
            ("Provider", describe_mailer(preview.mailer)),
            ("Template", _short_origin(preview.rendered.template)),
            ("Language", preview.rendered.language or "—"),
            ("Rendering", "full pipeline" if preview.rendered.fallback_reason
             else "compiled once"),
        ],
        "language_note": _language_note(preview),
        "fallback_reason": preview.rendered.fallback_reason,
        "languages": _language_links(request, preview),
        "params": [
            {"name": p.name, "default": p.default, "value": request.GET.get(p.name, "")}
            for p in params
        ],
        "var_kw": var_kw,
        "extra_params": {k: v for k, v in _query(request).items()
                         if k != "lang" and k not in {p.name for p in params}},
        "lang": _language(request) or "",
        "send_url": reverse("txmail:preview-send", args=args)
        + (f"?{query}" if query else ""),
        "send_to": request.session.get("txmail_send_to", user_email)
        if hasattr(request, "session") else user_email,
        "sent_url": reverse("txmail:sent-list") if uses_mailbox() else "",
    })
    return page(request, "message.html", context)


def _short_origin(origin: str) -> str:
    """``/…/app/templates/shop/receipt.mjml`` → ``…/templates/shop/receipt.mjml``."""
    _, sep, tail = origin.rpartition("/templates/")
    return f"…{sep}{tail}" if sep else origin


def _language_note(preview: previews.Preview) -> str:
    wanted, used = preview.language, preview.rendered.language
    if wanted and used and wanted != used:
        return (f"{preview.cls.__name__}.get_language() chose {used!r} over the "
                f"requested {wanted!r}.")
    return ""


def _language_links(request: HttpRequest, preview: previews.Preview) -> dict[str, Any]:
    """The language switch: buttons for a few languages, a drop-down for more."""
    base = reverse("txmail:preview-message", args=[preview.name, preview.variant])
    current = _language(request) or preview.rendered.language
    options = languages.offered(preview.cls, _language(request), preview.rendered.language)
    links = []
    for code, label in options:
        query = {**_query(request), "lang": code}
        links.append({"code": code, "name": label, "url": f"{base}?{urlencode(query)}",
                      "active": code == current})
    return {
        # One language is nothing to switch between.
        "options": links if len(links) > 1 else [],
        "compact": len(links) > languages.MAX_BUTTONS,
        "action": base,
        # The drop-down's form keeps the other query parameters.
        "keep": {k: v for k, v in _query(request).items() if k != "lang"},
    }


@preview_view
@require_safe
def message_eml(request: HttpRequest, name: str, variant: str) -> HttpResponse:
    """The exact bytes ``send()`` would hand to the mailer (minus the envelope)."""
    preview = _build(request, name, variant)
    if isinstance(preview, HttpResponse):
        return preview
    return download(preview.raw, f"{name}-{variant}.eml", "message/rfc822")


@preview_view
@require_safe
def message_html(request: HttpRequest, name: str, variant: str) -> HttpResponse:
    """The HTML part on its own (cid images inlined), sandboxed: no scripts run."""
    preview = _build(request, name, variant)
    if isinstance(preview, HttpResponse):
        return preview
    shown = display(preview.mime, preview.raw)
    response = HttpResponse(shown.display_html or "", content_type="text/html")
    return secure_headers(response, CSP_SANDBOXED)


@preview_view
@require_safe
def message_part(request: HttpRequest, name: str, variant: str, index: int
                 ) -> HttpResponse:
    preview = _build(request, name, variant)
    if isinstance(preview, HttpResponse):
        return preview
    found = part_download(preview.mime, index)
    if found is None:
        raise Http404(f"The message has no part {index}.")
    return download(found[2], found[0], found[1])


@csrf_exempt  # the middleware would answer 403 before the access check reveals 404…
@preview_view
@require_POST
@csrf_protect  # …so CSRF is enforced here, once access is granted
def send_test(request: HttpRequest, name: str, variant: str) -> HttpResponse:
    """Send the previewed message to one address through the class's mailer."""
    cls = get_class(name)
    _variant(cls, variant)
    back = reverse("txmail:preview-message", args=[name, variant])
    query = request.GET.urlencode()
    back += f"?{query}" if query else ""
    address = request.POST.get("to", "").strip()
    try:
        validate_email(address)
    except ValidationError as exc:
        return _result(request, back, messages.ERROR,
                       f"Not sent: {address!r} is not an email address.", exc)

    try:
        preview = previews.make_preview(
            name, cls, variant, _query(request), _language(request), lint=False, to=address)
        # Rendered inside the rolled-back transaction, sent after it: the
        # delivery log row (and a mailer that queues in the database) must stay.
        sent = outbox.send_test(preview.draft, address, rendered=preview.rendered)
    except Exception as exc:
        log_exception(exc)
        return _result(request, back, messages.ERROR,
                       f"Not sent: {type(exc).__name__}: {exc}", exc)
    if hasattr(request, "session"):
        request.session["txmail_send_to"] = address
    if sent.status == "suppressed":
        return _result(request, back, messages.WARNING,
                       f"Not sent: {address} is on the suppression list "
                       f"({', '.join(sent.suppressed.values())}).")
    return _result(request, back, messages.SUCCESS,
                   f"Sent to {address} through mailer {preview.mailer!r} "
                   f"(Message-ID {sent.message_id}).")


def _result(request: HttpRequest, back: str, level: int, text: str,
            exc: BaseException | None = None) -> HttpResponse:
    """Redirect back with a flash message; without MessageMiddleware, show errors."""
    if hasattr(request, "_messages"):
        messages.add_message(request, level, text)
    elif exc is not None:
        return error_page(request, exc, title=text)
    return HttpResponseRedirect(back)


def asset(request: HttpRequest, filename: str) -> HttpResponse:
    """Serve the UI's stylesheet and script: works without collectstatic."""
    if not may_preview(request) or filename not in ASSETS:
        raise Http404("Not found.")
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    response = HttpResponse((STATIC_DIR / filename).read_bytes(),
                            content_type=f"{ASSETS[filename]}; charset=utf-8")
    # URLs carry a content hash (?v=…), so a long cache is safe.
    response["Cache-Control"] = "private, max-age=86400"
    return secure_headers(response)
