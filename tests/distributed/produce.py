"""Enqueue ``N`` Hello messages the way a view would: ``python -m tests.distributed.produce N``.

Prints one JSON line: the Message-IDs enqueued.
"""

import json
import os
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.distributed.settings")
django.setup()

from tests.testapp.emails import Hello  # noqa: E402


def main(count: int) -> None:
    message_ids = []
    for i in range(count):
        delivery = Hello(name=f"Reader {i}", to=[f"reader{i}@example.com"]).enqueue()
        message_ids.append(delivery.message_id)
    print(json.dumps(message_ids))


if __name__ == "__main__":
    main(int(sys.argv[1]))
