"""Mail that comes in: mailboxes, their routing and the ingresses that feed them.

    from txmail.inbound import Bounce, Mailbox

    class Support(Mailbox):
        route = "support@example.com"

        def process(self, inbound):
            Ticket.objects.create(subject=inbound.subject, body=inbound.text)
"""

from ..exceptions import Bounce
from .mailboxes import Mailbox, register, unregister

__all__ = ["Bounce", "Mailbox", "register", "unregister"]
