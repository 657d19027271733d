"""Warnings shown above a preview: empty variables, images without alt, and more.

Missing variables are found by a second, separate render of the templates with
a private copy of the template engine whose ``string_if_invalid`` is a marker.
The engine the project uses is never changed, so what is sent stays the same
(and a concurrent request can't see the marker).
"""

import re
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

from django.template import Context, Engine
from django.utils import translation

from ..draft import Draft, Rendered
from ..message import Message
from ..rendering import find as tpl

MARKER = "@@TXMAIL_MISSING[%s]@@"
_FOUND = re.compile(r"@@TXMAIL_MISSING\[(.*?)\]@@")
_MJ_INCLUDE = re.compile(r"""<mj-include\b[^>]*\bpath\s*=\s*["']([^"']+)["']""")
# Links and images that a mail client can open without a base URL.
_ABSOLUTE = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|#|\{|$)", re.IGNORECASE)
MAX_INCLUDE_DEPTH = 5


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


def _lint_engine(template: Any) -> Engine | None:
    """Return a private copy of ``template``'s Django engine with the marker set."""
    engine = getattr(getattr(template, "backend", None), "engine", None)
    if not isinstance(engine, Engine):
        return None  # Jinja2 and other backends: not linted
    return Engine(
        dirs=engine.dirs,
        context_processors=engine.context_processors,
        debug=engine.debug,
        loaders=engine.loaders,
        string_if_invalid=MARKER,
        file_charset=engine.file_charset,
        libraries=engine.libraries,
        builtins=[b for b in engine.builtins if b not in Engine.default_builtins],
        autoescape=engine.autoescape,
    )


def _template_name(template: Any) -> str | None:
    origin = getattr(template, "origin", None)
    return getattr(origin, "template_name", None)


class _VariableLinter:
    def __init__(self, engine: Engine, context: dict[str, Any]) -> None:
        self.engine = engine
        self.context = context
        self.found: dict[str, str] = {}  # variable → where
        self.sources: list[str] = []

    def template(self, name: str, *, autoescape: bool = True, depth: int = 0) -> None:
        template = self.engine.get_template(name)
        self.sources.append(template.source)
        output = template.render(Context(self.context, autoescape=autoescape))
        self._collect(output, name)
        if depth < MAX_INCLUDE_DEPTH:
            for include in dict.fromkeys(_MJ_INCLUDE.findall(output)):
                self.template(include.removeprefix("./"), depth=depth + 1)

    def string(self, source: str, where: str) -> None:
        self.sources.append(source)
        output = self.engine.from_string(source).render(
            Context(self.context, autoescape=False)
        )
        self._collect(output, where)

    def _collect(self, output: str, where: str) -> None:
        for variable in _FOUND.findall(output):
            self.found.setdefault(variable, where)

    def issues(self) -> list[Issue]:
        result = []
        for variable, where in self.found.items():
            # {{ x|default:"…" }} is a deliberate fallback, not a mistake.
            default = re.compile(r"\{\{\s*" + re.escape(variable) + r"\s*\|\s*default")
            if any(default.search(source) for source in self.sources):
                continue
            root = variable.split(".")[0].split("|")[0]
            result.append(Issue(
                "missing-variable",
                f"{{{{ {variable} }}}} rendered as nothing.",
                f"Provide '{root}' in get_context_data() (or the preview's sample "
                f"objects), or write {{{{ {variable}|default:\"…\" }}}}.",
                where,
            ))
        return result


def lint_variables(instance: Message, draft: Draft, rendered: Rendered) -> list[Issue]:
    owner = draft.owner
    with translation.override(rendered.language):
        templates = tpl.find_templates(owner, list(draft.template_names))
        engine = _lint_engine(templates.body)
        if engine is None:
            return []
        linter = _VariableLinter(engine, dict(draft.context))
        for template, autoescape in ((templates.body, True), (templates.text, False)):
            name = _template_name(template) if template is not None else None
            if name:
                linter.template(name, autoescape=autoescape)
        if type(instance).get_subject is Message.get_subject:
            if instance.subject_template_name:
                linter.template(instance.subject_template_name, autoescape=False)
            elif instance.subject is not None:
                linter.string(str(instance.subject), f"{owner}.subject")
        return linter.issues()


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
