"""Django's password reset form, sending txmail's PasswordReset message."""

import logging

from django.contrib.auth.forms import PasswordResetForm
from django.urls import reverse

from .emails import PasswordReset

logger = logging.getLogger(__name__)


class TxPasswordResetForm(PasswordResetForm):
    """Sends :class:`shop.emails.PasswordReset` instead of Django's templates."""

    def send_mail(
        self,
        subject_template_name,
        email_template_name,
        context,
        from_email,
        to_email,
        html_email_template_name=None,
    ):
        path = reverse(
            "password_reset_confirm",
            kwargs={"uidb64": context["uid"], "token": context["token"]},
        )
        reset_url = f"{context['protocol']}://{context['domain']}{path}"
        # to_email is the user's own address, which PasswordReset uses.
        message = PasswordReset(context["user"], reset_url, from_email=from_email)
        try:
            message.send()
        except Exception:
            # Like Django's form: a failure must not tell the visitor whether
            # the address has an account.
            logger.exception("Failed to send password reset email to %s", context["user"].pk)
