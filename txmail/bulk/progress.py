"""Follow a campaign's progress from a shell: a tqdm bar, or a line per update."""

import sys
import time
from typing import IO, Any

from .models import Campaign, Progress, format_eta


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
