from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("emails/", include("txmail.urls")),
    path("webhooks/", include("txmail.webhooks.urls")),
]
