"""Django's password reset form, queuing txmail's ``PasswordReset``.

    path("accounts/password_reset/", PasswordResetView.as_view(form_class=PasswordResetForm))

Subclass it to send your own class: ``message_class = shop.emails.PasswordReset``.

The message is queued (``enqueue()``), not sent in the request: a relay that is
down or answers 421 when the form is posted delays the mail (the outbox
retries it, with the class's ``delivery_options``) instead of losing it behind
a "check your inbox" page. The visitor waits for no SMTP server either, so the
answer's timing says nothing about whether the address has an account.
"""

import logging
from typing import Any

from django.contrib.auth import forms

from ...conf import txmail_settings
from .emails import PasswordReset

logger = logging.getLogger("txmail.contrib.auth")


class PasswordResetForm(forms.PasswordResetForm):
    """Sends ``message_class`` instead of Django's registration/ templates.

    Everything else is Django's: which users get a link (active, with a usable
    password) and the view's answer, the same whether the address has an
    account or not. The message is queued once the request's transaction
    commits (``ATOMIC_REQUESTS``: a rolled-back request sends nothing).
    """

    message_class: type[PasswordReset] = PasswordReset

    def get_message_class(self) -> type[PasswordReset]:
        return self.message_class

    def send_mail(
        self,
        subject_template_name: str,
        email_template_name: str,
        context: dict[str, Any],
        from_email: str | None,
        to_email: str,
        html_email_template_name: str | None = None,
    ) -> None:
        # TXMAIL["SITE_URL"] when set; else the domain Django's save() found
        # (domain_override, the current Site or the request's host).
        site_url = None
        if not txmail_settings.SITE_URL:
            site_url = f"{context['protocol']}://{context['domain']}"
        message = self.get_message_class()(
            context["user"], token=context["token"], site_url=site_url, to=[to_email],
            from_email=from_email,
        )
        if site_url is not None and not message.site_name:
            message.site_name = context["site_name"]
        try:
            # Queued, so the outbox retries through a relay outage; what can
            # still fail here is the message itself (a template, an address).
            message.enqueue()
        except Exception:
            # Django's rule: a failure must not tell the visitor whether the
            # address has an account, so it is logged, not raised.
            logger.exception("Failed to queue password reset email to %s", context["user"].pk)
