"""The calendar services against the database: booking (overlaps, hours, parties, times), the
visit state machine, rescheduling, recurring series across DST changes, and the free-slot search.

Times are built in the clinic's zone a week or more ahead, so the tests never drift into the
past; a visit that must already have started is written straight to the table with VisitFactory
(the booking service refuses the past).
"""

from __future__ import annotations

import datetime as dt
import time
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from clinic.capabilities import Role
from clinic.errors import ApplicationError, ConflictError
from clinic.models import Clinic, Room
from patients import visits
from patients.availability import free_slots
from patients.models import Visit, VisitSeries
from patients.scheduling import localize
from tests.factories import (
    ClinicFactory,
    ClosureFactory,
    MembershipFactory,
    PatientFactory,
    RoomFactory,
    TimeOffFactory,
    VisitFactory,
    WorkingHoursFactory,
    next_dst_change,
    open_every_day,
    therapist_in,
    working_every_day,
)

pytestmark = pytest.mark.django_db

S = Visit.Status
MINUTES = dt.timedelta(minutes=1)


def local(clinic: Clinic, day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    """A wall-clock time at the clinic as a UTC instant."""
    return localize(dt.datetime.combine(day, dt.time(hour, minute)), clinic.tz).astimezone(dt.UTC)


def wall(moment: dt.datetime, clinic: Clinic) -> str:
    return moment.astimezone(clinic.tz).strftime("%H:%M")


def started_a_moment_ago(clinic: Clinic) -> dt.datetime:
    """Ten minutes ago, but never before the clinic's local midnight (so it is still today)."""
    now = timezone.now().replace(microsecond=0)
    midnight = local(clinic, timezone.localdate(now, clinic.tz), 0)
    return max(now - 10 * MINUTES, midnight)


@pytest.fixture
def day(clinic) -> dt.date:
    return timezone.localdate(None, clinic.tz) + dt.timedelta(days=8)


@pytest.fixture
def pt(clinic, therapist):
    open_every_day(clinic)
    return working_every_day(clinic, therapist)


@pytest.fixture
def patient(clinic):
    return PatientFactory(clinic=clinic)


@pytest.fixture
def room(clinic) -> Room:
    return RoomFactory(clinic=clinic, name="Treatment 1", kind=Room.Kind.TREATMENT)


@pytest.fixture
def book(clinic, pt, patient, receptionist, day):
    """book(start=(10, 0), minutes=45, **overrides): visit_book with sensible defaults."""

    def make(start: tuple[int, int] = (10, 0), minutes: int = 45, **overrides) -> Visit:
        starts_at = local(clinic, day, *start)
        args = {
            "clinic": clinic,
            "patient": patient,
            "therapist": pt,
            "starts_at": starts_at,
            "ends_at": starts_at + minutes * MINUTES,
            "by": receptionist,
            **overrides,
        }
        return visits.visit_book(**args)

    return make


# --- Booking: overlaps ----------------------------------------------------------------------------

OVERLAPS = {
    # name: (start, minutes) against a visit 10:00-11:00
    "partial at start": ((9, 30), 60),
    "partial at end": ((10, 30), 60),
    "contained": ((10, 15), 30),
    "containing": ((9, 30), 120),
    "identical": ((10, 0), 60),
}
BACK_TO_BACK = {"before": ((9, 0), 60), "after": ((11, 0), 60)}


@pytest.fixture
def existing(book, room):
    """A visit 10:00-11:00 of the therapist, the room and the patient."""
    return book(start=(10, 0), minutes=60, room=room)


def test_booked_visits_get_time_ordered_public_ids_in_the_order_they_were_booked(book, clinic):
    """Version 7 (clinic/ids.py), on PostgreSQL's one-call path and the ORM's alike: a new
    visit's id goes to the end of the unique index, not to a random page of it."""
    before = int(timezone.now().timestamp() * 1000)
    first = book(start=(9, 0))
    time.sleep(0.002)  # a later millisecond: within one, the order is the random bits'
    second = book(start=(8, 0))  # earlier in the day, booked later
    after = int(timezone.now().timestamp() * 1000)

    assert (first.public_id.version, second.public_id.version) == (7, 7)
    assert before <= first.public_id.int >> 80 <= second.public_id.int >> 80 <= after
    ordered = Visit.objects.filter(clinic=clinic).order_by("public_id")
    assert list(ordered.values_list("pk", flat=True)) == [first.pk, second.pk]
    assert Visit.history.get(id=first.pk).public_id == first.public_id


def _sharing(what: str, *, clinic, pt, patient, room) -> dict:
    """Booking arguments that share exactly one of therapist, room, patient with `existing`."""
    other_therapist = working_every_day(clinic)
    other_patient = PatientFactory(clinic=clinic)
    other_room = RoomFactory(clinic=clinic, name="Treatment 2")
    return {
        "therapist": {"therapist": pt, "patient": other_patient, "room": other_room},
        "room": {"therapist": other_therapist, "patient": other_patient, "room": room},
        "patient": {"therapist": other_therapist, "patient": patient, "room": other_room},
    }[what]


@pytest.mark.parametrize("what", ["therapist", "room", "patient"])
@pytest.mark.parametrize("case", OVERLAPS, ids=list(OVERLAPS))
def test_visit_book_refuses_overlap_naming_what_it_blocks(
    case, what, book, existing, clinic, pt, patient, room
):
    start, minutes = OVERLAPS[case]
    before = Visit.objects.count()

    with pytest.raises(ConflictError) as caught:
        book(
            start=start,
            minutes=minutes,
            **_sharing(what, clinic=clinic, pt=pt, patient=patient, room=room),
        )

    error = caught.value
    assert error.status_code == 409
    assert error.code == "double_booking"
    assert error.field == "starts_at"
    (conflict,) = error.extra["conflicts"]
    assert conflict["blocks"] == [what]
    assert conflict["visit"] == str(existing.public_id)
    assert conflict["starts_at"] == existing.starts_at.astimezone(clinic.tz).isoformat()
    assert conflict["ends_at"] == existing.ends_at.astimezone(clinic.tz).isoformat()
    assert conflict["other_clinic"] is False
    assert "10:00 to 11:00" in error.message
    assert Visit.objects.count() == before


def test_visit_book_conflict_names_every_party_it_blocks(book, existing, room, clinic):
    with pytest.raises(ConflictError) as caught:
        book(start=(10, 30), minutes=30, room=room)
    (conflict,) = caught.value.extra["conflicts"]
    assert conflict["blocks"] == ["therapist", "room", "patient"]
    assert "is booked" in conflict["message"]
    assert "the patient already has a visit" in conflict["message"]


@pytest.mark.parametrize("what", ["therapist", "room", "patient"])
@pytest.mark.parametrize("case", BACK_TO_BACK, ids=list(BACK_TO_BACK))
def test_visit_book_accepts_back_to_back(case, what, book, existing, clinic, pt, patient, room):
    start, minutes = BACK_TO_BACK[case]
    visit = book(
        start=start,
        minutes=minutes,
        **_sharing(what, clinic=clinic, pt=pt, patient=patient, room=room),
    )
    assert visit.status == S.BOOKED
    assert visit.ends_at == existing.starts_at or visit.starts_at == existing.ends_at


@pytest.mark.parametrize(
    ("status", "blocks"),
    [
        (S.BOOKED, True),
        (S.CHECKED_IN, True),
        (S.COMPLETED, True),
        (S.CANCELLED, False),
        (S.LATE_CANCELLED, False),
        (S.NO_SHOW, False),
    ],
)
def test_only_occupying_visits_block(status, blocks, book, clinic, pt, patient, day):
    VisitFactory(
        clinic=clinic,
        therapist=pt,
        patient=patient,
        starts_at=local(clinic, day, 10),
        ends_at=local(clinic, day, 11),
        status=status,
    )
    if blocks:
        with pytest.raises(ConflictError, match="is booked"):
            book()
    else:
        assert book().status == S.BOOKED


def test_a_therapists_visit_at_another_clinic_blocks_them(
    book, clinic, other_clinic, pt, day, patient
):
    MembershipFactory(user=pt, clinic=other_clinic, role=Role.THERAPIST)
    elsewhere = VisitFactory(
        clinic=other_clinic,
        therapist=pt,
        starts_at=local(clinic, day, 10),
        ends_at=local(clinic, day, 11),
    )
    assert elsewhere.patient.clinic == other_clinic

    with pytest.raises(ConflictError) as caught:
        book(start=(10, 30))

    (conflict,) = caught.value.extra["conflicts"]
    assert conflict["blocks"] == ["therapist"]
    assert conflict["other_clinic"] is True
    assert conflict["visit"] is None  # another clinic's visit id is not shown
    assert "(at another clinic)" in conflict["message"]


# --- Booking: hours, closures, time off -----------------------------------------------------------


@pytest.mark.parametrize(("start", "minutes"), [((7, 30), 45), ((17, 30), 45), ((6, 0), 30)])
def test_visit_book_refuses_outside_opening_hours(start, minutes, book):
    with pytest.raises(ApplicationError) as caught:
        book(start=start, minutes=minutes)
    assert caught.value.status_code == 400
    assert caught.value.code == "outside_opening_hours"
    assert caught.value.field == "starts_at"
    assert "outside the clinic's opening hours" in caught.value.message
    assert "America/New_York" in caught.value.message
    assert not Visit.objects.exists()


def test_visit_book_accepts_exactly_the_opening_hours(book):
    assert book(start=(8, 0), minutes=45).status == S.BOOKED
    assert book(start=(17, 15), minutes=45).status == S.BOOKED


def test_visit_book_refuses_on_a_closure(book, clinic, day):
    ClosureFactory(clinic=clinic, starts_on=day - dt.timedelta(days=1), ends_on=day)
    with pytest.raises(ApplicationError) as caught:
        book()
    assert caught.value.code == "clinic_closed"
    assert f"closed on {day:%Y-%m-%d}" in caught.value.message


def test_another_clinics_closure_does_not_close_this_one(book, other_clinic, day):
    ClosureFactory(clinic=other_clinic, starts_on=day, ends_on=day)
    assert book().status == S.BOOKED


def test_visit_book_refuses_outside_the_therapists_working_hours(book, clinic, day):
    part_timer = therapist_in(clinic)
    WorkingHoursFactory(
        clinic=clinic,
        therapist=part_timer,
        weekday=day.weekday(),
        starts=dt.time(13),
        ends=dt.time(17),
    )
    with pytest.raises(ApplicationError) as caught:
        book(therapist=part_timer)
    assert caught.value.code == "outside_working_hours"
    assert "does not work at this clinic" in caught.value.message
    assert book(therapist=part_timer, start=(13, 0)).therapist == part_timer


def test_working_hours_at_another_clinic_do_not_count_here(book, clinic, other_clinic, day):
    commuter = therapist_in(clinic)
    MembershipFactory(user=commuter, clinic=other_clinic, role=Role.THERAPIST)
    working_every_day(other_clinic, commuter)
    with pytest.raises(ApplicationError) as caught:
        book(therapist=commuter)
    assert caught.value.code == "outside_working_hours"


def test_visit_book_refuses_during_time_off(book, clinic, pt, day):
    TimeOffFactory(
        therapist=pt, starts_at=local(clinic, day, 9), ends_at=local(clinic, day, 10, 30)
    )
    with pytest.raises(ConflictError) as caught:
        book(start=(10, 15))
    assert caught.value.code == "therapist_time_off"
    assert "is away" in caught.value.message
    assert book(start=(10, 30)).status == S.BOOKED  # back-to-back with the time off


# --- Booking: parties and times -------------------------------------------------------------------


@pytest.mark.parametrize("field", ["therapist", "room", "patient"])
def test_visit_book_refuses_another_clinics_party_naming_the_field(field, book, other_clinic):
    theirs = {
        "therapist": lambda: working_every_day(other_clinic),
        "room": lambda: RoomFactory(clinic=other_clinic),
        "patient": lambda: PatientFactory(clinic=other_clinic),
    }[field]()
    with pytest.raises(ValidationError) as caught:
        book(**{field: theirs})
    assert list(caught.value.message_dict) == [field]
    assert "in this clinic" in caught.value.message_dict[field][0]
    assert not Visit.objects.exists()


def test_visit_book_refuses_a_receptionist_as_therapist(book, receptionist):
    with pytest.raises(ValidationError) as caught:
        book(therapist=receptionist)
    assert list(caught.value.message_dict) == ["therapist"]


def test_visit_book_refuses_an_inactive_room(book, room):
    room.active = False
    room.save(update_fields=["active"])
    with pytest.raises(ValidationError) as caught:
        book(room=room)
    assert list(caught.value.message_dict) == ["room"]


def test_visit_book_refuses_an_archived_patient(book, patient):
    patient.archived_at = timezone.now()
    patient.save(update_fields=["archived_at"])
    with pytest.raises(ValidationError) as caught:
        book()
    assert "archived" in caught.value.message_dict["patient"][0]


@pytest.mark.parametrize(
    ("times", "field", "reason"),
    [
        (
            lambda now: (now - dt.timedelta(hours=2), now - dt.timedelta(hours=1)),
            "starts_at",
            "past",
        ),
        (lambda now: (now + dt.timedelta(days=2), now + dt.timedelta(days=2)), "ends_at", "after"),
        (
            lambda now: (now + dt.timedelta(days=2), now + dt.timedelta(days=2, hours=-1)),
            "ends_at",
            "after the start",
        ),
        (
            lambda now: (
                now + dt.timedelta(days=2),
                now + dt.timedelta(days=2, hours=4, minutes=1),
            ),
            "ends_at",
            "at most 4 hours",
        ),
        (
            lambda now: (now + dt.timedelta(days=2), now + dt.timedelta(days=2, minutes=4)),
            "ends_at",
            "at least 5 minutes",
        ),
    ],
    ids=["past start", "ends at start", "ends before start", "over 4 hours", "under 5 minutes"],
)
def test_visit_book_refuses_bad_times_naming_the_field(times, field, reason, book):
    starts_at, ends_at = times(timezone.now())
    with pytest.raises(ValidationError) as caught:
        book(starts_at=starts_at, ends_at=ends_at)
    assert list(caught.value.message_dict) == [field]
    assert reason in caught.value.message_dict[field][0]


def test_visit_book_refuses_a_visit_past_midnight(book, clinic, day):
    with pytest.raises(ValidationError) as caught:
        book(starts_at=local(clinic, day, 23), ends_at=local(clinic, day + dt.timedelta(days=1), 1))
    assert "end on the day it starts" in caught.value.message_dict["ends_at"][0]


def test_visit_book_refuses_naive_datetimes(book, day):
    with pytest.raises(ValueError, match="aware"):
        book(
            starts_at=dt.datetime.combine(day, dt.time(10)),
            ends_at=dt.datetime.combine(day, dt.time(11)),
        )


def test_visit_book_refuses_an_unknown_kind(book):
    with pytest.raises(ValidationError) as caught:
        book(kind="massage")
    assert list(caught.value.message_dict) == ["kind"]


def test_visit_book_stores_utc_and_records_who_booked(book, receptionist, clinic, day, room):
    visit = book(room=room, kind=Visit.Kind.INITIAL_EVALUATION)
    visit.refresh_from_db()
    assert visit.starts_at == local(clinic, day, 10)
    assert visit.ends_at - visit.starts_at == dt.timedelta(minutes=45)
    assert visit.booked_by == receptionist
    assert visit.kind == Visit.Kind.INITIAL_EVALUATION
    assert visit.room == room
    assert visit.status_changed_at is not None
    (created,) = visit.history.all()
    assert created.history_type == "+"
    assert created.history_user == receptionist


def test_visit_book_takes_any_zone_and_keeps_the_duration_real(book, clinic, day):
    """A start given with another offset is the same instant; the duration is real time."""
    berlin_start = local(clinic, day, 10).astimezone(ZoneInfo("Europe/Berlin"))
    visit = book(starts_at=berlin_start, ends_at=berlin_start + dt.timedelta(minutes=30))
    assert wall(visit.starts_at, clinic) == "10:00"
    assert visit.ends_at - visit.starts_at == dt.timedelta(minutes=30)


# --- The state machine ----------------------------------------------------------------------------

ALLOWED = {
    S.BOOKED: {"check_in", "complete", "cancel", "no_show", "reschedule"},
    S.CHECKED_IN: {"complete", "cancel"},
    S.COMPLETED: set(),
    S.CANCELLED: set(),
    S.LATE_CANCELLED: set(),
    S.NO_SHOW: set(),
}
RESULT = {
    "check_in": S.CHECKED_IN,
    "complete": S.COMPLETED,
    "cancel": S.LATE_CANCELLED,  # the visit started ten minutes ago: inside the window
    "no_show": S.NO_SHOW,
    "reschedule": S.BOOKED,
}
ACTIONS = list(RESULT)


def _act(action: str, visit: Visit, by, new_start: dt.datetime) -> Visit:
    if action == "check_in":
        return visits.visit_check_in(visit=visit, by=by)
    if action == "complete":
        return visits.visit_complete(visit=visit, by=by)
    if action == "cancel":
        return visits.visit_cancel(visit=visit, by=by, reason="Called in sick")
    if action == "no_show":
        return visits.visit_no_show(visit=visit, by=by)
    return visits.visit_reschedule(visit=visit, starts_at=new_start, by=by)


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("status", list(ALLOWED))
def test_state_machine_every_status_and_action(
    status, action, clinic, pt, patient, receptionist, day
):
    starts_at = started_a_moment_ago(clinic)
    visit = VisitFactory(
        clinic=clinic,
        therapist=pt,
        patient=patient,
        status=status,
        starts_at=starts_at,
        ends_at=starts_at + dt.timedelta(minutes=45),
    )
    new_start = local(clinic, day, 14)

    if action in ALLOWED[status]:
        result = _act(action, visit, receptionist, new_start)
        result.refresh_from_db()
        assert result.status == RESULT[action]
        if action == "reschedule":
            assert result.starts_at == new_start
        else:
            assert result.status_changed_at is not None
        assert result.history.first().history_user == receptionist
    else:
        with pytest.raises(ConflictError) as caught:
            _act(action, visit, receptionist, new_start)
        error = caught.value
        assert error.status_code == 409
        assert error.code == "illegal_transition"
        assert error.extra["status"] == status
        assert set(error.extra["allowed"]) == ALLOWED[status]
        assert error.extra["allowed"] == visits.allowed_actions(status)
        visit.refresh_from_db()
        assert visit.status == status
        assert visit.starts_at == starts_at


def test_allowed_actions_lists_only_legal_ones():
    for status, allowed in ALLOWED.items():
        assert set(visits.allowed_actions(status)) == allowed


def test_illegal_transition_message_names_the_allowed_actions(clinic):
    visit = VisitFactory(clinic=clinic, status=S.CHECKED_IN)
    with pytest.raises(ConflictError) as caught:
        visits.visit_check_in(visit=visit, by=None)
    assert "A checked in visit cannot be checked in." in caught.value.message
    assert "Allowed now: complete, cancel." in caught.value.message


def test_state_machine_reads_the_current_status_not_a_stale_object(clinic, receptionist):
    visit = VisitFactory(clinic=clinic, starts_at=started_a_moment_ago(clinic))
    stale = Visit.objects.get(pk=visit.pk)
    visits.visit_cancel(visit=visit, by=receptionist)
    with pytest.raises(ConflictError) as caught:
        visits.visit_no_show(visit=stale, by=receptionist)
    assert caught.value.extra["status"] == S.LATE_CANCELLED


@pytest.mark.parametrize(
    ("hours_ahead", "window", "expected"),
    [
        (2, 24, S.LATE_CANCELLED),
        (23, 24, S.LATE_CANCELLED),
        (25, 24, S.CANCELLED),
        (72, 24, S.CANCELLED),
        (5, 4, S.CANCELLED),
        (3, 4, S.LATE_CANCELLED),
        (1, 0, S.CANCELLED),
    ],
)
def test_cancel_inside_the_clinics_window_is_late(hours_ahead, window, expected, clinic):
    clinic.late_cancel_hours = window
    clinic.save(update_fields=["late_cancel_hours"])
    visit = VisitFactory(clinic=clinic, starts_at=timezone.now() + dt.timedelta(hours=hours_ahead))
    result = visits.visit_cancel(visit=visit, by=None, reason="Car broke down")
    result.refresh_from_db()
    assert result.status == expected
    assert result.cancel_reason == "Car broke down"


def test_a_cancellation_by_the_clinic_is_never_late(clinic):
    visit = VisitFactory(clinic=clinic, starts_at=timezone.now() + dt.timedelta(hours=2))
    result = visits.visit_cancel(visit=visit, by=None, reason="Clinic closed", by_clinic=True)
    result.refresh_from_db()
    assert result.status == S.CANCELLED


def test_a_cancelled_visit_frees_its_time(book, clinic, day):
    visit = book()
    visits.visit_cancel(visit=visit, by=None)
    assert book(patient=PatientFactory(clinic=clinic)).starts_at == visit.starts_at


@pytest.mark.parametrize("action", ["no_show", "complete"])
def test_no_show_and_complete_before_the_start_are_refused(action, clinic):
    visit = VisitFactory(clinic=clinic, starts_at=timezone.now() + dt.timedelta(hours=1))
    with pytest.raises(ConflictError) as caught:
        _act(action, visit, None, visit.starts_at)
    assert caught.value.code == "not_started"
    visit.refresh_from_db()
    assert visit.status == S.BOOKED


def test_check_in_only_on_the_day_of_the_visit(clinic):
    next_week = VisitFactory(clinic=clinic)  # a week ahead
    with pytest.raises(ConflictError) as caught:
        visits.visit_check_in(visit=next_week, by=None)
    assert caught.value.code == "not_today"
    assert "only on the day" in caught.value.message
    today = VisitFactory(clinic=clinic, starts_at=started_a_moment_ago(clinic))
    assert visits.visit_check_in(visit=today, by=None).status == S.CHECKED_IN


def test_check_in_uses_the_clinics_day_not_utcs(clinic):
    """A visit earlier today in New York can be a different date in UTC; the clinic's day rules."""
    local_today = timezone.localdate(None, clinic.tz)
    for hour in (0, 23):
        starts_at = local(clinic, local_today, hour, 30)
        visit = VisitFactory(clinic=clinic, starts_at=starts_at)
        assert visits.visit_check_in(visit=visit, by=None).status == S.CHECKED_IN


# --- Reschedule -----------------------------------------------------------------------------------


def test_reschedule_moves_the_row_and_keeps_its_history(book, receptionist, clinic, day, room):
    visit = book(room=room)

    moved = visits.visit_reschedule(visit=visit, starts_at=local(clinic, day, 14), by=receptionist)

    moved.refresh_from_db()
    assert moved.pk == visit.pk
    assert wall(moved.starts_at, clinic) == "14:00"
    assert moved.ends_at - moved.starts_at == dt.timedelta(minutes=45)  # duration kept
    assert moved.room == room
    assert moved.status == S.BOOKED
    assert Visit.objects.count() == 1
    old, new = visit.history.order_by("history_date")
    assert wall(old.starts_at, clinic) == "10:00"
    assert wall(new.starts_at, clinic) == "14:00"
    assert new.history_type == "~"
    assert new.history_user == receptionist


def test_reschedule_can_change_therapist_room_and_length(book, clinic, day, room):
    visit = book()
    other = working_every_day(clinic)
    moved = visits.visit_reschedule(
        visit=visit,
        starts_at=local(clinic, day + dt.timedelta(days=1), 9),
        ends_at=local(clinic, day + dt.timedelta(days=1), 10),
        therapist=other,
        room=room,
        by=None,
    )
    moved.refresh_from_db()
    assert (moved.therapist, moved.room) == (other, room)
    assert moved.ends_at - moved.starts_at == dt.timedelta(hours=1)
    moved = visits.visit_reschedule(visit=moved, starts_at=moved.starts_at, room=None, by=None)
    assert moved.room is None


def test_reschedule_may_overlap_its_own_old_time(book, clinic, day):
    visit = book(start=(10, 0), minutes=60)
    moved = visits.visit_reschedule(visit=visit, starts_at=local(clinic, day, 10, 30), by=None)
    assert wall(moved.starts_at, clinic) == "10:30"


def test_reschedule_refuses_a_conflict_and_leaves_the_visit(book, clinic, day):
    visit = book(start=(10, 0))
    blocker = book(start=(14, 0), patient=PatientFactory(clinic=clinic))
    with pytest.raises(ConflictError) as caught:
        visits.visit_reschedule(visit=visit, starts_at=local(clinic, day, 13, 30), by=None)
    assert caught.value.code == "double_booking"
    assert caught.value.extra["conflicts"][0]["visit"] == str(blocker.public_id)
    visit.refresh_from_db()
    assert wall(visit.starts_at, clinic) == "10:00"
    assert visit.history.count() == 1


def test_reschedule_checks_hours_and_parties(book, clinic, other_clinic, day):
    visit = book()
    ClosureFactory(
        clinic=clinic, starts_on=day + dt.timedelta(days=1), ends_on=day + dt.timedelta(days=1)
    )
    with pytest.raises(ApplicationError) as caught:
        visits.visit_reschedule(
            visit=visit, starts_at=local(clinic, day + dt.timedelta(days=1), 10), by=None
        )
    assert caught.value.code == "clinic_closed"
    with pytest.raises(ValidationError) as refused:
        visits.visit_reschedule(
            visit=visit,
            starts_at=local(clinic, day, 11),
            therapist=working_every_day(other_clinic),
            by=None,
        )
    assert list(refused.value.message_dict) == ["therapist"]
    with pytest.raises(ValidationError):
        visits.visit_reschedule(
            visit=visit, starts_at=timezone.now() - dt.timedelta(hours=1), by=None
        )


# --- Recurring series -----------------------------------------------------------------------------


def _series_start(clinic: Clinic, *, forward: bool) -> tuple[dt.date, dt.date]:
    """(the Monday on or after two weeks before the next DST change, the change day): a
    Monday-and-Thursday series from it has four visits before the change (a Sunday in both
    zones) and eight after."""
    today = timezone.localdate(None, clinic.tz)
    change = next_dst_change(clinic.timezone, forward=forward, after=today + dt.timedelta(days=21))
    two_weeks_before = change - dt.timedelta(days=14)
    return two_weeks_before + dt.timedelta(days=-two_weeks_before.weekday() % 7), change


def _hour(offset: dt.timedelta | None) -> float:
    assert offset is not None
    return offset.total_seconds() / 3600


@pytest.mark.parametrize(
    ("which", "forward", "offsets"),
    [
        ("clinic", True, (-5, -4)),  # America/New_York, March
        ("clinic", False, (-4, -5)),  # America/New_York, November
        ("other_clinic", True, (1, 2)),  # Europe/Berlin, March
        ("other_clinic", False, (2, 1)),  # Europe/Berlin, October
    ],
    ids=["new-york-spring", "new-york-autumn", "berlin-spring", "berlin-autumn"],
)
def test_series_of_twelve_keeps_wall_clock_time_across_dst(request, which, forward, offsets):
    where: Clinic = request.getfixturevalue(which)
    open_every_day(where)
    pt = working_every_day(where)
    patient = PatientFactory(clinic=where)
    first_day, change = _series_start(where, forward=forward)

    series, booked = visits.series_book(
        clinic=where,
        patient=patient,
        therapist=pt,
        weekdays=[0, 3],  # Monday and Thursday
        local_time=dt.time(10),
        duration=dt.timedelta(minutes=45),
        first_day=first_day,
        occurrences=12,
        by=None,
    )

    rows = list(Visit.objects.filter(series=series).order_by("starts_at"))
    assert len(rows) == len(booked) == 12
    tz = where.tz
    local_starts = [v.starts_at.astimezone(tz) for v in rows]
    assert all(s.time() == dt.time(10) for s in local_starts)
    assert all(s.weekday() in (0, 3) for s in local_starts)
    assert all(v.ends_at - v.starts_at == dt.timedelta(minutes=45) for v in rows)
    assert [_hour(s.utcoffset()) for s in local_starts if s.date() < change] == [offsets[0]] * 4
    assert [_hour(s.utcoffset()) for s in local_starts if s.date() > change] == [offsets[1]] * 8
    # Twice a week for six weeks: the UTC hour moves by one at the change, the wall clock does not.
    assert len({v.starts_at.astimezone(dt.UTC).hour for v in rows}) == 2
    assert series.weekdays == [0, 3]
    assert series.local_time == dt.time(10)
    assert all(v.status == S.BOOKED and v.clinic == where for v in rows)


@pytest.fixture
def series_args(clinic, pt, patient):
    first_day, _ = _series_start(clinic, forward=True)
    return {
        "clinic": clinic,
        "patient": patient,
        "therapist": pt,
        "weekdays": [0, 3],
        "local_time": dt.time(10),
        "duration": dt.timedelta(minutes=45),
        "first_day": first_day,
        "occurrences": 12,
    }


@pytest.fixture
def blocker(series_args, clinic):
    """Another patient's visit 10:00-10:30 on the third occurrence's day."""
    third = series_args["first_day"] + dt.timedelta(days=7)  # Monday of week 2
    return VisitFactory(
        clinic=clinic,
        therapist=series_args["therapist"],
        starts_at=local(clinic, third, 10),
        ends_at=local(clinic, third, 10, 30),
    )


def test_series_preview_reports_a_conflict_with_the_nearest_free_alternative(
    series_args, blocker, clinic
):
    preview = visits.series_preview(**series_args)

    assert [o.index for o in preview] == list(range(12))
    assert [o.index for o in preview if not o.bookable] == [2]
    conflict = preview[2]
    assert conflict.code == "double_booking"
    assert "busy" in conflict.problem
    assert conflict.day == blocker.starts_at.astimezone(clinic.tz).date()
    alternative = conflict.alternative
    assert alternative is not None
    assert alternative.starts_at.astimezone(clinic.tz).time() == dt.time(10, 30)  # back-to-back
    assert alternative.starts_at.tzinfo == clinic.tz
    assert alternative.ends_at - alternative.starts_at == dt.timedelta(minutes=45)
    assert all(o.alternative is None and o.problem == "" for o in preview if o.index != 2)
    assert not Visit.objects.filter(series__isnull=False).exists()  # a preview writes nothing


def test_series_preview_alternative_avoids_the_patients_other_visits(series_args, blocker, clinic):
    third = blocker.starts_at.astimezone(clinic.tz).date()
    VisitFactory(
        clinic=clinic,
        patient=series_args["patient"],
        starts_at=local(clinic, third, 10, 30),
        ends_at=local(clinic, third, 11, 15),
    )
    alternative = visits.series_preview(**series_args)[2].alternative
    assert alternative is not None
    assert wall(alternative.starts_at, clinic) == "09:15"


def test_series_alternative_after_the_last_occurrence_avoids_the_patients_visits(
    clinic, pt, patient
):
    """The nearest free slot may lie after the series' last day: the patient's visits there
    count too."""
    first_day, _ = _series_start(clinic, forward=True)  # a Monday
    VisitFactory(  # the therapist is busy all Monday
        clinic=clinic,
        therapist=pt,
        starts_at=local(clinic, first_day, 8),
        ends_at=local(clinic, first_day, 18),
    )
    tuesday = first_day + dt.timedelta(days=1)
    VisitFactory(  # the patient is busy all Tuesday, with someone else
        clinic=clinic,
        patient=patient,
        starts_at=local(clinic, tuesday, 8),
        ends_at=local(clinic, tuesday, 18),
    )
    (only,) = visits.series_preview(
        clinic=clinic,
        patient=patient,
        therapist=pt,
        weekdays=[0],
        local_time=dt.time(10),
        duration=dt.timedelta(minutes=45),
        first_day=first_day,
        occurrences=1,
    )
    assert only.code == "double_booking"
    assert only.alternative is not None
    assert only.alternative.starts_at.date() == first_day + dt.timedelta(days=2)
    assert wall(only.alternative.starts_at, clinic) == "08:00"


def test_series_book_accepted_occurrences_only(series_args, blocker, receptionist):
    accept = [0, 1, 3, 5]
    series, booked = visits.series_book(**series_args, accept=accept, by=receptionist)
    assert len(booked) == 4
    assert Visit.objects.filter(series=series).count() == 4
    assert series.booked_by == receptionist
    days = sorted(v.starts_at.astimezone(series_args["clinic"].tz).date() for v in booked)
    preview_days = [o.day for o in visits.series_preview(**series_args)]
    assert days == [preview_days[i] for i in accept]


def test_series_book_by_default_books_every_bookable_occurrence(series_args, blocker):
    _, booked = visits.series_book(**series_args, by=None)
    assert len(booked) == 11
    assert blocker.pk not in {v.pk for v in booked}


def test_series_book_with_an_accepted_conflict_saves_nothing(series_args, blocker):
    visits_before = Visit.objects.count()
    with pytest.raises(ConflictError) as caught:
        visits.series_book(**series_args, accept=[0, 1, 2, 3], by=None)
    assert caught.value.code == "series_conflict"
    assert caught.value.extra["occurrences"] == [2]
    assert "Visit 3" in caught.value.message
    assert Visit.objects.count() == visits_before
    assert not VisitSeries.objects.exists()


def test_series_book_refuses_unknown_or_no_occurrences(series_args):
    with pytest.raises(ValidationError) as caught:
        visits.series_book(**series_args, accept=[0, 12], by=None)
    assert list(caught.value.message_dict) == ["accept"]
    with pytest.raises(ValidationError) as caught:
        visits.series_book(**series_args, accept=[], by=None)
    assert list(caught.value.message_dict) == ["accept"]
    assert not VisitSeries.objects.exists()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"weekdays": []}, "weekdays"),
        ({"weekdays": [7]}, "weekdays"),
        ({"occurrences": 0}, "occurrences"),
        ({"occurrences": 61}, "occurrences"),
        ({"duration": dt.timedelta(hours=5)}, "duration_minutes"),
    ],
)
def test_series_preview_refuses_bad_input_naming_the_field(series_args, changes, field):
    with pytest.raises(ValidationError) as caught:
        visits.series_preview(**{**series_args, **changes})
    assert list(caught.value.message_dict) == [field]


def test_series_cannot_start_in_the_past(series_args, clinic):
    yesterday = timezone.localdate(None, clinic.tz) - dt.timedelta(days=1)
    with pytest.raises(ValidationError) as caught:
        visits.series_book(**{**series_args, "first_day": yesterday}, by=None)
    assert list(caught.value.message_dict) == ["first_day"]


def test_series_occurrence_earlier_today_is_in_the_past(series_args, clinic, monkeypatch):
    """A series starting today at a time already gone is refused for that occurrence."""
    today = timezone.localdate(None, clinic.tz)
    noon = local(clinic, today, 12)
    monkeypatch.setattr(timezone, "now", lambda: noon)
    args = {**series_args, "first_day": today, "weekdays": [today.weekday()], "occurrences": 2}
    first, second = visits.series_preview(**{**args, "local_time": dt.time(9)})
    assert first.code == "in_the_past"
    assert second.bookable
    _, booked = visits.series_book(**{**args, "local_time": dt.time(9)}, by=None)
    assert [v.starts_at.date() for v in booked] == [second.starts_at.date()]


@pytest.mark.parametrize(
    ("forward", "at", "code"),
    [
        (True, dt.time(2, 30), "nonexistent_local_time"),
        (False, dt.time(1, 30), "ambiguous_local_time"),
    ],
)
def test_series_occurrence_on_a_dst_change_at_a_missing_or_repeated_time(
    clinic, patient, forward, at, code
):
    open_every_day(clinic, opens=dt.time(0), closes=dt.time(23, 59))
    pt = working_every_day(clinic, starts=dt.time(0), ends=dt.time(23, 59))
    today = timezone.localdate(None, clinic.tz)
    change = next_dst_change(clinic.timezone, forward=forward, after=today + dt.timedelta(days=14))
    preview = visits.series_preview(
        clinic=clinic,
        patient=patient,
        therapist=pt,
        weekdays=[change.weekday()],
        local_time=at,
        duration=dt.timedelta(minutes=30),
        first_day=change - dt.timedelta(days=7),
        occurrences=3,
    )
    assert [o.bookable for o in preview] == [True, False, True]
    assert preview[1].day == change
    assert preview[1].code == code
    assert preview[1].starts_at is None
    assert "America/New_York" in preview[1].problem
    _, booked = visits.series_book(
        clinic=clinic,
        patient=patient,
        therapist=pt,
        weekdays=[change.weekday()],
        local_time=at,
        duration=dt.timedelta(minutes=30),
        first_day=change - dt.timedelta(days=7),
        occurrences=3,
        by=None,
    )
    assert [v.starts_at.astimezone(clinic.tz).time() for v in booked] == [at, at]


def test_local_start_refuses_a_dst_gap_naming_the_field(clinic):
    today = timezone.localdate(None, clinic.tz)
    change = next_dst_change(clinic.timezone, forward=True, after=today)
    with pytest.raises(ValidationError) as caught:
        visits.local_start(clinic=clinic, day=change, at=dt.time(2, 30), field="start")
    assert "does not exist in America/New_York" in caught.value.message_dict["start"][0]
    start = visits.local_start(clinic=clinic, day=change, at=dt.time(3, 0))
    assert start.tzinfo is dt.UTC
    assert start.astimezone(clinic.tz).time() == dt.time(3)


# --- Free slots -----------------------------------------------------------------------------------


def slot_walls(slots, clinic) -> list[str]:
    return [wall(s.starts_at, clinic) for s in slots]


def test_free_slots_cover_the_working_day_in_local_time_with_offsets(clinic, pt, day):
    slots = free_slots(
        clinic=clinic, first_day=day, last_day=day, duration=dt.timedelta(minutes=30), therapist=pt
    )
    walls = slot_walls(slots, clinic)
    assert walls[0] == "08:00"
    assert walls[-1] == "17:30"
    assert len(walls) == 39  # 08:00 to 17:30 every 15 minutes
    for slot in slots:
        assert slot.starts_at.tzinfo == clinic.tz
        assert (
            slot.starts_at.utcoffset()
            == localize(slot.starts_at.replace(tzinfo=None), clinic.tz).utcoffset()
        )
        assert slot.starts_at.isoformat().endswith(("-05:00", "-04:00"))
        assert slot.therapist == pt
        assert slot.room is None


def test_free_slots_exclude_busy_times_time_off_and_keep_back_to_back(book, clinic, pt, day):
    book(start=(10, 0), minutes=45)
    TimeOffFactory(therapist=pt, starts_at=local(clinic, day, 12), ends_at=local(clinic, day, 13))
    walls = slot_walls(
        free_slots(
            clinic=clinic,
            first_day=day,
            last_day=day,
            duration=dt.timedelta(minutes=30),
            therapist=pt,
        ),
        clinic,
    )
    assert {"09:30", "10:45"} <= set(walls)  # back-to-back either side
    assert not {"09:45", "10:00", "10:15", "10:30"} & set(walls)
    assert {"11:30", "13:00"} <= set(walls)
    assert not {"11:45", "12:00", "12:30", "12:45"} & set(walls)


def test_free_slots_exclude_the_therapists_visits_at_another_clinic(clinic, other_clinic, pt, day):
    MembershipFactory(user=pt, clinic=other_clinic, role=Role.THERAPIST)
    VisitFactory(
        clinic=other_clinic,
        therapist=pt,
        starts_at=local(clinic, day, 9),
        ends_at=local(clinic, day, 17),
    )
    walls = slot_walls(
        free_slots(clinic=clinic, first_day=day, last_day=day, duration=dt.timedelta(hours=1)),
        clinic,
    )
    assert walls == ["08:00", "17:00"]


def test_free_slots_skip_closures(clinic, pt, day):
    ClosureFactory(clinic=clinic, starts_on=day, ends_on=day)
    slots = free_slots(
        clinic=clinic,
        first_day=day - dt.timedelta(days=1),
        last_day=day + dt.timedelta(days=1),
        duration=dt.timedelta(minutes=30),
    )
    days = {s.starts_at.date() for s in slots}
    assert days == {day - dt.timedelta(days=1), day + dt.timedelta(days=1)}


def test_free_slots_respect_the_room_kind(clinic, pt, day):
    walls_for = lambda kind: slot_walls(  # noqa: E731
        free_slots(
            clinic=clinic,
            first_day=day,
            last_day=day,
            duration=dt.timedelta(hours=1),
            room_kind=kind,
        ),
        clinic,
    )
    RoomFactory(clinic=clinic, kind=Room.Kind.TREATMENT, name="Treatment 9")  # free all day
    assert walls_for(Room.Kind.POOL) == []  # no pool at all: a free room of another kind won't do
    assert len(walls_for(Room.Kind.TREATMENT)) == 37
    RoomFactory(clinic=clinic, kind=Room.Kind.POOL, active=False)
    assert walls_for(Room.Kind.POOL) == []  # an inactive pool is no pool
    gym = RoomFactory(clinic=clinic, kind=Room.Kind.GYM, name="Gym")
    VisitFactory(
        clinic=clinic, room=gym, starts_at=local(clinic, day, 8), ends_at=local(clinic, day, 17)
    )
    assert walls_for(Room.Kind.GYM) == ["17:00"]
    second_gym = RoomFactory(clinic=clinic, kind=Room.Kind.GYM, name="Gym 2")
    slots = free_slots(
        clinic=clinic,
        first_day=day,
        last_day=day,
        duration=dt.timedelta(hours=1),
        room_kind=Room.Kind.GYM,
    )
    assert len(slots) == 37  # 08:00 to 17:00
    assert {s.room for s in slots if wall(s.starts_at, clinic) == "10:00"} == {second_gym}
    assert {s.room for s in slots if wall(s.starts_at, clinic) == "17:00"} == {gym}


def test_free_slots_filter_by_therapist(clinic, pt, day):
    second = working_every_day(clinic)
    elsewhere = ClinicFactory()
    open_every_day(elsewhere)
    other = working_every_day(elsewhere)
    args = {"clinic": clinic, "first_day": day, "last_day": day, "duration": dt.timedelta(hours=4)}
    assert {s.therapist for s in free_slots(**args)} == {pt, second}
    assert {s.therapist for s in free_slots(**args, therapist=second)} == {second}
    assert free_slots(**args, therapist=other) == []


def test_free_slots_are_ordered_and_never_in_the_past(clinic, pt):
    today = timezone.localdate(None, clinic.tz)
    now = timezone.now()
    slots = free_slots(
        clinic=clinic,
        first_day=today,
        last_day=today + dt.timedelta(days=1),
        duration=dt.timedelta(minutes=30),
        not_before=now,
    )
    assert slots  # tomorrow at least
    assert all(s.starts_at >= now for s in slots)
    instants = [s.starts_at.astimezone(dt.UTC) for s in slots]
    assert instants == sorted(instants)


def test_free_slots_on_the_spring_forward_day_skip_the_missing_hour(clinic, patient):
    open_every_day(clinic, opens=dt.time(1), closes=dt.time(4))
    pt = working_every_day(clinic, starts=dt.time(1), ends=dt.time(4))
    change = next_dst_change(
        clinic.timezone, forward=True, after=timezone.localdate(None, clinic.tz)
    )
    slots = free_slots(
        clinic=clinic,
        first_day=change,
        last_day=change,
        duration=dt.timedelta(hours=1),
        therapist=pt,
    )
    assert [s.starts_at.strftime("%H:%M%z") for s in slots] == [
        "01:00-0500",
        "01:15-0500",
        "01:30-0500",
        "01:45-0500",
        "03:00-0400",
    ]
    # An hour of real time each (one zone's datetimes subtract as wall-clock times: use UTC).
    assert all(
        s.ends_at.astimezone(dt.UTC) - s.starts_at.astimezone(dt.UTC) == dt.timedelta(hours=1)
        for s in slots
    )


def _count_queries(**kwargs) -> int:
    with CaptureQueriesContext(connection) as queries:
        free_slots(**kwargs)
    return len(queries)


def test_free_slots_run_in_a_constant_number_of_queries(
    clinic, pt, day, django_assert_max_num_queries
):
    RoomFactory(clinic=clinic, kind=Room.Kind.GYM)
    small = _count_queries(
        clinic=clinic,
        first_day=day,
        last_day=day,
        duration=dt.timedelta(minutes=45),
        room_kind=Room.Kind.GYM,
    )
    assert small <= 7
    for _ in range(4):
        therapist = working_every_day(clinic)
        TimeOffFactory(
            therapist=therapist, starts_at=local(clinic, day, 9), ends_at=local(clinic, day, 10)
        )
    for offset in range(14):
        VisitFactory(
            clinic=clinic,
            therapist=pt,
            starts_at=local(clinic, day + dt.timedelta(days=offset), 11),
            ends_at=local(clinic, day + dt.timedelta(days=offset), 12),
        )
    ClosureFactory(
        clinic=clinic, starts_on=day + dt.timedelta(days=3), ends_on=day + dt.timedelta(days=4)
    )
    with django_assert_max_num_queries(small):
        slots = free_slots(
            clinic=clinic,
            first_day=day,
            last_day=day + dt.timedelta(days=13),
            duration=dt.timedelta(minutes=45),
            room_kind=Room.Kind.GYM,
            limit=10_000,
        )
    assert len({s.therapist for s in slots}) == 5
    assert len({s.starts_at.date() for s in slots}) == 12  # two closed days
