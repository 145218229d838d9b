"""Availability: when a therapist (and a room of a kind) is free at a clinic.

Reads only. Everything for a date range is fetched in a fixed number of queries, then the pure
interval arithmetic of patients.scheduling runs in memory.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Q

from clinic.capabilities import Role
from clinic.models import (
    Clinic,
    Closure,
    Membership,
    OpeningHours,
    Room,
    TimeOff,
    User,
    WorkingHours,
)
from patients.models import Visit
from patients.scheduling import (
    Interval,
    daterange,
    intersect,
    local_day_bounds,
    slot_starts,
    subtract,
    wall_blocks,
)

MAX_SEARCH_DAYS = 31


@dataclass(frozen=True)
class Slot:
    starts_at: dt.datetime  # aware, in the clinic's zone
    ends_at: dt.datetime
    therapist: User
    room: Room | None


@dataclass
class ClinicCalendar:
    """Everything needed to answer availability questions for one clinic and a date range."""

    clinic: Clinic
    first_day: dt.date
    last_day: dt.date
    opening: dict[int, list[tuple[dt.time, dt.time]]]
    closed_days: set[dt.date]
    working: dict[tuple[int, int], list[tuple[dt.time, dt.time]]]  # (therapist, weekday)
    therapist_busy: dict[int, list[Interval]]
    room_busy: dict[int, list[Interval]]
    rooms: list[Room]

    def open_intervals(self, day: dt.date) -> list[Interval]:
        if day in self.closed_days:
            return []
        return wall_blocks(day, self.opening.get(day.weekday(), []), self.clinic.tz)

    def therapist_free(self, therapist_id: int, day: dt.date) -> list[Interval]:
        working = wall_blocks(
            day, self.working.get((therapist_id, day.weekday()), []), self.clinic.tz
        )
        free = intersect(self.open_intervals(day), working)
        return subtract(free, self.therapist_busy.get(therapist_id, []))

    def room_for(self, kind: str | None, interval: Interval) -> tuple[bool, Room | None]:
        """(found, room): the first free room of the kind; (True, None) when no kind is asked."""
        if kind is None:
            return True, None
        for room in self.rooms:
            if room.kind == kind and not any(
                interval.overlaps(busy) for busy in self.room_busy.get(room.pk, [])
            ):
                return True, room
        return False, None


def clinic_calendar(
    *,
    clinic: Clinic,
    first_day: dt.date,
    last_day: dt.date,
    therapist_ids: list[int],
    exclude_visit_id: int | None = None,
) -> ClinicCalendar:
    """Load hours, closures, working hours, time off and occupying visits: seven queries."""
    tz = clinic.tz
    range_start, _ = local_day_bounds(first_day, tz)
    _, range_end = local_day_bounds(last_day, tz)
    opening: dict[int, list[tuple[dt.time, dt.time]]] = defaultdict(list)
    for weekday, opens, closes in OpeningHours.objects.for_clinic(clinic).values_list(
        "weekday", "opens", "closes"
    ):
        opening[weekday].append((opens, closes))
    closed_days: set[dt.date] = set()
    for starts_on, ends_on in (
        Closure.objects.for_clinic(clinic)
        .filter(starts_on__lte=last_day, ends_on__gte=first_day)
        .values_list("starts_on", "ends_on")
    ):
        closed_days.update(daterange(max(starts_on, first_day), min(ends_on, last_day)))
    working: dict[tuple[int, int], list[tuple[dt.time, dt.time]]] = defaultdict(list)
    for therapist_id, weekday, starts, ends in (
        WorkingHours.objects.for_clinic(clinic)
        .filter(therapist_id__in=therapist_ids)
        .values_list("therapist_id", "weekday", "starts", "ends")
    ):
        working[(therapist_id, weekday)].append((starts, ends))
    therapist_busy: dict[int, list[Interval]] = defaultdict(list)
    for therapist_id, starts_at, ends_at in TimeOff.objects.filter(
        therapist_id__in=therapist_ids, starts_at__lt=range_end, ends_at__gt=range_start
    ).values_list("therapist_id", "starts_at", "ends_at"):
        therapist_busy[therapist_id].append(Interval(starts_at, ends_at))
    rooms = list(Room.objects.for_clinic(clinic).filter(active=True).order_by("name"))
    # A therapist's visits at any clinic keep them busy; rooms are this clinic's.
    visits = Visit.objects.occupying().overlapping(range_start, range_end)
    if exclude_visit_id is not None:
        visits = visits.exclude(pk=exclude_visit_id)
    room_busy: dict[int, list[Interval]] = defaultdict(list)
    for therapist_id, room_id, starts_at, ends_at in visits.filter(
        Q(therapist_id__in=therapist_ids) | Q(room__in=rooms)
    ).values_list("therapist_id", "room_id", "starts_at", "ends_at"):
        interval = Interval(starts_at, ends_at)
        if therapist_id in therapist_ids:
            therapist_busy[therapist_id].append(interval)
        if room_id is not None:
            room_busy[room_id].append(interval)
    return ClinicCalendar(
        clinic=clinic,
        first_day=first_day,
        last_day=last_day,
        opening=dict(opening),
        closed_days=closed_days,
        working=dict(working),
        therapist_busy=dict(therapist_busy),
        room_busy=dict(room_busy),
        rooms=rooms,
    )


def clinic_therapists(*, clinic: Clinic, therapist: User | None = None) -> list[User]:
    therapists = User.objects.filter(
        is_active=True,
        pk__in=Membership.objects.for_clinic(clinic)
        .filter(role=Role.THERAPIST, active=True)
        .values("user_id"),
    ).order_by("last_name", "first_name", "pk")
    if therapist is not None:
        therapists = therapists.filter(pk=therapist.pk)
    return list(therapists)


def free_slots(
    *,
    clinic: Clinic,
    first_day: dt.date,
    last_day: dt.date,
    duration: dt.timedelta,
    therapist: User | None = None,
    room_kind: str | None = None,
    not_before: dt.datetime | None = None,
    limit: int = 500,
) -> list[Slot]:
    """Free slots on the clinic's 15-minute wall-clock grid, earliest first."""
    therapists = clinic_therapists(clinic=clinic, therapist=therapist)
    calendar = clinic_calendar(
        clinic=clinic,
        first_day=first_day,
        last_day=last_day,
        therapist_ids=[t.pk for t in therapists],
    )
    tz = clinic.tz
    slots: list[Slot] = []
    for day in daterange(first_day, last_day):
        day_slots: list[Slot] = []
        for person in therapists:
            for start in slot_starts(calendar.therapist_free(person.pk, day), duration, tz):
                if not_before is not None and start < not_before:
                    continue
                interval = Interval(start, start + duration)
                found, room = calendar.room_for(room_kind, interval)
                if not found:
                    continue
                day_slots.append(
                    Slot(
                        starts_at=start.astimezone(tz),
                        ends_at=interval.end.astimezone(tz),
                        therapist=person,
                        room=room,
                    )
                )
        # By instant: within one zone Python compares wall-clock times, wrong in a repeated hour.
        day_slots.sort(
            key=lambda s: (s.starts_at.astimezone(dt.UTC), s.therapist.last_name, s.therapist.pk)
        )
        slots.extend(day_slots)
        if len(slots) >= limit:
            return slots[:limit]
    return slots
