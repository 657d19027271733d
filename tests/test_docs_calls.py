"""The delivery-options pages' calls run as written, and do what the pages say.

Each test takes a Python block from the page (found by a phrase it contains), runs it in
a namespace holding what the page assumes (a booking, a user, an order, message classes
defined earlier on the page), and checks the rows and the sent mail after.
"""

from datetime import datetime, time, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.urls import include, path, resolve
from django.utils import timezone

from tests.docs_pages import assert_covered, block, pages
from tests.schedapp.models import Order
from tests.testapp.emails import Hello
from txmail import Message, local_time, registry
from txmail.delivery import queue
from txmail.delivery.idempotency import IdempotencyKey
from txmail.delivery.models import Delivery, Status
from txmail.suppression.check import suppress

DB = {"TASK_BACKEND": "db", "SITE_URL": "https://shop.example.com"}
BERLIN = ZoneInfo("Europe/Berlin")
# The templates the pages' classes name.
TEMPLATES = {"digest": "<p>Your digest, {{ user.username }}.</p>",
             "dispatched": "<p>Order {{ order.pk }} is on its way.</p>",
             "receipt": "<p>Thank you for order {{ order.number }}.</p>",
             "security_alert": "<p>Someone signed in to your account.</p>"}

# Blocks no test here runs, by page and a phrase of the block, with the reason.
NOT_RUN = {
    ("idempotency.md", '"resend": {"BACKEND"'): "MAILERS settings, not a call",
    ("preferences.md", "TXMAIL = {"): "settings: tests/test_docs_delivery.py runs it",
    ("retention.md", "TXMAIL = {"): "settings: tests/test_docs_delivery.py runs it",
}
RUN = {
    ("scheduling.md", "Reminder(booking).enqueue(delay=timedelta(hours=24))"),
    ("scheduling.md", "class Digest(Message)"),
    ("scheduling.md", "class OrderDispatched(Message)"),
    ("scheduling.md", "queued.reschedule("),
    ("idempotency.md", "class Receipt(Message)"),
    ("idempotency.md", "def get_idempotency_key"),
    ("retention.md", "txmail.erase("),
    ("preferences.md", 'path("email/"'),
    ("preferences.md", "preferences_url(\"ann@example.com\")"),
    ("preferences.md", "class SecurityAlert(Message)"),
    ("delivery-options.md", "# Idempotency keys"),
}
# The preferences page's line of urls.py is this module's URLconf.
urlpatterns = list(eval(block("preferences.md", 'path("email/"'),
                        {"path": path, "include": include}))
@pytest.mark.parametrize("page", pages(RUN, NOT_RUN))
def test_every_python_block_of_the_page_is_run_or_listed_with_a_reason(page):
    assert_covered(page, RUN, NOT_RUN)


# -- what the pages assume ------------------------------------------------------------


class Reminder(Hello):
    def __init__(self, booking, **kwargs):
        super().__init__(name="Ann", to=[booking.email], **kwargs)


class Digest(Hello):
    def __init__(self, user, **kwargs):
        super().__init__(name=user.username, to=[user.email], **kwargs)
        self.user = user

    def get_time_zone(self):
        return self.user.profile.time_zone


class LoginCode(Digest):
    pass


class Receipt(Hello):
    def __init__(self, order, **kwargs):
        super().__init__(to=[order.email], **kwargs)


def order_row(email="ann@example.com"):
    order = Order.objects.create(email=email)
    order.number = f"A-{order.pk}"  # the shop's order number, which the receipt shows
    return order


@pytest.fixture(scope="module")
def order_table(django_db_setup, django_db_blocker):
    """tests/schedapp's Order, whose app the test project doesn't install."""
    with django_db_blocker.unblock(), connection.schema_editor() as editor:
        editor.create_model(Order)
    yield
    with django_db_blocker.unblock(), connection.schema_editor() as editor:
        editor.delete_model(Order)


@pytest.fixture
def page(settings, tmp_path, order_table, django_user_model):
    """Run a page's block in a namespace like the reader's; return the namespace."""
    settings.TXMAIL = DB
    (tmp_path / "emails").mkdir()
    for name, body in TEMPLATES.items():
        (tmp_path / "emails" / f"{name}.html").write_text(body)
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path]}]
    user = django_user_model.objects.create_user("ann", "ann@example.com")
    user.profile = SimpleNamespace(time_zone="Europe/Berlin")
    defined: list[type[Message]] = []
    for cls in (Reminder, Digest, LoginCode, Receipt):
        registry.register(cls)

    def run(name: str, phrase: str, **names) -> dict:
        namespace = {"__name__": "shop", "timedelta": timedelta, "time": time,
                     "local_time": local_time, "Reminder": Reminder, "Digest": Digest,
                     "LoginCode": LoginCode, "Receipt": Receipt, "Order": Order,
                     "user": user, "booking": SimpleNamespace(
                         email="bob@example.com", starts=timezone.now() + timedelta(days=3)),
                     **names}
        exec(block(name, phrase), namespace)  # the page's own code
        for value in list(namespace.values()):
            if isinstance(value, type) and issubclass(value, Message) and \
                    value.__module__ == "shop":
                registry.register(value)  # as autodiscovery would, from shop/emails.py
                defined.append(value)
        return namespace

    yield run
    for cls in [*defined, Reminder, Digest, LoginCode, Receipt]:
        registry.unregister(cls)


def rows():
    return list(Delivery.objects.order_by("pk"))


def at_berlin(hour: int) -> datetime:
    """The next ``hour``:00 on a Berlin clock."""
    now = timezone.now().astimezone(BERLIN)
    at = now.replace(hour=hour, minute=0, second=0, microsecond=0)
    return at if at > now else (at + timedelta(days=1)).replace(hour=hour)


# -- scheduling.md --------------------------------------------------------------------


def test_the_four_ways_to_enqueue_later(page):
    before = timezone.now()
    namespace = page("scheduling.md", "Reminder(booking).enqueue(delay=timedelta(hours=24))")
    after = timezone.now()
    delayed, before_start, digest, code = rows()
    assert delayed.status == Status.SCHEDULED
    assert before + timedelta(hours=24) <= delayed.send_at <= after + timedelta(hours=24)
    assert before_start.send_at == namespace["booking"].starts - timedelta(hours=2)
    assert digest.status == Status.SCHEDULED and digest.send_at == at_berlin(9)
    assert code.status == Status.QUEUED and code.send_at is None
    assert before + timedelta(minutes=10) <= code.expires_at <= after + timedelta(minutes=10)


def test_the_class_send_time_and_quiet_hours(page):
    namespace = page("scheduling.md", "class Digest(Message)")
    digest = namespace["Digest"](namespace["user"])
    queued = digest.enqueue()
    [stored] = rows()
    assert stored.status == Status.SCHEDULED == queued.status
    assert stored.send_at == at_berlin(8)  # local_time(8) on the user's clock
    late = at_berlin(23)
    held = digest.enqueue(send_at=late)  # in the quiet hours: held until their end
    assert Delivery.objects.get(pk=held.delivery_id).send_at == (
        late + timedelta(days=1)).replace(hour=8)
    assert digest.send().status == "sent"  # send() sends now
    assert [m.to for m in mail.outbox] == [["ann@example.com"]]


def test_the_last_check_cancels_the_notice_of_a_cancelled_order(page):
    notice = page("scheduling.md", "class OrderDispatched(Message)")["OrderDispatched"]
    kept = Order.objects.create(email="kept@example.com")
    dropped = Order.objects.create(email="dropped@example.com")
    kept_q, dropped_q = notice(kept).enqueue(), notice(dropped).enqueue()
    Order.objects.filter(pk=dropped.pk).update(cancelled=True)
    assert queue.run(kept_q.delivery_id) == {"sent": 1, "cancelled": 1}
    assert [m.to for m in mail.outbox] == [["kept@example.com"]]
    stored = Delivery.objects.get(pk=dropped_q.delivery_id)
    assert stored.message_class == "shop.OrderDispatched"
    assert stored.send_check == {"order": dropped.pk}
    assert stored.status == Status.CANCELLED
    assert stored.last_error == (f"Cancelled by the last check: order {dropped.pk} was "
                                 "cancelled")


def test_reschedule_then_cancel(page):
    namespace = page("scheduling.md", "queued.reschedule(")
    [stored] = rows()
    assert namespace["queued"].delivery_id == stored.pk
    assert stored.send_at == namespace["booking"].starts - timedelta(hours=2)
    assert stored.status == Status.CANCELLED
    assert stored.last_error == "Cancelled: the booking was cancelled"


# -- idempotency.md -------------------------------------------------------------------


def test_two_keyed_enqueues_make_one_delivery(page):
    order = order_row()
    namespace = page("idempotency.md", "class Receipt(Message)", order=order)
    [stored] = rows()
    assert stored.message_class == "shop.Receipt" and stored.duplicates == 1
    [key] = IdempotencyKey.objects.all()
    assert key.key == f"receipt/{order.pk}" and key.message_class == "shop.Receipt"
    queue.run(stored.pk)
    [sent] = mail.outbox
    assert sent.to == ["ann@example.com"] and namespace["Receipt"] is not Receipt


def test_the_key_computed_in_code(page):
    order = order_row()
    order.paid_at = datetime(2026, 12, 7, 9, 15, tzinfo=BERLIN)
    namespace = page("idempotency.md", "class Receipt(Message)", order=order)
    namespace = page("idempotency.md", "def get_idempotency_key", **namespace)
    first = namespace["DailyReceipt"](order).enqueue()
    again = namespace["DailyReceipt"](order).enqueue()
    assert again.delivery_id == first.delivery_id
    assert again.deduplicated == f"receipt/{order.pk}/20261207"
    assert IdempotencyKey.objects.filter(key=f"receipt/{order.pk}/20261207").count() == 1


def test_the_overview_enqueues_one_of_each(page):
    order = order_row("carl@example.com")
    page("delivery-options.md", "# Idempotency keys", order=order)
    reminder, digest, code, receipt = rows()
    assert reminder.status == digest.status == Status.SCHEDULED
    assert digest.send_at == at_berlin(9)
    assert code.expires_at is not None and code.status == Status.QUEUED
    assert receipt.recipients == ["carl@example.com"]
    assert IdempotencyKey.objects.get().key == f"receipt/{order.pk}"


# -- retention.md ---------------------------------------------------------------------


def test_erase_removes_the_address_and_only_it(page):
    Hello(to=["ann@example.com"]).send()
    Hello(to=["joann@example.com"]).send()
    Hello(to=["ANN@example.com", "bob@example.com"]).send()
    page("retention.md", "txmail.erase(")
    assert [r.recipients for r in rows()] == [["joann@example.com"]]


# -- preferences.md -------------------------------------------------------------------


@pytest.mark.urls(__name__)
def test_the_preferences_link_opens_the_page(page):
    link = page("preferences.md", "preferences_url(\"ann@example.com\")")["link"]
    assert link.startswith("https://shop.example.com/email/preferences/")
    path = link.removeprefix("https://shop.example.com")
    assert resolve(path).url_name == "preferences"
    response = Client().get(path)
    assert response.status_code == 200 and b"ann@example.com" in response.content


def test_a_critical_message_reaches_an_address_that_opted_out(page):
    alert = page("preferences.md", "class SecurityAlert(Message)")["SecurityAlert"]
    suppress("ann@example.com", "unsubscribed")
    suppress("bob@example.com", "bounced")
    result = alert(to=["ann@example.com", "bob@example.com"]).send()
    assert result.status == "sent"
    assert [m.to for m in mail.outbox] == [["ann@example.com"]]
    assert rows()[-1].critical is True
