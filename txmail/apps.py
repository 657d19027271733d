from django.apps import AppConfig


class TxmailConfig(AppConfig):
    name = "txmail"
    verbose_name = "txmail"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
        from .inbound import checks as inbound_checks  # noqa: F401  (registers them)
        from .inbound.mailboxes import autodiscover as discover_mailboxes
        from .interceptors import check_interceptors  # noqa: F401  (registers it)
        from .registry import autodiscover

        autodiscover()
        discover_mailboxes()
        connect_anymail()
        # The task modules, so a worker knows the tasks from its start: Celery
        # discards a task whose module no import has registered yet.
        from .delivery import queue  # noqa: F401
        from .inbound import process  # noqa: F401
        connect_last_check()
        connect_shutdown()
        connect_erasure()


def connect_last_check() -> None:
    """Let the delivery layer find a row's class for its last check (``still_wanted()``)."""
    from .delivery import deadline
    from .registry import get_message_class

    deadline.use(get_message_class)


def connect_erasure() -> None:
    """``erase(address)`` deletes the inbound mail that names it too."""
    from .erasure.erase import WHOLE_ROWS
    from .inbound.models import InboundMessage

    WHOLE_ROWS["inbound messages"] = InboundMessage


def connect_shutdown() -> None:
    """A worker's SIGTERM stops txmail's drain and chunks too (``delivery.shutdown``)."""
    from django.tasks.signals import task_started

    from .delivery.shutdown import on_task_started

    task_started.connect(on_task_started, dispatch_uid="txmail.delivery.shutdown")


def connect_anymail() -> None:
    """Record anymail's webhook events in the delivery log and store its inbound mail
    (when anymail is installed)."""
    try:
        from anymail.signals import tracking
    except ImportError:
        return  # django-anymail is optional: txmail[anymail]
    from .webhooks import checks  # noqa: F401  (registers the webhook secret check)
    from .webhooks.receivers import on_tracking

    tracking.connect(on_tracking, dispatch_uid="txmail.webhooks.on_tracking")
    from .inbound.providers import connect

    connect()
