"""The findings shown above a preview: the quality checks, and what needs a second render.

``txmail.quality`` checks what the variant rendered to; missing variables are
found here as ``txmail.rendering.variables`` finds them: a second render in
which a variable that doesn't exist shows as a marker (what is sent stays the same).
"""

from typing import Literal

from django.template import Engine, Template, engines
from django.template.loader import get_template
from django.utils import translation

from .. import quality
from ..bulk.bulk_message import BulkMessage
from ..draft import Draft, Rendered
from ..message import Message
from ..quality import Finding, Severity
from ..rendering import find as tpl
from ..rendering import variables
from ..rendering.variables import Undefined


def cid_findings(missing: list[str]) -> list[Finding]:
    return [
        Finding("missing-cid", f"cid:{cid} matches no inline image.",
                f'Return InlineImage("{cid}", …) from get_attachments().', Severity.ERROR)
        for cid in dict.fromkeys(missing)
    ]


# -- template variables -------------------------------------------------------------


def undefined_variables(instance: Message, draft: Draft,
                        language: str | None = None) -> list[Undefined]:
    """Variables ``draft``'s templates (body, .txt, subject) output that don't exist.

    ``instance`` is read for its class's subject source only (which template
    the subject came from); the values are the draft's. The preview's findings,
    ``manage.py txmail lint`` and the ``txmail.W060`` check share it.
    """
    owner = draft.owner
    with translation.override(language or draft.language or translation.get_language()):
        templates = tpl.find_templates(owner, list(draft.template_names))
        found = variables.in_templates(templates, draft.context)
        if type(instance).get_subject is Message.get_subject:
            subject = None
            if instance.subject_template_name:
                subject = variables.in_template(
                    get_template(instance.subject_template_name), draft.context)
            elif instance.subject is not None and "subject" not in instance.__dict__:
                source = str(instance.subject)
                subject = variables.in_template(
                    Template(source, engine=_engine()), draft.context,
                    where=f"{owner}.subject") if "{" in source and _engine() else []
            found += subject or []
    return found


def _engine() -> Engine | None:
    engine = getattr(engines.all()[0], "engine", None)
    return engine if isinstance(engine, Engine) else None


def variable_findings(instance: Message, draft: Draft, rendered: Rendered) -> list[Finding]:
    return [
        Finding("missing-variable", found.message, found.hint, Severity.ERROR, found.template)
        for found in undefined_variables(instance, draft, rendered.language)
    ]


def lint_message(instance: Message, draft: Draft, rendered: Rendered, *,
                 name: str = "", variant: str = "", clients: tuple[str, ...] | None = None,
                 raw: bytes | None = None, skip: tuple[str, ...] = ()) -> list[Finding]:
    """Every finding for a rendered message, errors first; lint never raises.

    ``instance`` is read for its class's subject source only (which template
    the subject came from); the values are the draft's. ``clients`` replaces
    ``TXMAIL["CLIENTS"]``; ``raw`` is the MIME message as sent (the spam check
    scores it); ``skip`` names checks not to run.
    """
    kind: Literal["transactional", "bulk"] = (
        "bulk" if isinstance(instance, BulkMessage) else "transactional")
    found = quality.run(quality.variant_of(rendered, message=name, variant=variant, kind=kind,
                                           clients=clients, raw=raw), skip=skip)
    try:
        found = variable_findings(instance, draft, rendered) + found
    except Exception as exc:  # a lint bug must not hide the preview itself
        found.append(Finding(
            "lint-error", f"Could not check template variables: {exc!r}",
            "The preview above is unaffected; report this if it persists.", Severity.INFO))
    return found

