"""Build a bounce the way a relay does (Postfix's RFC 3464 shape), for round-trip tests."""

import email
import email.policy
import re
from email.utils import formatdate, make_msgid


def build_dsn(original: bytes, *, recipient: str, reply: str,
              reporting_mta: str = "relay.test.example") -> bytes:
    """The DSN a relay sends to the return path when ``recipient``'s server said ``reply``
    ("550 5.1.1 User unknown") about ``original`` (the bytes it had been given)."""
    headers = original.split(b"\r\n\r\n", 1)[0].decode("ascii", "replace")
    returned = email.message_from_bytes(original, policy=email.policy.default)
    found = re.search(r"\b[245]\.\d{1,3}\.\d{1,3}\b", reply)
    status = found.group(0) if found else f"{reply[0]}.0.0"
    action = "failed"
    boundary = "relay-dsn-boundary-1"
    return "\r\n".join([
        "Return-Path: <>",
        f"Date: {formatdate()}",
        f"From: MAILER-DAEMON@{reporting_mta} (Mail Delivery System)",
        "Subject: Undelivered Mail Returned to Sender",
        f"To: {returned.get('Return-Path', 'sender')}",
        "Auto-Submitted: auto-replied",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"',
        f"Message-ID: {make_msgid(domain=reporting_mta)}",
        "",
        f"--{boundary}",
        "Content-Description: Notification",
        "Content-Type: text/plain; charset=utf-8",
        "",
        f"This is the mail system at host {reporting_mta}.",
        "",
        "I'm sorry to have to inform you that your message could not",
        "be delivered to one or more recipients.",
        "",
        f"<{recipient}>: host mx.test.example said: {reply}",
        "",
        f"--{boundary}",
        "Content-Description: Delivery report",
        "Content-Type: message/delivery-status",
        "",
        f"Reporting-MTA: dns; {reporting_mta}",
        "",
        f"Final-Recipient: rfc822; {recipient}",
        f"Original-Recipient: rfc822;{recipient}",
        f"Action: {action}",
        f"Status: {status}",
        "Remote-MTA: dns; mx.test.example",
        f"Diagnostic-Code: smtp; {reply}",
        "",
        f"--{boundary}",
        "Content-Description: Undelivered Message Headers",
        "Content-Type: text/rfc822-headers",
        "",
        headers,
        "",
        f"--{boundary}--",
        "",
    ]).encode()
