"""A campaign's progress: counts by outcome, rate and ETA, read from the database."""

import sys
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import IO, Any

from django.db.models import Count
from django.utils import timezone

from ..delivery.models import READY, Delivery, Status
from .models import Campaign, CampaignStatus

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
    rate: float  # messages sent per second, over the last minute
    eta: timedelta | None

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
        return (f"{self.sent} sent, {self.failed} failed, {self.suppressed} suppressed, "
                f"{self.in_progress} in progress, {self.pending} pending of {self.total}; "
                f"{self.rate:.1f}/s{eta}")


def format_eta(eta: timedelta) -> str:
    seconds = int(eta.total_seconds())
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def progress_of(campaign: Campaign) -> Progress:
    campaign.refresh_from_db(fields=["status", "total", "finished_at"])
    rows = Delivery.objects.filter(campaign_recipient__campaign=campaign)
    counts = dict(rows.order_by().values_list("status").annotate(n=Count("pk")))
    now = timezone.now()
    window = min(RATE_WINDOW, max((now - campaign.created_at).total_seconds(), 1.0))
    recent = rows.filter(status=Status.SENT,
                         sent_at__gte=now - timedelta(seconds=window)).count()
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
    return Progress(
        status=campaign.status, total=campaign.total, sent=counts.get(Status.SENT, 0),
        failed=counts.get(Status.FAILED, 0), suppressed=counts.get(Status.SUPPRESSED, 0),
        cancelled=counts.get(Status.CANCELLED, 0), unknown=counts.get(Status.UNKNOWN, 0),
        in_progress=in_progress, pending=pending, rate=rate, eta=eta,
    )


def follow(campaign: Campaign, *, stdout: IO[str] | Any = None, stderr: IO[str] | Any = None,
           interval: float = 0.5) -> Progress:
    """Show ``campaign``'s progress on ``stderr`` until nothing more will happen.

    A tqdm bar when tqdm is installed (``pip install "txmail[bulk]"``), else a
    line per update; the outcome goes to ``stdout``. Return the last progress.
    """
    try:
        from tqdm import tqdm
    except ImportError:  # the bar is optional: txmail[bulk]
        tqdm = None
    out, err = stdout or sys.stdout, stderr or sys.stderr
    # A management command's OutputWrapper ends every write with a newline,
    # which would print each redraw of the bar on a line of its own.
    err = getattr(err, "_out", err)
    progress = campaign.progress()
    bar = tqdm(total=progress.total, unit="msg", file=err,
               desc=f"campaign {campaign.pk}") if tqdm is not None else None
    try:
        while True:
            if bar is not None:
                bar.update(progress.finished - bar.n)
                bar.set_postfix(sent=progress.sent, failed=progress.failed,
                                suppressed=progress.suppressed, refresh=False)
            else:
                err.write(progress.describe() + "\n")
            if progress.done:
                break
            time.sleep(interval)
            progress = campaign.progress()
    finally:
        if bar is not None:
            bar.close()
    eta = f" (ETA was {format_eta(progress.eta)})" if progress.eta else ""
    out.write(f"Campaign {campaign.pk} {progress.status}: {progress.describe()}{eta}\n")
    return progress
