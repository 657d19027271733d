"""``manage.py txmail inbound | listen``: inbound mail from a pipe, or over SMTP/LMTP.

``inbound`` reads one raw message on stdin, as Postfix's ``pipe`` (or
``local``'s ``|command``, procmail...) gives it, and exits per sysexits(3), which
Postfix reads: 0 stored; 75 (EX_TEMPFAIL) when it couldn't be stored now, so
Postfix keeps it and tries again; 67 (EX_NOUSER) when no mailbox routes the
recipient and 65 (EX_DATAERR) above ``MAX_SIZE``, so Postfix bounces it; 64
(EX_USAGE) without a recipient.
"""

import os
import socket
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count

from .... import bounces
from ....inbound import configured, listener, mailboxes, store
from ....inbound.models import InboundMessage, Status

EX_USAGE, EX_DATAERR, EX_NOUSER, EX_TEMPFAIL = 64, 65, 67, 75


def add_arguments(sub: Any) -> None:
    inbound = sub.add_parser(
        "inbound", help="Store the raw message on stdin for a worker to process (a Postfix "
        "pipe: `txmail inbound --recipient ${recipient} --sender ${sender}`).")
    inbound.add_argument("--recipient", help="The envelope recipient (default: $RECIPIENT, "
                         "as Postfix's local delivery sets it).")
    inbound.add_argument("--sender", help="The envelope sender (default: $SENDER).")
    listen = sub.add_parser(
        "listen", help="Receive mail over SMTP (or LMTP) for TXMAIL['INBOUND']['DOMAINS'].")
    listen.add_argument("--host", default="127.0.0.1",
                        help="The address to listen on (default 127.0.0.1).")
    listen.add_argument("--port", type=int, default=2525,
                        help="The port (default 2525; 0: any free port, printed).")
    listen.add_argument("--lmtp", action="store_true",
                        help="Speak LMTP (one reply per recipient), for an MTA in front.")
    listen.add_argument("--hostname", help="The name in the greeting (default: this host's).")
    listen.add_argument("--tls-cert", help="A certificate (PEM) file: offer STARTTLS.")
    listen.add_argument("--tls-key", help="Its key file, if not in the certificate file.")


def status_lines() -> list[str]:
    """What ``txmail status`` says of inbound mail: its rows by status, when there are any."""
    counts = dict(InboundMessage.objects.values_list("status").annotate(n=Count("pk")))
    said = ", ".join(f"{counts[status]} {status.value}" for status in Status
                     if counts.get(status))
    return [f"inbound mail: {said}"] if said else []


def do_inbound(command: BaseCommand, *, recipient: str | None, sender: str | None,
               **options: Any) -> None:
    recipient = recipient or os.environ.get("RECIPIENT", "")
    sender = sender if sender is not None else os.environ.get("SENDER", "")
    if not recipient:
        raise CommandError("No recipient: pass --recipient ADDRESS (Postfix: ${recipient}).",
                           returncode=EX_USAGE)
    try:
        limit = int(configured.setting("MAX_SIZE"))
        raw = sys.stdin.buffer.read(limit + 1)
        if not (bounces.is_return_path(recipient) or mailboxes.route_for(recipient)):
            raise CommandError(f"No mailbox routes {recipient!r}: the message is refused.",
                               returncode=EX_NOUSER)
        row = store.store(raw, recipient=recipient, sender=sender, source="stdin")
    except store.TooLarge as exc:
        raise CommandError(str(exc), returncode=EX_DATAERR) from exc
    except CommandError:
        raise
    except Exception as exc:  # the database, a setting: Postfix keeps the message
        raise CommandError(f"Could not store the message, try again later: "
                           f"{type(exc).__name__}: {exc}", returncode=EX_TEMPFAIL) from exc
    if int(options.get("verbosity", 1)) > 1:
        command.stdout.write(f"Stored inbound message {row.pk} for {recipient}.")


def do_listen(command: BaseCommand, *, host: str, port: int, lmtp: bool,
              hostname: str | None, tls_cert: str | None, tls_key: str | None,
              **options: Any) -> None:
    domains = configured.domains()
    if not domains:
        raise CommandError(
            "TXMAIL['INBOUND']['DOMAINS'] is empty: the listener would refuse every "
            "recipient. Set it to the domains mail is received for, e.g. ['example.com'].")
    tls = listener.tls_context(tls_cert, tls_key)

    def ready(server: Any) -> None:
        bound = server.sockets[0].getsockname()
        command.stdout.write(
            f"Listening for {'LMTP' if lmtp else 'SMTP'} on {bound[0]}:{bound[1]} for "
            f"{', '.join(sorted(domains))}{' (STARTTLS offered)' if tls else ''}.")
        command.stdout.flush()

    listener.serve(host, port, lmtp=lmtp, tls=tls, hostname=hostname or socket.getfqdn(),
                   ready=ready)
