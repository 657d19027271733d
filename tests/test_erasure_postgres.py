"""Erasure on PostgreSQL: jsonb and bytea columns searched and emptied as on SQLite.

A process of its own on a PostgreSQL server of the test's (``tests/postgres.py``):
the suite's own database is SQLite, where JSON is text and ``LIKE`` reads blobs.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.worker

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = r'''
import json
import re

import django

django.setup()
from django.apps import apps
from django.db import connection

import txmail
from txmail.bulk.models import Campaign, CampaignStatus
from txmail.delivery.models import Delivery, Status
from txmail.suppression.check import suppress, suppressed_among
from txmail.testing import traces_of
from txmail.webhooks.models import DeliveryEvent

ANN = "ann@bücher.example"
ANYWHERE = re.compile(r"(?<![\w.+\-])ann@(bücher|xn--bcher-kva)\.example(?![\w\-])", re.I)


def hits():
    found = set()
    with connection.cursor() as cursor:
        for model in apps.get_app_config("txmail").get_models():
            cursor.execute(f'SELECT * FROM "{model._meta.db_table}"')
            names = [d[0] for d in cursor.description]
            for values in cursor.fetchall():
                for name, value in zip(names, values):
                    if isinstance(value, (bytes, memoryview)):
                        value = bytes(value).decode("utf-8", "replace")
                    elif isinstance(value, (dict, list)):
                        value = json.dumps(value, ensure_ascii=False)
                    if value is not None and ANYWHERE.search(str(value)):
                        found.add(f"{model._meta.db_table}.{name}")
    return sorted(found)


def row(recipients, raw=b"", **fields):
    return Delivery.objects.create(mailer="default", from_email="shop@example.com",
                                   recipients=recipients, status=Status.SENT, raw=raw, **fields)


to_ann = row(["Ann <ANN@BÜCHER.EXAMPLE>", "bob@example.com"], raw=b"To: ann@xn--bcher-kva.example")
row(["bob@example.com"], raw=b"Reply-To: Ann <ANN@xn--bcher-kva.example>\r\n\r\nhi")
row(["bob@example.com"], suppressed={ANN: "bounced"})
bob = row(["bob@example.com"], raw=b"To: joann@xn--bcher-kva.example")
DeliveryEvent.objects.create(delivery=bob, event_type="deferred", esp_name="t",
                             mta_response="451 try ann@xn--bcher-kva.example later")
Campaign.objects.create(message_class="testapp.Hello", model="auth.User", query=b"",
                        kwargs={"only": ANN}, status=CampaignStatus.DONE)
suppress(ANN, "bounced", description="550 ann@xn--bcher-kva.example", delivery=to_ann)
before = hits()
traced = sorted({f"{t.model._meta.db_table}.{t.field}" for t in traces_of(ANN)})
counts = txmail.erase("ann@xn--bcher-kva.example")
print(json.dumps({"before": before, "traced": traced, "after": hits(),
                  "left": [str(t) for t in counts.pop("left")], "counts": counts,
                  "kept": Delivery.objects.count(), "suppressed": sorted(suppressed_among([ANN]))}))
'''


def test_erasure_on_postgresql(postgresql):
    env = {**os.environ, **postgresql.settings(), "PYTHONPATH": str(ROOT),
           "DJANGO_SETTINGS_MODULE": "tests.pg_worker_settings"}
    subprocess.run([sys.executable, "-m", "django", "migrate", "-v0"], env=env, check=True,
                   cwd=ROOT, timeout=300)
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, cwd=ROOT, timeout=300,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["before"] == [
        "txmail_body.raw", "txmail_campaign.kwargs", "txmail_delivery.recipients",
        "txmail_delivery.recipients_text", "txmail_delivery.suppressed",
        "txmail_deliveryevent.mta_response", "txmail_suppression.address",
        "txmail_suppression.description"]
    assert found["traced"] == found["before"]
    assert (found["after"], found["left"]) == ([], [])
    assert found["counts"] == {"deliveries": 3, "events": 1, "campaign recipients": 0,
                               "campaigns": 1, "suppressions hashed": 1,
                               "suppression descriptions cleared": 0,
                               "idempotency keys": 0, "mailer hold-backs cleared": 0}
    assert found["kept"] == 1  # Joann's: a longer address, not Ann's
    assert found["suppressed"] == ["ann@xn--bcher-kva.example"]
