"""Who may open the preview UI, and the headers every preview response carries."""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache

from ..conf import txmail_settings
from ..installed import require_installed

# Email HTML is shown in a sandboxed srcdoc frame, which inherits this policy:
# no inline or remote scripts anywhere, remote images/fonts/styles allowed
# because real emails use them.
CSP = "; ".join([
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline' https:",
    "img-src 'self' data: https: http:",
    "font-src 'self' data: https:",
    "frame-src 'self' data: about:",
    "form-action 'self'",
    "base-uri 'none'",
    "frame-ancestors 'self'",
])
# A message's HTML opened on its own: a sandboxed document without scripts.
CSP_SANDBOXED = CSP + "; sandbox allow-popups allow-popups-to-escape-sandbox"


def preview_enabled() -> bool:
    # txmail_settings only ever gives None, True or False here (a string such as
    # "False" raises InvalidSetting instead of turning the UI on).
    enabled: bool | None = txmail_settings.PREVIEW_ENABLED
    return bool(settings.DEBUG) if enabled is None else enabled


def may_preview(request: HttpRequest) -> bool:
    """DEBUG: anyone (a developer's machine). Otherwise: authenticated staff only."""
    if not preview_enabled():
        return False
    if settings.DEBUG:
        return True
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated and user.is_staff)


def secure_headers(response: HttpResponse, csp: str = CSP) -> HttpResponse:
    response.headers["Content-Security-Policy"] = csp
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Robots-Tag", "noindex, nofollow")
    return response


def preview_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Guard a preview view: 404 unless allowed, never cached, CSP on the response.

    404 (not a login redirect) for anyone not allowed, so the UI's existence
    isn't revealed in production.
    """

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        require_installed()  # the UI's templates come with the app
        if not may_preview(request):
            raise Http404("Not found.")
        response = view(request, *args, **kwargs)
        if "Content-Security-Policy" not in response.headers:
            secure_headers(response)
        return response

    return never_cache(wrapped)
