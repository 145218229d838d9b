"""The calendar arithmetic of patients.scheduling: pure functions, tables and properties.

Local times on daylight-saving change days in both clinics' zones (America/New_York and
Europe/Berlin), and the half-open interval rules the booking and the slot search rely on.
"""

from __future__ import annotations

import datetime as dt
import itertools
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from patients.scheduling import (
    Interval,
    LocalTimeError,
    daterange,
    intersect,
    local_day_bounds,
    localize,
    overlaps,
    slot_starts,
    subtract,
    wall_blocks,
)

NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
UTC = dt.UTC
MIN = dt.timedelta(minutes=1)
HOUR = dt.timedelta(hours=1)


def at(hh: int, mm: int = 0, day: dt.date = dt.date(2027, 5, 3)) -> dt.datetime:
    """An aware UTC instant on a day without a DST change."""
    return dt.datetime.combine(day, dt.time(hh, mm), tzinfo=UTC)


def iv(a: tuple[int, int], b: tuple[int, int]) -> Interval:
    return Interval(at(*a), at(*b))


# --- localize: DST gaps and overlaps are refused, everything else is exact ---------------------


@pytest.mark.parametrize(
    ("tz", "wall"),
    [
        (NEW_YORK, dt.datetime(2027, 3, 14, 2, 30)),  # 02:00 -> 03:00
        (NEW_YORK, dt.datetime(2027, 3, 14, 2, 0)),
        (NEW_YORK, dt.datetime(2027, 3, 14, 2, 59)),
        (BERLIN, dt.datetime(2027, 3, 28, 2, 30)),  # 02:00 -> 03:00
        (BERLIN, dt.datetime(2027, 3, 28, 2, 0)),
    ],
)
def test_localize_refuses_a_time_skipped_when_clocks_go_forward(tz, wall):
    with pytest.raises(LocalTimeError) as caught:
        localize(wall, tz)
    assert caught.value.code == "nonexistent_local_time"
    message = str(caught.value)
    assert f"{wall:%Y-%m-%d %H:%M} does not exist in {tz.key}" in message
    assert "clocks go forward" in message


@pytest.mark.parametrize(
    ("tz", "wall"),
    [
        (NEW_YORK, dt.datetime(2026, 11, 1, 1, 30)),  # 01:00-02:00 happens twice
        (NEW_YORK, dt.datetime(2026, 11, 1, 1, 0)),
        (NEW_YORK, dt.datetime(2027, 11, 7, 1, 45)),
        (BERLIN, dt.datetime(2026, 10, 25, 2, 30)),  # 02:00-03:00 happens twice
        (BERLIN, dt.datetime(2027, 10, 31, 2, 0)),
    ],
)
def test_localize_refuses_a_time_repeated_when_clocks_go_back(tz, wall):
    with pytest.raises(LocalTimeError) as caught:
        localize(wall, tz)
    assert caught.value.code == "ambiguous_local_time"
    message = str(caught.value)
    assert f"{wall:%Y-%m-%d %H:%M} happens twice in {tz.key}" in message
    assert "clocks go back" in message


@pytest.mark.parametrize(
    ("tz", "wall", "offset_hours"),
    [
        (NEW_YORK, dt.datetime(2027, 3, 14, 1, 59), -5),  # just before the gap
        (NEW_YORK, dt.datetime(2027, 3, 14, 3, 0), -4),  # first instant after it
        (NEW_YORK, dt.datetime(2027, 3, 14, 10, 0), -4),
        (NEW_YORK, dt.datetime(2026, 11, 1, 0, 59), -4),  # before the repeated hour
        (NEW_YORK, dt.datetime(2026, 11, 1, 2, 0), -5),  # after it
        (NEW_YORK, dt.datetime(2027, 1, 15, 10, 0), -5),
        (NEW_YORK, dt.datetime(2027, 7, 15, 10, 0), -4),
        (BERLIN, dt.datetime(2027, 3, 28, 1, 59), 1),
        (BERLIN, dt.datetime(2027, 3, 28, 3, 0), 2),
        (BERLIN, dt.datetime(2026, 10, 25, 1, 59), 2),
        (BERLIN, dt.datetime(2026, 10, 25, 3, 0), 1),
        (BERLIN, dt.datetime(2027, 7, 15, 10, 0), 2),
    ],
)
def test_localize_accepts_normal_times_with_the_right_offset(tz, wall, offset_hours):
    aware = localize(wall, tz)
    assert aware.replace(tzinfo=None) == wall
    assert aware.utcoffset() == dt.timedelta(hours=offset_hours)
    assert aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None) == wall


def test_localize_refuses_an_aware_datetime():
    with pytest.raises(ValueError, match="naive"):
        localize(dt.datetime(2027, 1, 4, 10, tzinfo=UTC), NEW_YORK)


@given(
    wall=st.datetimes(min_value=dt.datetime(2026, 1, 1), max_value=dt.datetime(2028, 12, 31)),
    tz=st.sampled_from([NEW_YORK, BERLIN]),
)
def test_localize_either_round_trips_or_refuses(wall, tz):
    readings_differ = (
        wall.replace(tzinfo=tz, fold=0).utcoffset() != wall.replace(tzinfo=tz, fold=1).utcoffset()
    )
    if readings_differ:  # refused exactly where the two readings of the wall time differ
        with pytest.raises(LocalTimeError):
            localize(wall, tz)
    else:
        aware = localize(wall, tz)
        assert aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None) == wall


# --- local_day_bounds: 23, 24 and 25-hour days ---------------------------------------------------


@pytest.mark.parametrize(
    ("tz", "day", "hours", "start_utc"),
    [
        (NEW_YORK, dt.date(2027, 3, 14), 23, dt.datetime(2027, 3, 14, 5, tzinfo=UTC)),
        (NEW_YORK, dt.date(2026, 11, 1), 25, dt.datetime(2026, 11, 1, 4, tzinfo=UTC)),
        (NEW_YORK, dt.date(2027, 3, 15), 24, dt.datetime(2027, 3, 15, 4, tzinfo=UTC)),
        (NEW_YORK, dt.date(2027, 1, 4), 24, dt.datetime(2027, 1, 4, 5, tzinfo=UTC)),
        (BERLIN, dt.date(2027, 3, 28), 23, dt.datetime(2027, 3, 27, 23, tzinfo=UTC)),
        (BERLIN, dt.date(2026, 10, 25), 25, dt.datetime(2026, 10, 24, 22, tzinfo=UTC)),
        (BERLIN, dt.date(2027, 7, 1), 24, dt.datetime(2027, 6, 30, 22, tzinfo=UTC)),
    ],
)
def test_local_day_bounds_length_follows_dst(tz, day, hours, start_utc):
    start, end = local_day_bounds(day, tz)
    assert start == start_utc
    assert end - start == dt.timedelta(hours=hours)
    assert start.astimezone(tz).time() == dt.time(0)
    assert end.astimezone(tz).date() == day + dt.timedelta(days=1)
    assert end.astimezone(tz).time() == dt.time(0)


def test_consecutive_local_days_tile_time():
    days = list(daterange(dt.date(2027, 3, 10), dt.date(2027, 3, 20)))
    for earlier, later in itertools.pairwise(days):
        assert local_day_bounds(earlier, NEW_YORK)[1] == local_day_bounds(later, NEW_YORK)[0]


def test_daterange_is_inclusive_and_empty_when_reversed():
    assert list(daterange(dt.date(2027, 1, 1), dt.date(2027, 1, 3))) == [
        dt.date(2027, 1, 1),
        dt.date(2027, 1, 2),
        dt.date(2027, 1, 3),
    ]
    assert list(daterange(dt.date(2027, 1, 3), dt.date(2027, 1, 1))) == []


# --- wall_blocks: opening hours as instants, on DST days too -------------------------------------


def test_wall_blocks_keep_wall_clock_hours_across_the_spring_change():
    blocks = [(dt.time(8), dt.time(12)), (dt.time(13), dt.time(17))]
    before = wall_blocks(dt.date(2027, 3, 11), blocks, NEW_YORK)
    after = wall_blocks(dt.date(2027, 3, 15), blocks, NEW_YORK)
    assert [b.start.astimezone(NEW_YORK).time() for b in before + after] == [
        dt.time(8),
        dt.time(13),
    ] * 2
    assert before[0].start.astimezone(NEW_YORK).utcoffset() == dt.timedelta(hours=-5)
    assert after[0].start.astimezone(NEW_YORK).utcoffset() == dt.timedelta(hours=-4)
    assert before[0].start == dt.datetime(2027, 3, 11, 13, tzinfo=UTC)
    assert after[0].start == dt.datetime(2027, 3, 15, 12, tzinfo=UTC)


def test_wall_blocks_are_utc_so_their_lengths_are_real_durations():
    """Across the change a 01:00-04:00 block lasts two hours, and 01:00-03:00 on the day the
    clocks go back lasts three: the intervals are absolute instants, not wall-clock times."""
    (spring,) = wall_blocks(dt.date(2027, 3, 14), [(dt.time(1), dt.time(4))], NEW_YORK)
    (autumn,) = wall_blocks(dt.date(2027, 11, 7), [(dt.time(0, 30), dt.time(3))], NEW_YORK)
    assert spring.start.tzinfo is UTC
    assert spring.end - spring.start == dt.timedelta(hours=2)
    assert autumn.end - autumn.start == dt.timedelta(hours=3, minutes=30)


def test_wall_blocks_edge_in_the_gap_moves_to_the_first_valid_instant():
    (block,) = wall_blocks(dt.date(2027, 3, 14), [(dt.time(2, 30), dt.time(5))], NEW_YORK)
    assert block.start == dt.datetime(2027, 3, 14, 7, tzinfo=UTC)  # 03:00 EDT
    assert block.end - block.start == dt.timedelta(hours=2)


def test_wall_blocks_edge_in_the_repeated_hour_takes_the_earlier_instant():
    (block,) = wall_blocks(dt.date(2026, 11, 1), [(dt.time(1, 30), dt.time(3))], NEW_YORK)
    assert block.start == dt.datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # 01:30 EDT
    assert block.end - block.start == dt.timedelta(hours=2, minutes=30)


def test_wall_blocks_are_sorted_and_drop_empty_blocks():
    blocks = [
        (dt.time(13), dt.time(17)),
        (dt.time(8), dt.time(12)),
        (dt.time(2, 10), dt.time(2, 50)),
    ]
    result = wall_blocks(dt.date(2027, 3, 14), blocks, NEW_YORK)  # 02:10-02:50 is in the gap
    assert [b.start.astimezone(NEW_YORK).hour for b in result] == [8, 13]


# --- overlaps, intersect, subtract, slot_starts: tables ----------------------------------------

OVERLAP_TABLE = [
    # (a, b, overlaps?) with a = 10:00-11:00
    ("partial at start", ((9, 30), (10, 30)), True),
    ("partial at end", ((10, 30), (11, 30)), True),
    ("contained", ((10, 15), (10, 45)), True),
    ("containing", ((9, 0), (12, 0)), True),
    ("identical", ((10, 0), (11, 0)), True),
    ("back-to-back before", ((9, 0), (10, 0)), False),
    ("back-to-back after", ((11, 0), (12, 0)), False),
    ("apart", ((12, 0), (13, 0)), False),
]


@pytest.mark.parametrize(
    ("other", "expected"), [row[1:] for row in OVERLAP_TABLE], ids=[row[0] for row in OVERLAP_TABLE]
)
def test_overlap_is_half_open(other, expected):
    a = iv((10, 0), (11, 0))
    b = iv(*other)
    assert a.overlaps(b) is expected
    assert b.overlaps(a) is expected
    assert overlaps(a.start, a.end, b.start, b.end) is expected


def test_contains_is_inclusive_of_both_edges():
    block = iv((8, 0), (12, 0))
    assert block.contains(iv((8, 0), (12, 0)))
    assert block.contains(iv((9, 0), (10, 0)))
    assert not block.contains(iv((7, 45), (8, 30)))
    assert not block.contains(iv((11, 30), (12, 15)))


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ([((8, 0), (12, 0))], [((9, 0), (17, 0))], [((9, 0), (12, 0))]),
        (
            [((8, 0), (12, 0)), ((13, 0), (17, 0))],
            [((9, 0), (16, 0))],
            [
                ((9, 0), (12, 0)),
                ((13, 0), (16, 0)),
            ],
        ),
        ([((8, 0), (12, 0))], [((12, 0), (13, 0))], []),  # touching is empty
        ([((8, 0), (12, 0))], [], []),
        (
            [((8, 0), (9, 0)), ((10, 0), (11, 0))],
            [((7, 0), (18, 0))],
            [
                ((8, 0), (9, 0)),
                ((10, 0), (11, 0)),
            ],
        ),
        (
            [((8, 0), (18, 0))],
            [((9, 0), (10, 0)), ((11, 0), (12, 0))],
            [
                ((9, 0), (10, 0)),
                ((11, 0), (12, 0)),
            ],
        ),
    ],
)
def test_intersect_table(a, b, expected):
    left = [iv(*x) for x in a]
    right = [iv(*x) for x in b]
    assert intersect(left, right) == [iv(*x) for x in expected]
    assert intersect(right, left) == [iv(*x) for x in expected]


@pytest.mark.parametrize(
    ("busy", "expected"),
    [
        ([], [((8, 0), (12, 0))]),
        ([((9, 0), (10, 0))], [((8, 0), (9, 0)), ((10, 0), (12, 0))]),
        ([((7, 0), (8, 30))], [((8, 30), (12, 0))]),  # overlapping the start
        ([((11, 30), (13, 0))], [((8, 0), (11, 30))]),  # overlapping the end
        ([((7, 0), (13, 0))], []),  # containing
        ([((8, 0), (12, 0))], []),  # identical
        ([((7, 0), (8, 0)), ((12, 0), (13, 0))], [((8, 0), (12, 0))]),  # back-to-back
        (
            [((10, 0), (10, 30)), ((9, 0), (9, 15))],
            [  # unsorted busy
                ((8, 0), (9, 0)),
                ((9, 15), (10, 0)),
                ((10, 30), (12, 0)),
            ],
        ),
        ([((9, 0), (10, 0)), ((9, 30), (10, 30))], [((8, 0), (9, 0)), ((10, 30), (12, 0))]),
    ],
)
def test_subtract_table(busy, expected):
    free = [iv((8, 0), (12, 0))]
    assert subtract(free, [iv(*b) for b in busy]) == [iv(*x) for x in expected]


@pytest.mark.parametrize(
    ("free", "minutes", "expected"),
    [
        ([((14, 0), (15, 0))], 30, [(14, 0), (14, 15), (14, 30)]),
        ([((14, 0), (14, 30))], 30, [(14, 0)]),  # exactly fits
        ([((14, 0), (14, 29))], 30, []),  # too short
        ([((14, 5), (15, 0))], 30, [(14, 15), (14, 30)]),  # aligned to the grid
        ([((14, 0), (14, 45)), ((15, 0), (15, 45))], 45, [(14, 0), (15, 0)]),
    ],
)
def test_slot_starts_table(free, minutes, expected):
    starts = list(
        slot_starts([iv(*x) for x in free], dt.timedelta(minutes=minutes), ZoneInfo("UTC"))
    )
    assert starts == [at(*x) for x in expected]


def test_slot_starts_follow_the_local_grid_in_a_zone_with_a_quarter_hour_offset():
    kathmandu = ZoneInfo("Asia/Kathmandu")  # UTC+05:45
    day = dt.date(2027, 5, 3)
    free = [Interval(at(3, 0, day), at(5, 0, day))]  # 08:45-10:45 local
    starts = [s.astimezone(kathmandu).time() for s in slot_starts(free, HOUR, kathmandu)]
    assert starts[0] == dt.time(8, 45)
    assert all(t.minute % 15 == 0 for t in starts)


def test_slot_starts_skip_seconds_to_the_next_grid_point():
    free = [Interval(at(14, 0) + dt.timedelta(seconds=20), at(15, 0))]
    assert next(slot_starts(free, dt.timedelta(minutes=30), ZoneInfo("UTC"))) == at(14, 15)


def test_slot_starts_on_a_spring_forward_day_stay_on_the_local_grid():
    day = dt.date(2027, 3, 14)
    free = wall_blocks(day, [(dt.time(1), dt.time(4))], NEW_YORK)  # 01:00-04:00, 2 real hours
    starts = [s.astimezone(NEW_YORK) for s in slot_starts(free, HOUR, NEW_YORK)]
    assert [s.strftime("%H:%M") for s in starts] == ["01:00", "01:15", "01:30", "01:45", "03:00"]
    assert starts[0].utcoffset() == dt.timedelta(hours=-5)
    assert starts[-1].utcoffset() == dt.timedelta(hours=-4)


# --- Properties --------------------------------------------------------------------------------

BASE = dt.datetime(2027, 5, 3, tzinfo=UTC)


@st.composite
def intervals(draw, max_size: int = 6) -> list[Interval]:
    pairs = draw(
        st.lists(
            st.tuples(st.integers(0, 24 * 4 - 1), st.integers(1, 16)), min_size=0, max_size=max_size
        )
    )
    return [
        Interval(BASE + dt.timedelta(minutes=15 * s), BASE + dt.timedelta(minutes=15 * (s + n)))
        for s, n in pairs
    ]


def disjoint(items: list[Interval]) -> list[Interval]:
    """A sorted, non-overlapping list (as opening and working hours are)."""
    result: list[Interval] = []
    for item in sorted(items):
        if result and item.start < result[-1].end:
            continue
        result.append(item)
    return result


@given(free=intervals(), busy=intervals())
def test_subtract_never_overlaps_anything_busy(free, busy):
    free = disjoint(free)
    result = subtract(free, busy)
    for piece in result:
        assert piece.start < piece.end
        assert not any(piece.overlaps(b) for b in busy)
        assert any(f.contains(piece) for f in free)


@given(free=intervals(), busy=intervals())
def test_subtract_keeps_every_free_instant_that_is_not_busy(free, busy):
    free = disjoint(free)
    result = subtract(free, busy)
    for quarter in range(0, 24 * 4 + 16):
        moment = BASE + dt.timedelta(minutes=15 * quarter)
        is_free = any(f.start <= moment < f.end for f in free)
        is_busy = any(b.start <= moment < b.end for b in busy)
        assert any(p.start <= moment < p.end for p in result) == (is_free and not is_busy)


@given(a=intervals(), b=intervals())
def test_intersect_lies_in_both(a, b):
    a, b = disjoint(a), disjoint(b)
    for piece in intersect(a, b):
        assert any(x.contains(piece) for x in a)
        assert any(y.contains(piece) for y in b)


@given(free=intervals(), minutes=st.sampled_from([15, 30, 45, 60, 90]))
def test_slots_lie_inside_free_intervals_on_the_grid(free, minutes):
    free = disjoint(free)
    duration = dt.timedelta(minutes=minutes)
    for start in slot_starts(free, duration, NEW_YORK):
        assert any(f.contains(Interval(start, start + duration)) for f in free)
        assert start.astimezone(NEW_YORK).minute % 15 == 0


@given(busy=intervals(max_size=1), minutes=st.sampled_from([15, 30, 45, 60]))
def test_back_to_back_slots_are_offered(busy, minutes):
    """A slot may start exactly where a busy interval ends, and end exactly where it starts."""
    free = [Interval(BASE, BASE + dt.timedelta(days=1, hours=6))]
    duration = dt.timedelta(minutes=minutes)
    starts = set(slot_starts(subtract(free, busy), duration, ZoneInfo("UTC")))
    for b in busy:
        assert b.end in starts
        if b.start - duration >= BASE:
            assert b.start - duration in starts
        assert not any(Interval(s, s + duration).overlaps(b) for s in starts)
