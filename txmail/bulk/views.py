"""The unsubscribe endpoint (one-click POST, RFC 8058, a page for people); the preference centre.

``POST`` with the body ``List-Unsubscribe=One-Click`` records the opt-out:
mailbox providers send exactly that when the user clicks their "Unsubscribe"
button, with no cookies, login or CSRF token (RFC 8058 section 3.2), so the
signed token in the URL is the only credential. ``GET`` shows a confirmation
page and changes nothing: link scanners and prefetchers follow every link in
a message, and must not unsubscribe anyone. The page's button sends the same
POST. An address already unsubscribed from the topic gets the page that says
so, with a button to resubscribe: a POST with ``resubscribe=1``, which removes
the topic's entry only if unsubscribing made it (never a bounce, a complaint
or an entry added by hand). A token that doesn't verify gets the same 400 page whatever the address,
so the endpoint can't be used to learn which addresses exist.

The preference centre (``PreferencesView``) is a normal form: a GET lists the
topics (``preferences.topics()``) with the address's state, a POST (with
Django's CSRF token) records the opt-outs and opt-ins. Its signed link carries
the address only; a token that doesn't verify, an unsubscribe token included,
gets the 400 page and changes nothing.
"""

from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.generic import TemplateView

from ..suppression.check import matching
from ..suppression.models import Reason, Suppression
from . import preferences
from .tokens import read_preferences_token, read_token

ONE_CLICK = "One-Click"  # the value RFC 8058 section 3.1 requires


# No session or CSRF token comes with a mail provider's POST, and the person
# clicking is not logged in (LoginRequiredMiddleware would redirect them).
@method_decorator(login_not_required, name="dispatch")
@method_decorator(csrf_exempt, name="dispatch")
class UnsubscribeView(TemplateView):
    """Confirm (GET) and record (POST) an unsubscribe from one topic; undo it."""

    http_method_names = ["get", "post", "head", "options"]
    template_name = "txmail/bulk/unsubscribe.html"
    done_template_name = "txmail/bulk/unsubscribed.html"
    resubscribed_template_name = "txmail/bulk/resubscribed.html"
    invalid_template_name = "txmail/bulk/invalid.html"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        read = self.read(kwargs["token"])
        if read is None:
            return self.invalid()
        address, topic = read
        context = self.get_context_data(address=address, topic=topic)
        if context["unsubscribed"]:
            return self.page(self.done_template_name, context)
        return self.render_to_response(context)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        read = self.read(kwargs["token"])
        if read is None:
            return self.invalid()
        address, topic = read
        if request.POST.get("List-Unsubscribe") == ONE_CLICK:
            self.unsubscribe(address, topic)
            return self.page(self.done_template_name,
                             self.get_context_data(address=address, topic=topic))
        if request.POST.get("resubscribe") == "1":
            self.resubscribe(address, topic)
            return self.page(self.resubscribed_template_name,
                             self.get_context_data(address=address, topic=topic))
        return HttpResponse("Expected the body List-Unsubscribe=One-Click (RFC 8058).",
                            status=400, content_type="text/plain")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        """Add what the list says of the address: ``unsubscribed``, ``blocked``, ``topics``.

        ``unsubscribed``: it unsubscribed from this topic. ``blocked``: the
        reasons (in words) of the other entries that stop this topic's email to
        it, which resubscribing doesn't lift (a bounce, a complaint, by hand).
        ``topics``: every topic it unsubscribed from.
        """
        context = super().get_context_data(**kwargs)
        entries = list(Suppression.objects.filter(matching(context["address"])))
        topic = context["topic"]
        context["unsubscribed"] = any(e.topic == topic and e.reason == Reason.UNSUBSCRIBED
                                      for e in entries)
        context["blocked"] = [
            e.get_reason_display() if e.topic or e.reason != Reason.UNSUBSCRIBED
            else _("unsubscribed from everything")
            for e in entries if e.topic == "" or (e.topic == topic
                                                  and e.reason != Reason.UNSUBSCRIBED)]
        context["topics"] = sorted(e.topic for e in entries
                                   if e.topic and e.reason == Reason.UNSUBSCRIBED)
        context["preferences_url"] = preferences.preferences_path(context["address"])
        return context

    def page(self, template_name: str, context: dict[str, Any]) -> HttpResponse:
        return self.response_class(request=self.request, template=[template_name],
                                   context=context, using=self.template_engine)

    @staticmethod
    def read(token: str) -> tuple[str, str] | None:
        """``(address, topic)`` from a valid token, else None."""
        try:
            address, topic = read_token(token)
        except signing.BadSignature:
            return None
        # An empty topic would suppress every message to the address.
        return (address, topic) if topic else None

    def unsubscribe(self, address: str, topic: str) -> None:
        """Record the opt-out: a suppression entry for ``topic`` (idempotent).

        An entry the topic has for another reason (added by hand) is kept as it
        is: resubscribing must not remove it.
        """
        preferences.opt_out(address, topic, source="unsubscribe link")

    def resubscribe(self, address: str, topic: str) -> None:
        """Remove the opt-out from ``topic``: only an entry unsubscribing made."""
        preferences.opt_in(address, topic)

    def invalid(self) -> HttpResponse:
        return self.response_class(request=self.request, template=[self.invalid_template_name],
                                   context={}, using=self.template_engine, status=400)


# The person following the link is not logged in. Unlike the one-click
# endpoint this is a normal form: CSRF-protected even without the middleware.
@method_decorator(login_not_required, name="dispatch")
@method_decorator(csrf_protect, name="dispatch")
class PreferencesView(TemplateView):
    """List the topics an address receives (GET); record opt-outs and opt-ins (POST).

    The POST's ``topic`` fields are the topics to receive (the listed ones
    left out are opted out of); ``everything=1`` unsubscribes from everything
    but critical messages.
    """

    http_method_names = ["get", "post", "head", "options"]
    template_name = "txmail/bulk/preferences.html"
    invalid_template_name = "txmail/bulk/preferences_invalid.html"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        address = self.read(kwargs["token"])
        if address is None:
            return self.invalid()
        return self.render_to_response(self.get_context_data(address=address))

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        address = self.read(kwargs["token"])
        if address is None:
            return self.invalid()
        preferences.save(address, request.POST.getlist("topic"),
                         everything=request.POST.get("everything") == "1")
        return self.render_to_response(self.get_context_data(address=address, saved=True))

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        """Add ``topics`` (``preferences.Topic``), ``everything``, ``blocked``, ``critical``.

        ``everything``: the address unsubscribed from everything. ``blocked``:
        reasons (in words) no message reaches it, which no choice here lifts.
        ``critical``: the registry names of the classes always sent.
        """
        context = super().get_context_data(**kwargs)
        state = preferences.preferences_of(context["address"])
        context.update(address=state.address, topics=state.topics,
                       everything=state.everything, blocked=state.blocked,
                       critical=preferences.critical_classes())
        context.setdefault("saved", False)
        return context

    @staticmethod
    def read(token: str) -> str | None:
        """The address of a valid preferences token, else None."""
        try:
            return read_preferences_token(token)
        except signing.BadSignature:
            return None

    def invalid(self) -> HttpResponse:
        return self.response_class(request=self.request, template=[self.invalid_template_name],
                                   context={}, using=self.template_engine, status=400)
