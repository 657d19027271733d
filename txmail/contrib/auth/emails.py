"""The password reset message: Django's reset link, made absolute, in a txmail message."""

import math
from typing import Any
from urllib.parse import urlsplit

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import PasswordResetTokenGenerator, default_token_generator
from django.urls import NoReverseMatch, reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from ...draft import DeliveryOptions
from ...exceptions import MessageConfigurationError
from ...message import Message
from ...sites import absolute, get_site_url

PREVIEW_TOKEN = "preview-token-not-valid"


class PasswordReset(Message):
    """A link to choose a new password, valid once and for PASSWORD_RESET_TIMEOUT.

    ``PasswordReset(user).send()`` works as written: the token, the uidb64 and
    the absolute ``password_reset_confirm`` URL are built here. A project's
    subclass sets ``template_name`` and ``mailer``; the default template is
    ``txmail/auth/password_reset`` (.mjml and .txt).
    """

    template_name = "txmail/auth/password_reset"
    # Django's own msgid ("Password reset on %(site_name)s"): translated already.
    subject = (
        "{% load i18n %}{% blocktranslate %}Password reset on {{ site_name }}"
        "{% endblocktranslate %}"
    )
    # The reset link works until it is used or expires: no stored copy of it.
    # Critical: sent to an address that unsubscribed from everything (never to
    # one that bounced or complained).
    delivery_options = DeliveryOptions(secret_body=True, critical=True)
    # Anything with make_token(user), as PasswordResetView's token_generator.
    token_generator: PasswordResetTokenGenerator = default_token_generator
    # The URL pattern of PasswordResetConfirmView (django.contrib.auth.urls names it so).
    reset_url_name = "password_reset_confirm"
    # None: txmail.sites.get_site_url() (TXMAIL["SITE_URL"], else django.contrib.sites).
    site_url: str | None = None
    # None: the current Site's name, else the host of the site URL.
    site_name: str | None = None

    def __init__(
        self, user: Any, *, token: str | None = None, site_url: str | None = None,
        **kwargs: Any,
    ) -> None:
        if kwargs.get("to") is None:
            kwargs["to"] = [getattr(user, user.get_email_field_name())]
        super().__init__(**kwargs)
        self.user = user
        self.token = token
        if site_url is not None:
            self.site_url = site_url

    # -- hooks -------------------------------------------------------------

    def get_token(self) -> str:
        """Return the reset token: the one given, else a new one for the user."""
        return self.token or self.token_generator.make_token(self.user)

    def get_uid(self) -> str:
        """Return the user's primary key as PasswordResetConfirmView expects it."""
        # The same encoding as Django's PasswordResetForm.save().
        pk = type(self.user)._meta.pk.value_to_string(self.user)
        return urlsafe_base64_encode(force_bytes(pk))

    def get_site_url(self) -> str:
        """Return the base URL links are made absolute with."""
        return (self.site_url or get_site_url()).rstrip("/")

    def get_site_name(self) -> str:
        if self.site_name:
            return self.site_name
        if apps.is_installed("django.contrib.sites") and not self.site_url:
            from django.contrib.sites.shortcuts import get_current_site

            return get_current_site(None).name
        return urlsplit(self.get_site_url()).hostname or ""

    def get_reset_url(self) -> str:
        """Return the absolute URL of the password reset confirmation page."""
        kwargs = {"uidb64": self.get_uid(), "token": self.get_token()}
        try:
            path = reverse(self.reset_url_name, kwargs=kwargs)
        except NoReverseMatch:
            raise MessageConfigurationError(
                f"{type(self).__name__} links to the URL named {self.reset_url_name!r} "
                "(with uidb64 and token), which the URLconf doesn't have. Add "
                "path('accounts/', include('django.contrib.auth.urls')) to your URLconf, or "
                "set reset_url_name to the name of your PasswordResetConfirmView's URL."
            ) from None
        return absolute(path, self.get_site_url())

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        # site_url/site_name: a project's base class may pass its brand's down.
        context.setdefault("site_url", self.get_site_url())
        context.setdefault("site_name", self.get_site_name())
        context.update(
            user=self.user,
            email=self.to[0] if self.to else "",
            reset_url=self.get_reset_url(),
            # Rounded up: "expires in 1 day" rather than "in 0 days".
            reset_days=math.ceil(settings.PASSWORD_RESET_TIMEOUT / 86400),
        )
        return context

    # -- preview -----------------------------------------------------------

    @classmethod
    def preview(cls, user: str | None = None, **params: Any) -> "PasswordReset":
        """A reset link for user ``?user=<pk>``, or for an unsaved sample user.

        The token is always a dummy: a real one would let whoever sees the
        preview (or the preview send) set that user's password, a superuser's
        included.
        """
        target = get_user_model()._default_manager.get(pk=user) if user else _sample_user()
        return cls(target, token=PREVIEW_TOKEN)


def _sample_user() -> Any:
    """Return an unsaved user with a name and an address, whatever the user model."""
    model = get_user_model()
    names = {f.name for f in model._meta.get_fields()}
    fields = {model.USERNAME_FIELD: "ada", model.get_email_field_name(): "ada@example.com"}
    fields.update({k: v for k, v in (("first_name", "Ada"), ("last_name", "Lovelace"))
                   if k in names})
    return model(**fields)
