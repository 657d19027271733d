"""The line of claimed rows that a worker's lanes share (txmail.delivery.lanes)."""

import threading

import pytest

from txmail.delivery.lanes import Line


def test_rows_come_out_in_order_then_none():
    line = Line([1, 2], None, low_water=1)
    assert [line.next(), line.next(), line.next()] == [1, 2, None]


def test_more_is_fetched_when_fewer_than_low_water_rows_wait():
    waiting = []

    def fetch():
        waiting.append(len(line))
        return [3, 4] if len(waiting) == 1 else None

    line = Line([1, 2], fetch, low_water=2)
    assert [line.next() for _ in range(5)] == [1, 2, 3, 4, None]
    assert waiting == [1, 1]  # then None: not asked again


def test_other_lanes_take_rows_while_one_lane_fetches():
    fetching, done = threading.Event(), threading.Event()

    def fetch():
        fetching.set()
        assert done.wait(5)
        return None

    line = Line([1, 2], fetch, low_water=2)
    assert line.next() == 1  # one row left: below low water
    fetcher = threading.Thread(target=line.next)
    fetcher.start()
    assert fetching.wait(5)
    assert line.next() == 2  # taken while the other lane fetches
    done.set()
    fetcher.join(5)
    assert line.next() is None


def test_a_lane_waits_for_the_fetch_when_the_line_is_empty():
    calls = []

    def fetch():
        calls.append(1)
        return [7] if len(calls) == 1 else None

    line = Line([], fetch, low_water=1)
    got = []
    lanes = [threading.Thread(target=lambda: got.append(line.next())) for _ in range(2)]
    for lane in lanes:
        lane.start()
    for lane in lanes:
        lane.join(5)
    assert sorted(got, key=str) == [7, None]


def test_a_failed_fetch_ends_the_line_for_every_lane():
    def fetch():
        raise RuntimeError("database is locked")

    line = Line([], fetch, low_water=1)
    with pytest.raises(RuntimeError):
        line.next()
    assert line.next() is None  # not fetched again


def test_rows_that_jump_go_to_the_front_of_the_line():
    asked = []

    def jump():
        asked.append(1)
        return [8, 9] if len(asked) == 1 else []

    line = Line([1, 2, 3], None, low_water=1, jump=jump, jump_every=0)
    assert [line.next() for _ in range(6)] == [8, 9, 1, 2, 3, None]


def test_jump_is_asked_at_most_every_jump_every_seconds():
    asked = []
    line = Line([1, 2, 3], None, low_water=1, jump=lambda: asked.append(1) or [9],
                jump_every=60)
    assert [line.next() for _ in range(4)] == [1, 2, 3, None]
    assert asked == []  # not due yet: the line's own rows were the most urgent


def test_a_lane_waiting_for_a_slow_fetch_takes_a_row_that_jumps():
    fetching, done = threading.Event(), threading.Event()
    jumped = []

    def fetch():
        fetching.set()
        assert done.wait(5)
        return None

    def jump():
        jumped.append(1)
        return [9] if len(jumped) == 1 else []

    line = Line([], fetch, low_water=1, jump=jump, jump_every=0.05)
    fetcher = threading.Thread(target=line.next)
    fetcher.start()
    assert fetching.wait(5)
    assert line.next() == 9  # while the other lane still fetches
    assert not done.is_set()
    done.set()
    fetcher.join(5)


def test_a_failed_jump_is_not_asked_again_and_the_line_goes_on():
    def jump():
        raise RuntimeError("database is locked")

    line = Line([1, 2], None, low_water=1, jump=jump, jump_every=0)
    with pytest.raises(RuntimeError):
        line.next()
    assert [line.next(), line.next(), line.next()] == [1, 2, None]


def test_jump_is_not_asked_while_low_water_rows_from_it_still_wait():
    asked = []

    def jump():
        asked.append(1)
        return ["j", "j", "j"] if len(asked) <= 2 else []

    line = Line([1], None, low_water=2, jump=jump, jump_every=0)
    taken, counts = [], []
    while (row := line.next()) is not None:
        taken.append(row)
        counts.append(len(asked))
    assert taken == ["j"] * 6 + [1]
    assert counts == [1, 1, 2, 2, 2, 3, 4]  # asked again once fewer than 2 wait
