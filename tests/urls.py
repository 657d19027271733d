from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from txmail.contrib.auth.forms import PasswordResetForm

urlpatterns = [
    path("emails/", include("txmail.urls")),
    # Django's own password reset flow, sending txmail.contrib.auth.PasswordReset.
    path(
        "accounts/password_reset/",
        auth_views.PasswordResetView.as_view(form_class=PasswordResetForm),
        name="password_reset",
    ),
    path("accounts/", include("django.contrib.auth.urls")),
    # The admin's registration/ templates link to it.
    path("admin/", admin.site.urls),
    path("webhooks/", include("txmail.webhooks.urls")),
    path("mail/", include("txmail.bulk.urls")),
]
