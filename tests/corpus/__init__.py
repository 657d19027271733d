"""The precompiler's corpus: templates, a typical context, and what each must do.

``TEMPLATES_DIR`` goes into TEMPLATES["DIRS"] (tests use override_settings; the
benchmark's own settings list it).
"""

import datetime
from pathlib import Path

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"

# Template name (without extension) → must it compile (True) or fall back (False)?
CORPUS = {
    "corpus/welcome": True,
    "corpus/newsletter": True,
    "corpus/order": True,
    "corpus/with_include": True,
    "corpus/layout_child": True,
    "corpus/i18n": True,
    "corpus/digest": True,
    "corpus/alert": True,  # with alert.txt
    "corpus/plain": True,
    "corpus/plain_loop": True,
    "corpus/html_child": True,
    "corpus/receipt": True,  # with receipt.txt
    "corpus/links": True,
    "corpus/nested": True,
    "corpus/filters": True,
    "corpus/columns": False,  # {% for %} around mj-column: MJML divides the width
    "corpus/safe": True,  # |linebreaksbr: plain lines compiled, others rendered in full
    # Real-world shapes (issue #13): MRML's <head> CSS follows the outcome of a
    # loop or condition (a width found nowhere else, a background image)…
    "corpus/loop_width": True,
    "corpus/loop_background": True,
    "corpus/if_columns": True,
    "corpus/two_loops": True,
    # …template tags in <mj-raw> between sections of an <mj-wrapper>, a
    # conditional src or href, MJML that only mjml-js accepted (a head partial with a
    # css include, unquoted values, <img></img>), a <div> across <mj-raw>s.
    "corpus/wrapper_raw": True,
    "corpus/conditional_src": True,
    "corpus/conditional_href": True,  # the text part shows the URL the HTML took
    "corpus/head_partial": True,
    "corpus/raw_div": True,
}


def item(i: int) -> dict:
    return {
        "title": f"Article {i}: tips & tricks",
        "summary": "A long summary of the article, " * 4,
        "url": f"https://example.com/articles/{i}?utm_source=mail&utm_medium=email",
        "price": f"{i * 3}.50 €",
        "qty": i % 3,
    }


def typical_context(recipient: int = 0, n_items: int = 5) -> dict:
    """A realistic context, different for each recipient number."""
    items = [item(i) for i in range(1, n_items + 1)]
    return {
        "name": f"Zoë Example {recipient}",
        "username": f"zoe{recipient}",
        "email": f"zoe{recipient}@example.com",
        "company": "Example Shop",
        "logo_url": "https://example.com/static/logo.png",
        "url": f"https://example.com/account/{recipient}?token=abc{recipient}",
        "unsubscribe_url": f"https://example.com/unsubscribe/{recipient}",
        "order_id": f"A-{1000 + recipient}",
        "total": "42.00 €",
        "note": "Please leave the parcel at the door.",
        "device": "Firefox on Linux",
        "when": datetime.datetime(2026, 11, 21, 9, 30, tzinfo=datetime.UTC),
        "show_promo": recipient % 2 == 0,
        "promo_code": "SAVE 10",
        "count": recipient % 4,
        "ratio": 0.25 * recipient,
        "items": items,
        "groups": [{"label": "Books", "items": items[:2]}, {"label": "Misc", "items": []}],
    }
