"""Test helpers: assert on messages by class and fields.

pytest (the plugin is registered through the ``pytest11`` entry point, so it is
active once txmail is installed)::

    def test_reset(sent_mail, user):
        request_reset(user)
        sent = sent_mail.assert_sent(PasswordReset, to="ada@example.com")
        assert sent.context["user"] == user

Django's ``TestCase``::

    class ResetTests(MailTestMixin, TestCase):
        def test_reset(self):
            request_reset(self.user)
            self.assertSent(PasswordReset, to="ada@example.com")

Both make rendering strict: a template that outputs a variable that doesn't
exist raises ``txmail.UndefinedVariable`` (opt out: the pytest marker
``txmail_allow_undefined``, or ``txmail_strict_variables = False`` on a
``MailTestMixin`` test case). ``strict_variables()`` does it anywhere else.

``assert_clean(PasswordReset, "warning")`` fails when a class's preview
variants (or an instance) have quality findings that severe (``txmail.quality``).

``traces_of(address)`` lists every row and column of txmail's tables that
still names an address: a test of your own erasure flow asserts it is empty.
"""

from typing import Any

from ..erasure.traces import Trace, traces_of
from ..rendering.variables import strict as strict_variables
from .quality import assert_clean, findings_of
from .recorder import MailRecorder
from .records import SentRecord

__all__ = ["MailRecorder", "MailTestMixin", "SentRecord", "Trace", "assert_clean",
           "findings_of", "strict_variables", "traces_of"]


class MailTestMixin:
    """Records every txmail message of each test in ``self.sent_mail``.

    The assertions are ``MailRecorder``'s in Django's spelling; the recorder
    starts before ``setUp()`` (so a ``setUp()`` that forgets ``super()`` still
    records) and stops after the test's cleanups.
    """

    sent_mail: MailRecorder
    #: Raise ``txmail.UndefinedVariable`` for an undefined template variable.
    txmail_strict_variables = True

    def _callSetUp(self) -> None:
        # unittest.TestCase.run() and debug() call _callSetUp() (Python >= 3.8)
        # right before setUp(); Django's _pre_setup() is a classmethod, too
        # early for one recorder per test.
        self.sent_mail = MailRecorder().start()
        self.addCleanup(self.sent_mail.stop)  # type: ignore[attr-defined]
        strict = strict_variables(self.txmail_strict_variables)
        strict.__enter__()
        self.addCleanup(strict.__exit__, None, None, None)  # type: ignore[attr-defined]
        super()._callSetUp()  # type: ignore[misc]

    def assertSent(self, message_class: type | None = None, /, **fields: Any) -> SentRecord:
        return self.sent_mail.assert_sent(message_class, **fields)

    def assertNotSent(self, message_class: type | None = None, /, **fields: Any) -> None:
        self.sent_mail.assert_not_sent(message_class, **fields)

    def assertSentCount(self, count: int, message_class: type | None = None, /,
                        **fields: Any) -> list[SentRecord]:
        return self.sent_mail.assert_sent_count(count, message_class, **fields)

    def assertEnqueued(self, message_class: type | None = None, /,
                       **fields: Any) -> SentRecord:
        return self.sent_mail.assert_enqueued(message_class, **fields)

    def assertDeduplicated(self, message_class: type | None = None, /, *,
                           key: str | None = None, **fields: Any) -> SentRecord:
        return self.sent_mail.assert_deduplicated(message_class, key=key, **fields)

    def assertScheduled(self, message_class: type | None = None, /, **fields: Any
                        ) -> SentRecord:
        return self.sent_mail.assert_scheduled(message_class, **fields)

    def assertExpired(self, message_class: type | None = None, /, **fields: Any
                      ) -> SentRecord:
        return self.sent_mail.assert_expired(message_class, **fields)

    def assertNothingSent(self) -> None:
        self.sent_mail.assert_nothing_sent()

    def assertClean(self, message: Any, severity: str = "error", **options: Any) -> None:
        assert_clean(message, severity, **options)

    def runQueued(self) -> list[SentRecord]:
        """Send every message ``enqueue()`` stored during the test, now."""
        return self.sent_mail.run_queued()
