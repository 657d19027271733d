"""Unsaved sample objects for previews and ``send_examples``: nothing is written."""

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth import get_user_model

from txmail.sites import absolute_static

from .models import Order, OrderItem

ORDER_DATE = datetime.datetime(2026, 11, 14, 9, 42, tzinfo=datetime.UTC)

PRODUCTS = [
    ("Merino crew sweater, charcoal, M", "KN-204-CH-M", 1, "89.00"),
    ("Organic cotton tee, 3-pack", "TS-110-3P", 2, "48.00"),
    ("Waxed canvas weekender", "BG-330-OL", 1, "165.00"),
    ("Wool hiking socks", "SK-020-GR", 3, "16.00"),
    ("Leather card holder, tan", "AC-071-TN", 1, "35.00"),
    ("Linen shirt, sky blue, L", "SH-518-SB-L", 1, "72.00"),
    ("Everyday chinos, sand, 32", "PT-402-SD-32", 1, "78.00"),
    ("Cashmere beanie, oat", "HT-090-OT", 1, "58.00"),
    ("Fleece half-zip, navy, M", "FL-212-NV-M", 1, "95.00"),
    ("Cotton twill cap, olive", "HT-015-OL", 1, "28.00"),
    ("Recycled nylon tote", "BG-101-BK", 2, "32.00"),
    ("Cedar shoe trees", "AC-300-CD", 1, "24.00"),
]


def sample_user(**fields):
    """Return an unsaved user; ``fields`` override the defaults."""
    defaults = {
        "username": "ada",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": "ada@example.com",
    }
    return get_user_model()(**(defaults | fields))


def sample_order(customer=None, item_count=3):
    """Return an unsaved order and its unsaved items as ``(order, items)``."""
    order = Order(
        number="A-10024",
        customer=customer or sample_user(),
        created_at=ORDER_DATE,
        currency="USD",
        shipping=Decimal("6.50"),
        tax_rate=Decimal("0.0825"),
        shipping_address="Ada Lovelace\n12 St James's Square\nLondon SW1Y 4JH\nUnited Kingdom",
    )
    items = [
        OrderItem(order=order, name=name, sku=sku, quantity=qty, unit_price=Decimal(price))
        for name, sku, qty, price in PRODUCTS[:item_count]
    ]
    return order, items


@dataclass(frozen=True)
class Article:
    """One newsletter story (a real shop would have a model for these)."""

    title: str
    summary: str
    url: str
    image: str  # a static file of the shop, served by the site itself
    image_alt: str
    tag: str = ""

    @property
    def image_url(self):
        """The image's absolute URL (TXMAIL["SITE_URL"]): mail clients have no base."""
        return absolute_static(self.image)


ISSUES = {
    "en": {
        "title": "The Autumn Edit: layers, care guides and a new workshop",
        "intro": "Shorter days, better sweaters. Here is what we have been "
        "making, mending and reading this month.",
        "articles": [
            Article(
                "How to layer for a ten-degree morning",
                "Three outfits built around one merino crew: what goes under, "
                "what goes over, and what stays in the bag.",
                "https://acme.example/journal/layering-guide",
                "shop/journal/layering.jpg",
                "A charcoal merino sweater folded on a wooden bench",
                "Style guide",
            ),
            Article(
                "Make your wool last a decade",
                "Washing, drying and de-pilling, from the people who knit it.",
                "https://acme.example/journal/wool-care",
                "shop/journal/wool-care.jpg",
                "Hands brushing a wool sweater with a wooden comb",
                "Care",
            ),
            Article(
                "Inside our new repair workshop",
                "Bring anything we have sold you; we will fix it, free, for life.",
                "https://acme.example/journal/repair-workshop",
                "shop/journal/workshop.jpg",
                "A tailor mending a canvas bag at a sewing machine",
                "Behind the scenes",
            ),
        ],
    },
    "fr": {
        "title": "L'édition d'automne\u00a0: superpositions, entretien et un atelier",
        "intro": "Les jours raccourcissent, les pulls s'améliorent. Voici ce que "
        "nous avons fabriqué, réparé et lu ce mois-ci.",
        "articles": [
            Article(
                "Bien superposer pour un matin à dix degrés",
                "Trois tenues autour d'un même pull en mérinos\u00a0: dessous, "
                "dessus, et ce qui reste dans le sac.",
                "https://acme.example/fr/journal/superpositions",
                "shop/journal/layering.jpg",
                "Un pull en mérinos anthracite plié sur un banc en bois",
                "Guide de style",
            ),
            Article(
                "Faire durer votre laine dix ans",
                "Lavage, séchage et anti-bouloches, par ceux qui la tricotent.",
                "https://acme.example/fr/journal/entretien-laine",
                "shop/journal/wool-care.jpg",
                "Des mains brossant un pull en laine avec un peigne en bois",
                "Entretien",
            ),
            Article(
                "Dans notre nouvel atelier de réparation",
                "Rapportez tout ce que nous vous avons vendu\u00a0: nous le "
                "réparons, gratuitement, à vie.",
                "https://acme.example/fr/journal/atelier",
                "shop/journal/workshop.jpg",
                "Un tailleur réparant un sac en toile sur une machine à coudre",
                "Coulisses",
            ),
        ],
    },
}


def sample_issue(language="en"):
    """Return a sample newsletter issue: a dict of title, intro and articles."""
    return ISSUES.get(language, ISSUES["en"])
