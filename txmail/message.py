"""The Message base class: declarative attributes, overridable ``get_*()`` hooks.

    class PasswordReset(Message):
        template_name = "emails/password_reset"
        mailer = "transactional"
        subject = "Reset your password"

    PasswordReset(to=["ann@example.com"]).send()

Each attribute has a hook named after it (``subject`` → ``get_subject()``,
``delivery_options`` → ``get_delivery_options()``; ``template_name`` →
``get_template_names()`` and ``extra_context`` → ``get_context_data()`` as in
Django's views): set the attribute for the simple case, override the hook when
it depends on the instance. An instance is one message to one set of recipients.

``resolve()`` is the one place that reads them: it returns a frozen ``Draft``
that the way out (``txmail.outbox``) renders, builds and delivers without
coming back here.
"""

import html as html_lib
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager, ExitStack, nullcontext
from dataclasses import replace
from typing import TYPE_CHECKING, Any, ClassVar

from django.apps import apps
from django.conf import settings
from django.utils import timezone, translation

from .conf import txmail_settings
from .declared import (
    MOVED,
    check_last_check,
    check_mailer,
    completed_options,
    missing_template_name,
    overridden,
    send_check_data,
)
from .draft import DeliveryOptions, Draft, Rendered, check_key_template, format_key
from .exceptions import MessageConfigurationError
from .installed import require_installed
from .mail import reply_address
from .mail.mime import Attachment, InlineImage, TxEmailMessage
from .mail.validation import check_address_list
from .rendering.pipeline import render, render_file, render_string

if TYPE_CHECKING:
    from .backends.transport import SentMessage
    from .outbox import Queued


def _as_list(message: "Message", field: str, value: Any, default: Any) -> list[str]:
    """Return a fresh list of addresses; a bare string is a mistake, said early."""
    if value is None:
        value = default  # a class-level string is the same mistake
    if isinstance(value, str) or not isinstance(value, Iterable):
        check_address_list(type(message).__name__, field, value)  # raises
    return list(value)


def name_of(cls: type["Message"]) -> str:
    """Return the registry name of ``cls``: ``app_label.ClassName``."""
    # Kept on the class itself (not inherited: a subclass has its own name).
    name = cls.__dict__.get("_txmail_name")
    if name is None:
        config = apps.get_containing_app_config(cls.__module__)
        prefix = config.label if config else cls.__module__
        name = f"{prefix}.{cls.__name__}"
        if apps.ready:  # before that, the app's label may not be known yet
            cls._txmail_name = name  # type: ignore[attr-defined]
    return name


def _activated(language: str | None, time_zone: Any) -> AbstractContextManager[Any]:
    if not (language or time_zone):
        return nullcontext()  # most messages: nothing to switch, nothing to pay
    stack = ExitStack()
    if language:
        stack.enter_context(translation.override(language))
    if time_zone:
        stack.enter_context(timezone.override(time_zone))
    return stack


class Message:
    """Base class of every txmail message.

    Set the attributes for the simple case and override the matching
    ``get_*()`` hook when a value depends on the instance; ``resolve()`` reads
    each of them once. Classes in an app's ``emails.py`` are registered as
    ``app_label.ClassName``; ``abstract = True`` in a class body marks a base.
    """

    # Subclasses that set ``abstract = True`` in their body are bases for other
    # messages: not registered, not previewed.
    abstract: ClassVar[bool] = True

    #: The template, without its .mjml/.html extension (hook: ``get_template_names()``).
    template_name: str | None = None
    #: A template string rendered with the body's context (hook: ``get_subject()``).
    subject: str | None = None
    #: A template file for the subject instead (hook: ``get_subject()``).
    subject_template_name: str | None = None
    #: The ``MAILERS`` alias; None: ``TXMAIL["DEFAULT_MAILER"]`` (hook: ``get_mailer()``).
    mailer: str | None = None
    #: None: ``DEFAULT_FROM_EMAIL`` (hook: ``get_from_email()``).
    from_email: str | None = None
    #: Addresses (hooks: ``get_to()``, ``get_cc()``, ``get_bcc()``, ``get_reply_to()``).
    to: Sequence[str] = ()
    cc: Sequence[str] = ()
    bcc: Sequence[str] = ()
    reply_to: Sequence[str] = ()
    #: A ``txmail.inbound.Mailbox`` whose route has ``{token}``: Reply-To becomes a signed
    #: address of it, and replies are linked to this delivery (hook: ``get_reply_mailbox()``).
    reply_mailbox: Any = None
    #: Extra headers; Message-ID and Date are added when building (hook: ``get_headers()``).
    headers: Mapping[str, str] = {}
    #: ``Attachment`` and ``InlineImage`` values (hook: ``get_attachments()``).
    attachments: Sequence[Attachment | InlineImage] = ()
    #: Added to the template context (hook: ``get_context_data()``).
    extra_context: Mapping[str, Any] | None = None
    #: The recipient's language and time zone; None keeps the active ones
    #: (hooks: ``get_language()``, ``get_time_zone()``).
    language: str | None = None
    time_zone: Any = None
    #: RFC 3834: tells auto-responders not to answer; None leaves the header out
    #: (part of ``get_headers()``).
    auto_submitted: str | None = "auto-generated"
    #: How it is delivered: task queue, suppression, topic, provider options
    #: (``txmail.DeliveryOptions``; hook: ``get_delivery_options()``).
    delivery_options: DeliveryOptions = DeliveryOptions()
    # What ``DeliveryOptions(resend_if_unknown=None)`` means for this kind of
    # message: never twice for transactional mail (``BulkMessage``: True).
    resend_if_unknown_default: ClassVar[bool] = False
    _resolved_options: ClassVar[DeliveryOptions]

    def __init__(
        self,
        to: Sequence[str] | None = None,
        *,
        cc: Sequence[str] | None = None,
        bcc: Sequence[str] | None = None,
        reply_to: Sequence[str] | None = None,
        from_email: str | None = None,
        headers: Mapping[str, str] | None = None,
        attachments: Sequence[Attachment | InlineImage] | None = None,
        context: Mapping[str, Any] | None = None,
        language: str | None = None,
        time_zone: Any = None,
    ) -> None:
        # Copy class-level defaults into the instance so that no list or dict is
        # ever shared between two messages.
        self.to = _as_list(self, "to", to, self.to)
        self.cc = _as_list(self, "cc", cc, self.cc)
        self.bcc = _as_list(self, "bcc", bcc, self.bcc)
        self.reply_to = _as_list(self, "reply_to", reply_to, self.reply_to)
        if from_email is not None:
            self.from_email = from_email
        self.headers = {**self.headers, **(headers or {})}
        self.attachments = [*self.attachments, *(attachments or [])]
        self.extra_context = {**(self.extra_context or {}), **(context or {})}
        if language is not None:
            self.language = language
        if time_zone is not None:
            self.time_zone = time_zone

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # ``abstract`` is not inherited: only a class that says so is abstract.
        if "abstract" not in cls.__dict__:
            cls.abstract = False
        for name in sorted(MOVED.keys() & cls.__dict__.keys()):
            raise MessageConfigurationError(
                f"{cls.__name__}.{name} is no longer read: use {MOVED[name]} instead "
                "(see CHANGELOG.md).")
        cls._resolved_options = completed_options(cls, cls.delivery_options,
                                           f"{cls.__name__}.delivery_options")
        check_key_template(cls.__name__, cls._resolved_options.idempotency_key)
        check_last_check(cls, Message)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} to={self.to!r}>"

    # -- hooks -------------------------------------------------------------

    def get_template_names(self) -> list[str]:
        """Return template names to try, without their .mjml/.html extension."""
        if self.template_name is None:
            raise missing_template_name(type(self).__name__)
        return [self.template_name]

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        """Return the template context; call super() and add to it."""
        kwargs.setdefault("message", self)
        if self.extra_context:
            kwargs.update(self.extra_context)
        return kwargs

    def get_subject(self, context: dict[str, Any]) -> str:
        """Return the subject as HTML text (entities are unescaped afterwards).

        The class's ``subject`` is a template string rendered with the body's
        context. A subject set on the instance (``self.subject = ...``) is used
        as it is: data must never be parsed as template code.
        """
        if self.subject_template_name:
            return render_file(self.subject_template_name, context, owner=type(self).__name__)
        if "subject" in self.__dict__ and self.subject is not None:
            return html_lib.escape(str(self.subject), quote=False)
        if self.subject is not None:
            return render_string(str(self.subject), context, owner=type(self).__name__)
        raise MessageConfigurationError(
            f"{type(self).__name__} requires either 'subject', "
            "'subject_template_name' or an implementation of 'get_subject()'."
        )

    def get_to(self) -> list[str]:
        """Return the To addresses."""
        return list(self.to)

    def get_cc(self) -> list[str]:
        """Return the Cc addresses."""
        return list(self.cc)

    def get_bcc(self) -> list[str]:
        """Return the Bcc addresses."""
        return list(self.bcc)

    def get_reply_to(self) -> list[str]:
        """Return the Reply-To addresses."""
        return list(self.reply_to)

    def get_reply_mailbox(self) -> Any:
        """Return the mailbox replies go to (``txmail.mail.reply_address``); None: ``reply_to``."""
        return self.reply_mailbox

    def get_from_email(self) -> str:
        """Return the From address; the default is ``settings.DEFAULT_FROM_EMAIL``."""
        return self.from_email or settings.DEFAULT_FROM_EMAIL

    def get_headers(self) -> dict[str, str]:
        """Return extra headers; Message-ID and Date are added when building."""
        headers = dict(self.headers)
        # A header given in any case overrides the default ("auto-submitted": "no").
        if self.auto_submitted and "auto-submitted" not in {n.lower() for n in headers}:
            headers = {"Auto-Submitted": self.auto_submitted, **headers}
        return headers

    def get_attachments(self) -> list[Attachment | InlineImage]:
        """Return attachments and inline images (``InlineImage`` → ``cid:``)."""
        return list(self.attachments)

    def get_language(self) -> str | None:
        """Return the recipient's language code; None keeps the active one."""
        return self.language

    def get_time_zone(self) -> Any:
        """Return the recipient's time zone (a tzinfo or name); None keeps the current."""
        return self.time_zone

    def get_mailer(self) -> str | None:
        """Return the MAILERS alias to send through; None means the default."""
        return self.mailer

    def get_send_check(self) -> Any:
        """Return JSON values kept at ``enqueue()`` for ``still_wanted()``; None: no check.

        E.g. ``{"order": self.order.pk}``: the worker passes them to the class's
        ``still_wanted()`` just before the hand-over, so a dispatch notice for
        an order cancelled since can be dropped.
        """
        return None

    @classmethod
    def still_wanted(cls, data: Any) -> bool:
        """Return whether the message is still wanted, from ``get_send_check()``'s data.

        Called by the worker just before the hand-over. False, or raising
        ``txmail.CancelSend("why")``, ends the row ``cancelled``; an error
        leaves it unsent and tried again later (``docs/how-to/scheduling.md``).
        """
        return True

    def get_delivery_options(self) -> DeliveryOptions:
        """Return how this message is delivered (see ``DeliveryOptions``).

        Override to vary them per instance, e.g.
        ``return dataclasses.replace(super().get_delivery_options(), topic=...)``.
        """
        return self.delivery_options

    def get_idempotency_key(self, template: str | None) -> str | None:
        """Return the message's idempotency key, or None.

        ``template`` is ``DeliveryOptions.idempotency_key``; the default fills
        it in with the message's attributes (``"receipt/{order.pk}"`` →
        ``"receipt/1042"``). Override to compute the key in code (not formatted).
        """
        return format_key(self, template)

    # -- resolving -----------------------------------------------------------

    def activated(self) -> AbstractContextManager[None]:
        """Activate the recipient's language and time zone, as ``resolve()`` does."""
        return _activated(self.get_language(), self.get_time_zone())

    def resolve(self, using: str | None = None, *, sending: bool = True,
                options: Mapping[str, Any] | None = None) -> Draft:
        """Read every attribute and hook once; return the frozen ``Draft``.

        ``options`` (the keyword arguments of ``send()`` / ``enqueue()``)
        replace fields of the class's ``DeliveryOptions`` for this message.
        ``using`` overrides the mailer alias, which must be a ``MAILERS`` alias
        when ``sending`` (``render()`` and ``message()`` pass False: they send
        nothing). Hooks run in the recipient's language and time zone (a
        localized subject, header or PDF).
        """
        require_installed()  # else sends fail on tables that don't exist
        given = options or {}
        cls = type(self)
        owner = cls.__name__
        alias = using or self.get_mailer() or str(txmail_settings.DEFAULT_MAILER)
        if sending:
            check_mailer(owner, alias)
        language, time_zone = self.get_language(), self.get_time_zone()
        with _activated(language, time_zone):
            chosen = self.get_delivery_options()
            if chosen is cls.delivery_options:
                chosen = cls._resolved_options  # checked and completed once per class
            else:
                chosen = completed_options(cls, chosen, f"{owner}.get_delivery_options()")
            if given:
                chosen = overridden(chosen, given, owner)
            if "idempotency_key" not in given:  # a key passed to send() is used as it is
                key = self.get_idempotency_key(chosen.idempotency_key)
                if key != chosen.idempotency_key:
                    chosen = replace(chosen, idempotency_key=key)
            context = self.get_context_data()
            from_email = self.get_from_email()
            reply_to, headers = reply_address.apply(self.get_reply_mailbox(), owner, from_email,
                                              self.get_reply_to(), self.get_headers())
            return Draft(
                owner=owner, message_class=name_of(cls), mailer=alias,
                template_names=tuple(self.get_template_names()),
                context=context, subject=self.get_subject(context),
                from_email=from_email,
                to=tuple(self.get_to()), cc=tuple(self.get_cc()), bcc=tuple(self.get_bcc()),
                reply_to=reply_to, headers=headers,
                attachments=tuple(self.get_attachments()),
                language=language, time_zone=time_zone,
                options=chosen,
                send_check=send_check_data(self, owner) if sending else None,
            )

    # -- the way out ----------------------------------------------------------

    def render(self) -> Rendered:
        """Render subject, HTML and text without building MIME or sending."""
        return render(self.resolve(sending=False))

    def message(self) -> TxEmailMessage:
        """Return the Django ``EmailMultiAlternatives`` this message sends."""
        from .outbox import build

        return build(self.resolve(sending=False))

    def send(self, using: str | None = None, **options: Any) -> "SentMessage":
        """Render, build and send now through ``using`` (default: the class's mailer).

        Returns a ``SentMessage`` whose ``status`` says what happened: ``sent``,
        ``suppressed`` (every recipient is on the suppression list: nothing
        went out) or ``cancelled`` (a ``pre_send`` receiver or an interceptor
        said no; ``cancelled`` holds why). Raises a ``DeliveryError`` naming the
        mailer if it fails. Recipients the server refused while accepting
        others are in ``SentMessage.refused`` (and the delivery log), not raised.
        """
        from .outbox import send  # models: loaded once apps are ready

        if later := sorted({"send_at", "delay"} & set(options)):
            raise MessageConfigurationError(
                f"{type(self).__name__}.send() sends now, so it takes no {later[0]!r}: "
                f"use enqueue({later[0]}=...) to send later.")
        return send(self, using, message_class=name_of(type(self)), options=options)

    async def asend(self, using: str | None = None, **options: Any) -> "SentMessage":
        """Async ``send()``: runs the pipeline and the mailer in a thread."""
        from asgiref.sync import sync_to_async

        return await sync_to_async(self.send)(using=using, **options)

    def enqueue(self, using: str | None = None, **options: Any) -> "Queued":
        """Render and build now; send from a task worker once the transaction commits.

        Returns a ``Queued`` handle (``delivery_id``, ``message_id`` and a
        ``status`` read from the delivery log each time until it is final, as
        a ``django.tasks`` ``TaskResult``). Inside ``transaction.atomic()``, a rollback sends
        nothing. Signals and interceptors run as for ``send()``; a cancelled
        message gives a handle whose status is ``cancelled``.
        """
        from .outbox import enqueue  # models: loaded once apps are ready

        return enqueue(self, using, message_class=name_of(type(self)), options=options)

    async def aenqueue(self, using: str | None = None, **options: Any) -> "Queued":
        """Async ``enqueue()``."""
        from asgiref.sync import sync_to_async

        return await sync_to_async(self.enqueue)(using=using, **options)


# The base class itself: __init_subclass__ completes its subclasses' options.
Message._resolved_options = completed_options(Message, Message.delivery_options,
                                       "Message.delivery_options")
