"""Unsubscribe and preference pages: ``path("email/", include("txmail.bulk.urls"))``.

Always on (unlike the preview UI): links in sent newsletters must keep working.
"""

from django.urls import path

from .views import PreferencesView, UnsubscribeView

app_name = "txmail_bulk"
urlpatterns = [
    path("unsubscribe/<str:token>/", UnsubscribeView.as_view(), name="unsubscribe"),
    path("preferences/<str:token>/", PreferencesView.as_view(), name="preferences"),
]
