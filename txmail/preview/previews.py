"""Find a class's preview methods and run them without touching the database."""

import inspect
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from django.db import connections, transaction
from django.utils import translation

from .. import quality
from ..conf import txmail_settings
from ..draft import Draft, Rendered
from ..mail.mime import TxEmailMessage
from ..message import Message
from ..outbox import build
from ..quality import Finding, Severity, spam
from ..rendering import variables
from ..rendering.pipeline import render

DEFAULT_VARIANT = "default"
# Query parameters the UI uses itself; never passed to preview methods.
RESERVED_PARAMS = frozenset({"lang"})


def variant_of(method_name: str) -> str | None:
    """``preview`` → ``default``, ``preview_gift_card`` → ``gift-card``."""
    if method_name == "preview":
        return DEFAULT_VARIANT
    if method_name.startswith("preview_") and len(method_name) > len("preview_"):
        return method_name.removeprefix("preview_").replace("_", "-")
    return None


def variants(cls: type[Message]) -> dict[str, str]:
    """Return ``{variant: method name}``, ``default`` first, then by name."""
    found = {}
    for name in dir(cls):
        variant = variant_of(name)
        if variant is None:
            continue
        if isinstance(inspect.getattr_static(cls, name), classmethod | staticmethod):
            found[variant] = name
    return dict(sorted(found.items(), key=lambda kv: (kv[0] != DEFAULT_VARIANT, kv[0])))


@dataclass(frozen=True)
class Param:
    name: str
    default: str  # shown in the parameter form; "" when there is none


def parameters(method: Callable[..., Any]) -> tuple[list[Param], bool]:
    """Return the keyword parameters of a preview method and whether it takes **kwargs."""
    params, var_kw = [], False
    for p in inspect.signature(method).parameters.values():
        if p.kind is p.VAR_KEYWORD:
            var_kw = True
        elif p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            default = "" if p.default is p.empty or p.default is None else str(p.default)
            params.append(Param(p.name, default))
    return params, var_kw


def select_kwargs(method: Callable[..., Any], query: Mapping[str, str]) -> dict[str, str]:
    """Return the query parameters ``method`` accepts, as strings."""
    params, var_kw = parameters(method)
    accepted = {p.name for p in params}
    return {
        key: value for key, value in query.items()
        if key not in RESERVED_PARAMS and (var_kw or key in accepted)
    }


@contextmanager
def rolled_back() -> Iterator[None]:
    """Run the block in a transaction on every database, then roll all back."""
    with ExitStack() as stack:
        aliases = [
            alias for alias in connections
            # The dummy backend (no DATABASES) can't open a transaction.
            if connections[alias].vendor != "dummy"
        ]
        for alias in aliases:
            stack.enter_context(transaction.atomic(using=alias))
        try:
            yield
        finally:
            for alias in aliases:
                transaction.set_rollback(True, using=alias)


def apply_language(instance: Message, code: str | None) -> None:
    """Let ``code`` reach the class's language hook (see the package docstring)."""
    if code and type(instance).get_language is Message.get_language:
        instance.language = code


@dataclass
class Preview:
    """One previewed message: the email ``send()`` would send, and how it was made."""

    name: str
    cls: type[Message]
    variant: str
    kwargs: dict[str, str]
    language: str | None  # requested with ?lang=
    instance: Message
    draft: Draft
    rendered: Rendered
    email: TxEmailMessage
    mime: Any  # email.message.EmailMessage: email.message(), the sent object
    raw: bytes
    mailer: str
    lint: list[Any] = field(default_factory=list)


class NotAMessage(TypeError):
    pass


def build_instance(cls: type[Message], variant: str, query: Mapping[str, str]) -> tuple[
        Message, dict[str, str]]:
    """Call the variant's preview method with the query parameters it accepts."""
    method_name = variants(cls)[variant]
    method = getattr(cls, method_name)
    kwargs = select_kwargs(method, query)
    instance = method(**kwargs)
    if not isinstance(instance, Message):
        raise NotAMessage(
            f"{cls.__name__}.{method_name}() returned {instance!r}; a preview "
            f"method must return an instance, e.g. `return cls(to=[...])`."
        )
    return instance, kwargs


def make_preview(name: str, cls: type[Message], variant: str,
                 query: Mapping[str, str], language: str | None,
                 *, lint: bool = True, to: str | None = None) -> Preview:
    """Resolve, render and MIME-encode one variant inside a rolled-back transaction.

    ``lint`` adds the findings; the spam score only when
    ``TXMAIL["PREVIEW_SPAM_SCORE"]`` is on, scored after the rollback.

    ``to`` makes it a test send's preview: the message is addressed to ``to``
    alone before it is resolved, so what depends on the recipient (a bulk
    message's unsubscribe link) is the tester's, never the sample's.
    """
    from .lint import lint_message

    # The lint shows undefined variables above the preview: don't raise for them
    # (in tests, where the test helpers make rendering strict).
    with rolled_back(), translation.override(language or translation.get_language()), \
            variables.lenient():
        instance, kwargs = build_instance(cls, variant, query)
        apply_language(instance, language)
        if to is not None:
            instance.to, instance.cc, instance.bcc = [to], [], []
        # The steps of Message.message(), kept apart for the page: resolve,
        # render, then build the MIME.
        draft = instance.resolve()
        if to is not None:  # also for a get_to() that ignores ``to``
            draft = replace(draft, to=(to,), cc=(), bcc=())
        rendered = render(draft)
        email = build(draft, rendered)
        mime = email.message()
        raw = mime.as_bytes()
        issues = lint_message(instance, draft, rendered, name=name, variant=variant,
                              raw=raw, skip=("spam",)) if lint else []
    if lint and txmail_settings.PREVIEW_SPAM_SCORE:
        # After the transaction: SpamAssassin takes about a second and needs
        # only the bytes, so the databases aren't held for it.
        issues = quality.by_severity(issues + quality.run(
            quality.variant_of(rendered, raw=raw), checks=[("spam", spam.check)]))
    return Preview(name, cls, variant, kwargs, language, instance, draft, rendered, email,
                   mime, raw, draft.mailer, issues)


def undefined_in_previews(cls: type[Message]) -> list[tuple[list[str], variables.Undefined]]:
    """Each undefined variable of ``cls``'s preview variants, with the variants showing it.

    Every variant is built and resolved (rolled back, never rendered or sent); a
    variant that raises is left out: its preview page says why.
    """
    from .lint import undefined_variables

    where: dict[tuple[str, str], tuple[list[str], variables.Undefined]] = {}
    for variant in variants(cls):
        try:
            with rolled_back(), variables.lenient():
                instance, _kwargs = build_instance(cls, variant, {})
                found = undefined_variables(instance, instance.resolve(sending=False))
        except Exception:
            continue
        for undefined in found:
            key = (undefined.template, undefined.variable)
            where.setdefault(key, ([], undefined))[0].append(variant)
    return list(where.values())


def variant_findings(name: str, cls: type[Message], variant: str,
                     clients: tuple[str, ...] | None = None, *,
                     skip: tuple[str, ...] = ()) -> list[Finding]:
    """Every finding of one preview variant, as its page shows them.

    ``skip`` names checks not to run (``("spam",)``). A variant that can't be
    built is one error finding saying why.
    """
    from .display import display
    from .lint import cid_findings, lint_message

    try:
        preview = make_preview(name, cls, variant, {}, None, lint=False)
        found = lint_message(preview.instance, preview.draft, preview.rendered,
                             name=name, variant=variant, clients=clients,
                             raw=preview.raw, skip=skip)
        found += cid_findings(display(preview.mime, preview.raw).missing_cids)
    except Exception as exc:
        return [Finding("preview-failed", f"The preview can't be built: {exc!r}",
                        "Open it in the preview UI to see the traceback.", Severity.ERROR)]
    return found
