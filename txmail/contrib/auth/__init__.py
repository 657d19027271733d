"""Password reset, built in.

    from txmail.contrib.auth import PasswordReset

    PasswordReset(user).send()

``PasswordReset`` builds the reset link itself (Django's token generator, the
uidb64 and the ``password_reset_confirm`` URL made absolute with
``txmail.sites``) and ships a default template. Subclass it to set your own
``template_name`` and ``mailer``; ``txmail.contrib.auth.forms.PasswordResetForm``
plugs it into Django's ``PasswordResetView``.
"""

from .emails import PasswordReset

__all__ = ["PasswordReset"]
