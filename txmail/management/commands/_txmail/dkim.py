"""``manage.py txmail dkim``: the DNS record to publish for each DKIM key."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from ....exceptions import InvalidSetting
from ....mail import dkim


def add_arguments(sub: Any) -> None:
    sub.add_parser("dkim", help="Print the DNS TXT record of each TXMAIL['DKIM'] key.")


def do_dkim(command: BaseCommand, **options: Any) -> None:
    try:
        keys = dkim.keys()
    except InvalidSetting as exc:
        raise CommandError(str(exc)) from exc
    if not keys:
        raise CommandError("TXMAIL['DKIM'] is empty: nothing is signed. Add a key per From "
                           "domain, e.g. {'example.com': {'selector': 's1', 'key': "
                           "'/etc/dkim/s1.pem'}}.")
    for key in keys:
        command.stdout.write(f"; {key.domain}: {key.bits}-bit RSA key, selector {key.selector}")
        command.stdout.write(key.record)
