"""Store every suppressed address in one form: lowercased, IDNA (punycode) domain.

Entries that become equal (``ann@bücher.example`` and
``ann@xn--bcher-kva.example`` for the same topic) are merged: the newest one
stays, as if the later report had updated the earlier entry (what
``suppress()`` does).
"""

from django.db import migrations

from txmail.addresses import canonical


def canonicalise(apps, schema_editor):
    Suppression = apps.get_model("txmail", "Suppression")
    kept: dict[tuple[str, str], int] = {}
    duplicates, renamed = [], []
    for entry in Suppression.objects.order_by("-created_at", "-id").only(
            "id", "address", "topic"):
        key = (canonical(entry.address), entry.topic)
        if key in kept:
            duplicates.append(entry.id)
            continue
        kept[key] = entry.id
        if entry.address != key[0]:
            renamed.append((entry.id, key[0]))
    # Delete first: a renamed entry may take the address a duplicate holds.
    Suppression.objects.filter(id__in=duplicates).delete()
    for entry_id, address in renamed:
        Suppression.objects.filter(id=entry_id).update(address=address)


class Migration(migrations.Migration):

    dependencies = [
        ("txmail", "0005_delivery_resend_if_unknown"),
    ]

    operations = [
        migrations.RunPython(canonicalise, migrations.RunPython.noop, elidable=True),
    ]
