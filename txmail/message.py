"""The Message base class: declarative attributes, overridable ``get_*()`` hooks.

    class PasswordReset(Message):
        template_name = "emails/password_reset"
        mailer = "transactional"
        subject = "Reset your password"

    PasswordReset(to=["ann@example.com"]).send()

Every attribute has a hook of the same name (``subject`` → ``get_subject()``):
set the attribute for the simple case, override the hook when it depends on
the instance. An instance is one message to one set of recipients.
"""

import html as html_lib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Any, ClassVar

from django.apps import apps
from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone, translation

from .delivery import SentMessage, esp
from .exceptions import MessageConfigurationError
from .mime import Attachment, InlineImage, TxEmailMessage
from .render import Rendered, render_activated, render_message, render_string
from .send import build_email
from .validation import check_address_list

if TYPE_CHECKING:
    from .delivery.models import Delivery


def _as_list(message: "Message", field: str, value: Any, default: Any) -> list[str]:
    """Return a fresh list of addresses; a bare string is a mistake, said early."""
    if value is None:
        value = default  # a class-level string is the same mistake
    if isinstance(value, str) or not isinstance(value, Iterable):
        check_address_list(type(message).__name__, field, value)  # raises
    return list(value)


def name_of(cls: type["Message"]) -> str:
    """Return the registry name of ``cls``: ``app_label.ClassName``."""
    config = apps.get_containing_app_config(cls.__module__)
    prefix = config.label if config else cls.__module__
    return f"{prefix}.{cls.__name__}"


def missing_template_name(owner: str) -> MessageConfigurationError:
    return MessageConfigurationError(
        f"{owner} requires either a definition of 'template_name' or an "
        "implementation of 'get_template_names()'."
    )


class Message:
    """Base class of every txmail message."""

    # Subclasses that set ``abstract = True`` in their body are bases for other
    # messages: not registered, not previewed.
    abstract: ClassVar[bool] = True

    template_name: str | None = None
    subject: str | None = None
    subject_template_name: str | None = None
    mailer: str | None = None
    from_email: str | None = None
    to: Sequence[str] = ()
    cc: Sequence[str] = ()
    bcc: Sequence[str] = ()
    reply_to: Sequence[str] = ()
    headers: Mapping[str, str] = {}
    attachments: Sequence[Attachment | InlineImage] = ()
    extra_context: Mapping[str, Any] | None = None
    language: str | None = None
    time_zone: Any = None
    # RFC 3834: tells auto-responders not to answer. None leaves it out.
    auto_submitted: str | None = "auto-generated"
    # enqueue(): the django.tasks backend alias (settings.TASKS; None means
    # TXMAIL["TASK_BACKEND"]), its queue and the priority (-100..100).
    task_backend: str | None = None
    task_queue_name: str | None = None
    task_priority: int | None = None
    # Skip recipients on the suppression list (hard bounces, complaints). False
    # still sends to them: a password reset to a once-bounced address may work.
    respect_suppression: bool = True
    # The list this message belongs to ("newsletter"): an address unsubscribed
    # from it is skipped, as are addresses suppressed for everything. None for
    # transactional mail (txmail.bulk.BulkMessage requires one).
    topic: str | None = None
    # A worker killed while the server had the message leaves its outcome
    # unknown (SMTP can't tell whether the server kept it). False: leave it
    # `unknown`, never mailed twice. True: the sweep sends the same bytes
    # again, same Message-ID, by which receivers recognise a copy.
    resend_if_unknown: bool = False
    # The body holds a secret (a password reset link, a login code): its
    # stored bytes are dropped the moment its delivery ends (sent, failed,
    # unknown, cancelled, suppressed), even with TXMAIL["KEEP_BODIES"], so no
    # log row keeps a link that still works and nobody can send it again.
    secret_body: bool = False
    # Provider features through django-anymail (ignored by SMTP mailers). None
    # tags mean the registry name ("shop.Receipt"), so a provider's dashboard
    # groups sends by message type. The delivery id is added to the metadata.
    tags: Sequence[str] | None = None
    metadata: Mapping[str, Any] = {}
    esp_extra: Mapping[str, Any] | None = None

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
            return render_to_string(self.subject_template_name, context)
        if "subject" in self.__dict__ and self.subject is not None:
            return html_lib.escape(str(self.subject), quote=False)
        if self.subject is not None:
            return render_string(str(self.subject), context)
        raise MessageConfigurationError(
            f"{type(self).__name__} requires either 'subject', "
            "'subject_template_name' or an implementation of 'get_subject()'."
        )

    def get_recipients(self) -> list[str]:
        """Return the To addresses."""
        return list(self.to)

    def get_cc(self) -> list[str]:
        return list(self.cc)

    def get_bcc(self) -> list[str]:
        return list(self.bcc)

    def get_reply_to(self) -> list[str]:
        return list(self.reply_to)

    def get_from_email(self) -> str:
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

    def get_task_backend(self) -> str | None:
        """Return the ``TASKS`` alias ``enqueue()`` uses; None means the default."""
        return self.task_backend

    def get_task_queue_name(self) -> str | None:
        """Return the task queue ``enqueue()`` uses; None means the backend's default."""
        return self.task_queue_name

    def get_task_priority(self) -> int | None:
        """Return the task priority ``enqueue()`` uses; None means the default (0)."""
        return self.task_priority

    def get_tags(self) -> list[str]:
        """Return the provider tags (anymail ``tags``); default: the registry name."""
        return [name_of(type(self))] if self.tags is None else list(self.tags)

    def get_metadata(self) -> dict[str, Any]:
        """Return the provider metadata (anymail ``metadata``), JSON values."""
        return dict(self.metadata)

    def get_esp_extra(self) -> dict[str, Any] | None:
        """Return provider-specific send options (anymail ``esp_extra``), JSON values."""
        return dict(self.esp_extra) if self.esp_extra else None

    def get_respect_suppression(self) -> bool:
        """Return whether suppressed recipients are skipped (see ``respect_suppression``)."""
        return self.respect_suppression

    def get_topic(self) -> str | None:
        """Return the list this message belongs to (see ``topic``)."""
        return self.topic

    def get_resend_if_unknown(self) -> bool:
        """Return whether an ambiguous hand-over is sent again (see ``resend_if_unknown``)."""
        return self.resend_if_unknown

    def get_secret_body(self) -> bool:
        """Return whether the body holds a secret (see ``secret_body``)."""
        return self.secret_body

    # -- pipeline ------------------------------------------------------------

    @contextmanager
    def activated(self) -> Iterator[None]:
        """Activate the recipient's language and time zone for rendering and building.

        Headers and attachments (a localized PDF) are built inside it too.
        """
        with ExitStack() as stack:
            language = self.get_language()
            if language:
                stack.enter_context(translation.override(language))
            time_zone = self.get_time_zone()
            if time_zone:
                stack.enter_context(timezone.override(time_zone))
            yield

    def render(self) -> Rendered:
        """Render subject, HTML and text without building MIME or sending."""
        return render_message(self)

    def message(self, rendered: Rendered | None = None) -> TxEmailMessage:
        """Return the Django ``EmailMultiAlternatives`` this message sends."""
        # One activation for rendering and building (headers, a localized PDF).
        with self.activated():
            return self.build(rendered or render_activated(self))

    def build(self, rendered: Rendered) -> TxEmailMessage:
        """Return the email for an already rendered message (inside ``activated()``)."""
        email = build_email(self, rendered)
        esp.apply(email, {"tags": self.get_tags(), "metadata": self.get_metadata(),
                          "esp_extra": self.get_esp_extra()}, None)
        return email

    def send(self, using: str | None = None) -> SentMessage:
        """Render, build and send now through ``using`` (default: the class's mailer).

        Returns a ``SentMessage``; raises a ``DeliveryError`` naming the mailer
        if it fails. The signals of ``txmail.signals`` are sent around it, and
        the ``TXMAIL["INTERCEPTORS"]`` see the built email; if one of them
        cancels it, ``SentMessage.cancelled`` says why. Recipients the server
        refused while accepting others are in ``SentMessage.refused`` (and the
        delivery log), not raised.
        """
        from .dispatch import send_message  # models: loaded once apps are ready

        return send_message(self, using, message_class=name_of(type(self)))

    async def asend(self, using: str | None = None) -> SentMessage:
        """Async ``send()``: runs the pipeline and the mailer in a thread."""
        from asgiref.sync import sync_to_async

        return await sync_to_async(self.send)(using=using)

    def enqueue(self, using: str | None = None) -> "Delivery":
        """Render and build now; send from a task worker once the transaction commits.

        Returns the ``Delivery`` row, whose ``status`` shows what happened
        (``refresh_from_db()``). Inside ``transaction.atomic()``, a rollback
        sends nothing. Signals and interceptors run as for ``send()``; a
        cancelled message returns a row whose status is ``cancelled``.
        """
        from .dispatch import enqueue_message  # models: loaded once apps are ready

        return enqueue_message(self, using, message_class=name_of(type(self)))

    async def aenqueue(self, using: str | None = None) -> "Delivery":
        """Async ``enqueue()``."""
        from asgiref.sync import sync_to_async

        return await sync_to_async(self.enqueue)(using=using)
