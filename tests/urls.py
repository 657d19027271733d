from django.urls import include, path

urlpatterns = [
    path("emails/", include("txmail.urls")),
    path("webhooks/", include("txmail.webhooks.urls")),
]
