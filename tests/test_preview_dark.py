"""Dark mode in the preview: the forced colour change and the message's own dark styles.

The browser tests drive Debian's Chromium (see tests/test_preview_browser.py).
"""

import struct
import zlib

import pytest
from playwright.sync_api import expect

from tests.test_preview_browser import (  # noqa: F401 (fixtures)
    browser,
    page,
    preview_settings,
)
from txmail.preview import dark
from txmail.quality.colors import luminance, parse_color

LIGHT = """<!doctype html><html><head><style>
.card { background-color: #ffffff; color: #222222; border: 1px solid #e5e7eb; }
.night { background: #000000; color: #eeeeee; }
</style></head><body style="background-color:#f4f5f7">
<table bgcolor="#ffffff"><tr><td style="color:#111827">Dark text</td></tr></table>
<div class="card">Card</div><div class="night">Already dark</div>
<font color="#333333">Old font</font><img src="https://example.com/a.png" alt="">
</body></html>"""


def lightness(value: str) -> float:
    color = parse_color(value)
    assert color is not None, value
    return luminance(color)


def test_forced_dark_darkens_light_backgrounds_and_lightens_dark_text():
    html = dark.forced(LIGHT)
    assert "background-color:#121212" not in LIGHT
    body = html.split('<body style="background-color:')[1].split('"')[0]
    assert lightness(body) < 0.02
    assert lightness(html.split('bgcolor="')[1].split('"')[0]) < 0.02
    assert lightness(html.split('<td style="color:')[1].split('"')[0]) > 0.7
    card = html.split(".card { background-color: ")[1].split(";")[0]
    assert lightness(card) < 0.02
    assert lightness(html.split("; color: ")[1].split(";")[0]) > 0.7
    assert lightness(html.split('<font color="')[1].split('"')[0]) > 0.5
    # Already dark backgrounds and light text are kept; images aren't touched.
    assert ".night { background: #000000; color: #eeeeee; }" in html
    assert '<img src="https://example.com/a.png" alt="">' in html
    # What the message leaves transparent is the client's dark page.
    assert "<head><style>:root { background-color: #121212; color: #e8eaed;" in html


def test_own_dark_styles_always_apply_and_light_ones_never():
    html = ("<html><head><style>@media (prefers-color-scheme: dark) { .a { color: #fff } }"
            "@media (prefers-color-scheme:light) { .a { color: #000 } }</style></head></html>")
    shown = dark.own(html)
    assert "@media (min-width: 0) { .a { color: #fff } }" in shown
    assert "@media (not all) { .a { color: #000 } }" in shown
    assert 'name="color-scheme"' not in shown  # it doesn't declare dark support
    declared = html.replace("<head>", '<head><meta name="color-scheme" content="light dark">')
    assert '<meta name="color-scheme" content="dark">' in dark.own(declared)
    assert dark.has_own_dark_styles(html) and not dark.has_own_dark_styles(LIGHT)
    assert dark.own(LIGHT) == LIGHT


# -- in the browser -------------------------------------------------------------------

def png_mean_luminance(png: bytes) -> float:
    """The mean WCAG luminance of a screenshot (8-bit RGB or RGBA, not interlaced)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    while pos < len(png):
        length, kind = struct.unpack(">I4s", png[pos:pos + 8])
        data = png[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color_type = struct.unpack(">IIBB", data[:10])
            assert depth == 8 and color_type in (2, 6), (depth, color_type)
            channels = 3 if color_type == 2 else 4
        elif kind == b"IDAT":
            idat += data
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels
    previous = bytearray(stride)
    total, count = 0.0, 0
    for y in range(height):
        filter_type = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up, up_left = previous[i], previous[i - channels] if i >= channels else 0
            if filter_type == 1:
                line[i] = (line[i] + left) & 255
            elif filter_type == 2:
                line[i] = (line[i] + up) & 255
            elif filter_type == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif filter_type == 4:
                p = left + up - up_left
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - up_left)
                predictor = left if pa <= pb and pa <= pc else up if pb <= pc else up_left
                line[i] = (line[i] + predictor) & 255
        previous = line
        for x in range(0, stride, channels * 8):  # every 8th pixel is plenty
            total += luminance((line[x], line[x + 1], line[x + 2], 1.0))
            count += 1
    return total / count


def computed(page, frame: str, selector: str, prop: str) -> str:  # noqa: F811
    return page.frame_locator(f"iframe.{frame}").locator(selector).first.evaluate(
        f"e => getComputedStyle(e).{prop}")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_both_dark_modes_side_by_side(page, live_server):  # noqa: F811 (the fixture)
    page.goto(f"{live_server.url}/emails/testapp.Rich/default/")
    light_png = page.locator("iframe.frame-light").screenshot()
    page.locator("label[for=tx-dark]").click()
    forced, own = page.locator("iframe.frame-forced"), page.locator("iframe.frame-dark")
    expect(forced).to_be_visible()
    expect(own).to_be_visible()
    forced_box, own_box = forced.bounding_box(), own.bounding_box()
    assert forced_box["x"] + forced_box["width"] <= own_box["x"]  # side by side
    assert forced_box["y"] < own_box["y"] + own_box["height"]
    assert own_box["y"] < forced_box["y"] + forced_box["height"]

    # Forced: the light box is dark, its dark text light, and so are the pixels.
    background = parse_color(computed(page, "frame-forced", ".box", "backgroundColor"))
    color = parse_color(computed(page, "frame-forced", ".box", "color"))
    assert luminance(background) < 0.02 and luminance(color) > 0.7
    assert png_mean_luminance(light_png) > 0.8
    assert png_mean_luminance(forced.screenshot()) < 0.1

    # Own: the message's prefers-color-scheme: dark rule, exactly.
    assert computed(page, "frame-dark", ".box", "backgroundColor") == "rgb(0, 0, 0)"
    assert computed(page, "frame-dark", ".box", "color") == "rgb(238, 238, 238)"
    expect(page.locator(".dark-note")).to_contain_text(
        "this message's prefers-color-scheme: dark rules applied")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_message_without_dark_styles_is_shown_as_is_in_own_mode(page, live_server):  # noqa: F811
    page.goto(f"{live_server.url}/emails/testapp.Hello/default/")
    page.locator("label[for=tx-dark]").click()
    expect(page.locator("iframe.frame-dark")).to_be_visible()
    expect(page.locator(".dark-note")).to_contain_text(
        "this message has no prefers-color-scheme: dark styles")
    text = "Hello Ann!"
    own = page.frame_locator("iframe.frame-dark").get_by_text(text)
    forced = page.frame_locator("iframe.frame-forced").get_by_text(text)
    # The greeting's dark blue (#0b5394) is kept in its own mode, lightened when forced.
    assert own.evaluate("e => getComputedStyle(e).color") == "rgb(11, 83, 148)"
    assert luminance(parse_color(forced.evaluate("e => getComputedStyle(e).color"))) > 0.3
    assert png_mean_luminance(page.locator("iframe.frame-forced").screenshot()) < 0.1
