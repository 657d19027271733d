"""Compile each template once; render each message with one Django template.

``get_compiled(owner, templates)`` returns a cached ``Compiled`` for a
``TemplateSet``: a Django template of the final, CSS-inlined HTML and one of the
derived text part, merged into the one template a message renders (``runtime``),
plus ``fallback_reason`` — ``None`` when compiled, else the
reason the template renders through the per-message pipeline (shown by the
preview, logged once on the ``txmail.rendering.compiled`` logger).

Per message, ``Rendered.fallback_reason`` is None when the compiled templates
rendered it, else the template's reason or, for one message, why its values
needed the full pipeline (markup from ``|safe``, a newline in an MJML attribute…).
``txmail.warm_up()`` (in ``registry``) compiles every registered class's templates ahead of time;
``TXMAIL["PRECOMPILE"] = False`` turns precompiling off.

Modules, in pipeline order: ``flatten`` (extends/blocks/includes → one source),
``protect`` (tags → placeholders), ``compiler`` (MJML/CSS/text on the protected
source, then restore), ``verify`` (prove it exact or refuse), ``heads`` (MRML's
``<head>`` CSS per outcome of the loops and conditions, proven per combination),
``branches`` (an attribute's ``{% if %}`` inside a link, shown by the text part as the
HTML took it), ``edges`` (where html2text keeps a text value's edge spaces), ``onepass`` (HTML
and text merged into one template, each value evaluated once), ``runtime`` (the
per-message tags) with ``values`` (what the pipeline would make of a value at
each spot, or ``NeedsFallback``), ``cache``.
"""

from .cache import clear, get_compiled
from .compiler import Compiled, compile_templates
from .flatten import Unprecompilable
from .runtime import NeedsFallback
from .verify import normalize

__all__ = [
    "Compiled",
    "NeedsFallback",
    "Unprecompilable",
    "clear",
    "compile_templates",
    "get_compiled",
    "normalize",
]
