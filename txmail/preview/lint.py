"""Warnings shown above a preview: empty variables, images without alt, and more.

Missing variables are found as ``txmail.rendering.variables`` finds them: a
second render in which a variable that doesn't exist shows as a marker; what
is sent stays the same.
"""

import re
from dataclasses import dataclass
from html.parser import HTMLParser

from django.template import Engine, Template, engines
from django.template.loader import get_template
from django.utils import translation

from ..draft import Draft, Rendered
from ..message import Message
from ..rendering import find as tpl
from ..rendering import variables
from ..rendering.variables import Undefined

# Links and images that a mail client can open without a base URL.
_ABSOLUTE = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|#|\{|$)", re.IGNORECASE)


@dataclass(frozen=True)
class Issue:
    code: str
    message: str
    hint: str = ""
    where: str = ""


# -- HTML checks ----------------------------------------------------------------


class _HTMLChecker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.issues: list[Issue] = []
        self.saw_html = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "html":
            self.saw_html = True
            if not (values.get("lang") or "").strip():
                self._no_lang()
        elif tag == "img":
            src = values.get("src") or ""
            if "alt" not in values:
                self.issues.append(Issue(
                    "img-alt", f"Image without alt text: {_short(src)}",
                    'Add alt="…" describing it (alt="" for decorative images): '
                    "many clients block images by default and show the alt text.",
                ))
            self._check_url("img-src", src)
        elif tag == "a":
            self._check_url("a-href", values.get("href") or "")

    def _no_lang(self) -> None:
        self.issues.append(Issue(
            "html-lang", "The <html> element has no lang attribute.",
            'Add lang="{{ LANGUAGE_CODE }}" (or <mjml lang="…">) so screen readers '
            "pronounce the message in the right language.",
        ))

    def _check_url(self, what: str, url: str) -> None:
        if url and not _ABSOLUTE.match(url.strip()):
            self.issues.append(Issue(
                "relative-url", f"Relative URL {_short(url)} ({what}).",
                "Mail clients have no base URL: {% load txmail %} and write "
                "{% absurl 'name' %}, {% absstatic 'file' %} or {{ path|absolute }} "
                "(the base is TXMAIL['SITE_URL']).",
            ))


def _short(value: str, limit: int = 80) -> str:
    value = value.strip() or "(empty)"
    return value if len(value) <= limit else value[: limit - 1] + "…"


def lint_html(html: str) -> list[Issue]:
    checker = _HTMLChecker()
    checker.feed(html)
    checker.close()
    if not checker.saw_html:
        checker._no_lang()
    return checker.issues


def cid_issues(missing: list[str]) -> list[Issue]:
    return [
        Issue("missing-cid", f"cid:{cid} matches no inline image.",
              f'Return InlineImage("{cid}", …) from get_attachments().')
        for cid in dict.fromkeys(missing)
    ]


# -- template variables -------------------------------------------------------------


def undefined_variables(instance: Message, draft: Draft,
                        language: str | None = None) -> list[Undefined]:
    """Variables ``draft``'s templates (body, .txt, subject) output that don't exist.

    ``instance`` is read for its class's subject source only (which template
    the subject came from); the values are the draft's. The preview's lint and
    the ``txmail.W060`` check share it.
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


def lint_variables(instance: Message, draft: Draft, rendered: Rendered) -> list[Issue]:
    return [
        Issue("missing-variable", found.message, found.hint, found.template)
        for found in undefined_variables(instance, draft, rendered.language)
    ]


def lint_message(instance: Message, draft: Draft, rendered: Rendered) -> list[Issue]:
    """Return every warning for a rendered message; lint never raises.

    ``instance`` is read for its class's subject source only (which template
    the subject came from); the values are the draft's.
    """
    issues = lint_html(rendered.html)
    try:
        issues = lint_variables(instance, draft, rendered) + issues
    except Exception as exc:  # a lint bug must not hide the preview itself
        issues.append(Issue(
            "lint-error", f"Could not check template variables: {exc!r}",
            "The preview above is unaffected; report this if it persists.",
        ))
    return issues
