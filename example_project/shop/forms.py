"""Django's password reset form, sending the shop's PasswordReset."""

from txmail.contrib.auth.forms import PasswordResetForm

from .emails import PasswordReset


class ShopPasswordResetForm(PasswordResetForm):
    message_class = PasswordReset
