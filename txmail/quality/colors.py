"""CSS colours parsed, blended and compared as WCAG 2.x measures contrast."""

import re

RGBA = tuple[float, float, float, float]  # 0-255 each, alpha 0-1

# The named colours email templates use; an unknown name is treated as unknown.
NAMED = {
    "black": "#000000", "white": "#ffffff", "red": "#ff0000", "green": "#008000",
    "blue": "#0000ff", "yellow": "#ffff00", "gray": "#808080", "grey": "#808080",
    "silver": "#c0c0c0", "maroon": "#800000", "purple": "#800080", "fuchsia": "#ff00ff",
    "lime": "#00ff00", "olive": "#808000", "navy": "#000080", "teal": "#008080",
    "aqua": "#00ffff", "orange": "#ffa500", "darkgray": "#a9a9a9", "darkgrey": "#a9a9a9",
    "lightgray": "#d3d3d3", "lightgrey": "#d3d3d3", "gainsboro": "#dcdcdc",
    "whitesmoke": "#f5f5f5", "dimgray": "#696969", "dimgrey": "#696969",
    "darkblue": "#00008b", "darkred": "#8b0000", "darkgreen": "#006400",
    "lightblue": "#add8e6", "lightyellow": "#ffffe0", "pink": "#ffc0cb", "beige": "#f5f5dc",
    "ivory": "#fffff0", "snow": "#fffafa", "ghostwhite": "#f8f8ff", "aliceblue": "#f0f8ff",
}
_HEX = re.compile(r"^#([0-9a-f]{3,4}|[0-9a-f]{6}|[0-9a-f]{8})$")
_FUNC = re.compile(r"^rgba?\(\s*([^)]*)\)$")
_HSL = re.compile(r"^hsla?\(\s*([^)]*)\)$")
_HUE = re.compile(r"^(-?[\d.]+)(deg|grad|rad|turn)?$")


def parse_color(value: str) -> RGBA | None:
    """The colour ``value`` names, or None for one this doesn't know (or ``inherit``)."""
    value = value.strip().lower().removesuffix("!important").strip()
    if value == "transparent":
        return (0.0, 0.0, 0.0, 0.0)
    value = NAMED.get(value, value)
    if match := _HEX.match(value):
        digits = match.group(1)
        if len(digits) in (3, 4):
            digits = "".join(c * 2 for c in digits)
        alpha = int(digits[6:8], 16) / 255 if len(digits) == 8 else 1.0
        return (int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16), alpha)
    if match := _FUNC.match(value):
        parts = [p for p in re.split(r"[\s,/]+", match.group(1)) if p]
        if len(parts) not in (3, 4):
            return None
        try:
            rgb = [float(p[:-1]) * 2.55 if p.endswith("%") else float(p) for p in parts[:3]]
            alpha = 1.0
            if len(parts) == 4:
                alpha = float(parts[3][:-1]) / 100 if parts[3].endswith("%") else float(parts[3])
        except ValueError:
            return None
        return (*(min(255.0, max(0.0, c)) for c in rgb), min(1.0, max(0.0, alpha)))  # type: ignore[return-value]
    if match := _HSL.match(value):
        return _hsl(match.group(1))
    return None


def _alpha(text: str) -> float:
    return float(text[:-1]) / 100 if text.endswith("%") else float(text)


def _hsl(arguments: str) -> RGBA | None:
    """``hsl(210 40% 20% / 0.5)``, ``hsla(210, 40%, 20%, .5)`` as RGBA (CSS Color 4)."""
    parts = [p for p in re.split(r"[\s,/]+", arguments) if p]
    if len(parts) not in (3, 4) or not (hue := _HUE.match(parts[0])):
        return None
    try:
        turns = {"deg": 1 / 360, "grad": 1 / 400, "rad": 1 / (2 * 3.141592653589793),
                 "turn": 1.0}[hue.group(2) or "deg"]
        h = (float(hue.group(1)) * turns) % 1.0
        sat, light = (min(1.0, max(0.0, float(p.removesuffix("%")) / 100)) for p in parts[1:3])
        alpha = min(1.0, max(0.0, _alpha(parts[3]))) if len(parts) == 4 else 1.0
    except ValueError:
        return None
    q = light * (1 + sat) if light < 0.5 else light + sat - light * sat
    p = 2 * light - q

    def channel(t: float) -> float:
        t %= 1.0
        if t < 1 / 6:
            return p + (q - p) * 6 * t
        if t < 1 / 2:
            return q
        if t < 2 / 3:
            return p + (q - p) * (2 / 3 - t) * 6
        return p

    return (channel(h + 1 / 3) * 255, channel(h) * 255, channel(h - 1 / 3) * 255, alpha)


def over(top: RGBA, below: RGBA) -> RGBA:
    """``top`` painted over the opaque colour ``below``."""
    a = top[3]
    return (top[0] * a + below[0] * (1 - a), top[1] * a + below[1] * (1 - a),
            top[2] * a + below[2] * (1 - a), 1.0)


def luminance(color: RGBA) -> float:
    """WCAG 2.x relative luminance of an opaque colour."""
    def channel(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (channel(c) for c in color[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: RGBA, b: RGBA) -> float:
    """WCAG 2.x contrast ratio of two opaque colours, 1 to 21."""
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def hex_color(color: RGBA) -> str:
    return "#{:02x}{:02x}{:02x}".format(*(round(c) for c in color[:3]))
