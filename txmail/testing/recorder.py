"""Record the messages a test sends, and assert on them by class and fields.

``MailRecorder`` listens to ``txmail.signals`` while it is started, so it
costs nothing when no test uses it. Each ``SentRecord`` keeps the message
instance, what it rendered to (subject, HTML, text, the template context) and
the built email, so a test asks "was a PasswordReset sent to ada?" instead of
picking through ``django.core.mail.outbox``.
"""

import itertools
from collections.abc import Iterator
from typing import Any

from ..signals import (
    message_failed,
    message_sent,
    message_suppressed,
    post_send,
    send_cancelled,
    send_deduplicated,
    send_failed,
)
from .records import (
    CANCELLED,
    DEDUPLICATED,
    EXPIRED,
    FAILED,
    QUEUED,
    SCHEDULED,
    SENT,
    SUPPRESSED,
    THROTTLED,
    SentRecord,
    matcher,
    what,
)


class MailRecorder:
    """Records txmail messages while started; a context manager.

    ``sent_mail.assert_sent(PasswordReset, to="ada@example.com")`` passes when
    a ``PasswordReset`` to that address was sent (by ``send()``, or by
    ``enqueue()`` then ``run_queued()``); its failure message lists what was
    sent instead.
    """

    _ids = itertools.count()

    def __init__(self) -> None:
        self.records: list[SentRecord] = []
        self._uid = f"txmail.testing.{next(self._ids)}"

    # -- recording -----------------------------------------------------------

    def start(self) -> "MailRecorder":
        post_send.connect(self._on_sent, weak=False, dispatch_uid=self._uid)
        send_failed.connect(self._on_failed, weak=False, dispatch_uid=self._uid)
        send_cancelled.connect(self._on_cancelled, weak=False, dispatch_uid=self._uid)
        send_deduplicated.connect(self._on_deduplicated, weak=False, dispatch_uid=self._uid)
        # A queued message's outcome, however its task ran (a worker, the
        # immediate backend on commit, run_queued()).
        for signal in (message_sent, message_failed, message_suppressed):
            signal.connect(self._on_delivered, weak=False, dispatch_uid=self._uid)
        return self

    def stop(self) -> None:
        for signal in (post_send, send_failed, send_cancelled, send_deduplicated, message_sent,
                       message_failed, message_suppressed):
            signal.disconnect(dispatch_uid=self._uid)

    def __enter__(self) -> "MailRecorder":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def clear(self) -> None:
        """Forget what was recorded so far."""
        self.records.clear()

    def _on_sent(self, sender: type, *, message: Any, mailer: str, result: Any, email: Any,
                 rendered: Any, queued: bool, **kwargs: Any) -> None:
        status = QUEUED if queued else SENT
        if not queued and result.suppressed and not result.recipients:
            status = SUPPRESSED
        record = SentRecord(
            message=message, mailer=mailer, status=status, queued=queued,
            email=email, rendered=rendered, result=result,
            delivery=result if queued else None,
        )
        self.records.append(record)
        if queued:
            # Outside a transaction the task may have run inside enqueue(),
            # before this signal: its outcome is in the row already.
            record.delivery.refresh_from_db(fields=["status", "last_error", "send_at"])
            self._settle(record)

    def _on_delivered(self, sender: str, *, delivery: Any = None, **kwargs: Any) -> None:
        if delivery is None or kwargs.get("will_retry"):
            return
        for record in self.records:
            # Not only "queued": a row the sweep sends again after an unknown
            # outcome reports again.
            if record.queued and record.delivery is not None and record.delivery.pk == delivery.pk:
                record.delivery = delivery
                self._settle(record)

    @staticmethod
    def _settle(record: SentRecord) -> None:
        """Give a queued record its delivery row's outcome, once it has one."""
        from ..delivery.models import Status

        status = record.delivery.status
        if status == Status.SENT:
            record.status = SENT
        elif status in (Status.FAILED, Status.UNKNOWN):
            record.status, record.reason = FAILED, record.delivery.last_error
        elif status == Status.CANCELLED:
            record.status, record.reason = CANCELLED, record.delivery.last_error
        elif status == Status.SUPPRESSED:
            record.status, record.reason = SUPPRESSED, record.delivery.last_error
        elif status == Status.THROTTLED:
            record.status, record.reason = THROTTLED, record.delivery.last_error
        elif status == Status.EXPIRED:
            record.status, record.reason = EXPIRED, record.delivery.last_error
        elif status == Status.SCHEDULED:
            record.status = SCHEDULED
        elif record.status == SCHEDULED:  # rescheduled to now, or claimed
            record.status = QUEUED

    def _on_failed(self, sender: type, *, message: Any, mailer: str | None,
                   error: BaseException, queued: bool, **kwargs: Any) -> None:
        self.records.append(SentRecord(message=message, mailer=mailer, status=FAILED,
                                       queued=queued, error=error))

    def _on_cancelled(self, sender: type, *, message: Any, mailer: str, reason: str,
                      email: Any, delivery: Any, queued: bool, **kwargs: Any) -> None:
        if message is None and delivery is not None:  # a worker's last check: no instance
            self._on_delivered(mailer, delivery=delivery)
            return
        self.records.append(SentRecord(message=message, mailer=mailer, status=CANCELLED,
                                       queued=queued, email=email, reason=reason,
                                       delivery=delivery))

    def _on_deduplicated(self, sender: type, *, message: Any, mailer: str, key: str,
                         result: Any, queued: bool, **kwargs: Any) -> None:
        self.records.append(SentRecord(message=message, mailer=mailer, status=DEDUPLICATED,
                                       queued=queued, result=result, reason=key))

    # -- reading -------------------------------------------------------------

    def __iter__(self) -> Iterator[SentRecord]:
        return iter(self.records)

    def __len__(self) -> int:
        return len(self.records)

    @property
    def sent(self) -> list[SentRecord]:
        """Records of messages a mailer accepted."""
        return [r for r in self.records if r.status == SENT]

    @property
    def enqueued(self) -> list[SentRecord]:
        """Records of messages ``enqueue()`` stored (whatever happened to them since)."""
        return [r for r in self.records if r.queued and r.status != CANCELLED
                and r.delivery is not None]

    @property
    def cancelled(self) -> list[SentRecord]:
        return [r for r in self.records if r.status == CANCELLED]

    @property
    def suppressed(self) -> list[SentRecord]:
        return [r for r in self.records if r.status == SUPPRESSED]

    @property
    def throttled(self) -> list[SentRecord]:
        """Queued messages held back by their mailer's rate limit (not sent yet)."""
        return [r for r in self.records if r.status == THROTTLED]

    @property
    def failed(self) -> list[SentRecord]:
        return [r for r in self.records if r.status == FAILED]

    @property
    def deduplicated(self) -> list[SentRecord]:
        """Records of calls that sent nothing: their idempotency key was taken."""
        return [r for r in self.records if r.status == DEDUPLICATED]

    def filter(self, message_class: type | None = None, /, *, status: str | None = SENT,
               **fields: Any) -> list[SentRecord]:
        """Return the records of ``message_class`` (a subclass counts) matching ``fields``.

        ``to``/``cc``/``bcc``: one address (among them) or a list (exactly
        those); ``from_email``, ``subject``, ``mailer``: equal; ``context``: a
        dict the context contains; ``where``: a function of the record.
        ``status=None`` matches every status.
        """
        match = matcher(fields)
        return [
            r for r in self.records
            if (status is None or r.status == status)
            and (message_class is None or isinstance(r.message, message_class))
            and match(r)
        ]

    # -- running the queue ---------------------------------------------------

    def run_queued(self) -> list[SentRecord]:
        """Run the task of every recorded queued message now; return their records.

        Like running the task queue's worker in the test: each delivery is
        sent through its mailer (in tests, Django's in-memory outbox) with the
        queue's claims and outcomes. Records of messages the mailer accepted
        become ``"sent"``.
        """
        from ..delivery.models import READY
        from ..delivery.queue import run

        ran = []
        for record in self.records:
            if record.status not in (QUEUED, SCHEDULED):  # scheduled: sent once due
                continue
            record.delivery.refresh_from_db()
            if record.delivery.status in READY:
                run(record.delivery.pk)
                record.delivery.refresh_from_db()
            self._settle(record)
            ran.append(record)
        return ran

    # -- assertions ----------------------------------------------------------

    def _fail(self, expected: str) -> None:
        __tracebackhide__ = True  # pytest shows the test's line, not this one
        if not self.records:
            raise AssertionError(f"{expected}\nNothing was sent.")
        listing = "\n".join(f"  - {r.describe()}" for r in self.records)
        raise AssertionError(f"{expected}\nSent instead ({len(self.records)}):\n{listing}")

    def assert_sent(self, message_class: type | None = None, /, **fields: Any) -> SentRecord:
        """Assert that a matching message was sent; return the (last) match."""
        __tracebackhide__ = True
        found = self.filter(message_class, status=SENT, **fields)
        if not found:
            self._fail(f"Expected {what(message_class, fields)} to be sent; it was not.")
        return found[-1]

    def assert_not_sent(self, message_class: type | None = None, /, **fields: Any) -> None:
        """Assert that no matching message was sent."""
        __tracebackhide__ = True
        found = self.filter(message_class, status=SENT, **fields)
        if found:
            self._fail(f"Expected no {what(message_class, fields)} to be sent; "
                       f"{len(found)} were.")

    def assert_sent_count(self, count: int, message_class: type | None = None, /,
                          **fields: Any) -> list[SentRecord]:
        """Assert that exactly ``count`` matching messages were sent; return them."""
        __tracebackhide__ = True
        found = self.filter(message_class, status=SENT, **fields)
        if len(found) != count:
            self._fail(f"Expected {count} {what(message_class, fields)} sent; "
                       f"{len(found)} were.")
        return found

    def assert_enqueued(self, message_class: type | None = None, /,
                        **fields: Any) -> SentRecord:
        """Assert that a matching message went through ``enqueue()``; return the match."""
        __tracebackhide__ = True
        found = [r for r in self.filter(message_class, status=None, **fields)
                 if r in self.enqueued]
        if not found:
            self._fail(f"Expected {what(message_class, fields)} to be enqueued; it was not.")
        return found[-1]

    def assert_deduplicated(self, message_class: type | None = None, /, *,
                            key: str | None = None, **fields: Any) -> SentRecord:
        """Assert that a matching call was deduplicated (by ``key``, if given); return it."""
        __tracebackhide__ = True
        found = [r for r in self.filter(message_class, status=DEDUPLICATED, **fields)
                 if key is None or r.reason == key]
        if not found:
            described = what(message_class, {**fields, **({"key": key} if key else {})})
            self._fail(f"Expected {described} to be deduplicated; it was not.")
        return found[-1]

    def _reread(self) -> None:
        """Read the rows of queued records again: the sweep expires rows without a signal."""
        for record in self.records:
            if record.queued and record.delivery is not None and record.status in (
                    QUEUED, SCHEDULED):
                record.delivery.refresh_from_db(fields=["status", "last_error", "send_at"])
                self._settle(record)

    def assert_scheduled(self, message_class: type | None = None, /, *, at: Any = None,
                         between: tuple[Any, Any] | None = None,
                         **fields: Any) -> SentRecord:
        """Assert that a matching message waits for its send time; return the match.

        ``at``: exactly this aware datetime; ``between=(earliest, latest)``: in
        that range, both included (for ``delay=`` or ``local_time()``).
        """
        __tracebackhide__ = True
        self._reread()
        found = [r for r in self.filter(message_class, status=SCHEDULED, **fields)
                 if (at is None or r.send_at == at)
                 and (between is None or between[0] <= r.send_at <= between[1])]
        if not found:
            when = f" for {at}" if at is not None else (
                f" between {between[0]} and {between[1]}" if between else "")
            self._fail(f"Expected {what(message_class, fields)} to be scheduled{when}; "
                       "it was not.")
        return found[-1]

    def assert_expired(self, message_class: type | None = None, /,
                       **fields: Any) -> SentRecord:
        """Assert that a matching message expired unsent (its deadline passed); return it."""
        __tracebackhide__ = True
        self._reread()
        found = self.filter(message_class, status=EXPIRED, **fields)
        if not found:
            self._fail(f"Expected {what(message_class, fields)} to have expired; it did not.")
        return found[-1]

    def assert_nothing_sent(self) -> None:
        """Assert that nothing was sent or queued (cancelled and failed messages weren't)."""
        __tracebackhide__ = True
        if any(r.status in (SENT, QUEUED, SCHEDULED) for r in self.records):
            self._fail("Expected nothing to be sent.")

