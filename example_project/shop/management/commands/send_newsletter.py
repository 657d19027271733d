"""Send the newsletter to every demo customer from the task workers, with a progress bar.

    python manage.py seed_demo --customers 500     # some customers to send to
    python manage.py db_worker &                   # the workers that send it
    python manage.py send_newsletter               # each customer in their language

The same as ``manage.py txmail campaign start shop.Newsletter --follow``.
"""

from django.core.management.base import BaseCommand

from shop.emails import Newsletter
from txmail.bulk.progress import follow


class Command(BaseCommand):
    help = "Send the newsletter to every active customer and follow its progress."

    def add_arguments(self, parser):
        parser.add_argument("--no-follow", action="store_true",
                            help="Start it and return (follow it with "
                            "`manage.py txmail campaign follow ID`).")

    def handle(self, *args, no_follow, **options):
        campaign = Newsletter.send_bulk(Newsletter.get_bulk_queryset())
        self.stdout.write(f"Campaign {campaign.pk}: {campaign.total} customers.")
        if not no_follow:
            follow(campaign, stdout=self.stdout, stderr=self.stderr)
