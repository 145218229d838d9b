"""Every write to the calendar: booking, moving, the visit state machine, recurring series.

Booking order, the same for the API, the pages, the admin and the tasks:
1. check the parties (patient, therapist, room all of the clinic of the request) and the times;
2. lock the therapist's row (SELECT ... FOR UPDATE), so concurrent bookers of one therapist queue;
3. check hours, closures, working hours, time off and overlapping visits, then insert;
4. on PostgreSQL the exclusion constraints catch what a check could not see (another therapist's
   booker taking the same room or patient); the IntegrityError becomes a 409.
On SQLite every transaction starts IMMEDIATE, so bookings are serialised by the write lock.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.db import (
    IntegrityError,
    OperationalError,
    ProgrammingError,
    connection,
    transaction,
)
from django.db.models import Exists, Q
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from clinic.capabilities import Role
from clinic.errors import ApplicationError, ConflictError
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
from clinic.records import record_save
from patients.availability import ClinicCalendar, Slot, clinic_calendar, free_slots
from patients.booking_sql import Booked, function_went_missing, visit_insert_if_free
from patients.models import MAX_VISIT_LENGTH, EpisodeOfCare, Patient, Visit, VisitSeries
from patients.scheduling import (
    Interval,
    LocalTimeError,
    daterange,
    intersect,
    local_day_bounds,
    localize,
    slot_starts,
    subtract,
    wall_blocks,
)

T = TypeVar("T")

MIN_DURATION = dt.timedelta(minutes=5)
MAX_DURATION = MAX_VISIT_LENGTH
PAST_GRACE = dt.timedelta(minutes=15)
MAX_SERIES = 60
ALTERNATIVE_SEARCH_DAYS = 7
TRANSIENT_PG_CODES = {"40001", "40P01", "55P03"}  # serialization, deadlock, lock not available


# --- Checks ----------------------------------------------------------------------------------


def _fmt(moment: dt.datetime, clinic: Clinic) -> str:
    return moment.astimezone(clinic.tz).strftime("%Y-%m-%d %H:%M")


def _span(start: dt.datetime, end: dt.datetime, clinic: Clinic) -> str:
    local_start = start.astimezone(clinic.tz)
    local_end = end.astimezone(clinic.tz)
    end_fmt = "%H:%M" if local_start.date() == local_end.date() else "%Y-%m-%d %H:%M"
    return f"{local_start:%Y-%m-%d %H:%M} to {local_end.strftime(end_fmt)} ({clinic.timezone})"


def check_parties(
    *,
    clinic: Clinic,
    patient: Patient,
    therapist: User,
    room: Room | None,
    check_therapist: bool = True,
) -> None:
    """Never trust a foreign id: the patient, therapist and room must be the clinic's.
    (`check_therapist=False` when the caller checks the therapist under the row lock.)"""
    if patient.clinic_id != clinic.pk:
        raise ValidationError({"patient": "No patient with this id in this clinic."})
    if patient.is_archived:
        raise ValidationError({"patient": "The patient's record is archived; restore it first."})
    if check_therapist and not _therapists_of(clinic).filter(pk=therapist.pk).exists():
        raise ValidationError({"therapist": "No active therapist with this id in this clinic."})
    if room is not None and (room.clinic_id != clinic.pk or not room.active):
        raise ValidationError({"room": "No active room with this id in this clinic."})


def check_episode(*, patient: Patient, episode: EpisodeOfCare | None) -> None:
    """A visit may belong to an active episode of care of the same patient."""
    if episode is None:
        return
    if episode.patient_id != patient.pk:
        raise ValidationError({"episode": "No episode of care with this id for this patient."})
    if episode.status != EpisodeOfCare.Status.ACTIVE:
        raise ValidationError({"episode": "The episode of care has ended."})


def as_utc(moment: dt.datetime) -> dt.datetime:
    """An aware datetime as UTC. Python adds and compares datetimes of one zone as wall-clock
    times, which is wrong across a DST change; the services do their arithmetic in UTC."""
    if timezone.is_naive(moment):
        raise ValueError("visit times must be aware datetimes")
    return moment.astimezone(dt.UTC)


def check_times(*, clinic: Clinic, starts_at: dt.datetime, ends_at: dt.datetime) -> None:
    starts_at, ends_at = as_utc(starts_at), as_utc(ends_at)
    if ends_at <= starts_at:
        raise ValidationError({"ends_at": "Must be after the start."})
    if ends_at - starts_at < MIN_DURATION:
        raise ValidationError({"ends_at": "A visit lasts at least 5 minutes."})
    if ends_at - starts_at > MAX_DURATION:
        raise ValidationError({"ends_at": "A visit lasts at most 4 hours."})
    if starts_at < timezone.now() - PAST_GRACE:
        raise ValidationError({"starts_at": "Cannot book a visit in the past."})
    if (
        starts_at.astimezone(clinic.tz).date()
        != (ends_at - dt.timedelta(microseconds=1)).astimezone(clinic.tz).date()
    ):
        raise ValidationError({"ends_at": "A visit must end on the day it starts."})


def check_calendar(
    *,
    calendar: ClinicCalendar,
    therapist: User,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
) -> None:
    """Opening hours, closures, the therapist's working hours and time off at this clinic."""
    clinic = calendar.clinic
    day = starts_at.astimezone(clinic.tz).date()
    wanted = Interval(starts_at, ends_at)
    if day in calendar.closed_days:
        raise ApplicationError(
            f"The clinic is closed on {day:%Y-%m-%d}.", code="clinic_closed", field="starts_at"
        )
    if not any(block.contains(wanted) for block in calendar.open_intervals(day)):
        raise ApplicationError(
            f"{_span(starts_at, ends_at, clinic)} is outside the clinic's opening hours.",
            code="outside_opening_hours",
            field="starts_at",
        )
    working = intersect(
        calendar.open_intervals(day),
        wall_blocks(day, calendar.working.get((therapist.pk, day.weekday()), []), clinic.tz),
    )
    if not any(block.contains(wanted) for block in working):
        raise ApplicationError(
            f"{therapist.get_full_name() or therapist.username} does not work at this clinic "
            f"at {_span(starts_at, ends_at, clinic)}.",
            code="outside_working_hours",
            field="starts_at",
        )


def check_time_off(
    *, clinic: Clinic, therapist: User, starts_at: dt.datetime, ends_at: dt.datetime
) -> None:
    away = (
        TimeOff.objects.filter(therapist=therapist, starts_at__lt=ends_at, ends_at__gt=starts_at)
        .order_by("starts_at")
        .first()
    )
    if away is not None:
        raise ConflictError(
            f"{therapist.get_full_name() or therapist.username} is away "
            f"{_span(away.starts_at, away.ends_at, clinic)}.",
            code="therapist_time_off",
            field="starts_at",
        )


def check_overlaps(
    *,
    clinic: Clinic,
    patient: Patient,
    therapist: User,
    room: Room | None,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    exclude_pk: int | None = None,
) -> None:
    """A 409 naming each visit in the way and what it blocks (therapist, room, patient)."""
    blocking = Q(therapist=therapist) | Q(patient=patient)
    if room is not None:
        blocking |= Q(room=room)
    in_the_way = (
        Visit.objects.occupying()
        .overlapping(starts_at, ends_at)
        .filter(blocking)
        .select_related("therapist", "room")
        .order_by("starts_at")
    )
    if exclude_pk is not None:
        in_the_way = in_the_way.exclude(pk=exclude_pk)
    conflicts = [_describe_conflict(v, clinic, patient, therapist, room) for v in in_the_way[:5]]
    if conflicts:
        raise ConflictError(
            " ".join(c["message"] for c in conflicts),
            code="double_booking",
            field="starts_at",
            extra={"conflicts": conflicts},
        )


def _describe_conflict(
    visit: Visit, clinic: Clinic, patient: Patient, therapist: User, room: Room | None
) -> dict[str, Any]:
    blocks = []
    if visit.therapist_id == therapist.pk:
        blocks.append("therapist")
    if room is not None and visit.room_id == room.pk:
        blocks.append("room")
    if visit.patient_id == patient.pk:
        blocks.append("patient")
    span = _span(visit.starts_at, visit.ends_at, clinic)
    whose = {
        "therapist": f"{therapist.get_full_name() or therapist.username} is booked",
        "room": f"room {room.name if room else ''} is booked",
        "patient": "the patient already has a visit",
    }
    message = "; ".join(whose[b] for b in blocks) + f" {span}."
    message = message[0].upper() + message[1:]
    same_clinic = visit.clinic_id == clinic.pk
    return {
        "visit": str(visit.public_id) if same_clinic else None,
        "starts_at": visit.starts_at.astimezone(clinic.tz).isoformat(),
        "ends_at": visit.ends_at.astimezone(clinic.tz).isoformat(),
        "blocks": blocks,
        "other_clinic": not same_clinic,
        "message": message + ("" if same_clinic else " (at another clinic)"),
    }


# --- Retrying and locking --------------------------------------------------------------------


def _is_transient(exc: OperationalError) -> bool:
    cause = exc.__cause__
    code = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
    if code in TRANSIENT_PG_CODES:
        return True
    return "database is locked" in str(exc)


def _retrying(work: Callable[[], T], *, attempts: int = 4, single_statement: bool = False) -> T:
    """Run `work` in a transaction; retry a deadlock, serialization failure or busy database a
    few times, then answer 409 rather than 500. Inside an outer transaction nothing can be
    retried, so the failure becomes a 409 at once. `single_statement` work sends one statement,
    which outside a transaction is a transaction of its own: no BEGIN and COMMIT around it."""
    for attempt in range(attempts):
        own = single_statement and not connection.in_atomic_block
        try:
            with nullcontext() if own else transaction.atomic():
                return work()
        except OperationalError as exc:
            if not _is_transient(exc):
                raise
            if connection.in_atomic_block or attempt == attempts - 1:
                raise ConflictError(
                    "The calendar is busy with other bookings; try again.", code="busy"
                ) from exc
            time.sleep(0.02 * (attempt + 1))
    raise AssertionError("unreachable")


def _therapists_of(clinic: Clinic) -> Any:
    return User.objects.filter(
        is_active=True,
        pk__in=Membership.objects.for_clinic(clinic)
        .filter(role=Role.THERAPIST, active=True)
        .values("user_id"),
    )


def _lock_therapist(therapist: User, clinic: Clinic | None = None) -> None:
    """Take the therapist's row lock: concurrent bookings of one therapist queue here instead of
    both seeing the slot free. With `clinic`, the same statement checks they still work there."""
    rows = _therapists_of(clinic) if clinic is not None else User.objects.all()
    if not list(rows.select_for_update().filter(pk=therapist.pk).values_list("pk", flat=True)):
        raise ValidationError({"therapist": "No active therapist with this id in this clinic."})


def _lock_patient_and_room(patient: Patient, room: Room | None) -> None:
    """After the therapist's lock, the patient's and the room's (FOR NO KEY UPDATE, which leaves
    foreign-key checks alone): concurrent bookings, reschedulings and series of one patient or
    one room (the pool, say) then queue as those of one therapist do, instead of meeting in the
    exclusion constraints, where inserters of overlapping visits can deadlock. Every booking
    takes them in the same order: therapist, patient, room. Where the database has no row
    locks (SQLite, whose transactions start IMMEDIATE), nothing to do."""
    if not connection.features.has_select_for_no_key_update:
        return
    list(Patient.objects.select_for_update(no_key=True).filter(pk=patient.pk).values_list("pk"))
    if room is not None:
        list(Room.objects.select_for_update(no_key=True).filter(pk=room.pk).values_list("pk"))


def one_statement_booking() -> bool:
    """Whether visit_book takes the one-statement path (PostgreSQL; tests turn it off to book
    the same cases through the ORM checks and compare)."""
    return connection.vendor == "postgresql"


def _insert(visits: list[Visit], *, by: User | None) -> list[Visit]:
    """Insert visits that the checks let through (they are validated: no full_clean here, so a
    booking stays within a handful of statements), with their history rows."""
    if len(visits) == 1:
        visits[0]._history_user = by  # type: ignore[attr-defined]
        visits[0].save()
        return visits
    return bulk_create_with_history(visits, Visit, default_user=by)


def _lost_race(visits: list[Visit], clinic: Clinic) -> ConflictError:
    """A booking that passed the checks but met an exclusion constraint lost a race with a
    booker of another therapist (same room or patient): name what now stands in the way."""
    for visit in visits:
        check_overlaps(
            clinic=clinic,
            patient=visit.patient,
            therapist=visit.therapist,
            room=visit.room,
            starts_at=visit.starts_at,
            ends_at=visit.ends_at,
            exclude_pk=visit.pk,
        )
    return ConflictError(
        "Another booking took this time a moment ago; choose another slot.", code="double_booking"
    )


def check_availability(
    *, clinic: Clinic, therapist: User, starts_at: dt.datetime, ends_at: dt.datetime
) -> None:
    """Opening hours, closures, working hours and time off in ONE query of four EXISTS tests;
    only when one fails do the detailed checks run to say why."""
    tz = clinic.tz
    local_start, local_end = starts_at.astimezone(tz), ends_at.astimezone(tz)
    day, weekday = local_start.date(), local_start.weekday()
    start_time = local_start.time()
    end_time = local_end.time() if local_end.date() == day else dt.time.max
    flags = (
        Clinic.objects.filter(pk=clinic.pk)
        .annotate(
            open=Exists(
                OpeningHours.objects.filter(
                    clinic=clinic, weekday=weekday, opens__lte=start_time, closes__gte=end_time
                )
            ),
            closed=Exists(
                Closure.objects.filter(clinic=clinic, starts_on__lte=day, ends_on__gte=day)
            ),
            works=Exists(
                WorkingHours.objects.filter(
                    clinic=clinic,
                    therapist=therapist,
                    weekday=weekday,
                    starts__lte=start_time,
                    ends__gte=end_time,
                )
            ),
            away=Exists(
                TimeOff.objects.filter(
                    therapist=therapist, starts_at__lt=ends_at, ends_at__gt=starts_at
                )
            ),
        )
        .values("open", "closed", "works", "away")
        .get()
    )
    if flags["open"] and flags["works"] and not flags["closed"] and not flags["away"]:
        return
    calendar = clinic_calendar(
        clinic=clinic, first_day=day, last_day=day, therapist_ids=[therapist.pk]
    )
    check_calendar(calendar=calendar, therapist=therapist, starts_at=starts_at, ends_at=ends_at)
    check_time_off(clinic=clinic, therapist=therapist, starts_at=starts_at, ends_at=ends_at)


# --- Booking ---------------------------------------------------------------------------------


def visit_book(
    *,
    clinic: Clinic,
    patient: Patient,
    therapist: User,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    by: User | None,
    room: Room | None = None,
    kind: str = Visit.Kind.TREATMENT,
    episode: EpisodeOfCare | None = None,
) -> Visit:
    """Book one visit. 400 for bad input or outside hours; 409 for what is in the way."""
    starts_at, ends_at = as_utc(starts_at), as_utc(ends_at)
    check_parties(
        clinic=clinic, patient=patient, therapist=therapist, room=room, check_therapist=False
    )
    check_episode(patient=patient, episode=episode)
    check_times(clinic=clinic, starts_at=starts_at, ends_at=ends_at)
    if kind not in Visit.Kind.values:
        raise ValidationError({"kind": f"Unknown kind {kind!r}."})

    def new_visit() -> Visit:
        return Visit(
            clinic=clinic,
            patient=patient,
            therapist=therapist,
            room=room,
            starts_at=starts_at,
            ends_at=ends_at,
            kind=kind,
            episode=episode,
            booked_by=by,
            status_changed_at=timezone.now(),
        )

    def checks() -> None:
        check_overlaps(
            clinic=clinic,
            patient=patient,
            therapist=therapist,
            room=room,
            starts_at=starts_at,
            ends_at=ends_at,
        )
        check_availability(clinic=clinic, therapist=therapist, starts_at=starts_at, ends_at=ends_at)

    def book_in_one_statement() -> Visit | None:
        visit = new_visit()
        try:
            answer = _retrying(lambda: visit_insert_if_free(visit, by=by), single_statement=True)
        except ProgrammingError as exc:  # rolled back to before the call (savepoint or none)
            if not function_went_missing(exc):
                raise
            answer = Booked.NO_FUNCTION
        if answer is Booked.NOT_A_THERAPIST:
            raise ValidationError({"therapist": "No active therapist with this id in this clinic."})
        if answer is Booked.IN_THE_WAY:
            checks()  # says what is in the way; if nothing is any more, the ORM path books
        return visit if answer is Booked.YES else None

    def book() -> Visit:
        _lock_therapist(therapist, clinic)
        _lock_patient_and_room(patient, room)
        checks()
        return _insert([new_visit()], by=by)[0]  # a new row on every attempt

    try:
        if one_statement_booking():
            # PostgreSQL: one call locks, checks and inserts (patients.booking_sql). When
            # something is in the way, its transaction has ended (releasing the lock for the
            # next booker) and the checks say what, as a 400 or 409; if they find nothing (it
            # moved meanwhile), or the function is missing, the ORM way below books.
            booked = book_in_one_statement()
            if booked is not None:
                return booked
        return _retrying(book)
    except IntegrityError as exc:
        raise _lost_race([new_visit()], clinic) from exc


def local_start(
    *, clinic: Clinic, day: dt.date, at: dt.time, field: str = "starts_at"
) -> dt.datetime:
    """A wall-clock time in the clinic's zone as a UTC instant; 400 on a DST gap or overlap."""
    try:
        return localize(dt.datetime.combine(day, at), clinic.tz).astimezone(dt.UTC)
    except LocalTimeError as exc:
        raise ValidationError({field: str(exc)}, code=exc.code) from exc


# --- State machine ---------------------------------------------------------------------------

S = Visit.Status
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "check_in": (frozenset({S.BOOKED}), S.CHECKED_IN),
    "complete": (frozenset({S.BOOKED, S.CHECKED_IN}), S.COMPLETED),
    "cancel": (frozenset({S.BOOKED, S.CHECKED_IN}), S.CANCELLED),
    "no_show": (frozenset({S.BOOKED}), S.NO_SHOW),
    "reschedule": (frozenset({S.BOOKED}), S.BOOKED),
}


def allowed_actions(status: str) -> list[str]:
    return [action for action, (sources, _) in TRANSITIONS.items() if status in sources]


ACTION_WORDS = {
    "check_in": "checked in",
    "complete": "completed",
    "cancel": "cancelled",
    "no_show": "marked a no-show",
    "reschedule": "moved",
}


def _begin_transition(visit: Visit, action: str) -> Visit:
    """Lock the visit and check the action is allowed from its current status (409 if not)."""
    locked = Visit.objects.select_for_update().select_related("clinic").get(pk=visit.pk)
    sources, _ = TRANSITIONS[action]
    if locked.status not in sources:
        allowed = allowed_actions(locked.status)
        then = f" Allowed now: {', '.join(allowed)}." if allowed else " No change is allowed."
        raise ConflictError(
            f"A {locked.get_status_display().lower()} visit cannot be {ACTION_WORDS[action]}."
            + then,
            code="illegal_transition",
            extra={"status": locked.status, "allowed": allowed},
        )
    return locked


def _finish(
    visit: Visit, status: str, by: User | None, extra_fields: tuple[str, ...] = ()
) -> Visit:
    visit.status = status
    visit.status_changed_at = timezone.now()
    record_save(visit, by=by, update_fields=["status", "status_changed_at", *extra_fields])
    return visit


@transaction.atomic
def visit_check_in(*, visit: Visit, by: User | None) -> Visit:
    visit = _begin_transition(visit, "check_in")
    today = timezone.localdate(None, visit.clinic.tz)
    if visit.starts_at.astimezone(visit.clinic.tz).date() != today:
        raise ConflictError(
            "A patient can be checked in only on the day of the visit.", code="not_today"
        )
    return _finish(visit, S.CHECKED_IN, by)


@transaction.atomic
def visit_complete(*, visit: Visit, by: User | None) -> Visit:
    """Mark the visit completed. The clinical record's service calls this with the note."""
    visit = _begin_transition(visit, "complete")
    if visit.starts_at > timezone.now():
        raise ConflictError("A visit cannot be completed before it starts.", code="not_started")
    return _finish(visit, S.COMPLETED, by)


@transaction.atomic
def visit_cancel(
    *, visit: Visit, by: User | None, reason: str = "", by_clinic: bool = False
) -> Visit:
    """Cancel; inside the clinic's late-cancel window it counts as a late cancellation, unless
    the clinic cancelled (`by_clinic`: a closure), which is never the patient's late one."""
    visit = _begin_transition(visit, "cancel")
    window = dt.timedelta(hours=visit.clinic.late_cancel_hours)
    late = not by_clinic and timezone.now() > visit.starts_at - window
    visit.cancel_reason = reason[:300]
    return _finish(visit, S.LATE_CANCELLED if late else S.CANCELLED, by, ("cancel_reason",))


@transaction.atomic
def visit_no_show(*, visit: Visit, by: User | None) -> Visit:
    visit = _begin_transition(visit, "no_show")
    if visit.starts_at > timezone.now():
        raise ConflictError(
            "A patient can be marked a no-show only after the visit's start.", code="not_started"
        )
    return _finish(visit, S.NO_SHOW, by)


def visit_reschedule(
    *,
    visit: Visit,
    starts_at: dt.datetime,
    by: User | None,
    ends_at: dt.datetime | None = None,
    therapist: User | None = None,
    room: Room | bool | None = False,
) -> Visit:
    """Move a booked visit (and optionally change therapist or room) in one step; the row's
    history keeps where it was. `room=False` keeps the room, `room=None` removes it."""
    clinic = visit.clinic
    therapist = therapist or visit.therapist
    new_room = visit.room if room is False else room
    starts_at = as_utc(starts_at)
    ends_at = as_utc(ends_at) if ends_at else starts_at + (visit.ends_at - visit.starts_at)
    check_parties(clinic=clinic, patient=visit.patient, therapist=therapist, room=new_room)  # type: ignore[arg-type]
    check_times(clinic=clinic, starts_at=starts_at, ends_at=ends_at)

    def move() -> Visit:
        locked = _begin_transition(visit, "reschedule")
        _lock_therapist(therapist)
        _lock_patient_and_room(locked.patient, new_room)  # type: ignore[arg-type]
        day = starts_at.astimezone(clinic.tz).date()
        calendar = clinic_calendar(
            clinic=clinic, first_day=day, last_day=day, therapist_ids=[therapist.pk]
        )
        check_calendar(calendar=calendar, therapist=therapist, starts_at=starts_at, ends_at=ends_at)
        check_time_off(clinic=clinic, therapist=therapist, starts_at=starts_at, ends_at=ends_at)
        check_overlaps(
            clinic=clinic,
            patient=locked.patient,
            therapist=therapist,
            room=new_room,  # type: ignore[arg-type]
            starts_at=starts_at,
            ends_at=ends_at,
            exclude_pk=locked.pk,
        )
        locked.starts_at, locked.ends_at = starts_at, ends_at
        locked.therapist, locked.room = therapist, new_room  # type: ignore[assignment]
        try:
            with transaction.atomic():
                record_save(
                    locked, by=by, update_fields=["starts_at", "ends_at", "therapist", "room"]
                )
        except IntegrityError as exc:
            raise ConflictError(
                "Another booking took this time a moment ago; choose another slot.",
                code="double_booking",
            ) from exc
        return locked

    return _retrying(move)


# --- Recurring series ------------------------------------------------------------------------


@dataclass
class Occurrence:
    index: int
    day: dt.date
    starts_at: dt.datetime | None
    ends_at: dt.datetime | None
    problem: str = ""
    code: str = ""
    alternative: Slot | None = None

    @property
    def bookable(self) -> bool:
        return self.starts_at is not None and not self.problem


def _series_days(first_day: dt.date, weekdays: list[int], count: int) -> list[dt.date]:
    days: list[dt.date] = []
    day = first_day
    while len(days) < count:
        if day.weekday() in weekdays:
            days.append(day)
        day += dt.timedelta(days=1)
    return days


def _check_series_input(weekdays: list[int], occurrences: int, duration: dt.timedelta) -> None:
    if not weekdays or any(w not in range(7) for w in weekdays):
        raise ValidationError({"weekdays": "Give weekdays as numbers 0 (Monday) to 6 (Sunday)."})
    if not 1 <= occurrences <= MAX_SERIES:
        raise ValidationError({"occurrences": f"Between 1 and {MAX_SERIES} visits."})
    if not MIN_DURATION <= duration <= MAX_DURATION:
        raise ValidationError({"duration_minutes": "Between 5 minutes and 4 hours."})


def series_preview(
    *,
    clinic: Clinic,
    patient: Patient,
    therapist: User,
    weekdays: list[int],
    local_time: dt.time,
    duration: dt.timedelta,
    first_day: dt.date,
    occurrences: int,
    room: Room | None = None,
) -> list[Occurrence]:
    """Each occurrence at the same wall-clock time, whether it can be booked, and when not, why
    and the nearest free slot with the same therapist (same day first, then the next days)."""
    check_parties(clinic=clinic, patient=patient, therapist=therapist, room=room)
    _check_series_input(sorted(set(weekdays)), occurrences, duration)
    days = _series_days(first_day, sorted(set(weekdays)), occurrences)
    calendar = clinic_calendar(
        clinic=clinic,
        first_day=days[0],
        last_day=days[-1] + dt.timedelta(days=ALTERNATIVE_SEARCH_DAYS),
        therapist_ids=[therapist.pk],
    )
    patient_busy = [
        Interval(s, e)
        for s, e in Visit.objects.occupying()
        .filter(patient=patient)
        .overlapping(*_range_bounds(clinic, days[0], calendar.last_day))  # and alternatives
        .values_list("starts_at", "ends_at")
    ]
    result: list[Occurrence] = []
    taken: list[Interval] = []  # earlier occurrences of this series
    for index, day in enumerate(days):
        occurrence = Occurrence(index=index, day=day, starts_at=None, ends_at=None)
        try:
            start = localize(dt.datetime.combine(day, local_time), clinic.tz).astimezone(dt.UTC)
        except LocalTimeError as exc:
            occurrence.problem, occurrence.code = str(exc), exc.code
            result.append(occurrence)
            continue
        occurrence.starts_at, occurrence.ends_at = start, start + duration
        wanted = Interval(start, start + duration)
        problem: tuple[str, str] | None
        if start < timezone.now() - PAST_GRACE:
            problem = (f"{_span(start, wanted.end, clinic)} is in the past.", "in_the_past")
        else:
            problem = _calendar_problem(calendar, therapist, room, wanted, patient_busy + taken)
        if problem:
            occurrence.problem, occurrence.code = problem
            occurrence.alternative = _nearest_free(
                calendar, therapist, room, wanted, patient_busy + taken
            )
        else:
            taken.append(wanted)
        result.append(occurrence)
    return result


def _range_bounds(clinic: Clinic, first: dt.date, last: dt.date) -> tuple[dt.datetime, dt.datetime]:
    return local_day_bounds(first, clinic.tz)[0], local_day_bounds(last, clinic.tz)[1]


def _calendar_problem(
    calendar: ClinicCalendar,
    therapist: User,
    room: Room | None,
    wanted: Interval,
    patient_busy: list[Interval],
) -> tuple[str, str] | None:
    try:
        check_calendar(
            calendar=calendar, therapist=therapist, starts_at=wanted.start, ends_at=wanted.end
        )
    except ApplicationError as exc:
        return exc.message, exc.code
    span = _span(wanted.start, wanted.end, calendar.clinic)
    if any(wanted.overlaps(b) for b in calendar.therapist_busy.get(therapist.pk, [])):
        return f"The therapist is busy or away {span}.", "double_booking"
    if room is not None and any(wanted.overlaps(b) for b in calendar.room_busy.get(room.pk, [])):
        return f"Room {room.name} is booked {span}.", "double_booking"
    if any(wanted.overlaps(b) for b in patient_busy):
        return f"The patient already has a visit {span}.", "double_booking"
    return None


def _nearest_free(
    calendar: ClinicCalendar,
    therapist: User,
    room: Room | None,
    wanted: Interval,
    patient_busy: list[Interval],
) -> Slot | None:
    duration = wanted.end - wanted.start
    tz = calendar.clinic.tz
    first = wanted.start.astimezone(tz).date()
    for day in daterange(first, first + dt.timedelta(days=ALTERNATIVE_SEARCH_DAYS)):
        if day > calendar.last_day:
            break
        free = subtract(calendar.therapist_free(therapist.pk, day), patient_busy)
        if room is not None:
            free = subtract(free, calendar.room_busy.get(room.pk, []))
        starts = [s for s in slot_starts(free, duration, tz) if s >= timezone.now()]
        if starts:
            best = min(starts, key=lambda s: abs(s - wanted.start))
            return Slot(
                starts_at=best.astimezone(tz),
                ends_at=(best + duration).astimezone(tz),
                therapist=therapist,
                room=room,
            )
    return None


def series_book(
    *,
    clinic: Clinic,
    patient: Patient,
    therapist: User,
    weekdays: list[int],
    local_time: dt.time,
    duration: dt.timedelta,
    first_day: dt.date,
    occurrences: int,
    by: User | None,
    accept: list[int] | None = None,
    room: Room | None = None,
    kind: str = Visit.Kind.TREATMENT,
    episode: EpisodeOfCare | None = None,
) -> tuple[VisitSeries, list[Visit]]:
    """Book the accepted occurrences (all bookable ones by default) in one transaction: all or
    none. An accepted occurrence that cannot be booked is a 409 naming it."""
    check_episode(patient=patient, episode=episode)

    def book() -> tuple[VisitSeries, list[Visit]]:
        _lock_therapist(therapist)
        _lock_patient_and_room(patient, room)
        preview = series_preview(
            clinic=clinic,
            patient=patient,
            therapist=therapist,
            weekdays=weekdays,
            local_time=local_time,
            duration=duration,
            first_day=first_day,
            occurrences=occurrences,
            room=room,
        )
        chosen = [o for o in preview if accept is None or o.index in accept]
        if accept is None:
            chosen = [o for o in chosen if o.bookable]
        unknown = set(accept or []) - {o.index for o in preview}
        if unknown:
            raise ValidationError({"accept": f"No occurrence numbered {sorted(unknown)}."})
        blocked = [o for o in chosen if not o.bookable]
        if blocked:
            raise ConflictError(
                " ".join(f"Visit {o.index + 1} ({o.day:%Y-%m-%d}): {o.problem}" for o in blocked),
                code="series_conflict",
                extra={"occurrences": [o.index for o in blocked]},
            )
        if not chosen:
            raise ValidationError({"accept": "No occurrence to book."})
        series = VisitSeries(
            clinic=clinic,
            patient=patient,
            therapist=therapist,
            weekdays=sorted(set(weekdays)),
            local_time=local_time,
            duration_minutes=int(duration.total_seconds() // 60),
            first_day=first_day,
            occurrences=occurrences,
            booked_by=by,
        )
        record_save(series, by=by)
        now = timezone.now()
        visits = [
            Visit(
                clinic=clinic,
                patient=patient,
                therapist=therapist,
                room=room,
                starts_at=o.starts_at,
                ends_at=o.ends_at,
                kind=kind,
                episode=episode,
                series=series,
                booked_by=by,
                status_changed_at=now,
            )
            for o in chosen
            if o.starts_at is not None and o.ends_at is not None
        ]
        return series, _insert(visits, by=by)

    if first_day < timezone.localdate(None, clinic.tz):
        raise ValidationError({"first_day": "Cannot start a series in the past."})
    try:
        return _retrying(book)
    except IntegrityError as exc:
        raise ConflictError(
            "Another booking took one of these times a moment ago; preview the series again.",
            code="series_conflict",
        ) from exc


__all__ = [
    "allowed_actions",
    "free_slots",
    "local_start",
    "series_book",
    "series_preview",
    "visit_book",
    "visit_cancel",
    "visit_check_in",
    "visit_complete",
    "visit_no_show",
    "visit_reschedule",
]
