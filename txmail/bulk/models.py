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

from django.db import models
from django.utils.translation import gettext_lazy as _


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

    def progress(self):  # type: ignore[no-untyped-def]
        """Return the counts, rate and ETA now (``txmail.bulk.progress.Progress``)."""
        from .progress import progress_of

        return progress_of(self)

    def cancel(self) -> int:
        """Stop what hasn't been sent; return how many messages were cancelled."""
        from .campaign import cancel

        return cancel(self)


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
