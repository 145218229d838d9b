"""Calendar arithmetic in a clinic's local time: pure functions, no database.

Visits are stored in UTC. Opening hours, working hours, slots and "tomorrow" are wall-clock
times in the clinic's IANA zone. A wall-clock time that does not exist (the hour skipped when
clocks go forward) or exists twice (the hour repeated when they go back) is refused rather than
guessed.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

UTC = dt.UTC
SLOT_STEP = dt.timedelta(minutes=15)


class LocalTimeError(ValueError):
    """A local time that does not exist or is ambiguous in the clinic's zone."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


def localize(wall: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    """The aware datetime for a naive wall-clock time in `tz`; refuses DST gaps and overlaps."""
    if wall.tzinfo is not None:
        raise ValueError("localize() takes a naive wall-clock datetime")
    first = wall.replace(tzinfo=tz, fold=0)
    second = wall.replace(tzinfo=tz, fold=1)
    if first.utcoffset() == second.utcoffset():
        return first
    round_trip = first.astimezone(UTC).astimezone(tz).replace(tzinfo=None)
    if round_trip != wall:
        raise LocalTimeError(
            f"{wall:%Y-%m-%d %H:%M} does not exist in {tz.key}: the clocks go forward then. "
            "Choose a time outside the skipped hour.",
            code="nonexistent_local_time",
        )
    raise LocalTimeError(
        f"{wall:%Y-%m-%d %H:%M} happens twice in {tz.key}: the clocks go back then. "
        "Choose a time outside the repeated hour, or give the UTC offset.",
        code="ambiguous_local_time",
    )


def local_day_bounds(day: dt.date, tz: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    """The UTC instants where a local calendar day starts and ends (23, 24 or 25 hours)."""
    start = dt.datetime.combine(day, dt.time(0), tzinfo=tz).astimezone(UTC)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=tz).astimezone(UTC)
    return start, end


@dataclass(frozen=True, order=True)
class Interval:
    """A half-open interval [start, end) of aware datetimes."""

    start: dt.datetime
    end: dt.datetime

    def overlaps(self, other: Interval) -> bool:
        return self.start < other.end and other.start < self.end

    def contains(self, other: Interval) -> bool:
        return self.start <= other.start and other.end <= self.end


def overlaps(
    a_start: dt.datetime, a_end: dt.datetime, b_start: dt.datetime, b_end: dt.datetime
) -> bool:
    """Half-open overlap: back-to-back intervals do not overlap."""
    return a_start < b_end and b_start < a_end


def wall_blocks(
    day: dt.date, blocks: Iterable[tuple[dt.time, dt.time]], tz: ZoneInfo
) -> list[Interval]:
    """Wall-clock blocks of one local day as intervals of UTC instants. A block edge inside a DST
    gap is moved to the first valid instant after it; in a repeated hour the earlier instant is
    used. UTC, because Python compares and adds datetimes of one zone as wall-clock times
    (ignoring `fold` and DST), which is wrong across a change."""
    intervals = []
    for starts, ends in blocks:
        start = _edge(day, starts, tz).astimezone(UTC)
        end = _edge(day, ends, tz).astimezone(UTC)
        if start < end:
            intervals.append(Interval(start, end))
    return sorted(intervals)


def _edge(day: dt.date, at: dt.time, tz: ZoneInfo) -> dt.datetime:
    wall = dt.datetime.combine(day, at)
    try:
        return localize(wall, tz)
    except LocalTimeError as exc:
        if exc.code == "ambiguous_local_time":
            return wall.replace(tzinfo=tz, fold=0)
        # In a gap: the instant the clocks jump. Read with the offset after the change, the wall
        # time is an instant before the jump; with the offset before it, one after. The jump lies
        # between (at most a few hours apart) on a whole second: bisect to it.
        before = math.floor(wall.replace(tzinfo=tz, fold=1).timestamp())
        after = math.ceil(wall.replace(tzinfo=tz, fold=0).timestamp())
        new_offset = dt.datetime.fromtimestamp(after, tz).utcoffset()
        while after - before > 1:
            middle = (before + after) // 2
            if dt.datetime.fromtimestamp(middle, tz).utcoffset() == new_offset:
                after = middle
            else:
                before = middle
        return dt.datetime.fromtimestamp(after, tz)


def intersect(a: list[Interval], b: list[Interval]) -> list[Interval]:
    """Pairwise intersection of two sorted interval lists."""
    out: list[Interval] = []
    i = j = 0
    while i < len(a) and j < len(b):
        start = max(a[i].start, b[j].start)
        end = min(a[i].end, b[j].end)
        if start < end:
            out.append(Interval(start, end))
        if a[i].end < b[j].end:
            i += 1
        else:
            j += 1
    return out


def subtract(free: list[Interval], busy: Iterable[Interval]) -> list[Interval]:
    """`free` minus every busy interval (half-open: a visit ending at 10:00 leaves 10:00 free)."""
    result = list(free)
    for cut in sorted(busy):
        next_result: list[Interval] = []
        for piece in result:
            if not piece.overlaps(cut):
                next_result.append(piece)
                continue
            if piece.start < cut.start:
                next_result.append(Interval(piece.start, cut.start))
            if cut.end < piece.end:
                next_result.append(Interval(cut.end, piece.end))
        result = next_result
    return result


def slot_starts(
    free: Iterable[Interval], duration: dt.timedelta, tz: ZoneInfo, step: dt.timedelta = SLOT_STEP
) -> Iterator[dt.datetime]:
    """Start times inside the free intervals, on the local wall-clock grid of `step`."""
    step_minutes = int(step.total_seconds() // 60)
    for interval in free:
        local = interval.start.astimezone(tz)
        minutes = local.hour * 60 + local.minute
        offset = (-minutes) % step_minutes
        start = (
            interval.start
            + dt.timedelta(minutes=offset)
            - dt.timedelta(seconds=local.second, microseconds=local.microsecond)
        )
        if start < interval.start:
            start += step
        while start + duration <= interval.end:
            yield start
            start += step


def daterange(first: dt.date, last: dt.date) -> Iterator[dt.date]:
    day = first
    while day <= last:
        yield day
        day += dt.timedelta(days=1)
