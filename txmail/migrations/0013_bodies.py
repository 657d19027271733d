"""Message bodies move to a table of their own (``txmail.Body``).

A worker's per-message writes (claim, hand-over stamp) change a row's size, and
SQLite then rewrites the whole record, body included: tens of kilobytes a write.
"""

import django.db.models.deletion
from django.db import migrations, models


def copy_bodies(apps, schema_editor):
    Delivery = apps.get_model("txmail", "Delivery")
    Body = apps.get_model("txmail", "Body")
    rows = Delivery.objects.filter(raw__isnull=False).values_list("pk", "raw")
    batch = []
    for pk, raw in rows.iterator(chunk_size=500):
        batch.append(Body(delivery_id=pk, raw=raw))
        if len(batch) >= 500:
            Body.objects.bulk_create(batch)
            batch = []
    Body.objects.bulk_create(batch)


def copy_back(apps, schema_editor):
    Delivery = apps.get_model("txmail", "Delivery")
    Body = apps.get_model("txmail", "Body")
    for pk, raw in Body.objects.values_list("delivery_id", "raw").iterator(chunk_size=500):
        Delivery.objects.filter(pk=pk).update(raw=raw)


class Migration(migrations.Migration):
    dependencies = [("txmail", "0012_scheduling")]

    operations = [
        migrations.CreateModel(
            name="Body",
            fields=[
                ("delivery", models.OneToOneField(
                    on_delete=django.db.models.deletion.CASCADE, primary_key=True,
                    related_name="body", serialize=False, to="txmail.delivery",
                    verbose_name="delivery")),
                ("raw", models.BinaryField(verbose_name="message bytes")),
            ],
            options={"verbose_name": "message body", "verbose_name_plural": "message bodies"},
        ),
        migrations.RunPython(copy_bodies, copy_back, elidable=False),
        migrations.RemoveIndex(model_name="delivery", name="txmail_bodies"),
        migrations.RemoveField(model_name="delivery", name="raw"),
    ]
