"""Send every example message once, built from unsaved sample data."""

from django.core.management.base import BaseCommand

from txmail.registry import message_classes


class Command(BaseCommand):
    help = "Send each of the shop's example emails once (nothing is saved)."

    def add_arguments(self, parser):
        parser.add_argument("--to", metavar="ADDRESS", help="Send to this address instead.")
        parser.add_argument("--enqueue", action="store_true",
                            help="Queue them for the task worker instead of sending now.")

    def handle(self, *args, to=None, enqueue=False, **options):
        for name, cls in message_classes().items():
            if not name.startswith("shop."):
                continue
            # preview() is the sample-data constructor each class already has.
            message = cls.preview()
            if to:
                message.to = [to]
            if enqueue:
                delivery = message.enqueue().delivery
                self.stdout.write(
                    f"{name}: {delivery.subject!r} queued as delivery #{delivery.pk} "
                    f"via {delivery.mailer!r} to {', '.join(delivery.recipients)}"
                )
                continue
            sent = message.send()
            self.stdout.write(
                f"{name}: {sent.email.subject!r} via {sent.mailer!r} "
                f"to {', '.join(sent.recipients)} {sent.message_id}"
            )
