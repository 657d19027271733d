from django.apps import AppConfig


class SchedAppConfig(AppConfig):
    name = "tests.schedapp"
    label = "schedapp"
    default_auto_field = "django.db.models.BigAutoField"
