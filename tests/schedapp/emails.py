"""A dispatch notice that must not go out for an order cancelled since it was queued."""

from txmail import CancelSend, Message

from .models import Order


class OrderDispatched(Message):
    template_name = "testapp/emails/hello"
    subject = "Order {{ name }} is on its way"
    from_email = "Example Shop <shop@example.com>"

    def __init__(self, order: Order, **kwargs):
        super().__init__(to=[order.email], context={"name": f"#{order.pk}"}, **kwargs)
        self.order = order

    def get_send_check(self):
        return {"order": self.order.pk}

    @classmethod
    def still_wanted(cls, data):
        order = Order.objects.filter(pk=data["order"]).first()
        if order is None or order.cancelled:
            raise CancelSend(f"order {data['order']} was cancelled")
        return True
