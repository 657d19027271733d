from django.apps import AppConfig


class TxmailConfig(AppConfig):
    name = "txmail"
    verbose_name = "txmail"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
        from .interceptors import check_interceptors  # noqa: F401  (registers it)
        from .registry import autodiscover

        autodiscover()
