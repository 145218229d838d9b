"""The booking's one-statement path (patients/booking_sql.py) against the ORM checks.

On PostgreSQL visit_book locks the therapist, then checks and inserts in one statement; the
ORM checks run only when that statement finds something in the way, to say what. Each case
here books the same request both ways (`one_statement_booking` on and off) and expects the
same answer: the same visit and history row when it is free, the same error, code and field
when it is not. PostgreSQL only: elsewhere there is only the ORM path.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models.signals import post_migrate
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from clinic.errors import ApplicationError
from clinic.models import Clinic, User
from patients import booking_sql, visits
from patients.models import Visit
from patients.scheduling import localize
from tests.factories import (
    ClosureFactory,
    PatientFactory,
    RoomFactory,
    TimeOffFactory,
    UserFactory,
    VisitFactory,
    open_every_day,
    therapist_in,
    working_every_day,
)

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="the one-statement path is PostgreSQL's"
    ),
    pytest.mark.django_db,
]

PATHS = ["one statement", "orm"]


@pytest.fixture(params=PATHS)
def path(request, monkeypatch) -> str:
    monkeypatch.setattr(visits, "one_statement_booking", lambda: request.param != "orm")
    return request.param


@pytest.fixture
def day(clinic) -> dt.date:
    return timezone.localdate(None, clinic.tz) + dt.timedelta(days=9)


@pytest.fixture
def pt(clinic) -> User:
    open_every_day(clinic, dt.time(8), dt.time(18))
    return working_every_day(clinic, therapist_in(clinic), dt.time(9), dt.time(17))


def at(clinic: Clinic, day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return localize(dt.datetime.combine(day, dt.time(hour, minute)), clinic.tz)


def book(clinic, pt, day, receptionist, *, hour=10, minute=0, minutes=45, **kwargs) -> Visit:
    starts_at = at(clinic, day, hour, minute)
    arguments: dict[str, Any] = {
        "clinic": clinic,
        "patient": kwargs.pop("patient", None) or PatientFactory(clinic=clinic),
        "therapist": pt,
        "starts_at": starts_at,
        "ends_at": starts_at + dt.timedelta(minutes=minutes),
        "by": receptionist,
        **kwargs,
    }
    return visits.visit_book(**arguments)


def refusal(call: Callable[[], object]) -> tuple[str, str, str]:
    """(class, code, field) of what a booking raised."""
    with pytest.raises((ApplicationError, ValidationError)) as info:
        call()
    exc = info.value
    if isinstance(exc, ValidationError):
        return "ValidationError", "", next(iter(exc.message_dict))
    return type(exc).__name__, exc.code, exc.field or ""


def test_a_free_slot_books_the_same_visit_and_history_row_both_ways(clinic, pt, day, receptionist):
    monkey = pytest.MonkeyPatch()
    rows = {}
    try:
        for hour, name in ((10, "one statement"), (12, "orm")):
            monkey.setattr(visits, "one_statement_booking", lambda name=name: name != "orm")
            room = RoomFactory(clinic=clinic)
            visit = book(clinic, pt, day, receptionist, hour=hour, room=room, kind="treatment")
            stored = Visit.objects.values().get(pk=visit.pk)
            history = list(Visit.history.filter(id=visit.pk).values())
            assert stored["public_id"] == visit.public_id
            assert len(history) == 1
            rows[name] = (visit, stored, history[0], room)
    finally:
        monkey.undo()
    fast, orm = rows["one statement"], rows["orm"]
    differ = {"id", "public_id", "created_at", "updated_at", "status_changed_at", "starts_at"}
    differ |= {"ends_at", "patient_id", "room_id"}
    for key in set(fast[1]) - differ:
        assert fast[1][key] == orm[1][key], key
    history_differ = differ | {"history_id", "history_date"}
    for key in set(fast[2]) - history_differ:
        assert fast[2][key] == orm[2][key], key
    visit, stored, history, room = fast
    assert history["history_type"] == "+"
    assert history["history_user_id"] == receptionist.pk
    assert history["room_id"] == room.pk == stored["room_id"]
    assert history["starts_at"] == stored["starts_at"] == visit.starts_at
    assert stored["booked_by_id"] == receptionist.pk
    assert visit.pk == stored["id"]
    assert not visit._state.adding


def test_the_one_statement_path_is_one_call_of_the_booking_function(clinic, pt, day, receptionist):
    patient = PatientFactory(clinic=clinic)
    with CaptureQueriesContext(connection) as queries:
        visit = book(clinic, pt, day, receptionist, patient=patient)
    sql = [q["sql"] for q in queries.captured_queries]
    # inside the test's transaction, a savepoint and its release around the call
    assert len(sql) == 3
    assert sql[0].startswith("SAVEPOINT")
    assert sql[1].startswith("SELECT patients_visit_book_")
    assert sql[2].startswith("RELEASE SAVEPOINT")
    assert Visit.history.filter(id=visit.pk, history_type="+").count() == 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_outside_a_transaction_a_booking_is_one_statement_and_committed(
    clinic, pt, day, receptionist
):
    patient = PatientFactory(clinic=clinic)
    with CaptureQueriesContext(connection) as queries:
        visit = book(clinic, pt, day, receptionist, patient=patient)
    assert len(queries.captured_queries) == 1
    assert not connection.in_atomic_block
    assert Visit.objects.filter(pk=visit.pk, patient=patient).exists()
    assert Visit.history.filter(id=visit.pk).count() == 1


def test_the_function_locks_the_therapist_before_it_checks_and_inserts():
    name, create = booking_sql._definition("default")
    assert name in create
    lock = create.index("FOR UPDATE OF u")
    assert lock < create.index("WITH free AS") < create.index('INSERT INTO "patients_visit"')


def test_without_the_function_a_booking_takes_the_orm_path_and_says_so(
    clinic, pt, day, receptionist, monkeypatch, caplog
):
    """Code deployed without `migrate`: the ORM path books, and the log says to migrate."""
    name, _ = booking_sql._definition("default")
    with connection.cursor() as cursor:
        cursor.execute(f"DROP FUNCTION {name}")  # undone with the test's transaction
    monkeypatch.setattr(booking_sql, "_installed", set())
    monkeypatch.setattr(booking_sql, "_warned", set())
    with CaptureQueriesContext(connection) as queries:
        visit = book(clinic, pt, day, receptionist)
    sql = [q["sql"] for q in queries.captured_queries]
    assert not any(q.startswith("SELECT patients_visit_book_") for q in sql)
    assert any(q.startswith('INSERT INTO "patients_visit"') for q in sql)
    assert Visit.objects.filter(pk=visit.pk).exists()
    assert "manage.py migrate" in caplog.text
    assert name in caplog.text
    book(clinic, pt, day, receptionist, hour=12)
    assert caplog.text.count("manage.py migrate") == 1  # once per database, not per booking


def test_a_function_dropped_after_this_process_saw_it_costs_no_booking(
    clinic, pt, day, receptionist, caplog
):
    """A database restored without the function while this process still counts it as there:
    the failed call is rolled back, the ORM path books, the log says to migrate."""
    name, _ = booking_sql._definition("default")
    assert booking_sql._function_ready("default")
    with connection.cursor() as cursor:
        cursor.execute(f"DROP FUNCTION {name}")  # undone with the test's transaction
    visit = book(clinic, pt, day, receptionist)
    assert Visit.objects.filter(pk=visit.pk).exists()
    assert Visit.history.filter(id=visit.pk).count() == 1
    assert "went missing" in caplog.text
    assert ("default", connection.settings_dict["NAME"]) not in booking_sql._installed
    booking_sql.function_install()  # as migrate would; the next booking uses it again
    with CaptureQueriesContext(connection) as queries:
        book(clinic, pt, day, receptionist, hour=12)
    assert any(q["sql"].startswith(f"SELECT {name}(") for q in queries.captured_queries)


def test_migrate_installs_the_function(monkeypatch):
    """post_migrate (sent by every `migrate`, also the one that made this test database) calls
    the installer for the patients app; the installer creates the function."""
    patients_app = apps.get_app_config("patients")
    receivers, _ = post_migrate._live_receivers(patients_app)
    assert booking_sql.install_after_migrate in receivers
    name, _ = booking_sql._definition("default")
    with connection.cursor() as cursor:
        cursor.execute(f"DROP FUNCTION {name}")  # undone with the test's transaction
    monkeypatch.setattr(booking_sql, "_installed", set())
    booking_sql.install_after_migrate(using="default", app_config=patients_app)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_proc WHERE proname = %s", [name])
        assert cursor.fetchone() == (1,)
    assert ("default", connection.settings_dict["NAME"]) in booking_sql._installed


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("before opening", ("ApplicationError", "outside_opening_hours", "starts_at")),
        ("closed day", ("ApplicationError", "clinic_closed", "starts_at")),
        ("before the shift", ("ApplicationError", "outside_working_hours", "starts_at")),
        ("time off", ("ConflictError", "therapist_time_off", "starts_at")),
        ("therapist busy", ("ConflictError", "double_booking", "starts_at")),
        ("room busy", ("ConflictError", "double_booking", "starts_at")),
        ("patient busy", ("ConflictError", "double_booking", "starts_at")),
        ("not a therapist here", ("ValidationError", "", "therapist")),
    ],
)
def test_each_refusal_is_the_same_both_ways(path, case, expected, clinic, pt, day, receptionist):
    patient = PatientFactory(clinic=clinic)
    room = RoomFactory(clinic=clinic)
    therapist = pt
    start = at(clinic, day, 10)
    if case == "before opening":
        start = at(clinic, day, 7, 30)
    elif case == "closed day":
        ClosureFactory(clinic=clinic, starts_on=day, ends_on=day)
    elif case == "before the shift":
        start = at(clinic, day, 8, 15)
    elif case == "time off":
        TimeOffFactory(therapist=pt, starts_at=at(clinic, day, 10, 30), ends_at=at(clinic, day, 12))
    elif case == "therapist busy":
        VisitFactory(
            clinic=clinic,
            therapist=pt,
            starts_at=at(clinic, day, 9, 30),
            ends_at=at(clinic, day, 10, 15),
        )
    elif case == "room busy":
        other = working_every_day(clinic, therapist_in(clinic))
        VisitFactory(
            clinic=clinic,
            therapist=other,
            room=room,
            starts_at=at(clinic, day, 10, 30),
            ends_at=at(clinic, day, 11),
        )
    elif case == "patient busy":
        other = working_every_day(clinic, therapist_in(clinic))
        VisitFactory(
            clinic=clinic,
            therapist=other,
            patient=patient,
            starts_at=at(clinic, day, 10, 40),
            ends_at=at(clinic, day, 11, 30),
        )
    elif case == "not a therapist here":
        therapist = UserFactory()
    got = refusal(
        lambda: visits.visit_book(
            clinic=clinic,
            patient=patient,
            therapist=therapist,
            room=room,
            starts_at=start,
            ends_at=start + dt.timedelta(minutes=45),
            by=receptionist,
        )
    )
    assert got == expected
    assert not Visit.objects.filter(starts_at=start).exists()


@pytest.mark.parametrize(
    "case", ["back to back", "cancelled visit in the way", "other therapist's room-less visit"]
)
def test_what_does_not_block_books_both_ways(path, case, clinic, pt, day, receptionist):
    patient = PatientFactory(clinic=clinic)
    room = RoomFactory(clinic=clinic)
    if case == "back to back":
        VisitFactory(
            clinic=clinic,
            therapist=pt,
            room=room,
            patient=patient,
            starts_at=at(clinic, day, 9),
            ends_at=at(clinic, day, 10),
        )
    elif case == "cancelled visit in the way":
        VisitFactory(
            clinic=clinic,
            therapist=pt,
            room=room,
            patient=patient,
            starts_at=at(clinic, day, 10),
            ends_at=at(clinic, day, 10, 45),
            status=Visit.Status.CANCELLED,
        )
    else:
        other = working_every_day(clinic, therapist_in(clinic))
        VisitFactory(
            clinic=clinic,
            therapist=other,
            room=None,
            starts_at=at(clinic, day, 10),
            ends_at=at(clinic, day, 10, 45),
        )
    visit = book(clinic, pt, day, receptionist, patient=patient, room=room)
    assert Visit.objects.filter(pk=visit.pk, status=Visit.Status.BOOKED).exists()
    assert Visit.history.filter(id=visit.pk, history_type="+").count() == 1


def test_a_visit_ending_at_midnight_books_both_ways(path, clinic, day, receptionist):
    open_every_day(clinic, dt.time(0), dt.time(23, 59, 59, 999999))
    therapist = working_every_day(clinic, therapist_in(clinic), dt.time(0), dt.time.max)
    visit = book(clinic, therapist, day, receptionist, hour=23, minute=15)
    assert visit.ends_at.astimezone(clinic.tz).time() == dt.time(0)
