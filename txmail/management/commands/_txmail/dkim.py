"""``manage.py txmail dkim``: the DNS record to publish for each DKIM key."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from ....conf import txmail_settings
from ....exceptions import InvalidSetting
from ....mail import dkim


def add_arguments(sub: Any) -> None:
    sub.add_parser("dkim", help="Print the DNS TXT record of each TXMAIL['DKIM'] key.")


def do_dkim(command: BaseCommand, **options: Any) -> None:
    try:
        configured = txmail_settings.DKIM
    except InvalidSetting as exc:
        raise CommandError(str(exc)) from exc
    if not configured:
        raise CommandError("TXMAIL['DKIM'] is empty: nothing is signed. Add a key per From "
                           "domain, e.g. {'example.com': {'selector': 's1', 'key': "
                           "'/etc/dkim/s1.pem'}}.")
    problems = []
    for domain, entry in configured.items():
        try:
            key = dkim.load(str(domain), entry)
        except InvalidSetting as exc:
            problems.append(str(exc))  # the other keys' records are still printed
            continue
        weak = (f" (too short: receivers ignore it; generate a {dkim.RECOMMENDED_BITS}-bit "
                "key)" if key.bits < dkim.MINIMUM_BITS else "")
        command.stdout.write(f"; {key.domain}: {key.bits}-bit RSA key, selector "
                             f"{key.selector}{weak}")
        command.stdout.write(key.record)
        command.stdout.write(f"; the value whole, for a DNS host's form: {key.record_value}")
    if problems:
        raise CommandError("\n".join(problems))
