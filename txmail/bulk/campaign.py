"""Start a campaign: the recipients split into chunks, one task per chunk.

``start()`` walks the queryset's primary keys in order, ``chunk_size`` at a
time (keyset pagination: ``pk > last`` then ``LIMIT``), so memory stays flat
however many recipients there are, and stores each range as a ``Chunk``. The
chunk tasks are handed to the task queue when the caller's transaction
commits; if that hand-off is lost, ``chunks.sweep()`` hands them off again.
"""

import json
import logging
import pickle
from functools import partial
from typing import TYPE_CHECKING, Any

from django.db import router, transaction
from django.db.models import QuerySet
from django.tasks import task_backends
from django.utils import timezone

from ..conf import txmail_settings
from ..declared import check_mailer
from ..exceptions import CampaignArgumentError, MessageConfigurationError
from ..message import Message, name_of
from ..registry import get_message_class
from .models import Campaign, CampaignStatus, Chunk
from .tasks import chunk_task_for, hand_off_chunks

if TYPE_CHECKING:
    from .bulk_message import BulkMessage

logger = logging.getLogger("txmail.bulk")
# A campaign's priority when its class sets none: below transactional mail (0),
# so the task backend runs a password reset's task before the next chunk, and
# a running chunk sends it first (``tasks.ahead_of``).
BULK_PRIORITY = -10


def check_kwargs(owner: str, kwargs: dict[str, Any]) -> None:
    """Raise ``CampaignArgumentError`` naming the first argument that isn't JSON."""
    for name, value in kwargs.items():
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise CampaignArgumentError(
                f"{owner}.send_bulk() argument {name!r} is {value!r}, which can't be "
                f"stored for the workers ({exc}). Pass JSON values (str, int, float, bool, "
                "None, lists and dicts of them), e.g. a primary key instead of a model "
                "instance, and look the object up in get_bulk_message()."
            ) from None


def start(cls: type["BulkMessage"], queryset: QuerySet[Any], *, using: str | None,
          chunk_size: int | None, kwargs: dict[str, Any]) -> Campaign:
    """``BulkMessage.send_bulk()``: store the campaign and its chunks; queue them on commit."""
    owner = cls.__name__
    name = name_of(cls)
    try:
        registered = get_message_class(name)
    except LookupError:
        registered = None
    if registered is not cls:
        raise MessageConfigurationError(
            f"{owner} is not registered as {name!r}, so a worker can't find it: define "
            "it in an installed app's emails.py (txmail discovers those modules)."
        )
    if not isinstance(queryset, QuerySet):
        raise CampaignArgumentError(
            f"{owner}.send_bulk() needs a QuerySet of recipients, not {queryset!r}.")
    if queryset.query.is_sliced:
        raise CampaignArgumentError(
            f"{owner}.send_bulk() can't send to a sliced queryset: chunks are ranges of "
            "primary keys. Filter it instead (e.g. pk__in=...).")
    check_kwargs(owner, kwargs)
    size = int(chunk_size or cls.chunk_size or txmail_settings.BULK_CHUNK_SIZE)
    if size < 1:
        raise CampaignArgumentError(f"{owner}.send_bulk() chunk_size must be at least 1, "
                                    f"not {size}.")
    # The class's task queue: the chunks are queued before any recipient's
    # message exists, and their rows go through the same queue. The rest of a
    # message's options (its topic, say) may vary per recipient.
    options = cls.delivery_options
    backend = options.task_backend or txmail_settings.TASK_BACKEND
    queue_name = options.queue_name or ""
    priority = options.priority or 0
    chunk_task_for(backend, queue_name, priority, owner=owner)  # fail here, not in a worker
    if options.priority is None and task_backends[backend].supports_priority:
        priority = BULK_PRIORITY
    if using or cls.get_mailer is Message.get_mailer:
        # An unknown alias fails here, naming those that exist; a get_mailer()
        # override chooses per recipient, and each message checks its own.
        check_mailer(owner, using or cls.mailer)
    try:
        query = pickle.dumps(queryset.query)
    except Exception as exc:
        raise CampaignArgumentError(
            f"{owner}.send_bulk() can't store this queryset's query for the workers "
            f"({exc}). Filter on plain values.") from exc
    with transaction.atomic(using=router.db_for_write(Campaign)):
        campaign = Campaign.objects.create(
            # The class's topic; a get_delivery_options() override may vary it
            # per recipient (each row has its message's).
            message_class=name, topic=options.topic or "", kwargs=kwargs,
            model=queryset.model._meta.label, query=query, mailer=using or "",
            task_backend=backend, queue_name=queue_name, priority=priority,
            chunk_size=size,
        )
        total = 0
        for index, keys in enumerate(key_ranges(queryset, size)):
            Chunk.objects.create(campaign=campaign, index=index, first_key=str(keys[0]),
                                 last_key=str(keys[-1]), size=len(keys))
            total += len(keys)
        campaign.total = total
        if not total:
            campaign.status, campaign.finished_at = CampaignStatus.DONE, timezone.now()
        campaign.save(update_fields=["total", "status", "finished_at"])
    transaction.on_commit(partial(hand_off_chunks, campaign.pk),
                          using=router.db_for_write(Campaign))
    return campaign


def key_ranges(queryset: QuerySet[Any], size: int) -> Any:
    """Yield the primary keys of ``queryset`` in order, ``size`` at a time."""
    keys = queryset.order_by("pk").values_list("pk", flat=True)
    last = None
    while True:
        page = list((keys if last is None else keys.filter(pk__gt=last))[:size])
        if not page:
            return
        last = page[-1]
        # A filter across a many-valued relation repeats a row once per match;
        # each recipient counts (and gets a message) once.
        yield list(dict.fromkeys(page))
