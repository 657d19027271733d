"""``manage.py txmail campaign ...``: start, follow, list and cancel bulk campaigns.

    manage.py txmail campaign start shop.Newsletter [--kwargs JSON] [--follow]
    manage.py txmail campaign follow ID     a progress bar until it is done
    manage.py txmail campaign list          campaigns with their counts
    manage.py txmail campaign cancel ID     send nothing more

``start`` sends to the class's ``get_bulk_queryset()`` with its
``get_bulk_kwargs()`` (``--kwargs`` overrides them). The progress bar is tqdm's
(``pip install "txmail[bulk]"``); without it, a line per update.
"""

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from ....bulk import progress
from ....bulk.models import Campaign, CampaignStatus
from ....exceptions import TxmailError
from ....registry import get_message_class


def add_arguments(sub: Any) -> None:
    parser = sub.add_parser("campaign", help="Start, follow, list or cancel bulk campaigns.")
    actions = parser.add_subparsers(dest="campaign_action", required=True, metavar="ACTION")
    start = actions.add_parser("start", help="Send a bulk class to its default recipients.")
    start.add_argument("name", metavar="NAME", help="A registered bulk class: app.ClassName.")
    start.add_argument("--kwargs", default=None, metavar="JSON",
                       help="send_bulk() arguments, a JSON object (default: the "
                       "class's get_bulk_kwargs()).")
    start.add_argument("--follow", action="store_true", help="Then show its progress.")
    follow = actions.add_parser("follow", help="Show a campaign's progress until it is done.")
    follow.add_argument("id", type=int, metavar="ID")
    follow.add_argument("--interval", type=float, default=0.5, metavar="SECONDS")
    actions.add_parser("list", help="Campaigns and their counts.")
    cancel = actions.add_parser("cancel", help="Stop a campaign: send nothing more.")
    cancel.add_argument("id", type=int, metavar="ID")


def handle(command: BaseCommand, *, campaign_action: str, **options: Any) -> None:
    if campaign_action == "start":
        campaign = start(options["name"], options["kwargs"])
        command.stdout.write(f"Campaign {campaign.pk}: {campaign.total} recipients in "
                             f"{campaign.chunks.count()} chunks.")
        if options["follow"]:
            follow(command, campaign)
    elif campaign_action == "follow":
        follow(command, get(options["id"]), interval=options["interval"])
    elif campaign_action == "list":
        shown = list(Campaign.objects.all()[:LISTED + 1])
        if not shown:
            command.stdout.write("No campaigns. Start one with `manage.py txmail campaign "
                                 "start app_label.ClassName`.")
        for campaign in shown[:LISTED]:
            command.stdout.write(f"{campaign.pk:>6} {campaign.message_class:<30} "
                                 f"{campaign.status:<10} {campaign.progress().describe()}")
        if len(shown) > LISTED:
            command.stdout.write(f"(the newest {LISTED}; older campaigns are in the admin)")
    elif campaign_action == "cancel":
        campaign = get(options["id"])
        if campaign.status == CampaignStatus.CANCELLED:
            command.stdout.write(f"Campaign {campaign.pk} was already cancelled: nothing "
                                 "more to cancel.")
            return
        count = campaign.cancel()
        command.stdout.write(f"Cancelled: {count} messages not sent.")


LISTED = 50


def get(pk: int) -> Campaign:
    try:
        return Campaign.objects.get(pk=pk)
    except Campaign.DoesNotExist:
        raise CommandError(f"No campaign {pk}: see `manage.py txmail campaign list`.") from None


def start(name: str, kwargs_json: str | None) -> Campaign:
    from ....bulk.bulk_message import BulkMessage

    try:
        cls = get_message_class(name)
    except LookupError as exc:
        raise CommandError(str(exc)) from None
    if not issubclass(cls, BulkMessage):
        raise CommandError(f"{name} is not a bulk class: subclass "
                           "txmail.bulk.bulk_message.BulkMessage to send it in bulk.")
    kwargs = dict(cls.get_bulk_kwargs())
    if kwargs_json:
        try:
            kwargs.update(json.loads(kwargs_json))
        except (ValueError, TypeError) as exc:
            raise CommandError(f"--kwargs must be a JSON object: {exc}.") from None
    try:
        return cls.send_bulk(cls.get_bulk_queryset(), **kwargs)
    except TxmailError as exc:  # get_bulk_queryset() missing, bad send_bulk() arguments
        raise CommandError(f"{name} can't start: {exc}") from exc


def follow(command: BaseCommand, campaign: Campaign, *, interval: float = 0.5) -> None:
    progress.follow(campaign, stdout=command.stdout, stderr=command.stderr, interval=interval)
