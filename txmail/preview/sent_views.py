"""The Sent pages: messages stored by ``txmail.backends.mailbox.MailboxBackend``."""

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST, require_safe

from .. import quality
from ..backends.mailbox import Entry, configured_mailboxes, uses_mailbox
from ..conf import txmail_settings
from ..delivery.health import stalled
from .display import display, human_size, parse, part_download
from .lint import cid_findings
from .pages import download, message_context, page
from .security import CSP_SANDBOXED, preview_view, secure_headers


def _entry(entry_id: str) -> Entry:
    for mailbox in configured_mailboxes():
        entry = mailbox.get(entry_id)
        if entry is not None:
            return entry
    raise Http404(f"No stored message {entry_id!r}; it may have been cleared.")


def _raw(entry: Entry) -> bytes:
    try:
        return entry.raw()
    except OSError:  # pruned or cleared by another process since it was listed
        pass
    raise Http404(f"Stored message {entry.id!r} is gone; it may have been cleared.")


@preview_view
@require_safe
def sent_list(request: HttpRequest) -> HttpResponse:
    mailboxes = configured_mailboxes()
    entries = sorted(
        (entry for box in mailboxes for entry in box.entries()),
        key=lambda e: e.id, reverse=True,
    )
    rows = [
        {"entry": e, "size": human_size(int(e.meta.get("size", 0))),
         "url": reverse("txmail:sent-message", args=[e.id])}
        for e in entries
    ]
    return page(request, "sent_list.html", {
        "title": "Sent",
        "current": "sent",
        "rows": rows,
        "mailboxes": mailboxes,
        "configured": uses_mailbox(),
        "stalls": stalled(),  # queued mail no worker takes would never arrive here
    })


@csrf_exempt  # the middleware would answer 403 before the access check reveals 404…
@preview_view
@require_POST
@csrf_protect  # …so CSRF is enforced here, once access is granted
def sent_clear(request: HttpRequest) -> HttpResponseRedirect:
    for mailbox in configured_mailboxes():
        mailbox.clear()
    return HttpResponseRedirect(reverse("txmail:sent-list"))


@preview_view
@require_safe
def sent_message(request: HttpRequest, entry_id: str) -> HttpResponse:
    entry = _entry(entry_id)
    raw = _raw(entry)
    msg = parse(raw)
    meta = entry.meta
    shown = display(msg, raw, bcc=list(meta.get("bcc", [])))
    issues = cid_findings(shown.missing_cids)
    if shown.html is not None:
        issues = quality.run(quality.Variant(
            shown.html, shown.text or "", shown.subject or "",
            clients=tuple(txmail_settings.CLIENTS), raw=raw)) + issues
    context = message_context(
        shown, issues,
        urls={
            "eml": reverse("txmail:sent-eml", args=[entry_id]),
            "html": reverse("txmail:sent-html", args=[entry_id]),
        },
        part_url=lambda i: reverse("txmail:sent-part", args=[entry_id, i]),
    )
    context.update({
        "mode": "sent",
        "title": f"{shown.subject} · Sent",
        "current": "sent",
        "entry": entry,
        "info": [
            ("Mailer", meta.get("mailer") or "—"),
            ("Stored", entry.timestamp.strftime("%Y-%m-%d %H:%M:%S %Z")),
            ("Envelope", ", ".join(meta.get("recipients", []))),
            # The server's file path only on a developer's machine.
            *([("File", str(entry.directory / f"{entry.id}.eml"))] if settings.DEBUG else []),
        ],
    })
    return page(request, "message.html", context)


@preview_view
@require_safe
def sent_eml(request: HttpRequest, entry_id: str) -> HttpResponse:
    return download(_raw(_entry(entry_id)), f"{entry_id}.eml", "message/rfc822")


@preview_view
@require_safe
def sent_html(request: HttpRequest, entry_id: str) -> HttpResponse:
    raw = _raw(_entry(entry_id))
    shown = display(parse(raw), raw)
    response = HttpResponse(shown.display_html or "", content_type="text/html")
    return secure_headers(response, CSP_SANDBOXED)


@preview_view
@require_safe
def sent_part(request: HttpRequest, entry_id: str, index: int) -> HttpResponse:
    found = part_download(parse(_raw(_entry(entry_id))), index)
    if found is None:
        raise Http404(f"The message has no part {index}.")
    return download(found[2], found[0], found[1])
