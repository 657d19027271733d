"""A one-page PDF receipt, written object by object (no PDF library needed).

Uses the two standard Helvetica fonts every PDF reader has, so nothing is
embedded and the file stays a few kilobytes.
"""

from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from .models import order_totals
from .money import format_money

PAGE_WIDTH, PAGE_HEIGHT = 595, 842  # A4 in points
LEFT, RIGHT = 56, 539
MAX_LINES = 24  # what fits on the page; the rest is summarized

# Helvetica advance widths (1/1000 em) of the characters amounts are made of,
# to right-align them; other characters get an average width.
_WIDTHS = dict.fromkeys("0123456789$€£", 556) | dict.fromkeys(".,: \u00a0", 278)
_WIDTHS["-"] = 333

INK, MUTED, BRAND, RULE = "0.07 0.09 0.15", "0.42 0.45 0.5", "0.31 0.27 0.9", "0.9 0.91 0.92"


def _text_width(text: str, size: float) -> float:
    return sum(_WIDTHS.get(ch, 556) for ch in text) * size / 1000


def _pdf_string(text: str) -> bytes:
    # WinAnsi (cp1252) is the standard fonts' encoding; the narrow no-break
    # space of French number grouping is not in it.
    text = text.replace("\u202f", "\u00a0")
    raw = text.encode("cp1252", errors="replace")
    return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def _pdf_text_string(text: str) -> bytes:
    """Encode metadata text (Info dictionary) as UTF-16 with a byte order mark."""
    return b"<" + ("\ufeff" + text).encode("utf-16-be").hex().upper().encode() + b">"


class _Canvas:
    def __init__(self):
        self.ops: list[bytes] = []

    def text(self, x, y, text, *, size=10, bold=False, color=INK, align="left"):
        if align == "right":
            x -= _text_width(text, size)
        font = b"/F2" if bold else b"/F1"
        self.ops.append(
            b"BT %s rg %s %g Tf %g %g Td %s Tj ET"
            % (color.encode(), font, size, x, y, _pdf_string(text))
        )

    def rule(self, y, *, color=RULE, width=0.75):
        self.ops.append(
            b"%s RG %g w %g %g m %g %g l S" % (color.encode(), width, LEFT, y, RIGHT, y)
        )

    def content(self) -> bytes:
        return b"\n".join(self.ops)


def _draw(order, items, site_name: str) -> bytes:
    c = _Canvas()

    def money(amount):
        return format_money(amount, order.currency)

    y = 770
    c.text(LEFT, y, site_name.upper(), size=10, bold=True, color=BRAND)
    c.text(LEFT, y - 34, _("Receipt"), size=24, bold=True)
    meta = _("Order %(number)s · %(date)s") % {
        "number": order.number,
        "date": date_format(order.created_at, "DATE_FORMAT"),
    }
    c.text(LEFT, y - 56, meta, color=MUTED)

    y = 670
    customer = order.customer
    c.text(LEFT, y, _("Billed to"), size=9, bold=True, color=MUTED)
    for i, line in enumerate([customer.get_full_name() or customer.email, customer.email]):
        c.text(LEFT, y - 16 - 14 * i, line)

    y = 600
    c.text(LEFT, y, _("Item"), size=9, bold=True, color=MUTED)
    c.text(400, y, _("Qty"), size=9, bold=True, color=MUTED, align="right")
    c.text(RIGHT, y, _("Amount"), size=9, bold=True, color=MUTED, align="right")
    c.rule(y - 8)
    y -= 28
    shown = items[:MAX_LINES]
    for item in shown:
        c.text(LEFT, y, item.name)
        c.text(400, y, str(item.quantity), align="right")
        c.text(RIGHT, y, money(item.total), align="right")
        y -= 20
    if len(items) > len(shown):
        more = len(items) - len(shown)
        label = ngettext("… and %(count)d more item", "… and %(count)d more items", more)
        c.text(LEFT, y, label % {"count": more}, color=MUTED)
        y -= 20
    c.rule(y + 8)

    totals = order_totals(order, items)
    y -= 14
    for label, key in [(_("Subtotal"), "subtotal"), (_("Shipping"), "shipping"), (_("Tax"), "tax")]:
        c.text(360, y, label, color=MUTED)
        c.text(RIGHT, y, money(totals[key]), align="right")
        y -= 18
    c.text(360, y - 6, _("Total paid"), size=12, bold=True)
    c.text(RIGHT, y - 6, money(totals["total"]), size=12, bold=True, align="right")

    c.rule(72)
    c.text(
        LEFT,
        54,
        _("Thank you for shopping with %(site)s.") % {"site": site_name},
        size=9,
        color=MUTED,
    )
    return c.content()


def receipt_pdf(order, items, *, site_name: str) -> bytes:
    """Return the bytes of a one-page PDF receipt for ``order``."""
    content = _draw(order, items, site_name)
    font = b"<< /Type /Font /Subtype /Type1 /BaseFont /%s /Encoding /WinAnsiEncoding >>"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] "
        b"/Resources << /Font << /F1 4 0 R /F2 5 0 R >> >> /Contents 6 0 R >>"
        % (PAGE_WIDTH, PAGE_HEIGHT),
        font % b"Helvetica",
        font % b"Helvetica-Bold",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
        b"<< /Title %s /Producer (txmail example) >>"
        % _pdf_text_string(_("Receipt %(number)s") % {"number": order.number}),
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")  # binary marker line
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        len(objects),
        xref,
    )
    return bytes(out)
