"""The way out: every message leaves through here, by one path.

    pre_send → resolve → render → build → interceptors → one of
        send()       send now through the mailer (the delivery log, signals)
        enqueue()    store the built email; a task worker sends it after commit
        prepare()    for a campaign's claimed rows (``bulk.tasks``)
        send_test()  a preview's "Send a test" and ``manage.py txmail send``

``Message.send()`` / ``enqueue()`` call these. The message's hooks are read
once, by ``Message.resolve()``; from then on only the ``Draft`` travels: the
rendering and mail layers take it, the delivery layer takes the built email
and the ``DeliveryOptions``. The message-level signals (``txmail.signals``) are
sent here, around the delivery layer. Import once apps are ready (models).
"""

from collections.abc import Mapping
from contextlib import nullcontext
from typing import TYPE_CHECKING, Any, cast

from django.conf import settings

from .backends.transport import SentMessage
from .conf import txmail_settings
from .delivery import idempotency
from .delivery.handle import Queued
from .delivery.log import notify, record_cancelled, send_now
from .delivery.migrated import explain as explain_unmigrated
from .delivery.queue import enqueue as queue_email
from .draft import Draft, Rendered
from .exceptions import CancelSend, DeliveryError, DeliveryOutcomeUnknown
from .installed import require_installed
from .interceptors import get_interceptors, run_interceptors
from .mail import esp
from .mail.build import build_email, check_intercepted
from .rendering.pipeline import activated, render_activated
from .signals import post_send, pre_send, send_cancelled, send_deduplicated, send_failed

if TYPE_CHECKING:
    from .delivery.models import Delivery
    from .mail.mime import TxEmailMessage
    from .message import Message


def build(draft: Draft, rendered: Rendered | None = None) -> "TxEmailMessage":
    """Render (unless given) and build the email for ``draft``: no signals, no interceptors."""
    # One activation for rendering and building (headers, a localized PDF).
    with activated(draft):
        email = build_email(draft, rendered or render_activated(draft))
    esp.apply(email, dict(draft.provider_options), None)
    return email


class Attempt:
    """What is known about one message so far: its draft, what it rendered to, the email."""

    def __init__(self, message: "Message", using: str | None, *, queued: bool,
                 options: Mapping[str, Any] | None = None, keyed: bool = False) -> None:
        self.message = message
        # send() and enqueue() honour the idempotency key; a campaign's rows don't
        # (each recipient gets one message per campaign already).
        self.keyed = keyed
        self.using = using
        self.options = options or {}  # send()'s / enqueue()'s delivery options
        self.queued = queued
        self.draft: Draft | None = None
        self.rendered: Rendered | None = None
        self.email: Any = None
        self.reason = ""
        self.cancelled_via = ""
        # The delivery that holds the message's idempotency key, if another
        # call holds it (then nothing is sent); else the key row this call holds.
        self.first: idempotency.First | None = None
        self.key_row: idempotency.IdempotencyKey | None = None

    @property
    def alias(self) -> str | None:
        return self.draft.mailer if self.draft is not None else None

    def _signal(self, signal: Any, **kwargs: Any) -> None:
        signal.send(type(self.message), message=self.message, queued=self.queued, **kwargs)

    def _notify(self, signal: Any, **kwargs: Any) -> None:
        # The message is sent (or stored, cancelled, failed) by now: a receiver's
        # error must not make the caller send it again, or hide the real error.
        notify(signal, type(self.message), message=self.message, queued=self.queued,
               **kwargs)

    def prepare(self) -> Draft:
        """Run ``pre_send``, resolve, render, build, run the interceptors; return the draft."""
        self._signal(pre_send, mailer=self.using)
        # After pre_send: its receivers may change the message.
        draft = self.draft = self.message.resolve(self.using, options=self.options)
        if self.keyed and draft.options.idempotency_key:  # cheap, before rendering
            self.first = idempotency.duplicate(draft.message_class,
                                               draft.options.idempotency_key)
            if self.first is not None:
                return draft
        with activated(draft):
            self.rendered = render_activated(draft)
            self.email = build_email(draft, self.rendered)
        esp.apply(self.email, dict(draft.provider_options), None)
        if get_interceptors():
            self.email = check_intercepted(draft.owner,
                                           run_interceptors(self.email, self.message))
        return draft

    def _resolved_for_the_log(self) -> Draft | None:
        """The draft of a message cancelled before it was resolved, for its log row."""
        if self.draft is None:
            try:
                self.draft = self.message.resolve(self.using, sending=False,
                                                  options=self.options)
            except Exception:  # it was cancelled: a broken hook must not hide that
                return None
        return self.draft

    def _mailer(self) -> str:
        draft = self._resolved_for_the_log()
        return draft.mailer if draft else self.message.mailer or txmail_settings.DEFAULT_MAILER

    def _addresses(self) -> dict[str, Any]:
        draft, message = self._resolved_for_the_log(), self.message
        if draft is not None:
            return {"from_email": str(draft.from_email), "recipients": draft.recipients}
        return {"from_email": str(message.from_email or settings.DEFAULT_FROM_EMAIL),
                "recipients": [*message.to, *message.cc, *message.bcc]}

    def claim(self, draft: Draft) -> bool:
        """Take the draft's idempotency key, if it has one; False if another call holds it.

        In the caller's transaction, before anything is sent or stored.
        """
        options = draft.options
        if self.first is not None or not (self.keyed and options.idempotency_key):
            return self.first is None
        held = idempotency.claim(draft.message_class, options.idempotency_key,
                                 options.idempotency_window,
                                 str(self.email.extra_headers.get("Message-ID", "")))
        if isinstance(held, idempotency.First):
            self.first = held
            return False
        self.key_row = held
        self.email.idempotency_key = held.provider_key  # for providers that take one
        return True

    def deduplicated(self, result: Any) -> Any:
        """Send ``send_deduplicated``; return ``result``."""
        first, draft = cast("idempotency.First", self.first), cast(Draft, self.draft)
        self._notify(send_deduplicated, mailer=draft.mailer, key=first.key, result=result)
        return result

    def sent(self, result: Any) -> None:
        self._notify(post_send, mailer=self.alias, result=result, email=self.email,
                     rendered=self.rendered)

    def failed(self, error: Exception) -> Exception:
        """Send ``send_failed``; return the error to raise (the fix for missing tables)."""
        error = explain_unmigrated(error, {"txmail"}) or error
        self._notify(send_failed, mailer=self.alias, error=error)
        return error

    def cancel(self, exc: CancelSend, message_class: str) -> "Delivery | None":
        """Log the cancellation, send ``send_cancelled``; return the log row."""
        email = self.email
        reason = str(exc) or "A pre_send receiver cancelled it."
        self.reason = reason
        alias = self.alias or self.using or self._mailer()
        self.cancelled_via = alias
        fields: dict[str, Any]
        if email is not None:
            fields = {
                "from_email": str(email.from_email), "recipients": list(email.recipients()),
                "subject": str(email.subject),
                "message_id": str(email.extra_headers.get("Message-ID", "")),
            }
        else:  # cancelled by pre_send: nothing was rendered or built
            fields = {"subject": "", "message_id": "", **self._addresses()}
        row = record_cancelled(message_class=message_class, alias=alias, reason=reason,
                               queued=self.queued, **fields)
        self._notify(send_cancelled, mailer=alias, reason=reason, email=email, delivery=row)
        return row


def send(message: "Message", using: str | None = None, *, message_class: str,
         options: Mapping[str, Any] | None = None) -> SentMessage:
    """``Message.send()``: send now through the resolved mailer.

    ``message_class`` is the class's registry name, for the delivery log of a
    message cancelled before it was resolved; ``options`` replace fields of
    its ``DeliveryOptions``.
    """
    require_installed()  # before pre_send: sending reads and writes its tables
    attempt = Attempt(message, using, queued=False, options=options, keyed=True)
    try:
        draft = attempt.prepare()
        if not attempt.claim(draft):
            first = cast("idempotency.First", attempt.first)
            return attempt.deduplicated(SentMessage(
                message_id=first.message_id, mailer=first.mailer or draft.mailer,
                recipients=[], email=None, delivery_id=first.delivery_id,
                deduplicated=first.key))
        chosen = draft.options
        try:
            result = send_now(attempt.email, draft.mailer, message_class=draft.message_class,
                              respect_suppression=chosen.respect_suppression,
                              topic=chosen.topic or "", secret_body=chosen.secret_body,
                              critical=chosen.critical,
                              log=attempt.key_row is not None)
        except DeliveryError as exc:
            # Not sent: the key is free for a retry. Unless the server may have
            # it: then the key keeps a second call from sending it twice.
            if attempt.key_row is not None and not isinstance(exc, DeliveryOutcomeUnknown):
                idempotency.release(attempt.key_row)
            raise
        if attempt.key_row is not None:
            idempotency.link(attempt.key_row, result.delivery_id)
    except CancelSend as exc:
        row = attempt.cancel(exc, message_class)
        email = attempt.email
        return SentMessage(
            message_id=str(email.extra_headers.get("Message-ID", "")) if email else "",
            mailer=attempt.cancelled_via, recipients=[], email=email,
            delivery_id=row.pk if row else None, cancelled=attempt.reason,
        )
    except Exception as exc:
        if (error := attempt.failed(exc)) is exc:
            raise
        raise error from exc
    attempt.sent(result)
    return result


def enqueue(message: "Message", using: str | None = None, *, message_class: str,
            options: Mapping[str, Any] | None = None) -> Queued:
    """``Message.enqueue()``: store the built email; a task sends it after commit."""
    require_installed()  # before pre_send: sending reads and writes its tables
    attempt = Attempt(message, using, queued=True, options=options, keyed=True)
    try:
        draft = attempt.prepare()
        # The key and the row are written together, or neither.
        with idempotency.atomic() if draft.options.idempotency_key else nullcontext():
            if attempt.claim(draft):
                row = queue_email(attempt.email, alias=draft.mailer,
                                  message_class=draft.message_class, options=draft.options,
                                  time_zone=draft.time_zone, send_check=draft.send_check)
                if attempt.key_row is not None:
                    idempotency.link(attempt.key_row, row.pk)
        if attempt.first is not None:
            first = attempt.first
            return attempt.deduplicated(Queued(first.delivery_id, first.message_id,
                                               deduplicated=first.key))
    except CancelSend as exc:
        # enqueue() always logs: the row is the queue's state.
        return Queued.of(cast("Delivery", attempt.cancel(exc, message_class)), final=True)
    except Exception as exc:
        if (error := attempt.failed(exc)) is exc:
            raise
        raise error from exc
    attempt.sent(row)
    return Queued.of(row)


def send_test(draft: Draft, to: str, *, rendered: Rendered | None = None) -> SentMessage:
    """Send ``draft`` to ``to`` alone, now, through its mailer: a test send.

    For the preview's "Send a test" and ``manage.py txmail send``. It skips the
    message-level steps: no ``pre_send`` / ``post_send`` signals and no
    interceptors (a staging redirect would send the test elsewhere). The
    suppression list and the delivery log apply as for ``send()``.
    """
    from dataclasses import replace

    email = build(replace(draft, to=(to,), cc=(), bcc=()), rendered)
    try:
        return send_now(email, draft.mailer, message_class=draft.message_class,
                        respect_suppression=draft.options.respect_suppression,
                        topic=draft.options.topic or "", secret_body=draft.options.secret_body,
                        critical=draft.options.critical)
    except Exception as exc:
        if (error := explain_unmigrated(exc, {"txmail"})) is None:
            raise
        raise error from exc
