"""Django's SMTP backend, telling txmail who was refused and when a send is ambiguous.

Django's backend drops what ``smtplib.SMTP.sendmail()`` returns: the recipients
the server refused while accepting the others (RFC 5321: each RCPT is answered
on its own; a server capping RCPT at 100 refuses the 101st with 452). It also
can't tell a connection lost *before* the end of DATA (the server discards a
partial message: safe to retry) from one lost *after* the final "." was handed
over and before the reply (the server may have accepted it: a retry could send a
duplicate). This subclass records both:

- ``email.refused_recipients``: ``{address: (code, reply)}`` after each send;
- ``DeliveryOutcomeUnknown`` raised for a connection lost or timed out while
  waiting for the reply to the end of DATA.

With VERP (``txmail.mail.verp``) the envelope sender is the delivery's return
path (``email.return_path``); a delivery to several recipients has one return path
each (``email.return_paths``) and is sent in one transaction per recipient, over the
same connection, the same bytes in each (``_send_each()``).

txmail's delivery layer uses it in place of Django's own SMTP backend (same
options), so ``MAILERS`` may name either.
"""

import email.policy
import smtplib
from functools import lru_cache
from typing import Any

from django.core.mail.backends.smtp import EmailBackend as DjangoSMTPBackend

from ..addresses import PLAIN, canonical
from ..exceptions import DeliveryOutcomeUnknown

_END_OF_DATA = b"\r\n.\r\n"


def dot_stuffed(msg: bytes) -> bytes:
    """``msg`` with a "." before every line that starts with one (RFC 5321 4.5.2)."""
    stuffed = msg.replace(b"\n.", b"\n..")
    return b"." + stuffed if stuffed.startswith(b".") else stuffed


class _TrackingMixin:
    """Record the refused recipients and whether the end of DATA was handed over."""

    refused: dict[str, tuple[int, bytes]]
    data_handed_over: bool = False
    return_path: str | None = None  # set per message: the delivery's VERP address


    def sendmail(self, from_addr: str, to_addrs: Any, msg: Any, *args: Any,
                 **kwargs: Any) -> dict[str, tuple[int, bytes]]:
        self.refused = {}
        self.data_handed_over = False
        from_addr = self.return_path or from_addr
        self.refused = super().sendmail(from_addr, to_addrs, msg, *args, **kwargs)  # type: ignore[misc]
        return self.refused

    def data(self, msg: Any) -> tuple[int, bytes]:
        # smtplib's data() with its dot-stuffing done by bytes.replace() in C: its
        # regular expression (``(?m)^\.``) tries every position of the message
        # (~0.3 ms for 45 KB, half of what the rest of the SMTP exchange costs).
        # Same bytes on the wire; a str message (not txmail's) goes the stdlib's way.
        if not isinstance(msg, bytes):
            return super().data(msg)  # type: ignore[misc]
        self.putcmd("data")  # type: ignore[attr-defined]
        code, reply = self.getreply()  # type: ignore[attr-defined]
        if code != 354:
            raise smtplib.SMTPDataError(code, reply)
        stuffed = dot_stuffed(msg)
        self.send(stuffed + (b".\r\n" if stuffed.endswith(b"\r\n") else b"\r\n.\r\n"))
        return self.getreply()  # type: ignore[attr-defined,no-any-return]

    def send(self, s: Any) -> None:
        super().send(s)  # type: ignore[misc]
        # smtplib.data() sends the whole quoted message, ending in CRLF.CRLF, in
        # one call; commands are sent separately and never end that way.
        if isinstance(s, bytes) and s.endswith(_END_OF_DATA):
            self.data_handed_over = True


class TrackingSMTP(_TrackingMixin, smtplib.SMTP):
    pass


class TrackingSMTP_SSL(_TrackingMixin, smtplib.SMTP_SSL):
    pass


class EmailBackend(DjangoSMTPBackend):
    """``django.core.mail.backends.smtp.EmailBackend`` that reports refusals and ambiguity."""

    @property
    def connection_class(self) -> type[smtplib.SMTP]:  # type: ignore[override]
        return TrackingSMTP_SSL if self.use_ssl else TrackingSMTP

    def prep_address(self, address: Any, force_ascii: bool = True) -> str:
        # Django parses every envelope address with the stdlib's header parser,
        # ~0.25 ms of CPU each: a plain address is returned as it is, any other
        # parsed once per process (the sender is the same on every message).
        if isinstance(address, str) and PLAIN.fullmatch(address):
            return address
        return _prepped(super().prep_address, address, force_ascii)

    def _send(self, email_message: Any) -> bool:
        if self.connection is None:  # closed by _send_each() for the previous message
            self.open()
        connection = self.connection
        alias = getattr(self, "alias", None)  # Django 6.1; not in django-stubs yet
        if connection is not None:  # VERP (txmail.mail.verp): the row's own MAIL FROM
            connection.return_path = getattr(email_message, "return_path", None)  # type: ignore[attr-defined]
        paths = getattr(email_message, "return_paths", None)
        try:
            if paths:
                sent = self._send_each(email_message, paths)
            else:
                sent = super()._send(email_message)  # type: ignore[misc]
        except OSError as exc:  # smtplib's errors are OSErrors too
            # A reply (even a refusal) means the server answered: not ambiguous.
            answered = isinstance(exc, smtplib.SMTPResponseException)
            if getattr(connection, "data_handed_over", False) and not answered:
                raise DeliveryOutcomeUnknown(
                    f"mailer {alias!r} ({self.host}:{self.port}): the connection "
                    f"was lost after the whole message was sent, before the server "
                    f"replied ({type(exc).__name__}: {exc}). It may have been "
                    "delivered; it is not retried, to avoid a duplicate.",
                    alias=alias, host=f"{self.host}:{self.port}",
                ) from exc
            raise
        refused = getattr(connection, "refused", {}) or {}
        email_message.refused_recipients = {
            address: (code, reply.decode("utf-8", "replace") if isinstance(reply, bytes)
                      else str(reply))
            for address, (code, reply) in refused.items()
        }
        return sent

    def _send_each(self, email_message: Any, paths: dict[str, str]) -> bool:
        """Send one transaction per recipient, each from its return path in ``paths``.

        Until a recipient has accepted it, a failure is raised as a single
        transaction's is (nothing went out: the retry is safe). After that it
        can't be, or the retry would send the others a duplicate: a reply
        refuses that recipient (``connection.refused``), the connection closed
        (a 421, a connection lost before the end of DATA) refuses those left
        with the reply, or 421, and a connection lost after the end of DATA
        raises ``DeliveryOutcomeUnknown`` for the whole delivery.
        """
        connection: Any = self.connection
        seen: set[str] = set()
        todo: list[tuple[str, str | None]] = []  # (address to send to, its return path)
        for address in email_message.recipients():
            key = canonical(address)
            if key not in seen:  # one copy per mailbox, as one RCPT each would be
                seen.add(key)
                todo.append((self.prep_address(address), paths.get(key)))
        if not todo:
            return False
        from_email = self.prep_address(email_message.from_email)
        raw = email_message.message(policy=email.policy.SMTP).as_bytes()
        refused: dict[str, tuple[int, bytes | str]] = {}
        accepted: list[str] = []
        for place, (address, path) in enumerate(todo):
            connection.return_path = path
            try:
                refused.update(connection.sendmail(from_email, [address], raw))
            except (smtplib.SMTPRecipientsRefused, smtplib.SMTPResponseException) as exc:
                if not accepted and connection.sock is None:
                    raise  # closed (421) before anyone had it: retried, as one would be
                if not accepted and isinstance(exc, smtplib.SMTPResponseException):
                    raise  # a refused sender or DATA before anyone had it: as one would be
                if isinstance(exc, smtplib.SMTPRecipientsRefused):
                    refused.update(exc.recipients)
                else:
                    refused[address] = (exc.smtp_code, exc.smtp_error)
                if connection.sock is not None:
                    continue
                code, reply = refused[address]
            except OSError as exc:
                if not accepted:
                    raise  # the caller tells a retry from an unknown outcome
                if connection.data_handed_over:
                    raise self._partly_unknown(exc, accepted, todo[place:]) from exc
                code, reply = 421, (f"the connection was lost before the message was sent "
                                    f"({type(exc).__name__}: {exc})").encode()
            else:
                accepted.append(address)
                continue
            # The connection is gone: those left were not sent (a 4xx: retried later).
            refused.setdefault(address, (code, reply))
            refused.update({left: (code, reply) for left, _path in todo[place + 1:]})
            self.close()  # the next message opens a new one
            break
        connection.refused = refused
        if not accepted:
            connection.data_handed_over = False
            raise smtplib.SMTPRecipientsRefused(refused)  # type: ignore[arg-type]
        return True

    def _partly_unknown(self, exc: BaseException, accepted: list[str],
                        left: list[tuple[str, str | None]]) -> DeliveryOutcomeUnknown:
        alias = getattr(self, "alias", None)
        [unknown, *unsent] = [address for address, _path in left]
        return DeliveryOutcomeUnknown(
            f"mailer {alias!r} ({self.host}:{self.port}): the connection was lost after "
            f"the whole message was sent to {unknown}, before the server replied "
            f"({type(exc).__name__}: {exc}). {', '.join(accepted)} had accepted it"
            + (f"; {', '.join(unsent)} were not sent it" if unsent else "")
            + ". It is not retried, to avoid a duplicate.",
            alias=alias, host=f"{self.host}:{self.port}")


@lru_cache(maxsize=1024)
def _prep(address: str, force_ascii: bool) -> str:
    return DjangoSMTPBackend.prep_address(None, address, force_ascii)  # type: ignore[arg-type]


def _prepped(prep: Any, address: Any, force_ascii: bool) -> str:
    if isinstance(address, str):
        return _prep(address, force_ascii)  # a ValueError is raised again each time
    return prep(address, force_ascii)
