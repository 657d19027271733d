"""What a rendered HTML uses, as caniemail's feature slugs: elements, attributes, CSS.

``uses(html)`` reads the markup once (``html.parser``), the ``style``
attributes and the ``<style>`` blocks (a small CSS reader: rules, at-rules,
declarations). What sits in a conditional comment (``<!--[if mso]>``) is for
Outlook alone and is not read. A use is ``boilerplate`` when it is MJML's own
reset or responsive CSS (see ``docs/how-to/quality.md``).
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser

from . import caniemail


@dataclass(frozen=True)
class Use:
    slug: str  # caniemail's feature, e.g. "css-display-flex"
    detail: str  # what was found: "display:flex", "<svg>", "@media"
    where: str  # "style attribute of <div>", "<style>", "<img>"
    boilerplate: bool = False


# -- CSS ------------------------------------------------------------------------------------

_COMMENT = re.compile(r"/\*.*?\*/", re.S)
# Selectors MJML writes for its own columns and Outlook fixes.
_MJML_SELECTOR = re.compile(r"\.mj-|\.moz-text-html|\[owa\]|#outlook\b")
# Longhands caniemail reports under their shorthand's page.
_FAMILIES = ("border", "margin", "padding", "background", "list-style", "text-decoration",
             "outline", "column", "grid-template", "transition", "animation", "scroll-snap",
             "text-emphasis", "font-variant")
_SPECIAL = {
    "top": "css-left-right-top-bottom", "left": "css-left-right-top-bottom",
    "right": "css-left-right-top-bottom", "bottom": "css-left-right-top-bottom",
    "row-gap": "css-gap", "column-gap": "css-gap", "columns": "css-column-layout-properties",
}
_FUNCTIONS = {
    "linear-gradient": "css-linear-gradient", "repeating-linear-gradient": "css-linear-gradient",
    "radial-gradient": "css-radial-gradient", "conic-gradient": "css-conic-gradient",
    "rgb": "css-rgb", "rgba": "css-rgba", "calc": "css-unit-calc", "var": "css-variables",
    "clamp": "css-function-clamp", "min": "css-function-min", "max": "css-function-max",
    "light-dark": "css-function-light-dark",
}
_FUNCTION = re.compile(r"(?<![\w-])([a-z-]+)\(", re.I)
_UNITS = {"%": "percent", "px": "px", "em": "em", "rem": "rem", "vh": "vh", "vw": "vw",
          "vmin": "vmin", "vmax": "vmax", "ch": "ch", "ex": "ex", "pt": "pt", "cm": "cm",
          "mm": "mm", "in": "in", "pc": "pc"}
_UNIT = re.compile(r"(?<![\w#.-])-?(?:\d*\.)?\d+(%|[a-z]+)\b", re.I)
_DISPLAY = {"flex": "css-display-flex", "inline-flex": "css-display-flex",
            "grid": "css-display-grid", "inline-grid": "css-display-grid",
            "none": "css-display-none"}
_MEDIA_FEATURES = {
    "prefers-color-scheme": "css-at-media-prefers-color-scheme",
    "prefers-reduced-motion": "css-at-media-prefers-reduced-motion",
    "orientation": "css-at-media-orientation", "hover": "css-at-media-hover",
    "device-pixel-ratio": "css-at-media-device-pixel-ratio",
    "resolution": "css-at-media-device-pixel-ratio",
}
_AT_RULES = {"media": "css-at-media", "font-face": "css-at-font-face",
             "import": "css-at-import", "keyframes": "css-at-keyframes",
             "supports": "css-at-supports"}
_PSEUDO = re.compile(r"(::?)([a-z-]+)", re.I)


def _known(slug: str) -> bool:
    return slug in caniemail.features()


def property_slugs(name: str, value: str) -> Iterator[tuple[str, str]]:
    """``(slug, detail)`` for one declaration; vendor properties (-webkit-, mso-) have none."""
    name, value = name.strip().lower(), value.strip()
    if not name or name.startswith(("-", "mso-")):
        return
    slug = _SPECIAL.get(name, f"css-{name}")
    if not _known(slug):
        family = next((f for f in _FAMILIES if name.startswith(f + "-")), None)
        if family and name.endswith("radius"):
            family = "border-radius"
        slug = f"css-{family}" if family else ""
    if slug and _known(slug):
        yield slug, name
    lowered = value.lower()
    if name == "display" and lowered.split("!")[0].strip() in _DISPLAY:
        yield _DISPLAY[lowered.split("!")[0].strip()], f"display:{lowered.split('!')[0].strip()}"
    if "!important" in lowered.replace(" ", ""):
        yield "css-important", "!important"
    if "system-ui" in lowered:
        yield "css-sytem-ui", "system-ui"
    for function in _FUNCTION.findall(lowered):
        if function in _FUNCTIONS:
            yield _FUNCTIONS[function], f"{function}()"
    for unit in _UNIT.findall(re.sub(r"url\([^)]*\)|#[0-9a-f]+\b", "", lowered)):
        if unit in _UNITS:
            yield f"css-unit-{_UNITS[unit]}", unit


def declarations(body: str) -> Iterator[tuple[str, str]]:
    """``(property, value)`` pairs of a declaration block (``;`` inside url() or quotes kept)."""
    depth, quote, start = 0, "", 0
    for i, char in enumerate(body + ";"):
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth = max(depth - 1, 0)
        elif char == ";" and depth == 0:
            name, sep, value = body[start:i].partition(":")
            if sep and name.strip():
                yield name, value
            start = i + 1


def _blocks(css: str) -> Iterator[tuple[str, str | None]]:
    """``(prelude, body)`` of each top-level rule; ``body`` is None for ``@import …;``."""
    i, start, n = 0, 0, len(css)
    while i < n:
        char = css[i]
        if char == ";" and css[start:i].strip().startswith("@"):
            yield css[start:i].strip(), None
            start = i + 1
        elif char == "{":
            depth, j = 1, i + 1
            while j < n and depth:
                depth += {"{": 1, "}": -1}.get(css[j], 0)
                j += 1
            yield css[start:i].strip(), css[i + 1:j - 1]
            i = start = j
            continue
        i += 1


def selector_slugs(selectors: str) -> Iterator[tuple[str, str]]:
    for colons, name in _PSEUDO.findall(selectors):
        kind = "element" if colons == "::" or name in ("before", "after", "first-line",
                                                       "first-letter") else "class"
        slug = f"css-pseudo-{kind}-{name.lower()}"
        if _known(slug):
            yield slug, f"{colons}{name}"
    if "&" in selectors:
        yield "css-nesting", "&"
    stripped = re.sub(r"\([^)]*\)|\[[^\]]*\]|\"[^\"]*\"", "", selectors)
    for mark, slug in ((">", "css-selector-child"), ("+", "css-selector-adjacent-sibling"),
                       ("~", "css-selector-general-sibling")):
        if mark in stripped:
            yield slug, mark
    if "[" in selectors:
        yield "css-selector-attribute", "[attribute]"
    if "*" in stripped:
        yield "css-selector-universal", "*"


def css_uses(css: str, where: str, *, boilerplate: bool = False) -> Iterator[Use]:
    """The uses of a ``<style>`` block's rules."""
    for prelude, body in _blocks(_COMMENT.sub("", css)):
        if prelude.startswith("@"):
            rule = re.match(r"@([a-z-]+)", prelude.lower())
            at = rule[1] if rule else ""
            at = "keyframes" if at.endswith("keyframes") else at
            inner = list(css_uses(body, where, boilerplate=boilerplate)) \
                if body and at in ("media", "supports") else []
            # An at-rule holding only MJML's rules is MJML's.
            mjml = boilerplate or (bool(inner) and all(use.boilerplate for use in inner))
            if at in _AT_RULES:
                yield Use(_AT_RULES[at], f"@{at}", where, mjml)
            if at == "media":
                for feature, slug in _MEDIA_FEATURES.items():
                    if feature in prelude.lower():
                        yield Use(slug, f"@media ({feature})", where, mjml)
            if at == "font-face" and body:
                continue  # its descriptors (src, font-family) are not properties
            yield from inner
            continue
        if body is None:
            continue
        mjml = boilerplate or all(_MJML_SELECTOR.search(part) for part in prelude.split(","))
        for slug, detail in selector_slugs(prelude):
            yield Use(slug, detail, where, mjml)
        for name, value in declarations(body):
            for slug, detail in property_slugs(name, value):
                yield Use(slug, detail, where, mjml)


# -- HTML -----------------------------------------------------------------------------------

_SEMANTIC = {"article", "aside", "details", "figcaption", "figure", "footer", "header", "main",
             "mark", "nav", "section", "summary", "time"}
_TAGS = {"h1": "html-h1-h6", "h2": "html-h1-h6", "h3": "html-h1-h6", "h4": "html-h1-h6",
         "h5": "html-h1-h6", "h6": "html-h1-h6", "ul": "html-lists", "ol": "html-lists",
         "dl": "html-lists", "s": "html-strike", "strike": "html-strike"}
_ATTRIBUTES = ("align", "valign", "width", "height", "background", "cellpadding",
               "cellspacing", "dir", "role", "hidden", "required", "srcset", "loading",
               "target", "popover", "aria-label", "aria-hidden", "aria-describedby",
               "aria-labelledby", "aria-live")
_IMAGE_TYPES = {"jpg": "jpg", "jpeg": "jpg", "png": "png", "gif": "gif", "webp": "webp",
                "avif": "avif", "svg": "svg", "bmp": "bmp", "ico": "ico", "tif": "tiff",
                "tiff": "tiff", "heic": "heif", "heif": "heif", "apng": "apng"}
_EXTENSION = re.compile(r"\.([a-z0-9]+)(?:[?#]|$)", re.I)


# What MJML writes on every message, whatever the template says: its document,
# its tables' attributes, and the declarations of its components' own styles.
_MJML_MARKUP = {"html-doctype", "html-body", "html-style", "html-div", "html-table",
                "html-role", "html-aria-label", "html-dir", "html-lang", "html-align",
                "html-valign", "html-width", "html-height", "html-cellpadding",
                "html-cellspacing"}
_MJML_DECLARATIONS = {
    ("word-spacing", "normal"), ("cursor", "auto"), ("word-break", "break-word"),
    ("border-spacing", "0px"), ("table-layout", "auto"), ("direction", "ltr"),
    ("direction", "rtl"), ("font-size", "0px"), ("line-height", "0px"),
    ("display", "inline-block"), ("border-collapse", "collapse"), ("margin", "0px auto"),
    ("height", "auto"),
}


def _mjml_declaration(name: str, value: str) -> bool:
    name, value = name.strip().lower(), value.strip().lower()
    # A section's width: MJML's max-width on the div, its table for Outlook.
    return (name, value) in _MJML_DECLARATIONS or (name == "max-width" and value.endswith("px"))


class _Reader(HTMLParser):
    def __init__(self, mjml: bool = False) -> None:
        super().__init__(convert_charrefs=True)
        self.uses: list[Use] = []
        self.mjml = mjml
        self._style: list[str] | None = None

    def _add(self, slug: str, detail: str, where: str) -> None:
        if _known(slug):
            self.uses.append(Use(slug, detail, where, self.mjml and slug in _MJML_MARKUP))

    def handle_decl(self, decl: str) -> None:
        if decl.lower().startswith("doctype"):
            self._add("html-doctype", "<!doctype>", "the document")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name.lower(): value or "" for name, value in attrs}
        element = f"<{tag}>"
        self._add(_TAGS.get(tag, "html-semantics" if tag in _SEMANTIC else f"html-{tag}"),
                  element, element)
        if tag == "style":
            self._style = []
        for name in _ATTRIBUTES:
            if name == "target" and self.mjml and values[name].lower() == "_blank" \
                    if name in values else False:
                continue  # mj-image's and mj-button's default
            if name in values:
                self._add(f"html-{name}", f"{name}=", element)
        if "lang" in values and tag != "html":
            self._add("html-lang", "lang=", element)
        if "inert" in values:
            self._add("css-inert-attribute", "inert", element)
        if tag == "input":
            self._add(f"html-input-{values.get('type', 'text').lower()}", element, element)
        if tag == "button":
            self._add(f"html-button-{values.get('type', 'submit').lower()}", element, element)
        if tag == "meta" and values.get("name", "").lower() in ("color-scheme",
                                                               "supported-color-schemes"):
            self._add("html-meta-color-scheme", '<meta name="color-scheme">', element)
        if tag == "a":
            href = values.get("href", "").strip().lower()
            if href.startswith("#") and len(href) > 1:
                self._add("html-anchor-links", 'href="#…"', element)
            elif href.startswith("mailto:"):
                self._add("html-mailto-links", 'href="mailto:…"', element)
        if tag == "img":
            self._image(values.get("src", ""))
        if values.get("style"):
            where = f"style attribute of {element}"
            found = list(declarations(values["style"]))
            # The hidden preheader (display:none; max-height:0): designed to degrade.
            preheader = self.mjml and {("display", "none"), ("max-height", "0px")} <= {
                (name.strip().lower(), value.strip().lower()) for name, value in found}
            for name, value in found:
                mjml = preheader or (self.mjml and _mjml_declaration(name, value))
                for slug, detail in property_slugs(name, value):
                    self.uses.append(Use(slug, detail, where, mjml))

    def _image(self, src: str) -> None:
        src = src.strip()
        if src.lower().startswith("data:"):
            self._add("image-base64", "data: URI", "<img>")
            kind = src[5:].split(";")[0].split(",")[0].lower().removeprefix("image/")
            kind = kind.removesuffix("+xml")
        else:
            match = _EXTENSION.search(src)
            kind = match[1].lower() if match else ""
        if kind in _IMAGE_TYPES:
            self._add(f"image-{_IMAGE_TYPES[kind]}", f".{kind} image", "<img>")

    def handle_data(self, data: str) -> None:
        if self._style is not None:
            self._style.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "style" and self._style is not None:
            css = "".join(self._style)
            # MJML's reset block opens with "#outlook a": it is all MJML's.
            reset = css.lstrip().startswith("#outlook a")
            self.uses.extend(css_uses(css, "<style>", boilerplate=reset))
            self._style = None


def uses(html: str) -> list[Use]:
    """Every feature ``html`` uses, in document order (repeats included)."""
    reader = _Reader(is_mjml(html))
    reader.feed(html)
    reader.close()
    return reader.uses


def is_mjml(html: str) -> bool:
    """MJML's output: its column classes or its Outlook reset."""
    return "mj-column-" in html or "#outlook a" in html
