"""The two dark modes a message meets, as the preview shows them side by side.

``forced(html)``: the colour change the Outlook apps, Outlook.com and Gmail's
Android app apply to a message whatever it says (a "partial inversion"): light
backgrounds and borders are darkened and dark text is lightened, each by
flipping its HSL lightness; colours already fit for a dark page are kept, and
images are left as they are. Gmail's iOS app inverts everything, dark parts too:
that one isn't simulated.

``own(html)``: the message's own ``@media (prefers-color-scheme: dark)`` rules
applied, as Apple Mail, iOS Mail and Outlook for Mac do. A frame in the page
can't be put in dark mode, so the rules are rewritten to always apply (and the
``light`` ones never). A message that declares ``color-scheme: light dark`` also
gets the browser's dark defaults (light text, dark canvas).

Display only: the message that is sent is never changed.
"""

import colorsys
import re

from ..quality.colors import NAMED, RGBA, parse_color

_DARK_QUERY = re.compile(r"\(\s*prefers-color-scheme\s*:\s*dark\s*\)", re.IGNORECASE)
_LIGHT_QUERY = re.compile(r"\(\s*prefers-color-scheme\s*:\s*light\s*\)", re.IGNORECASE)
_DECLARES_DARK = re.compile(
    r"<meta\s[^>]*name=[\"']?(?:color-scheme|supported-color-schemes)[\"']?[^>]*dark"
    r"|(?<!prefers-)color-scheme\s*:[^;}\"]*dark", re.IGNORECASE)
_HEAD = re.compile(r"<head\b[^>]*>", re.IGNORECASE)
_HTML = re.compile(r"<html\b[^>]*>", re.IGNORECASE)

# The page of a client in dark mode, behind whatever the message leaves transparent.
DARK_CANVAS = "#121212"
DARK_TEXT = "#e8eaed"
_FORCED_BASE = (f"<style>:root {{ background-color: {DARK_CANVAS}; color: {DARK_TEXT}; "
                "color-scheme: dark; }</style>")
_OWN_BASE = '<meta name="color-scheme" content="dark"><style>:root { color-scheme: dark; }</style>'

_COLOR = re.compile(
    r"#[0-9a-fA-F]{3,8}\b|rgba?\([^)]*\)|\b(?:" + "|".join(sorted(NAMED, key=len, reverse=True))
    + r")\b", re.IGNORECASE)
_DECLARATION = re.compile(r"(?P<prop>[a-zA-Z-]+)(?P<sep>\s*:\s*)(?P<value>[^;{}\"]+)")
_STYLE_ATTR = re.compile(r"(\bstyle\s*=\s*)(\"[^\"]*\"|'[^']*')", re.IGNORECASE)
_STYLE_BLOCK = re.compile(r"(<style\b[^>]*>)(.*?)(</style\s*>)", re.IGNORECASE | re.DOTALL)
_COLOR_ATTR = re.compile(r"(\b(?:bgcolor|color)\s*=\s*)([\"'])([^\"']*)\2", re.IGNORECASE)
_BACKGROUND_PROPS = re.compile(r"^(?:background(?:-color)?|border(?:-[a-z]+)*-color|"
                               r"border(?:-(?:top|right|bottom|left))?)$", re.IGNORECASE)
_TEXT_PROPS = re.compile(r"^(?:color|text-decoration-color|outline-color|"
                         r"-webkit-text-fill-color|caret-color)$", re.IGNORECASE)


def has_own_dark_styles(html: str) -> bool:
    return _DARK_QUERY.search(html) is not None


def _insert_in_head(html: str, markup: str) -> str:
    if match := _HEAD.search(html):
        return html[: match.end()] + markup + html[match.end():]
    if match := _HTML.search(html):
        return html[: match.end()] + markup + html[match.end():]
    return markup + html


def own(html: str) -> str:
    """``html`` with its ``prefers-color-scheme: dark`` rules always on."""
    shown = _LIGHT_QUERY.sub("(not all)", _DARK_QUERY.sub("(min-width: 0)", html))
    if _DECLARES_DARK.search(html):
        shown = _insert_in_head(shown, _OWN_BASE)
    return shown


def _flip(color: RGBA, *, background: bool) -> RGBA:
    r, g, b, a = color
    h, lightness, s = colorsys.rgb_to_hls(r / 255, g / 255, b / 255)
    if background and lightness > 0.5:
        lightness = max(0.07, 1 - lightness)
    elif not background and lightness < 0.5:
        lightness = min(0.93, 1 - lightness)
    else:
        return color
    r2, g2, b2 = colorsys.hls_to_rgb(h, lightness, s)
    return (r2 * 255, g2 * 255, b2 * 255, a)


def flip_colors(value: str, *, background: bool) -> str:
    """Every colour in the CSS ``value`` changed as a forced dark mode changes it."""
    def replace(match: re.Match[str]) -> str:
        color = parse_color(match.group(0))
        if color is None or color[3] == 0:
            return match.group(0)
        flipped = _flip(color, background=background)
        if flipped[3] < 1:
            r, g, b = (round(c) for c in flipped[:3])
            return f"rgba({r}, {g}, {b}, {flipped[3]:g})"
        return "#{:02x}{:02x}{:02x}".format(*(round(c) for c in flipped[:3]))
    return _COLOR.sub(replace, value)


def _declarations(css: str) -> str:
    def replace(match: re.Match[str]) -> str:
        prop = match.group("prop")
        if _BACKGROUND_PROPS.match(prop):
            value = flip_colors(match.group("value"), background=True)
        elif _TEXT_PROPS.match(prop):
            value = flip_colors(match.group("value"), background=False)
        else:
            return match.group(0)
        return prop + match.group("sep") + value
    return _DECLARATION.sub(replace, css)


def forced(html: str) -> str:
    """``html`` as a client that forces dark mode shows it (see the module's docstring)."""
    html = _STYLE_BLOCK.sub(lambda m: m.group(1) + _declarations(m.group(2)) + m.group(3), html)
    html = _STYLE_ATTR.sub(
        lambda m: m.group(1) + m.group(2)[0] + _declarations(m.group(2)[1:-1]) + m.group(2)[0],
        html)
    html = _COLOR_ATTR.sub(lambda m: m.group(1) + m.group(2) + flip_colors(
        m.group(3), background=m.group(1).lower().startswith("bgcolor")) + m.group(2), html)
    return _insert_in_head(html, _FORCED_BASE)
