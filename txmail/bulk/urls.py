"""The unsubscribe endpoint: ``path("email/", include("txmail.bulk.urls"))``.

Always on (unlike the preview UI): links in sent newsletters must keep working.
"""

from django.urls import path

from .views import UnsubscribeView

app_name = "txmail_bulk"
urlpatterns = [
    path("unsubscribe/<str:token>/", UnsubscribeView.as_view(), name="unsubscribe"),
]
