"""Create the demo account and its orders; running it again changes nothing."""

import datetime
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from shop.models import Order, OrderItem, Profile

DEMO_EMAIL = "demo@acme.example"
DEMO_PASSWORD = "demo"

ORDERS = [
    (
        "A-10001",
        datetime.datetime(2026, 10, 2, 14, 5, tzinfo=datetime.UTC),
        [
            ("Merino crew sweater, charcoal, M", "KN-204-CH-M", 1, "89.00"),
            ("Wool hiking socks", "SK-020-GR", 2, "16.00"),
        ],
    ),
    (
        "A-10002",
        datetime.datetime(2026, 11, 9, 18, 30, tzinfo=datetime.UTC),
        [
            ("Waxed canvas weekender", "BG-330-OL", 1, "165.00"),
            ("Leather card holder, tan", "AC-071-TN", 1, "35.00"),
            ("Cedar shoe trees", "AC-300-CD", 1, "24.00"),
        ],
    ),
]


class Command(BaseCommand):
    help = f"Create the demo user {DEMO_EMAIL} (password {DEMO_PASSWORD!r}) and orders."

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=50, metavar="N",
                            help="Also create N demo customers for the newsletter "
                            "(customer1@acme.example ...; every third reads French; "
                            "default %(default)s).")

    @transaction.atomic
    def handle(self, *args, customers=50, **options):
        user, created = get_user_model().objects.get_or_create(
            username="demo",
            defaults={
                "email": DEMO_EMAIL,
                "first_name": "Dana",
                "last_name": "Demo",
                # Staff, so the same login opens the admin of this local demo.
                "is_staff": True,
                "is_superuser": True,
            },
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        for number, created_at, lines in ORDERS:
            order, _ = Order.objects.get_or_create(
                number=number,
                defaults={
                    "customer": user,
                    "created_at": created_at,
                    "shipping": Decimal("6.50"),
                    "tax_rate": Decimal("0.0825"),
                    "shipping_address": "Dana Demo\n1 Example Row\nBristol BS1 4RN",
                },
            )
            if not order.items.exists():
                OrderItem.objects.bulk_create(
                    OrderItem(
                        order=order, name=name, sku=sku, quantity=qty, unit_price=Decimal(price)
                    )
                    for name, sku, qty, price in lines
                )
        User = get_user_model()
        existing = set(User.objects.filter(username__startswith="customer")
                       .values_list("username", flat=True))
        User.objects.bulk_create(
            [User(username=f"customer{i}", email=f"customer{i}@acme.example",
                  first_name=f"Customer {i}") for i in range(1, customers + 1)
             if f"customer{i}" not in existing], batch_size=500)
        ids = dict(User.objects.filter(username__startswith="customer", profile=None)
                   .values_list("username", "pk"))
        Profile.objects.bulk_create(
            [Profile(user_id=ids[f"customer{i}"], language="fr" if i % 3 == 0 else "en")
             for i in range(1, customers + 1) if f"customer{i}" in ids], batch_size=500)
        state = "created" if created else "already there"
        self.stdout.write(
            f"Demo user {DEMO_EMAIL} / {DEMO_PASSWORD!r} ({state}); {user.orders.count()} orders."
        )
