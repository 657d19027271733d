"""Build the Django email for a rendered draft.

Everything that can fail on bad input — addresses, headers, recipients, the
mailer alias — is checked here, before the delivery layer opens a connection,
so a bad message raises without anything leaving.
"""

from email.utils import getaddresses, make_msgid
from typing import Any

from django.core.mail import EmailMessage as DjangoEmailMessage
from django.core.mail.utils import DNS_NAME
from django.utils.encoding import punycode

from ..conf import txmail_settings
from ..draft import Draft, Rendered
from ..exceptions import MessageConfigurationError, NoRecipients
from .mime import Attachment, InlineImage, TxEmailMessage
from .validation import check_address, check_address_list, check_header_text, check_headers


def message_id_domain(from_email: str) -> str:
    """Return the domain for Message-IDs: the setting, else the From domain.

    An internationalized domain is given in its IDNA form (``xn--…``): a
    Message-ID is ASCII, and a Unicode one fails in every mailer on sending.
    """
    configured = txmail_settings.MESSAGE_ID_DOMAIN
    if configured:
        try:
            return punycode(str(configured))
        except UnicodeError:
            raise MessageConfigurationError(
                f"TXMAIL['MESSAGE_ID_DOMAIN'] is {configured!r}, not a valid domain "
                "name. Set it to your sending domain (e.g. 'example.com')."
            ) from None
    address = getaddresses([from_email])[0][1]
    # Checked addresses have domains validate_email accepted, punycode included.
    return punycode(address.rpartition("@")[2] or str(DNS_NAME))


def build_email(draft: Draft, rendered: Rendered) -> TxEmailMessage:
    """Return the ``TxEmailMessage`` for ``draft`` after validating every field.

    Call it inside the draft's language and time zone (``rendering.activated``):
    a localized ``Date`` or attachment is built there.
    """
    owner = draft.owner
    to = check_address_list(owner, "to", list(draft.to))
    cc = check_address_list(owner, "cc", list(draft.cc))
    bcc = check_address_list(owner, "bcc", list(draft.bcc))
    reply_to = check_address_list(owner, "reply_to", list(draft.reply_to))
    from_email = check_address(owner, "from_email", draft.from_email)
    if not (to or cc or bcc):
        raise NoRecipients(
            f"{owner}: the message has no recipients. Pass to=[...] (or cc/bcc) "
            "when creating it, or return addresses from get_to()."
        )
    # A Rendered can be made by hand; its subject is checked like a rendered one.
    subject = check_header_text(owner, "subject", rendered.subject)
    headers = check_headers(owner, dict(draft.headers))
    # One spelling of the key (check_headers refused two), so what send()
    # returns is the ID that went out.
    given = [name for name in headers if name.lower() == "message-id"]
    headers["Message-ID"] = (
        headers.pop(given[0]) if given else make_msgid(domain=message_id_domain(from_email))
    )

    files, inline = [], []
    for item in draft.attachments:
        if isinstance(item, InlineImage):
            inline.append(item)
        elif isinstance(item, Attachment):
            files.append(item.as_django_attachment())
        else:
            files.append(Attachment(*item).as_django_attachment())

    email = TxEmailMessage(
        subject=subject,
        body=rendered.text,
        from_email=from_email,
        to=to,
        cc=cc,
        bcc=bcc,
        reply_to=reply_to,
        headers=headers,
        alternatives=[(rendered.html, "text/html")],
        attachments=files,
        inline_images=inline,
    )
    # The MIME tree itself is built once, by the mailer, before anything for this
    # message goes on the wire; every field that could make that fail was checked
    # above (attachments became MIME parts when they were collected).
    return email


def check_intercepted(owner: str, email: Any) -> Any:
    """Check the email an interceptor returned as ``build_email()`` checks its own.

    An interceptor can change any field (or return another email); nothing it
    wrote reaches a header unchecked. Another email is made a ``TxEmailMessage``,
    so its address headers are written txmail's way too.
    """
    if not isinstance(email, TxEmailMessage):
        if not isinstance(email, DjangoEmailMessage):
            raise MessageConfigurationError(
                f"{owner}: an interceptor returned {email!r}, not an email. Return the "
                "email it was given (changed), another EmailMessage, or None to cancel."
            )
        # Every attribute carries over: anymail's tags, metadata and esp_extra,
        # content_subtype, encoding, alternatives.
        converted = TxEmailMessage.__new__(TxEmailMessage)
        converted.__dict__.update(email.__dict__)
        converted.__dict__.setdefault("alternatives", [])
        converted.__dict__.setdefault("inline_images", [])
        email = converted
    email.to = check_address_list(owner, "to", email.to)
    email.cc = check_address_list(owner, "cc", email.cc)
    email.bcc = check_address_list(owner, "bcc", email.bcc)
    email.reply_to = check_address_list(owner, "reply_to", email.reply_to)
    email.from_email = check_address(owner, "from_email", email.from_email)
    email.subject = check_header_text(owner, "subject", str(email.subject))
    email.extra_headers = check_headers(owner, email.extra_headers)
    if not (email.to or email.cc or email.bcc):
        raise NoRecipients(
            f"{owner}: an interceptor removed every recipient. Return None from it "
            "to cancel the message instead."
        )
    return email
