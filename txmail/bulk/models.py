"""A campaign: one bulk message class sent to every row of a queryset.

The recipients are never loaded at once. ``send_bulk()`` walks the queryset's
primary keys in order (keyset pagination) and stores one ``Chunk`` per range
of ``chunk_size`` keys; each chunk is one task. A worker re-runs the stored
query restricted to its chunk's range, so a recipient added or removed since
is seen as the query sees it when the chunk runs.

``Recipient`` is the exactly-once key: one row per (campaign, recipient key),
written in the same transaction as that recipient's ``Delivery`` row. A chunk
that runs again (a killed worker, a duplicate task) skips every recipient
that already has one, and the delivery queue's claims and sweep take each
stored message the rest of the way.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.db import models
from django.db.models import Count, Max, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..delivery.models import READY, Delivery, Status, drop_secret_bodies


class CampaignStatus(models.TextChoices):
    RUNNING = "running", _("running")
    # Every chunk ran; some messages may still be retrying in the delivery queue.
    DONE = "done", _("done")
    CANCELLED = "cancelled", _("cancelled")


class ChunkStatus(models.TextChoices):
    QUEUED = "queued", _("queued")
    RUNNING = "running", _("running")
    DONE = "done", _("done")
    CANCELLED = "cancelled", _("cancelled")


class Campaign(models.Model):
    message_class = models.CharField(_("message class"), max_length=200, db_index=True)
    topic = models.CharField(_("topic"), max_length=100, blank=True,
                             help_text=_("The list recipients unsubscribe from."))
    # The keyword arguments for the class's get_bulk_message(), JSON values.
    kwargs = models.JSONField(_("arguments"), default=dict, blank=True)
    # The recipients: a model label and its pickled Query (a documented
    # Django pattern: "QuerySet.query can be pickled"), re-run per chunk.
    model = models.CharField(_("recipient model"), max_length=200)
    query = models.BinaryField(editable=False)
    mailer = models.CharField(_("mailer"), max_length=100, blank=True)
    task_backend = models.CharField(_("task backend"), max_length=100, blank=True)
    queue_name = models.CharField(_("queue"), max_length=100, blank=True)
    priority = models.IntegerField(_("priority"), default=0)
    status = models.CharField(_("status"), max_length=16, choices=CampaignStatus.choices,
                              default=CampaignStatus.RUNNING, db_index=True)
    total = models.PositiveIntegerField(_("recipients"), default=0)
    chunk_size = models.PositiveIntegerField(_("chunk size"), default=500)
    created_at = models.DateTimeField(_("started"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        app_label = "txmail"
        ordering = ["-created_at", "-id"]
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")

    def __str__(self) -> str:
        return f"{self.message_class} #{self.pk} ({self.status})"

    def progress(self) -> "Progress":
        """Return the counts, rate and ETA now."""
        return progress_of(self)

    def cancel(self) -> int:
        """Cancel the campaign: no more chunks, no message not yet handed to the mailer.

        Return how many messages were cancelled. A message a worker already gave
        the mailer goes out; the chunk that was rendering stops at its next batch.
        """
        campaign = self
        now = timezone.now()
        Campaign.objects.filter(pk=campaign.pk, status=CampaignStatus.RUNNING).update(
            status=CampaignStatus.CANCELLED, finished_at=now)
        # Chunks first: a running chunk checks its claim before writing each batch.
        Chunk.objects.filter(campaign=campaign, status__in=[ChunkStatus.QUEUED,
                                                            ChunkStatus.RUNNING]).update(
            status=ChunkStatus.CANCELLED, claim_token="")
        # Queued, retrying, or claimed but not handed over: send_row() finds the
        # claim gone (its conditional UPDATE matches nothing) and skips the row.
        # With the rows that retry some of a row's recipients (resent_from it).
        of_campaign = Delivery.objects.filter(
            Q(campaign_recipient__campaign=campaign)
            | Q(resent_from__campaign_recipient__campaign=campaign))
        count = of_campaign.filter(
            Q(status__in=READY) | Q(status=Status.SENDING, handed_over_at__isnull=True),
        ).update(status=Status.CANCELLED, claim_token="", last_error="Cancelled with its campaign.",
                 updated_at=now)
        drop_secret_bodies(of_campaign)
        campaign.refresh_from_db()
        return count


class Chunk(models.Model):
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    # The first and last primary key of the range, as strings (any pk type).
    first_key = models.CharField(max_length=255)
    last_key = models.CharField(max_length=255)
    size = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=16, choices=ChunkStatus.choices,
                              default=ChunkStatus.QUEUED, db_index=True)
    claim_token = models.CharField(max_length=32, blank=True)
    # Renewed after each batch: a claim this old (CLAIM_TIMEOUT) lost its worker.
    claimed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        app_label = "txmail"
        ordering = ["campaign", "index"]
        constraints = [models.UniqueConstraint(fields=["campaign", "index"],
                                               name="txmail_chunk_unique")]

    def __str__(self) -> str:
        return f"chunk {self.index} of campaign {self.campaign_id} ({self.status})"


class Recipient(models.Model):
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="recipients")
    key = models.CharField(max_length=255)
    delivery = models.OneToOneField("txmail.Delivery", null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="campaign_recipient")

    class Meta:
        app_label = "txmail"
        constraints = [models.UniqueConstraint(fields=["campaign", "key"],
                                               name="txmail_recipient_once")]

    def __str__(self) -> str:
        return f"{self.key} in campaign {self.campaign_id}"


# -- progress ------------------------------------------------------------------

RATE_WINDOW = 60  # seconds of recent sends the rate is measured over


@dataclass(frozen=True)
class Progress:
    """Where a campaign is. ``pending``: recipients not rendered yet."""

    status: str
    total: int
    sent: int
    failed: int
    suppressed: int
    cancelled: int
    unknown: int
    in_progress: int
    pending: int
    rate: float  # messages sent per second, over the last minute (RATE_WINDOW)
    eta: timedelta | None
    # Messages sent per second from the start to the last send (or now, while running).
    overall_rate: float = 0.0

    @property
    def finished(self) -> int:
        """Recipients with a final outcome."""
        return self.sent + self.failed + self.suppressed + self.cancelled + self.unknown

    @property
    def done(self) -> bool:
        """Nothing more will happen: every chunk ran and no message is waiting."""
        return self.status != CampaignStatus.RUNNING and not self.in_progress

    def describe(self) -> str:
        eta = f", ETA {format_eta(self.eta)}" if self.eta is not None else ""
        # The last minute's rate only while sending: it decays to 0 once done.
        live = "" if self.done else f", {self.rate:.1f}/s now"
        return (f"{self.sent} sent, {self.failed} failed, {self.suppressed} suppressed, "
                f"{self.in_progress} in progress, {self.pending} pending of {self.total}; "
                f"{self.overall_rate:.1f}/s overall{live}{eta}")


def format_eta(eta: timedelta) -> str:
    seconds = int(eta.total_seconds())
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def progress_of(campaign: Campaign) -> Progress:
    """``Campaign.progress()``: read the counts, rate and ETA from the database."""
    campaign.refresh_from_db(fields=["status", "total", "finished_at"])
    rows = Delivery.objects.filter(campaign_recipient__campaign=campaign)
    counts = dict(rows.order_by().values_list("status").annotate(n=Count("pk")))
    now = timezone.now()
    window = min(RATE_WINDOW, max((now - campaign.created_at).total_seconds(), 1.0))
    sent = rows.filter(status=Status.SENT).aggregate(
        recent=Count("pk", filter=Q(sent_at__gte=now - timedelta(seconds=window))),
        last=Max("sent_at"))
    recent = sent["recent"]
    # Rows that retry some of a message's recipients (RCPT 4xx) or send it again
    # point at the campaign's row: the campaign isn't finished while they wait.
    again = Delivery.objects.filter(resent_from__campaign_recipient__campaign=campaign,
                                    status__in=[*READY, Status.SENDING]).count()
    in_progress = sum(counts.get(s, 0) for s in (*READY, Status.SENDING)) + again
    written = sum(counts.values())
    # Once no chunk is left to run, nobody is pending: recipients counted at the
    # start may have left the queryset since (unsubscribed, deleted).
    pending = 0 if campaign.status != CampaignStatus.RUNNING else max(
        campaign.total - written, 0)
    rate = recent / window
    left = pending + in_progress
    eta = timedelta(seconds=left / rate) if rate and left else None
    # Until done, now; then the last send (messages can go out after the last chunk ran).
    ended = [t for t in (campaign.finished_at, sent["last"]) if t is not None]
    done = campaign.status != CampaignStatus.RUNNING and not in_progress
    end = max(ended) if done and ended else now
    elapsed = max((end - campaign.created_at).total_seconds(), 1e-3)
    return Progress(
        status=campaign.status, total=campaign.total, sent=counts.get(Status.SENT, 0),
        failed=counts.get(Status.FAILED, 0), suppressed=counts.get(Status.SUPPRESSED, 0),
        cancelled=counts.get(Status.CANCELLED, 0), unknown=counts.get(Status.UNKNOWN, 0),
        in_progress=in_progress, pending=pending, rate=rate, eta=eta,
        overall_rate=counts.get(Status.SENT, 0) / elapsed,
    )
