"""``assert_clean()``: fail a test when a message's quality findings reach a severity."""

from typing import TYPE_CHECKING, Any

from ..quality import Finding, Severity, at_least

if TYPE_CHECKING:
    from ..message import Message

# The preview and the message classes are imported when called: the pytest
# plugin imports this package before Django's settings are configured.


def findings_of(message: "type[Message] | Message", *, variant: str | None = None,
                clients: tuple[str, ...] | None = None,
                skip: tuple[str, ...] = ()) -> dict[str, list[Finding]]:
    """``{label: findings}`` of a class's preview variants, or of one instance.

    ``skip`` names checks not to run (``("spam",)``: SpamAssassin takes a second).
    """
    from ..message import Message
    from ..outbox import build
    from ..preview import previews
    from ..preview.lint import lint_message
    from ..rendering.pipeline import render

    if isinstance(message, Message):
        draft = message.resolve(sending=False)
        rendered = render(draft)
        raw = build(draft, rendered).message().as_bytes()  # the bytes send() would hand over
        name = _name(type(message))
        return {f"{name} (instance)": lint_message(message, draft, rendered, name=name,
                                                   clients=clients, raw=raw, skip=skip)}
    name = _name(message)
    variants = [variant] if variant else list(previews.variants(message))
    if not variants:
        raise AssertionError(
            f"{message.__name__} has no preview variant to check: add a preview() "
            "classmethod, or pass an instance: assert_clean(MyMessage(...)).")
    return {f"{name} ({v})": previews.variant_findings(name, message, v, clients, skip=skip)
            for v in variants}


def assert_clean(message: "type[Message] | Message", severity: Severity | str = "error", *,
                 variant: str | None = None, clients: tuple[str, ...] | None = None,
                 ignore: tuple[str, ...] = (), skip: tuple[str, ...] = ()) -> None:
    """Fail if ``message`` has a finding as severe as ``severity`` or more.

    ``message`` is a class (each of its preview variants, or ``variant``) or an
    instance (rendered as it would be sent). ``clients`` replaces
    ``TXMAIL["CLIENTS"]``; ``ignore`` lists codes to accept (``"css-unsupported"``);
    ``skip`` names checks not to run (``("spam",)``).
    """
    problems = []
    for label, found in findings_of(message, variant=variant, clients=clients,
                                    skip=skip).items():
        bad = [f for f in at_least(found, severity) if f.code not in ignore]
        problems += [f"{label}: {f.severity} {f.code}: {f.message}"
                     + (f" [in {f.where}]" if f.where else "") for f in bad]
    if problems:
        raise AssertionError(
            f"{len(problems)} finding{'s' if len(problems) != 1 else ''} at {severity} or "
            "worse (pass ignore=('code',) to accept one):\n  " + "\n  ".join(problems))


def _name(cls: type[Any]) -> str:
    from ..registry import message_classes

    found = [name for name, registered in message_classes().items() if registered is cls]
    return found[0] if found else f"{cls.__module__}.{cls.__qualname__}"
