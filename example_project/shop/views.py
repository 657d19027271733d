"""The example's only page of its own: a home page linking to everything else."""

from datetime import timedelta
from decimal import Decimal
from importlib.util import find_spec

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import UserCreationForm
from django.db import transaction
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from txmail.registry import message_classes

from .emails import OrderReceipt, OrderShipped, Welcome
from .models import Order, Profile

# The demo "ships" an order this long after it is placed: time to cancel it in
# the admin (Shop > Orders) and see the shipped notice end cancelled.
SHIPS_AFTER = timedelta(minutes=2)


def home(request):
    # Plain dicts: templates would call the classes instead of reading them.
    emails = [
        {
            "name": name,
            "doc": (cls.__doc__ or "").strip().partition("\n")[0],
            "mailer": cls.mailer or "default",
        }
        for name, cls in message_classes().items()
    ]
    return render(
        request,
        "shop/home.html",
        {"emails": emails, "previews_enabled": find_spec("txmail.urls") is not None},
    )


class SignupForm(UserCreationForm):
    class Meta(UserCreationForm.Meta):
        fields = ("username", "email")


def signup(request):
    """Create an account; the Welcome email is queued and sent by the worker."""
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            user = form.save()
            # The language the customer signed up in: their emails use it.
            Profile.objects.create(user=user, language=request.LANGUAGE_CODE)
            # Sent only if the account is committed; the request doesn't wait
            # for the mail server.
            Welcome(user).enqueue()
        login(request, user)
        messages.success(request, "Welcome! Your welcome email is on its way.")
        return redirect("home")
    return render(request, "shop/signup.html", {"form": form})


@login_required
@require_POST
def place_order(request):
    """A demo purchase: one order, its receipt queued after the commit."""
    with transaction.atomic():
        number = f"A-{Order.objects.count() + 1001}"
        order = Order.objects.create(
            number=number, customer=request.user, created_at=timezone.now(),
            shipping=Decimal("4.90"), tax_rate=Decimal("0.2"),
            shipping_address="12 Harbour Street\nBristol BS1 4RN",
        )
        order.items.create(name="Enamel mug", sku="MUG-1", quantity=2,
                           unit_price=Decimal("12.50"))
        queued = OrderReceipt(order).enqueue()
        # Scheduled: checked again just before it goes (OrderShipped.still_wanted).
        shipped = OrderShipped(order).enqueue(delay=SHIPS_AFTER)
    messages.success(request, f"Order {number} placed; receipt queued (delivery "
                              f"#{queued.delivery_id}), shipped notice scheduled in 2 "
                              f"minutes (#{shipped.delivery_id}; cancel the order in the "
                              f"admin to stop it). See the admin's Deliveries.")
    return redirect("home")
