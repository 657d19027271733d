"""Find an address in every text, JSON and binary column of every txmail table.

An address is matched in any case and in both spellings of its domain (IDNA
and Unicode, ``txmail.addresses``), as a whole address: ``ann@example.com``
isn't found in ``joann@example.com``. Text and JSON columns are narrowed in the
database (``icontains``) and confirmed here; binary columns (stored bodies, a
campaign's pickled query) are read in batches and searched here.
"""

import json
import re
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db import models
from django.db.models import Q

from ..addresses import canonical

TEXT = (models.CharField, models.TextField, models.JSONField)
SCAN_BATCH = 200  # rows of a binary column read at once


@dataclass(frozen=True)
class Trace:
    """Where an address was found: a model, a column, a row."""

    model: type[models.Model]
    field: str
    pk: Any

    def __str__(self) -> str:
        return f"{self.model._meta.db_table}.{self.field} (row {self.pk})"


def spellings(address: str) -> list[str]:
    """``address`` canonical, with its domain in IDNA and in Unicode (one if the same)."""
    bare = canonical(address)
    local, _at, domain = bare.rpartition("@")
    found = [bare]
    try:
        unicode = f"{local}@{domain.encode('ascii').decode('idna')}".lower()
    except UnicodeError:
        unicode = bare
    if unicode != bare:
        found.append(unicode)
    return found


class Matcher:
    """Whether a value names ``address`` (whole, any case, either spelling)."""

    def __init__(self, address: str) -> None:
        self.spellings = spellings(address)
        alternatives = "|".join(re.escape(s) for s in self.spellings)
        # Not inside a longer address: no address character just before or after.
        self.pattern = re.compile(rf"(?<![\w.+\-])(?:{alternatives})(?![\w\-]|\.\w)",
                                  re.IGNORECASE)

    def narrowing(self, field: models.Field) -> Q:
        """A database filter every row naming the address passes (and a few others)."""
        wanted = list(self.spellings)
        if isinstance(field, models.JSONField):
            # Stored with non-ASCII escaped ("\u00fc"), where LIKE can't fold case.
            wanted += [json.dumps(v)[1:-1] for s in self.spellings for v in (s, s.upper())]
        found = Q(pk__in=[])
        for spelling in dict.fromkeys(wanted):
            found |= Q(**{f"{field.name}__icontains": spelling})
        return found

    def names(self, value: Any) -> bool:
        if value is None:
            return False
        if isinstance(value, bytes | bytearray | memoryview):
            text = bytes(value).decode("utf-8", "replace")
        elif isinstance(value, str):
            text = value
        else:
            text = json.dumps(value, ensure_ascii=False, default=str)
        return self.pattern.search(text) is not None


def columns(model: type[models.Model]) -> list[models.Field]:
    """The columns of ``model`` an address can be stored in."""
    return [f for f in model._meta.concrete_fields
            if isinstance(f, (*TEXT, models.BinaryField)) and not f.primary_key]


def find(model: type[models.Model], matcher: Matcher) -> list[Trace]:
    """Where ``model``'s rows name the address: one query for the text and JSON columns,
    then the binary ones read in batches."""
    found: list[Trace] = []
    fields = columns(model)
    text = [f for f in fields if not isinstance(f, models.BinaryField)]
    rows = model._default_manager.order_by("pk")
    if text:
        narrowed = Q(pk__in=[])
        for field in text:
            narrowed |= matcher.narrowing(field)
        for pk, *values in rows.filter(narrowed).values_list("pk", *(f.name for f in text)):
            found += [Trace(model, f.name, pk) for f, value in zip(text, values, strict=True)
                      if matcher.names(value)]
    for field in fields:
        if isinstance(field, models.BinaryField):
            stored = rows.exclude(**{f"{field.name}__isnull": True}).values_list("pk", field.name)
            found += [Trace(model, field.name, pk)
                      for pk, value in stored.iterator(chunk_size=SCAN_BATCH)
                      if matcher.names(value)]
    return found


def traces_of(address: str, models_: list[type[models.Model]] | None = None) -> list[Trace]:
    """Every row and column of txmail's tables (or of ``models_``) that names ``address``."""
    matcher = Matcher(address)
    found = []
    for model in models_ if models_ is not None else apps.get_app_config("txmail").get_models():
        found += find(model, matcher)
    return found
