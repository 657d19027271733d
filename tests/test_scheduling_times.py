"""Send times on the recipient's clock: ``local_time()``, quiet hours, daylight saving."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from txmail import DeliveryOptions, LocalTime, MessageConfigurationError, local_time
from txmail.schedule import deadline, out_of_quiet_hours, send_time

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def test_local_time_is_the_next_such_moment_on_the_recipients_clock():
    now = utc(2026, 6, 1, 10, 0)  # 06:00 in New York (EDT, UTC-4)
    assert local_time(9).next_after(now, NEW_YORK) == utc(2026, 6, 1, 13, 0)
    assert local_time(5, 30).next_after(now, NEW_YORK) == utc(2026, 6, 2, 9, 30)  # tomorrow
    assert local_time(6).next_after(now, NEW_YORK) == now  # now is such a moment


def test_local_time_across_the_spring_forward_day():
    # Berlin, 29 March 2026: 02:00 CET becomes 03:00 CEST.
    just_after_midnight = utc(2026, 3, 28, 23, 30)  # 00:30 CET
    assert local_time(9).next_after(just_after_midnight, BERLIN) == utc(2026, 3, 29, 7, 0)
    # 02:30 doesn't exist that night: the moment the clock shows after the gap.
    skipped = local_time(2, 30).next_after(just_after_midnight, BERLIN)
    assert skipped == utc(2026, 3, 29, 1, 30)
    assert skipped.astimezone(BERLIN).strftime("%H:%M %Z") == "03:30 CEST"


def test_local_time_across_the_fall_back_day():
    # Berlin, 25 October 2026: 03:00 CEST becomes 02:00 CET; 09:00 is CET again.
    assert local_time(9).next_after(utc(2026, 10, 24, 23, 0), BERLIN) == utc(2026, 10, 25, 8, 0)
    # 02:30 comes twice: the first one.
    assert local_time(2, 30).next_after(utc(2026, 10, 24, 23, 0), BERLIN) == utc(
        2026, 10, 25, 0, 30)


@pytest.mark.parametrize(("local", "moved_to"), [
    ((2026, 6, 1, 23, 30), (2026, 6, 2, 8, 0)),  # evening: to tomorrow's end
    ((2026, 6, 1, 3, 0), (2026, 6, 1, 8, 0)),  # small hours: to this morning's end
    ((2026, 6, 1, 21, 0), (2026, 6, 2, 8, 0)),  # the start is quiet
    ((2026, 6, 1, 8, 0), (2026, 6, 1, 8, 0)),  # the end is not
    ((2026, 6, 1, 12, 0), (2026, 6, 1, 12, 0)),  # midday: as it is
])
def test_quiet_hours_spanning_midnight(local, moved_to):
    quiet = (time(21), time(8))
    moment = datetime(*local, tzinfo=NEW_YORK)
    assert out_of_quiet_hours(moment, quiet, NEW_YORK) == datetime(*moved_to, tzinfo=NEW_YORK)


def test_quiet_hours_within_a_day():
    moment = datetime(2026, 6, 1, 13, 0, tzinfo=BERLIN)
    assert out_of_quiet_hours(moment, (time(12), time(14)), BERLIN) == datetime(
        2026, 6, 1, 14, 0, tzinfo=BERLIN)


def test_quiet_hours_ending_on_the_spring_forward_morning_end_by_the_new_clock():
    evening = datetime(2026, 3, 28, 23, 0, tzinfo=BERLIN)  # CET
    end = out_of_quiet_hours(evening, (time(22), time(7)), BERLIN)
    assert end == utc(2026, 3, 29, 5, 0)  # 07:00 CEST, not 06:00 UTC
    assert end - evening == timedelta(hours=7)  # an hour of the night was skipped


def test_send_time_reads_the_recipients_zone_and_moves_now_out_of_quiet_hours():
    now = utc(2026, 6, 1, 3, 0)  # 23:00 the evening before in New York, 05:00 in Berlin
    quiet = DeliveryOptions(quiet_hours=(time(21), time(8)))
    assert send_time(quiet, "America/New_York", now) == utc(2026, 6, 1, 12, 0)
    assert send_time(quiet, BERLIN, now) == utc(2026, 6, 1, 6, 0)
    assert send_time(DeliveryOptions(quiet_hours=(time(21), time(8))), BERLIN,
                     utc(2026, 6, 1, 10, 0)) is None  # not quiet: now
    later = DeliveryOptions(send_at=local_time(22), quiet_hours=(time(21), time(8)))
    assert send_time(later, BERLIN, now) == utc(2026, 6, 2, 6, 0)  # 22:00 is quiet: 08:00
    assert send_time(DeliveryOptions(delay=timedelta(hours=2)), None, now) == utc(
        2026, 6, 1, 5, 0)


def test_deadline_counts_expires_after_from_now():
    now = utc(2026, 6, 1, 3, 0)
    assert deadline(DeliveryOptions(expires_after=timedelta(minutes=10)), now) == utc(
        2026, 6, 1, 3, 10)
    assert deadline(DeliveryOptions(expires_at=utc(2026, 7, 1)), now) == utc(2026, 7, 1)
    assert deadline(DeliveryOptions(), now) is None


@pytest.mark.parametrize(("make", "message"), [
    (lambda: local_time(24), "local_time(24, 0): hour must be an integer from 0 to 23."),
    (lambda: LocalTime(9, 60), "local_time(9, 60): minute must be an integer from 0 to 59."),
    (lambda: DeliveryOptions(quiet_hours=(time(8), time(8))),
     "DeliveryOptions(quiet_hours=(datetime.time(8, 0), datetime.time(8, 0))): quiet_hours "
     "must be two different naive datetime.time values, start and end on the recipient's "
     "clock (e.g. quiet_hours=(time(21), time(8))), or None."),
    (lambda: DeliveryOptions(quiet_hours=(time(21, tzinfo=UTC), time(8))),
     "DeliveryOptions(quiet_hours=(datetime.time(21, 0, tzinfo=datetime.timezone.utc), "
     "datetime.time(8, 0))): quiet_hours must be two different naive datetime.time values"),
])
def test_bad_times_are_refused_with_the_fix(make, message):
    with pytest.raises(MessageConfigurationError) as caught:
        make()
    assert str(caught.value).startswith(message)


def test_a_local_time_is_a_send_at_value_for_the_class():
    options = DeliveryOptions(send_at=local_time(9), quiet_hours=[time(21), time(8)])
    assert options.send_at == LocalTime(9, 0) and str(options.send_at) == "09:00 local time"
    assert options.quiet_hours == (time(21), time(8))  # a list is kept as a tuple
