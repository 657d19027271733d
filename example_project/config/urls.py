"""URLs: home page, the auth flows (password reset sends txmail's message),
the txmail previews and the admin."""

from importlib.util import find_spec

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from shop.forms import ShopPasswordResetForm
from shop.views import home, place_order, signup

urlpatterns = [
    path("", home, name="home"),
    path("signup/", signup, name="signup"),
    path("orders/new/", place_order, name="place-order"),
    # Before django.contrib.auth.urls so this view, with our form, wins.
    path(
        "accounts/password_reset/",
        auth_views.PasswordResetView.as_view(form_class=ShopPasswordResetForm),
        name="password_reset",
    ),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    # The newsletter's one-click unsubscribe links (RFC 8058): always on.
    path("email/", include("txmail.bulk.urls")),
]

# The preview UI is optional: the project keeps working without it.
if find_spec("txmail.urls") is not None:
    urlpatterns.append(path("emails/", include("txmail.urls")))

# Provider webhooks (delivered, bounced, complained ...) → the delivery log and
# the suppression list; needs django-anymail (txmail[anymail]).
if find_spec("anymail") is not None:
    urlpatterns.append(path("webhooks/", include("txmail.webhooks.urls")))
