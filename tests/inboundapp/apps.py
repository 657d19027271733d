from django.apps import AppConfig


class InboundAppConfig(AppConfig):
    name = "tests.inboundapp"
    label = "inboundapp"
    default_auto_field = "django.db.models.BigAutoField"
