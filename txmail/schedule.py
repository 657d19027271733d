"""Send times: a local time on the recipient's clock, quiet hours, a deadline.

``enqueue()`` turns a message's ``DeliveryOptions`` into two moments:
``send_time()`` (``send_at``, ``delay``, a ``LocalTime``, moved out of the
``quiet_hours``) and ``deadline()`` (``expires_at`` / ``expires_after``). Local
times are read in the recipient's time zone (``Message.get_time_zone()``)
through ``zoneinfo``, so they stay right across daylight-saving changes.
"""

import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from django.utils import timezone

from .exceptions import MessageConfigurationError


@dataclass(frozen=True)
class LocalTime:
    """The next ``hour:minute`` on the recipient's clock: ``send_at=local_time(9)``."""

    hour: int
    minute: int = 0

    def __post_init__(self) -> None:
        for name, top in (("hour", 23), ("minute", 59)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= top:
                raise MessageConfigurationError(
                    f"local_time({self.hour!r}, {self.minute!r}): {name} must be an integer "
                    f"from 0 to {top}.")

    def __str__(self) -> str:
        return f"{self.hour:02d}:{self.minute:02d} local time"

    def next_after(self, now: datetime, zone: tzinfo) -> datetime:
        """The first moment at or after ``now`` when the clock in ``zone`` shows this time."""
        day = now.astimezone(zone).date()
        when = at_local(day, time(self.hour, self.minute), zone)
        return when if when >= now else at_local(day + timedelta(days=1),
                                                 time(self.hour, self.minute), zone)


def local_time(hour: int, minute: int = 0) -> LocalTime:
    """Send at the next ``hour:minute`` in the recipient's time zone (``send_at=...``)."""
    return LocalTime(hour, minute)


def zone_of(time_zone: Any) -> tzinfo:
    """A tzinfo for a message's ``time_zone`` (a tzinfo, a name, or None: the current one)."""
    if time_zone is None:
        return timezone.get_current_timezone()
    if isinstance(time_zone, str):
        return zoneinfo.ZoneInfo(time_zone)
    return time_zone  # type: ignore[no-any-return]


def at_local(day: date, clock: time, zone: tzinfo) -> datetime:
    """``day`` at ``clock`` in ``zone``, as an aware datetime in UTC.

    A time the clock skips (spring forward) comes out as the moment after the
    gap (02:30 → 03:30); a time it shows twice (fall back), as the first. In
    UTC because arithmetic and comparisons within one ``zoneinfo`` zone ignore
    a change of offset (PEP 495).
    """
    return datetime.combine(day, clock, tzinfo=zone).astimezone(UTC)


def check_quiet_hours(value: Any) -> None:
    """Refuse ``quiet_hours`` other than None or two different ``datetime.time`` values."""
    if value is None:
        return
    if (not isinstance(value, tuple | list) or len(value) != 2
            or not all(isinstance(t, time) and t.tzinfo is None for t in value)
            or value[0] == value[1]):
        raise MessageConfigurationError(
            f"DeliveryOptions(quiet_hours={value!r}): quiet_hours must be two different "
            "naive datetime.time values, start and end on the recipient's clock (e.g. "
            "quiet_hours=(time(21), time(8))), or None.")


def in_quiet_hours(clock: time, quiet: tuple[time, time]) -> bool:
    """Whether ``clock`` falls in ``quiet`` (start included, end not; may span midnight)."""
    start, end = quiet
    if start < end:
        return start <= clock < end
    return clock >= start or clock < end


def out_of_quiet_hours(moment: datetime, quiet: tuple[time, time], zone: tzinfo) -> datetime:
    """``moment``, or the end of the quiet hours it falls in, on the clock in ``zone``."""
    local = moment.astimezone(zone)
    if not in_quiet_hours(local.time().replace(tzinfo=None), quiet):
        return moment
    end = at_local(local.date(), quiet[1], zone)
    return end if end > moment else at_local(local.date() + timedelta(days=1), quiet[1], zone)


def send_time(options: Any, time_zone: Any = None, now: datetime | None = None
              ) -> datetime | None:
    """When a message with these ``DeliveryOptions`` may be handed over; None: now."""
    now = now or timezone.now()
    zone: tzinfo | None = None
    when: datetime | None = None
    if isinstance(options.send_at, LocalTime):
        zone = zone_of(time_zone)
        when = options.send_at.next_after(now, zone)
    elif options.send_at is not None:
        when = options.send_at
    elif options.delay is not None:
        when = now + options.delay
    quiet = getattr(options, "quiet_hours", None)
    if quiet:
        base = when or now
        moved = out_of_quiet_hours(base, tuple(quiet), zone or zone_of(time_zone))
        if moved != base:
            when = moved
    return when


def deadline(options: Any, now: datetime | None = None) -> datetime | None:
    """The moment a message not handed over by then expires; None: never."""
    if options.expires_at is not None:
        return options.expires_at  # type: ignore[no-any-return]
    if options.expires_after is not None:
        return (now or timezone.now()) + options.expires_after  # type: ignore[no-any-return]
    return None
