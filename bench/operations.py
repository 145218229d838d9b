"""What the benchmark measures: one `Operation` per entry of `OPERATIONS`.

To measure something new (patient search, the chart, a report...), write its `inputs` (a list
of arguments made before the clock starts, varied over clinics and days so a query count that
grows with the data shows up as "queries vary") and its `run` (one call, returning an outcome
label), and append an `Operation` with its baseline and target. Writes must leave nothing
behind: book as a bench booker (`BenchClinic.booker`) and let `cleanup` delete what was made.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from bench.measure import RAW_TABLE, Bench, BenchClinic, Operation, Target
from clinic.errors import ConflictError
from clinic.models import Room, User
from patients.availability import free_slots
from patients.models import Patient, Visit
from patients.scheduling import Interval, local_day_bounds
from patients.selectors import day_calendar
from patients.visits import visit_book

DURATION = dt.timedelta(minutes=45)
RAW_FUTURE = dt.datetime(2090, 1, 1, tzinfo=dt.UTC)  # the raw INSERTs' rows, far from any visit
# Issue 11: booking through the service in at most 8 queries and 6x a raw INSERT.
BOOKING_TARGET = Target(max_queries=8, max_ratio=6, constant_queries=True)
RAW_INSERT = "raw INSERT (psycopg)"
RAW_SELECT = "raw SELECT day (psycopg)"


# --- Raw baselines ---------------------------------------------------------------------------


def _raw_insert_inputs(bench: Bench, n: int) -> list[tuple[int, dt.datetime, dt.datetime]]:
    therapists = [t.pk for c in bench.clinics for t in c.therapists]
    starts = [RAW_FUTURE + dt.timedelta(hours=i) for i in range(n)]
    return [(therapists[i % len(therapists)], s, s + DURATION) for i, s in enumerate(starts)]


def _raw_insert(bench: Bench, row: tuple[int, dt.datetime, dt.datetime]) -> str:
    with bench.raw_cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {RAW_TABLE} (therapist_id, starts_at, ends_at) VALUES (%s, %s, %s)",  # noqa: S608
            row,
        )
    return "ok"


def _raw_insert_cleanup(bench: Bench) -> None:
    with bench.raw_cursor() as cursor:
        cursor.execute(f"DELETE FROM {RAW_TABLE} WHERE starts_at >= %s", [RAW_FUTURE])  # noqa: S608


def _raw_select_inputs(bench: Bench, n: int) -> list[tuple[int, dt.datetime, dt.datetime]]:
    inputs = []
    for _ in range(n):
        bench_clinic = bench.rng.choice(bench.clinics)
        therapist = bench.rng.choice(bench_clinic.therapists)
        day = bench.rng.choice(bench.seeded_days())
        inputs.append((therapist.pk, *local_day_bounds(day, bench_clinic.clinic.tz)))
    return inputs


def _raw_select(bench: Bench, args: tuple[int, dt.datetime, dt.datetime]) -> str:
    with bench.raw_cursor() as cursor:
        cursor.execute(
            "SELECT id, patient_id, room_id, starts_at, ends_at, kind, status "
            "FROM patients_visit WHERE therapist_id = %s AND starts_at >= %s AND starts_at < %s "
            "ORDER BY starts_at",
            args,
        )
        cursor.fetchall()
    return "ok"


# --- Booking ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Booking:
    place: BenchClinic
    patient: Patient
    therapist: User
    room: Room | None
    starts_at: dt.datetime
    ends_at: dt.datetime

    def body(self) -> dict[str, Any]:
        return {
            "patient": str(self.patient.public_id),
            "therapist": str(self.therapist.public_id),
            "room": str(self.room.public_id) if self.room else None,
            "starts_at": self.starts_at.isoformat(),
            "ends_at": self.ends_at.isoformat(),
            "kind": Visit.Kind.TREATMENT,
        }


def _caseloads(place: BenchClinic, since: dt.datetime) -> dict[int, list[int]]:
    """Recent patients of each therapist (the seed keeps a patient with one therapist)."""
    pairs = (
        Visit.objects.filter(clinic=place.clinic, starts_at__gte=since)
        .filter(patient__archived_at__isnull=True)
        .values_list("therapist_id", "patient_id")
        .distinct()
    )
    caseloads: dict[int, list[int]] = defaultdict(list)
    for therapist_id, patient_id in pairs:
        caseloads[therapist_id].append(patient_id)
    return caseloads


def _busy(ids: list[int], start: dt.datetime, end: dt.datetime) -> dict[int, list[Interval]]:
    busy: dict[int, list[Interval]] = defaultdict(list)
    for patient_id, starts_at, ends_at in (
        Visit.objects.occupying()
        .filter(patient_id__in=ids)
        .overlapping(start, end)
        .values_list("patient_id", "starts_at", "ends_at")
    ):
        busy[patient_id].append(Interval(starts_at, ends_at))
    return busy


def plan_bookings(bench: Bench, n: int, *, per_clinic_day: int = 3) -> list[Booking]:
    """`n` bookings that must succeed: free 45-minute slots (therapist and a treatment room) in
    the coming days, found with the product's own slot search, each with a patient of that
    therapist who is free then; a few per clinic and day, spread over every clinic."""
    since = bench.now - dt.timedelta(days=120)
    caseloads = {place.clinic.pk: _caseloads(place, since) for place in bench.clinics}
    taken: dict[tuple[str, int], list[Interval]] = defaultdict(list)
    plan: list[tuple[BenchClinic, int, User, Room | None, Interval]] = []
    not_before = bench.now + dt.timedelta(hours=1)
    for offset in range(1, 120):
        for place in bench.clinics:
            if len(plan) >= n:
                return _with_patients(plan)
            day = bench.clinic_today(place) + dt.timedelta(days=offset)
            slots = free_slots(
                clinic=place.clinic,
                first_day=day,
                last_day=day,
                duration=DURATION,
                room_kind=Room.Kind.TREATMENT,
                not_before=not_before,
            )
            bench.rng.shuffle(slots)
            caseload = caseloads[place.clinic.pk]
            candidates = [p for t in caseload.values() for p in t]
            busy = _busy(candidates, *local_day_bounds(day, place.clinic.tz))
            chosen = 0
            for slot in slots:
                if chosen >= per_clinic_day or len(plan) >= n:
                    break
                wanted = Interval(slot.starts_at, slot.ends_at)
                keys = [("therapist", slot.therapist.pk)]
                keys += [("room", slot.room.pk)] if slot.room else []
                if any(wanted.overlaps(i) for key in keys for i in taken[key]):
                    continue
                patient_id = next(
                    (
                        p
                        for p in caseload.get(slot.therapist.pk, [])
                        if not any(wanted.overlaps(i) for i in busy[p] + taken[("patient", p)])
                    ),
                    None,
                )
                if patient_id is None:
                    continue
                for key in [*keys, ("patient", patient_id)]:
                    taken[key].append(wanted)
                plan.append((place, patient_id, slot.therapist, slot.room, wanted))
                chosen += 1
    if len(plan) < n:
        raise RuntimeError(f"Found only {len(plan)} free slots for {n} bookings.")
    return _with_patients(plan)


def _with_patients(
    plan: list[tuple[BenchClinic, int, User, Room | None, Interval]],
) -> list[Booking]:
    patients = Patient.objects.in_bulk([patient_id for _, patient_id, _, _, _ in plan])
    return [
        Booking(place, patients[patient_id], therapist, room, wanted.start, wanted.end)
        for place, patient_id, therapist, room, wanted in plan
    ]


def plan_conflicts(bench: Bench, n: int) -> list[Booking]:
    """`n` bookings that must be refused: the time, therapist and room of a booked visit in
    the coming days, for another patient of the same therapist. Visits with a room only, so
    every call has the same shape (a room to look up and check)."""
    since = bench.now - dt.timedelta(days=120)
    caseloads = {place.clinic.pk: _caseloads(place, since) for place in bench.clinics}
    places = {place.clinic.pk: place for place in bench.clinics}
    upcoming = list(
        Visit.objects.filter(
            clinic_id__in=list(places),
            status=Visit.Status.BOOKED,
            starts_at__gte=bench.now + dt.timedelta(hours=1),
            room__isnull=False,
        )
        .exclude(booked_by_id__in=bench.booker_ids)
        .select_related("therapist", "room")
        .order_by("starts_at")[: max(n * 4, 200)]
    )
    if not upcoming:
        raise RuntimeError("No booked visit in the coming days to book over.")
    bench.rng.shuffle(upcoming)
    picks = []
    for visit in (upcoming * (n // len(upcoming) + 1))[:n]:
        others = caseloads[visit.clinic_id].get(visit.therapist_id, [])
        other = next((p for p in others if p != visit.patient_id), visit.patient_id)
        picks.append((visit, other))
    patients = Patient.objects.in_bulk([patient_id for _, patient_id in picks])
    return [
        Booking(
            places[visit.clinic_id],
            patients[patient_id],
            visit.therapist,
            visit.room,
            visit.starts_at,
            visit.ends_at,
        )
        for visit, patient_id in picks
    ]


def _book_with_service(bench: Bench, booking: Booking) -> str:
    try:
        visit_book(
            clinic=booking.place.clinic,
            patient=booking.patient,
            therapist=booking.therapist,
            room=booking.room,
            starts_at=booking.starts_at,
            ends_at=booking.ends_at,
            by=booking.place.booker,
        )
    except ConflictError as exc:
        return f"conflict: {exc.code}" if exc.code != "double_booking" else "conflict"
    return "booked"


def _book_over_http(bench: Bench, booking: Booking) -> str:
    response = booking.place.client.post(
        f"/api/v1/clinics/{booking.place.clinic.public_id}/visits/", booking.body(), format="json"
    )
    if response.status_code in (201, 409):
        return str(response.status_code)
    return f"{response.status_code}: {response.content[:200]!r}"


def _cleanup_bookings(bench: Bench) -> None:
    bench.delete_bench_visits()


# --- Reads -----------------------------------------------------------------------------------


def _future_days(bench: Bench, n: int) -> list[tuple[BenchClinic, dt.date]]:
    horizon = max((bench.last_day - bench.now.date()).days, 7)
    return [
        (place, bench.rng.choice(bench.future_days(place, horizon)))
        for place in (bench.rng.choice(bench.clinics) for _ in range(n))
    ]


def _seeded_days(bench: Bench, n: int) -> list[tuple[BenchClinic, dt.date]]:
    return [
        (place, bench.rng.choice(bench.seeded_days()))
        for place in (bench.rng.choice(bench.clinics) for _ in range(n))
    ]


def _slots_with_service(bench: Bench, args: tuple[BenchClinic, dt.date]) -> str:
    place, day = args
    free_slots(
        clinic=place.clinic,
        first_day=day,
        last_day=day,
        duration=DURATION,
        not_before=bench.now,
    )
    return "ok"


def _slots_over_http(bench: Bench, args: tuple[BenchClinic, dt.date]) -> str:
    place, day = args
    response = place.client.get(
        f"/api/v1/clinics/{place.clinic.public_id}/slots/",
        {"date_from": day.isoformat(), "date_to": day.isoformat(), "duration_minutes": "45"},
    )
    return str(response.status_code)


def _calendar_with_selector(bench: Bench, args: tuple[BenchClinic, dt.date]) -> str:
    place, day = args
    day_calendar(clinic=place.clinic, day=day)
    return "ok"


def _calendar_over_http(bench: Bench, args: tuple[BenchClinic, dt.date]) -> str:
    place, day = args
    response = place.client.get(
        f"/api/v1/clinics/{place.clinic.public_id}/calendar/", {"date": day.isoformat()}
    )
    return str(response.status_code)


CONSTANT = Target(constant_queries=True)
# Issue 11: the calendar and every list in the same queries for every input and at 10k and 1M
# visits, and at most 1.3 times slower at 1M (checked against the other size's saved results).
READ = Target(constant_queries=True, max_growth=1.3)

OPERATIONS: list[Operation] = [
    Operation(
        RAW_INSERT,
        _raw_insert_inputs,
        _raw_insert,
        expect="ok",
        baseline=RAW_INSERT,
        cleanup=_raw_insert_cleanup,
        raw=True,
    ),
    Operation(
        RAW_SELECT, _raw_select_inputs, _raw_select, expect="ok", baseline=RAW_SELECT, raw=True
    ),
    Operation(
        "book: visit_book service",
        plan_bookings,
        _book_with_service,
        expect="booked",
        baseline=RAW_INSERT,
        target=BOOKING_TARGET,
        cleanup=_cleanup_bookings,
    ),
    Operation(
        "book: HTTP POST visits",
        plan_bookings,
        _book_over_http,
        expect="201",
        baseline=RAW_INSERT,
        target=CONSTANT,
        cleanup=_cleanup_bookings,
    ),
    Operation(
        "conflict: visit_book service",
        plan_conflicts,
        _book_with_service,
        expect="conflict",
        baseline=RAW_INSERT,
        target=CONSTANT,
        cleanup=_cleanup_bookings,
    ),
    Operation(
        "conflict: HTTP POST visits",
        plan_conflicts,
        _book_over_http,
        expect="409",
        baseline=RAW_INSERT,
        target=CONSTANT,
        cleanup=_cleanup_bookings,
    ),
    Operation(
        "slots 1 day: free_slots",
        _future_days,
        _slots_with_service,
        expect="ok",
        baseline=RAW_SELECT,
        target=READ,
    ),
    Operation(
        "slots 1 day: HTTP GET slots",
        _future_days,
        _slots_over_http,
        expect="200",
        baseline=RAW_SELECT,
        target=READ,
    ),
    Operation(
        "calendar: day_calendar",
        _seeded_days,
        _calendar_with_selector,
        expect="ok",
        baseline=RAW_SELECT,
        target=READ,
    ),
    Operation(
        "calendar: HTTP GET calendar",
        _seeded_days,
        _calendar_over_http,
        expect="200",
        baseline=RAW_SELECT,
        target=READ,
    ),
]


def _patients_and_records() -> list[Operation]:
    """The race of many bookers (bench.race) and the operations on patients and their records
    (bench.records), which build on this module's booking plans and day pickers."""
    from bench.race import RACE
    from bench.records import record_operations

    return [RACE, *record_operations(_seeded_days)]


OPERATIONS += _patients_and_records()

__all__ = ["OPERATIONS", "RAW_INSERT", "RAW_SELECT", "Booking", "plan_bookings", "plan_conflicts"]
