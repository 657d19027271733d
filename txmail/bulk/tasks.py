"""The chunk task: render a range of recipients and send them, each exactly once.

A task claims its chunk with a conditional UPDATE (queued → running, fresh
token), as the delivery queue claims its rows, so a duplicate task does
nothing. It then reads the chunk's recipients ``BATCH_SIZE`` at a time, in
primary key order, and for each batch:

1. skips recipients that already have a ``Recipient`` row (an earlier run of
   this chunk got them: exactly once);
2. renders and builds each message through the compiled pipeline, in the
   recipient's language, with the ``pre_send`` signal and the interceptors;
3. writes the ``Delivery`` rows (already claimed by this task) and their
   ``Recipient`` rows in one short transaction;
4. sends them with the delivery queue's sender (``send_claimed``): reused
   connections, ``CONNECTIONS`` of them, the suppression list checked per
   recipient and topic at the moment each message goes out. Transactional mail
   goes first: every ``queue.JUMP_SECONDS`` the sender claims the ready
   messages of ``ahead_of()`` the campaign, of any queue, and sends them next.

If the worker dies, the delivery sweep takes over the rows it wrote (requeued
if never handed to the mailer), and ``sweep()`` here puts the chunk back in
the queue; its next run starts after the last recipient written. A worker
that is told to stop (``delivery.shutdown``) writes no more batches, hands
back the rows no mailer had and puts the chunk back in the queue itself.
Database reads and writes are tried again through an outage
(``delivery.bookkeeping``); a batch's write is one transaction, so it is
written whole or not at all.
"""

import logging
import pickle
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from functools import partial
from typing import Any

from django.apps import apps
from django.db import IntegrityError, router, transaction
from django.db.models import F, Q
from django.tasks import task
from django.utils import timezone

from .. import tasking
from ..conf import txmail_settings, validate_settings
from ..delivery import bookkeeping, queue, shutdown
from ..delivery.bookkeeping import retrying
from ..delivery.models import Delivery, Status, create_rows
from ..exceptions import CancelSend
from ..outbox import Attempt
from ..registry import get_message_class
from .models import Campaign, CampaignStatus, Chunk, ChunkStatus, Recipient

logger = logging.getLogger("txmail.bulk")


@task()
def send_chunk(chunk_id: int) -> dict[str, int]:
    """The task: render and send chunk ``chunk_id`` of a campaign."""
    outages = bookkeeping.outages()
    counts = run_chunk(chunk_id)
    if bookkeeping.outages() != outages:
        bookkeeping.drop_connections()  # the worker's own, dead since the outage
    if not shutdown.stopping.is_set():
        maybe_sweep()
    return counts


def recipients_of(campaign: Campaign) -> Any:
    """Return the campaign's recipient queryset, re-made from its stored query."""
    model = apps.get_model(campaign.model)
    queryset = model._default_manager.all()
    queryset.query = pickle.loads(bytes(campaign.query))
    return queryset


def run_chunk(chunk_id: int) -> dict[str, int]:
    validate_settings()  # before the claim: a bad value read later strands the chunk
    token = uuid.uuid4().hex
    claimed = retrying(Chunk.objects.filter(pk=chunk_id, status=ChunkStatus.QUEUED).update,
        status=ChunkStatus.RUNNING, claim_token=token, claimed_at=timezone.now(),
        attempts=F("attempts") + 1)
    if not claimed:
        return {"skipped": 1}  # done, cancelled, or another task has it
    chunk = retrying(Chunk.objects.select_related("campaign").get, pk=chunk_id)
    campaign = chunk.campaign
    cls = get_message_class(campaign.message_class)
    queryset = recipients_of(campaign)
    pk = queryset.model._meta.pk
    queryset = queryset.filter(pk__gte=pk.to_python(chunk.first_key),
                               pk__lte=pk.to_python(chunk.last_key)).order_by("pk")
    mine = Chunk.objects.filter(pk=chunk_id, claim_token=token, status=ChunkStatus.RUNNING)
    size = max(1, int(txmail_settings.BATCH_SIZE))
    pages = batches(queryset, size)
    stopped = False

    def write_next() -> str | None:
        """Write the next batch with something to send; return its rows' claim token."""
        nonlocal stopped
        for batch in pages:
            if shutdown.stopping.is_set():
                return None  # the rest of the chunk is for the next run
            # Renew the claim (so the sweep leaves a long chunk alone) and stop
            # if it was taken away: the campaign was cancelled, or the sweep
            # thought this worker dead and gave the chunk to another.
            if not retrying(mine.update, claimed_at=timezone.now()):
                stopped = True
                return None
            # A token per batch: the sender's line selects a batch's rows by it
            # while rows of the one before are still being sent.
            rows_token = uuid.uuid4().hex
            written = write_batch(campaign, cls, batch, token, mine, rows_token=rows_token)
            if written is None:
                stopped = True
                return None
            if written:
                return rows_token
        return None

    counts: dict[str, int] = {}
    first = write_next()
    if first is not None:
        # One sender for the whole chunk: its connections stay open, and the
        # next batch is rendered (in the lane that claims it) while the other
        # lanes send this one, instead of every lane waiting for the render.
        # It sends the stored bytes, not the built emails: a message sent again
        # after a crash is then the very same, MIME boundaries included.
        counts = queue.send_claimed(first, claim_more=write_next, low_water=size,
                                    jump=queue.jumper(campaign.task_backend,
                                                      partial(ahead_of, campaign)))
    if stopped:
        return {**counts, "stopped": 1}
    if shutdown.stopping.is_set():
        # Back in the queue now, not a claim timeout later: the next run
        # skips the recipients written so far (their rows are the queue's).
        if retrying(mine.update, status=ChunkStatus.QUEUED, claim_token=""):
            hand_off_chunks(campaign.pk, [chunk_id])
        return {**counts, "handed back": 1}
    if retrying(mine.update, status=ChunkStatus.DONE, claim_token=""):
        finish_if_done(campaign)
    return counts


def ahead_of(campaign: Campaign) -> Q:
    """The messages that go before ``campaign``'s: a higher priority, or the same
    priority and not of a campaign (transactional mail)."""
    return Q(priority__gt=campaign.priority) | Q(
        priority=campaign.priority, campaign_recipient__isnull=True,
        resent_from__campaign_recipient__isnull=True)


def batches(queryset: Any, size: int) -> Iterator[list[Any]]:
    """Yield ``queryset``'s rows ``size`` at a time, in primary key order (keyset)."""
    last = None
    while True:
        page = queryset if last is None else queryset.filter(pk__gt=last)
        batch: list[Any] = retrying(list, page[:size])
        if not batch:
            return
        last = batch[-1].pk
        # A filter across a many-valued relation repeats a row once per match
        # (adjacent, in pk order): one message per recipient.
        yield list({row.pk: row for row in batch}.values())


def write_batch(campaign: Campaign, cls: Any, batch: list[Any], token: str,
                mine: Any, *, rows_token: str | None = None) -> int | None:
    """Build and store the batch's messages, claimed by ``rows_token`` (default ``token``).

    ``token`` is the chunk's claim. Return how many rows were written, or None
    if the chunk was taken away (cancelled, or given to another worker).
    """
    keys = [str(r.pk) for r in batch]
    done: set[str] = set(retrying(list, Recipient.objects.filter(campaign=campaign, key__in=keys)
                        .values_list("key", flat=True)))
    now = timezone.now()
    pending: list[tuple[str, Any, Delivery]] = []
    for recipient, key in zip(batch, keys, strict=True):
        if key in done:
            continue
        row, attempt = build_row(campaign, cls, recipient, rows_token or token, now)
        pending.append((key, attempt, row))
    if not pending:
        return 0
    new = [row for _k, _a, row in pending if row.pk is None]
    try:
        if not retrying(store_batch, campaign, pending, new, mine):
            return None
    except IntegrityError:
        if mine.exists():  # still ours: not a race, a bug; the sweep runs it again
            logger.exception("txmail: campaign %s: could not write a batch; stopping.",
                             campaign.pk)
            return None
        # Another run of this chunk wrote some of these recipients first (the
        # sweep gave the chunk away while this worker was slow): it owns them.
        logger.warning("txmail: campaign %s: another worker has this chunk; stopping.",
                       campaign.pk)
        return None
    sending = [(attempt, row) for _key, attempt, row in pending if attempt is not None]
    for attempt, row in sending:
        attempt.sent(row)
    return len(sending)


def store_batch(campaign: Campaign, pending: list[tuple[str, Any, Delivery]],
                new: list[Delivery], mine: Any) -> bool:
    """Write the batch's new rows and its ``Recipient`` rows in one transaction.

    Return False if the chunk is no longer this task's.
    """
    for row in new:  # unsaved again if an attempt that failed had set them
        row.pk, row._state.adding = None, True
    with transaction.atomic(using=router.db_for_write(Delivery)):
        # Inside the transaction, so a cancel that ran meanwhile (it takes
        # the chunk's claim first) leaves nothing to write.
        # Locked (where the database locks rows): a cancel waits for these
        # rows to be written, then cancels them too.
        if not mine.select_for_update().exists():
            return False
        create_rows(new)
        Recipient.objects.bulk_create([
            Recipient(campaign=campaign, key=key, delivery=row) for key, _a, row in pending])
    return True


def build_row(campaign: Campaign, cls: Any, recipient: Any, token: str,
              now: Any) -> tuple[Delivery, Any]:
    """Render and build one recipient's message: a ``Delivery`` claimed by ``token``.

    A message that fails to render, or that a ``pre_send`` receiver or an
    interceptor cancels, still gets a row (failed, or the cancelled row already
    logged), so the recipient counts once and a re-run doesn't try again.
    """
    fields: dict[str, Any] = {"message_class": campaign.message_class, "queued": True,
                              "topic": campaign.topic, "task_backend": campaign.task_backend,
                              "queue_name": campaign.queue_name,
                              "priority": campaign.priority}
    attempt = None
    try:
        message = cls.get_bulk_message(recipient, **campaign.kwargs)
        attempt = Attempt(message, campaign.mailer or None, queued=True)
        draft = attempt.prepare()
    except CancelSend as exc:
        # The row cancel() logs (already saved) is this recipient's row.
        cancelled = (attempt.cancel(exc, campaign.message_class)
                     if attempt is not None else None)
        if cancelled is not None:
            return cancelled, None
        return Delivery(**fields, mailer=campaign.mailer, from_email="", recipients=[],
                        status=Status.CANCELLED, max_attempts=0,
                        last_error=f"Cancelled: {exc}"), None
    except Exception as exc:
        if attempt is not None:
            attempt.failed(exc)
        logger.exception("txmail: campaign %s: recipient %s failed to render",
                         campaign.pk, recipient.pk)
        return Delivery(**fields, mailer=campaign.mailer, from_email="", recipients=[],
                        status=Status.FAILED, max_attempts=0,
                        last_error=f"Not rendered: {type(exc).__name__}: {exc}"), None
    # The campaign's task queue (chosen at start) with the message's own options;
    # it sends when it runs (start it at the time you want): no send time of its own.
    options = replace(draft.options, task_backend=campaign.task_backend,
                      queue_name=campaign.queue_name or None, priority=campaign.priority,
                      send_at=None, delay=None, quiet_hours=None)
    row = queue.new_row(attempt.email, alias=draft.mailer,
                        message_class=campaign.message_class, options=options,
                        send_check=draft.send_check)  # its class's last check, as enqueue()'s
    # Claimed by this task already, as queue._claim() would: the sweep
    # requeues it if this worker dies before handing it to the mailer.
    # No attempt yet: send_row() counts it as the mailer gets the message.
    row.status, row.claim_token, row.claimed_at = Status.SENDING, token, now
    row.attempts, row.next_attempt_at = 0, now
    row.recipients_text = " ".join(row.recipients).lower()  # bulk_create skips save()
    return row, attempt


def finish_if_done(campaign: Campaign) -> None:
    """Mark the campaign done once no chunk is left to run."""
    left = Chunk.objects.filter(campaign=campaign,
                                status__in=[ChunkStatus.QUEUED, ChunkStatus.RUNNING])
    if not left.exists():
        Campaign.objects.filter(pk=campaign.pk, status=CampaignStatus.RUNNING).update(
            status=CampaignStatus.DONE, finished_at=timezone.now())


def sweep(*, older_than: float | None = None, claims: bool = True) -> dict[str, int]:
    """Recover chunks whose worker died, and chunks whose hand-off was lost.

    A running chunk whose claim wasn't renewed for ``CLAIM_TIMEOUT`` goes back
    to the queue (its stored messages are the delivery sweep's); a queued chunk
    of a running campaign untouched for that long is handed off again.
    ``claims=False`` leaves running chunks alone (as ``queue.sweep()``).
    """
    timeout = float(txmail_settings.CLAIM_TIMEOUT if older_than is None else older_than)
    now = timezone.now()
    stale = now - timedelta(seconds=timeout)
    dead = list(Chunk.objects.filter(status=ChunkStatus.RUNNING, claimed_at__lt=stale)
                .values_list("pk", flat=True)) if claims else []
    requeued = Chunk.objects.filter(pk__in=dead, status=ChunkStatus.RUNNING,
                                    claimed_at__lt=stale).update(
        status=ChunkStatus.QUEUED, claim_token="")
    waiting = Chunk.objects.filter(
        status=ChunkStatus.QUEUED, campaign__status=CampaignStatus.RUNNING,
    ).filter(updated_at__lt=stale) | Chunk.objects.filter(pk__in=dead,
                                                         status=ChunkStatus.QUEUED)
    by_campaign: dict[int, list[int]] = {}
    for chunk_id, campaign_id in waiting.values_list("pk", "campaign_id")[:1000]:
        by_campaign.setdefault(campaign_id, []).append(chunk_id)
    handed = 0
    for campaign_id, ids in by_campaign.items():
        Chunk.objects.filter(pk__in=ids).update(updated_at=now)
        hand_off_chunks(campaign_id, ids)
        handed += len(ids)
    return {"chunks requeued": requeued, "chunks handed off": handed}


_throttle = tasking.Throttle()


def maybe_sweep() -> None:
    """Sweep chunks (and deliveries) from a worker at most every ``CLAIM_TIMEOUT / 2``."""
    bookkeeping.sweep_in_passing(_throttle, sweep, "campaign")
    queue.maybe_sweep()


def chunk_task_for(backend: str, queue_name: str, priority: int, *, owner: str = "") -> Any:
    """Return the ``send_chunk`` task configured for a backend, queue and priority."""
    return tasking.configured(send_chunk, backend, queue_name, priority, owner=owner,
                              what="queue chunks")


def hand_off_chunks(campaign_id: int, chunk_ids: list[int] | None = None) -> None:
    """Give the task queue one task per queued chunk (all, or ``chunk_ids``)."""
    campaign = Campaign.objects.get(pk=campaign_id)
    chunks = Chunk.objects.filter(campaign=campaign, status=ChunkStatus.QUEUED)
    if chunk_ids is not None:
        chunks = chunks.filter(pk__in=chunk_ids)
    try:
        task = chunk_task_for(campaign.task_backend, campaign.queue_name, campaign.priority)
        for chunk_id in chunks.values_list("pk", flat=True).iterator():
            task.enqueue(chunk_id)
    except Exception:
        logger.exception(
            "txmail: could not hand campaign %s's chunks to task backend %r; the sweep "
            "(`manage.py txmail sweep`) hands them off again.", campaign_id,
            campaign.task_backend)
        return
