"""One message's way out: ``pre_send`` → render → build → interceptors → delivery.

``Message.send()`` and ``Message.enqueue()`` call ``send_message()`` and
``enqueue_message()``; the message-level signals (``txmail.signals``) are sent
here, around the delivery layer, which only ever sees the built email. Import
once apps are ready (the delivery log's models).
"""

from typing import TYPE_CHECKING, Any, cast

from .conf import txmail_settings
from .delivery.queue import enqueue
from .delivery.record import notify, record_cancelled, send_now
from .delivery.transport import SentMessage
from .interceptors import get_interceptors, run_interceptors
from .render import Rendered, render_activated
from .send import check_intercepted, resolve_mailer
from .signals import CancelSend, post_send, pre_send, send_cancelled, send_failed

if TYPE_CHECKING:
    from .delivery.models import Delivery
    from .message import Message


class Attempt:
    """What is known about one message so far: the alias, what it rendered to, the email."""

    def __init__(self, message: "Message", using: str | None, *, message_class: str,
                 queued: bool) -> None:
        self.message = message
        self.using = using
        self.message_class = message_class
        self.queued = queued
        self.alias: str | None = None
        self.rendered: Rendered | None = None
        self.email: Any = None
        self.reason = ""

    def _signal(self, signal: Any, **kwargs: Any) -> None:
        signal.send(type(self.message), message=self.message, queued=self.queued, **kwargs)

    def _notify(self, signal: Any, **kwargs: Any) -> None:
        # The message is sent (or stored, cancelled, failed) by now: a receiver's
        # error must not make the caller send it again, or hide the real error.
        notify(signal, type(self.message), message=self.message, queued=self.queued,
               **kwargs)

    def prepare(self) -> None:
        """Run ``pre_send``, pick the mailer, render, build, run the interceptors."""
        self._signal(pre_send, mailer=self.using)
        message = self.message
        self.alias = resolve_mailer(message, self.using)
        # One activation for rendering and building (headers, a localized PDF).
        with message.activated():
            self.rendered = render_activated(message)
            self.email = message.build(self.rendered)
        if get_interceptors():
            owner = type(message).__name__
            self.email = check_intercepted(owner, run_interceptors(self.email, message))

    def sent(self, result: Any) -> None:
        self._notify(post_send, mailer=self.alias, result=result, email=self.email,
                     rendered=self.rendered)

    def failed(self, error: BaseException) -> None:
        self._notify(send_failed, mailer=self.alias, error=error)

    def cancel(self, exc: CancelSend) -> "Delivery | None":
        """Log the cancellation, send ``send_cancelled``; return the log row."""
        message, email = self.message, self.email
        reason = str(exc) or "A pre_send receiver cancelled it."
        alias = self.alias or self.using or message.get_mailer() or txmail_settings.DEFAULT_MAILER
        self.alias, self.reason = alias, reason
        fields: dict[str, Any]
        if email is not None:
            fields = {
                "from_email": str(email.from_email), "recipients": list(email.recipients()),
                "subject": str(email.subject),
                "message_id": str(email.extra_headers.get("Message-ID", "")),
            }
        else:  # cancelled by pre_send: nothing was rendered or built
            fields = {
                "from_email": str(message.get_from_email()), "subject": "", "message_id": "",
                "recipients": [*message.get_recipients(), *message.get_cc(),
                               *message.get_bcc()],
            }
        row = record_cancelled(message_class=self.message_class, alias=alias, reason=reason,
                               queued=self.queued, **fields)
        self._notify(send_cancelled, mailer=alias, reason=reason, email=email, delivery=row)
        return row


def send_message(message: "Message", using: str | None, *, message_class: str) -> SentMessage:
    """``Message.send()``: send now through the resolved mailer."""
    attempt = Attempt(message, using, message_class=message_class, queued=False)
    try:
        attempt.prepare()
        result = send_now(attempt.email, attempt.alias or "", message_class=message_class,
                          respect_suppression=message.get_respect_suppression(),
                          topic=message.get_topic() or "",
                          secret_body=message.get_secret_body())
    except CancelSend as exc:
        row = attempt.cancel(exc)
        email = attempt.email
        return SentMessage(
            message_id=str(email.extra_headers.get("Message-ID", "")) if email else "",
            mailer=attempt.alias or "", recipients=[], email=email,
            delivery_id=row.pk if row else None, cancelled=attempt.reason,
        )
    except Exception as exc:
        attempt.failed(exc)
        raise
    attempt.sent(result)
    return result


def enqueue_message(message: "Message", using: str | None, *,
                    message_class: str) -> "Delivery":
    """``Message.enqueue()``: store the built email; a task sends it after commit."""
    attempt = Attempt(message, using, message_class=message_class, queued=True)
    try:
        attempt.prepare()
        row = enqueue(
            attempt.email, alias=attempt.alias or "", message_class=message_class,
            task_backend=message.get_task_backend(), queue_name=message.get_task_queue_name(),
            priority=message.get_task_priority(),
            respect_suppression=message.get_respect_suppression(),
            topic=message.get_topic() or "",
            resend_if_unknown=message.get_resend_if_unknown(),
            secret_body=message.get_secret_body(),
        )
    except CancelSend as exc:
        # enqueue() always logs: the row is the queue's state.
        return cast("Delivery", attempt.cancel(exc))
    except Exception as exc:
        attempt.failed(exc)
        raise
    attempt.sent(row)
    return row
