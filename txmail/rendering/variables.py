"""Variables a template outputs that don't exist: ``{{ usr.first_name }}`` sends "Hi, !".

Found by a second render of the source templates in which a variable that
fails to resolve renders as a marker naming it. The second render uses the
templates the project's engine parsed (no parsing again) through a stand-in
engine whose ``string_if_invalid`` is the marker: the project's engine is never
changed, so what is sent stays the same and a concurrent render can't see the
marker.

Not reported, because nothing is wrong: ``{% if user.nickname %}``,
``{% for x in missing %}`` and ``{% firstof %}`` (Django resolves those
quietly, so no marker is output), and a variable piped through ``default`` or
``default_if_none`` anywhere in the sources (a deliberate fallback; with a
marker Django skips a missing variable's filters, so the source is read).

Used by the preview's lint, the ``txmail.W060`` check and, in tests, every
render (``strict()``: the test helpers turn it on; ``UndefinedVariable``).
"""

import copy
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.template import Context, Variable
from django.template.base import Template as BaseTemplate

from ..exceptions import UndefinedVariable
from . import find as tpl


class _Missing(str):
    """A variable that doesn't exist, as rendered: its name in the marker, and false.

    False, as the empty string it stands for: ``{% with nick=user.nickname %}``
    then ``{% if nick %}`` (or ``{{ nick|default:"…" }}``) takes the same branch
    as the real render, so only what is output is reported.
    """

    def __bool__(self) -> bool:
        return False


class _Marker(str):
    # Django formats string_if_invalid with the Variable ("%s" in it): make the
    # result a _Missing (django/template/base.py, FilterExpression.resolve).
    def __mod__(self, value: object) -> _Missing:
        return _Missing(str.__mod__(self, value))


MARKER = _Marker("@@TXMAIL_MISSING[%s]@@")
_FOUND = re.compile(r"@@TXMAIL_MISSING\[(.*?)\]@@")
_MJ_INCLUDE = re.compile(r"""<mj-include\b[^>]*\bpath\s*=\s*["']([^"'{}@]+)["']""")
MAX_INCLUDE_DEPTH = 5


@dataclass(frozen=True)
class Undefined:
    """One output variable that resolved to nothing, and why."""

    variable: str  # "usr.first_name"
    template: str  # the template (or "Welcome.subject") whose output showed it
    missing: str  # "the context has no 'usr'", "'user' has no attribute or key 'nick'"

    @property
    def message(self) -> str:
        return (f"{{{{ {self.variable} }}}} in {self.template!r} rendered as nothing: "
                f"{self.missing}.")

    @property
    def hint(self) -> str:
        root = self.variable.split(".")[0]
        provide = (f"provide '{root}' in get_context_data() (or the preview's sample "
                   "objects), " if self.missing.startswith("the context") else "")
        return (f"Fix the spelling, {provide}or write {{{{ {self.variable}|default:\"…\" }}}} "
                "if empty is intended.")


# -- the switch the test helpers turn on -------------------------------------------

# A plain global, not a context variable: a live server's thread renders for the test.
_strict = False
# The preview shows undefined variables as lint instead: off in its own thread only.
_lenient: ContextVar[bool] = ContextVar("txmail_lenient_variables", default=False)


@contextmanager
def strict(enabled: bool = True) -> Iterator[None]:
    """Make every render raise ``UndefinedVariable`` (``enabled=False``: don't)."""
    global _strict
    before, _strict = _strict, enabled
    try:
        yield
    finally:
        _strict = before


@contextmanager
def lenient() -> Iterator[None]:
    """Render without raising in this thread, even when ``strict()`` is on."""
    token = _lenient.set(True)
    try:
        yield
    finally:
        _lenient.reset(token)


def is_strict() -> bool:
    return _strict and not _lenient.get()


def raise_undefined(owner: str, found: list[Undefined]) -> None:
    """Raise ``UndefinedVariable`` for ``found`` (the first, then the others), naming ``owner``."""
    if found:
        first, others = found[0], found[1:]
        also = "".join(f"\nAlso: {u.message} {u.hint}" for u in others)
        raise UndefinedVariable(f"{owner}: {first.message} {first.hint}{also}",
                                variable=first.variable, template=first.template)


# -- finding them -------------------------------------------------------------------


class _MarkingEngine:
    """The project's engine, except that a variable that doesn't exist renders as MARKER."""

    string_if_invalid = MARKER

    def __init__(self, engine: Any) -> None:
        self._engine = engine

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)


def _base(template: Any) -> BaseTemplate | None:
    """The Django template behind a backend template; None for Jinja2 and others."""
    if isinstance(template, BaseTemplate):
        return template
    inner = getattr(template, "template", None)
    return inner if isinstance(inner, BaseTemplate) else None


def _render_marked(template: BaseTemplate, context: Mapping[str, Any],
                   autoescape: bool) -> str | None:
    marked = copy.copy(template)
    # Included and extended templates are found through context.template.engine,
    # which is this stand-in: they see the marker too (django/template/base.py).
    marked.engine = _MarkingEngine(template.engine)  # type: ignore[assignment]
    try:
        return marked.render(Context(dict(context), autoescape=autoescape))
    except Exception:
        # The marker made it fail (a marker where a URL argument was expected):
        # say nothing rather than something false. The real render reports errors.
        return None


class Finder:
    """Collect undefined variables over the templates of one message."""

    def __init__(self, context: Mapping[str, Any]) -> None:
        self.context = context
        self.found: dict[str, Undefined] = {}
        self.templates: list[BaseTemplate] = []

    def template(self, template: Any, *, autoescape: bool = True, depth: int = 0) -> None:
        """Look at a backend (or Django) template and the files it mj-includes."""
        base = _base(template)
        if base is None:
            return
        self.templates.append(base)
        output = _render_marked(base, self.context, autoescape)
        if output is None:
            return
        self._collect(output, str(base.origin.template_name or base.origin.name))
        if depth < MAX_INCLUDE_DEPTH:
            for include in dict.fromkeys(_MJ_INCLUDE.findall(output)):
                found = tpl.get_template(include.removeprefix("./"), [])
                if found is not None:
                    self.template(found, depth=depth + 1)

    def string(self, template: BaseTemplate, where: str) -> None:
        """Look at a subject template string (autoescaped, as it renders)."""
        self.templates.append(template)
        output = _render_marked(template, self.context, True)
        if output is not None:
            self._collect(output, where)

    def _collect(self, output: str, where: str) -> None:
        for variable in _FOUND.findall(output):
            # "%s": Django's own marker for a method that alters data or raised a
            # silent failure; it names no variable, and isn't a misspelling.
            if variable != "%s" and variable not in self.found:
                self.found[variable] = Undefined(variable, where, _missing(variable,
                                                                             self.context))

    def undefined(self) -> list[Undefined]:
        if not self.found:
            return []  # the common case: no sources to read
        sources = [t.source for t in self.templates]
        for template in self.templates:
            sources += _included_sources(template)
        return [u for u in self.found.values() if not _defaulted(u.variable, sources)]


def _included_sources(template: BaseTemplate) -> list[str]:
    """Sources of the templates ``template`` extends or includes by name, recursively."""
    sources, seen, todo = [], set(), [template]
    while todo:
        for name in tpl.referenced_names(todo.pop()):
            if name in seen:
                continue
            seen.add(name)
            found = _base(tpl.get_template(name, []))
            if found is not None:
                sources.append(found.source)
                todo.append(found)
    return sources


def _defaulted(variable: str, sources: list[str]) -> bool:
    # {{ x|default:"…" }}, {{ x|upper|default_if_none:"" }},
    # {% blocktranslate with n=x|default:"" %}
    pattern = re.compile(r"(?<![\w.])" + re.escape(variable) + r"\s*\|[^}%\n]*?\bdefault")
    return any(pattern.search(source) for source in sources)


def _missing(variable: str, context: Mapping[str, Any]) -> str:
    """Say which part of ``variable`` doesn't exist in ``context``."""
    bits = variable.split("|")[0].strip().split(".")
    if bits[0] not in context:
        return f"the context has no {bits[0]!r}"
    for i in range(1, len(bits)):
        try:
            Variable(".".join(bits[: i + 1])).resolve(context)
        except Exception:
            return f"{'.'.join(bits[:i])!r} has no attribute or key {bits[i]!r}"
    return f"{variable!r} doesn't exist"


def in_templates(templates: tpl.TemplateSet, context: Mapping[str, Any]) -> list[Undefined]:
    """Undefined variables that a message's body and .txt output."""
    finder = Finder(context)
    finder.template(templates.body)
    if templates.text is not None:
        finder.template(templates.text, autoescape=False)
    return finder.undefined()


def in_template(template: Any, context: Mapping[str, Any], *,
                autoescape: bool = True, where: str | None = None) -> list[Undefined]:
    """Undefined variables that one template (a subject file or string) outputs."""
    finder = Finder(context)
    if where is None:
        finder.template(template, autoescape=autoescape)
    else:
        finder.string(template, where)
    return finder.undefined()
