"""Mailboxes the inbound tests route to; each says in its outcome what it saw."""

from txmail.inbound import Bounce, Mailbox


class Comments(Mailbox):
    route = "reply+{token}@example.com"

    def process(self, inbound):
        return f"comment on {inbound.delivery_id} (token {self.kwargs['token'][:4]})"


class Support(Mailbox):
    route = "support@example.com"

    def process(self, inbound):
        text = inbound.text.strip()
        return f"ticket: {inbound.subject} / {text} / reply to {inbound.delivery_id}"


class Flaky(Mailbox):
    """Fails its first attempt at each message, as a briefly unreachable service."""

    route = "flaky@example.com"

    def process(self, inbound):
        if inbound.attempts == 1:
            raise ConnectionError("the ticket service is down")
        return f"processed at attempt {inbound.attempts}"


class Broken(Mailbox):
    route = "broken@example.com"
    max_attempts = 2

    def process(self, inbound):
        raise RuntimeError("always broken")


class NoReply(Mailbox):
    route = "noreply@example.com"

    def process(self, inbound):
        raise Bounce("This address takes no mail; write to support@example.com.")


class Orders(Mailbox):
    """Every other address at example.org."""

    route = "*@example.org"

    def process(self, inbound):
        return f"order mail for {inbound.envelope_recipient}"
