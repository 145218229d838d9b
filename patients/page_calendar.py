"""Laying out a calendar page: 15-minute rows, one column per therapist (the day) or per day
(a therapist's week). Pure functions over rows already read; no database.

A visit that holds its time (booked, checked in, completed) is one cell spanning its rows
(`rowspan`); visits that gave their time back (cancelled, no-show) are shown as small chips in
the row they started in, so a slot freed by a cancellation can be booked again. A free cell is
bookable when it lies inside the column's bookable intervals (opening hours and working hours,
minus closures and time off) and has not passed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from patients.models import Visit
from patients.scheduling import Interval, LocalTimeError, localize

STEP_MINUTES = 15
DEFAULT_FIRST = dt.time(8, 0)
DEFAULT_LAST = dt.time(18, 0)
OCCUPYING = frozenset({Visit.Status.BOOKED, Visit.Status.CHECKED_IN, Visit.Status.COMPLETED})

# Status -> CSS class and legend text, in the order the legend shows them.
STATUS_LEGEND: tuple[tuple[str, str], ...] = (
    (Visit.Status.BOOKED, "Booked"),
    (Visit.Status.CHECKED_IN, "Checked in"),
    (Visit.Status.COMPLETED, "Completed"),
    (Visit.Status.CANCELLED, "Cancelled"),
    (Visit.Status.LATE_CANCELLED, "Late cancellation"),
    (Visit.Status.NO_SHOW, "No-show"),
)


@dataclass
class Column:
    """One calendar column: a therapist on a day, or a day of one therapist's week."""

    key: Any
    label: str
    day: dt.date
    therapist: Any
    bookable: list[Interval]
    away: list[Interval] = field(default_factory=list)
    closed: bool = False
    sublabel: str = ""


@dataclass
class Cell:
    column: Column
    kind: str  # "visit", "free", "off", "away", "past"
    starts_at: dt.datetime | None = None
    rowspan: int = 1
    visits: list[Visit] = field(default_factory=list)
    chips: list[Visit] = field(default_factory=list)

    @property
    def local_time(self) -> str:
        return f"{self.starts_at:%H:%M}" if self.starts_at else ""


@dataclass
class Row:
    label: str
    on_the_hour: bool
    cells: list[Cell]


def _minutes(t: dt.time) -> int:
    return t.hour * 60 + t.minute


def row_range(
    *, times: Iterable[tuple[dt.time, dt.time]], visits: Iterable[Visit], tz: ZoneInfo
) -> tuple[int, int]:
    """First and last minute of the day to show: the opening and working hours and every
    visit, widened to whole hours (08:00-18:00 when there is nothing)."""
    starts: list[int] = []
    ends: list[int] = []
    for opens, closes in times:
        starts.append(_minutes(opens))
        ends.append(_minutes(closes) or 24 * 60)
    for visit in visits:
        local_start = visit.starts_at.astimezone(tz)
        local_end = visit.ends_at.astimezone(tz)
        starts.append(_minutes(local_start.time()))
        ends.append(
            _minutes(local_end.time()) if local_end.date() == local_start.date() else 24 * 60
        )
    first = min(starts) if starts else _minutes(DEFAULT_FIRST)
    last = max(ends) if ends else _minutes(DEFAULT_LAST)
    first = first // 60 * 60
    last = min(24 * 60, -(-last // 60) * 60)
    if last <= first:
        last = min(24 * 60, first + 60)
    return first, last


def build_rows(
    *,
    columns: Sequence[Column],
    visits: Iterable[Visit],
    column_of: dict[Any, int],
    visit_key: Any,
    tz: ZoneInfo,
    first_minute: int,
    last_minute: int,
    now: dt.datetime,
) -> list[Row]:
    """The grid, row by row. `visit_key(visit)` names the column key a visit belongs to;
    `column_of` maps a key to its column index. Cells covered by a rowspan are left out."""
    count = (last_minute - first_minute) // STEP_MINUTES
    starts: list[list[Cell | None]] = [[None] * len(columns) for _ in range(count)]
    owner: list[list[Cell | None]] = [[None] * len(columns) for _ in range(count)]
    chips: dict[tuple[int, int], list[Visit]] = {}

    def row_of(moment: dt.datetime) -> int:
        local = moment.astimezone(tz)
        return (_minutes(local.time()) - first_minute) // STEP_MINUTES

    for visit in sorted(visits, key=lambda v: (v.starts_at, v.pk or 0)):
        index = column_of.get(visit_key(visit))
        if index is None or count == 0:
            continue
        start_row = max(0, min(count - 1, row_of(visit.starts_at)))
        if visit.status not in OCCUPYING:
            chips.setdefault((start_row, index), []).append(visit)
            continue
        local_start, local_end = visit.starts_at.astimezone(tz), visit.ends_at.astimezone(tz)
        end_minutes = (
            _minutes(local_end.time()) if local_end.date() == local_start.date() else 24 * 60
        )
        end_row = max(start_row + 1, min(count, -(-(end_minutes - first_minute) // STEP_MINUTES)))
        block = owner[start_row][index]
        if block is not None:
            # Visits off the 15-minute grid can share a row: the block takes them in.
            block.visits.append(visit)
            first_row = start_row - next(
                k for k in range(start_row + 1) if starts[start_row - k][index] is block
            )
            block.rowspan = max(block.rowspan, end_row - first_row)
        else:
            block = Cell(
                column=columns[index],
                kind="visit",
                starts_at=local_start,
                rowspan=end_row - start_row,
                visits=[visit],
            )
            starts[start_row][index] = block
            first_row = start_row
        for r in range(first_row, first_row + block.rowspan):
            owner[r][index] = block

    rows: list[Row] = []
    for r in range(count):
        minute = first_minute + r * STEP_MINUTES
        wall = dt.time(minute // 60, minute % 60)
        cells: list[Cell] = []
        for index, column in enumerate(columns):
            here = chips.pop((r, index), [])
            block = owner[r][index]
            if block is not None:
                block.chips.extend(here)
                if starts[r][index] is block:
                    cells.append(block)
                continue
            cell = _free_cell(column, wall, tz, now)
            cell.chips.extend(here)
            cells.append(cell)
        rows.append(Row(label=f"{wall:%H:%M}", on_the_hour=wall.minute == 0, cells=cells))
    return rows


def _free_cell(column: Column, wall: dt.time, tz: ZoneInfo, now: dt.datetime) -> Cell:
    try:
        start = localize(dt.datetime.combine(column.day, wall), tz)
    except LocalTimeError:
        return Cell(column=column, kind="off")
    slot = Interval(start.astimezone(dt.UTC), (start + dt.timedelta(minutes=STEP_MINUTES)))
    if column.closed:
        return Cell(column=column, kind="off", starts_at=start)
    if any(slot.overlaps(a) for a in column.away):
        return Cell(column=column, kind="away", starts_at=start)
    if not any(block.contains(slot) for block in column.bookable):
        return Cell(column=column, kind="off", starts_at=start)
    if slot.end <= now:
        return Cell(column=column, kind="past", starts_at=start)
    return Cell(column=column, kind="free", starts_at=start)
