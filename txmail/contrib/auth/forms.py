"""Django's password reset form, sending txmail's ``PasswordReset``.

    path("accounts/password_reset/", PasswordResetView.as_view(form_class=PasswordResetForm))

Subclass it to send your own class: ``message_class = shop.emails.PasswordReset``.
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
    account or not.
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
            message.send()
        except Exception:
            # Django's rule: a failure must not tell the visitor whether the
            # address has an account, so it is logged, not raised.
            logger.exception("Failed to send password reset email to %s", context["user"].pk)
