"""Send every example message once, built from unsaved sample data."""

from django.core.management.base import BaseCommand

from txmail.registry import message_classes


class Command(BaseCommand):
    help = "Send each of the shop's example emails once (nothing is saved)."

    def add_arguments(self, parser):
        parser.add_argument("--to", metavar="ADDRESS", help="Send to this address instead.")

    def handle(self, *args, to=None, **options):
        for name, cls in message_classes().items():
            if not name.startswith("shop."):
                continue
            # preview() is the sample-data constructor each class already has.
            message = cls.preview()
            if to:
                message.to = [to]
            sent = message.send()
            self.stdout.write(
                f"{name}: {sent.email.subject!r} via {sent.mailer!r} "
                f"to {', '.join(sent.recipients)} {sent.message_id}"
            )
