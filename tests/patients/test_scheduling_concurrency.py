"""No double booking under load: 64 bookers fire at one slot through the API at the same moment.

Exactly one gets 201 and 63 get 409, never a 5xx, round after round; afterwards no two occupying
visits of one therapist, one room or one patient overlap in the database. Three variants:

- one therapist, 64 patients: the therapist's row lock (SELECT ... FOR UPDATE) queues them;
- 64 therapists, one room: the room's row lock queues them (FOR NO KEY UPDATE, after each
  booker's own therapist's), and the room's exclusion constraint is the last line of defence;
- 64 therapists, one patient: likewise the patient's row lock and exclusion constraint.

PostgreSQL only: row locks and exclusion constraints are what is under test, and SQLite's test
database lives in memory, which threads cannot share. CI runs the suite on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import Counter
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from clinic.capabilities import Role
from clinic.models import Clinic, User
from patients import visits
from patients.models import Visit
from patients.scheduling import localize
from tests.factories import (
    PatientFactory,
    RoomFactory,
    UserFactory,
    VisitFactory,
    WorkingHoursFactory,
    open_every_day,
    therapist_in,
)

pytestmark = [
    # Many connections at once: one such test at a time across pytest-xdist processes.
    pytest.mark.usefixtures("one_at_a_time"),
    pytest.mark.postgres,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="concurrency of row locks and exclusion constraints: PostgreSQL only (CI runs it)",
    ),
    # A transactional test empties every table when it ends. serialized_rollback loads the rows
    # the migrations shipped (precaution kinds, catalogues) back at the start of each test here,
    # in case an earlier transactional test emptied them (Django's TransactionTestCase rules);
    # pytest-django runs transactional tests after all the others.
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

BOOKERS = 64
ROUNDS = 20
# The therapist variant runs the full 20 rounds; the two others, whose 64 bookers each lock a
# therapist of their own before the shared room or patient, run fewer to keep the file around
# half a minute on a two-core machine.
ROUNDS_OF_MANY_THERAPISTS = 4
SLOT_MINUTES = 30
OCCUPYING = "('booked', 'checked_in', 'completed')"


@pytest.fixture(autouse=True)
def _enough_connections() -> None:
    """One connection per booker must fit under max_connections (100 by default). On a shared
    server, wait a while for other clients to finish rather than fail on their account."""
    deadline = time.monotonic() + 180
    while True:
        with connection.cursor() as cursor:
            cursor.execute("SHOW max_connections")
            (limit,) = cursor.fetchone()
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'"
            )
            (used,) = cursor.fetchone()
        free = int(limit) - used
        if free >= BOOKERS + 2 or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert free >= BOOKERS + 2, f"max_connections={limit} with {used} in use: no room for {BOOKERS}"


def slot_start(clinic: Clinic, day: dt.date, round_no: int) -> str:
    """Each round books a new slot: 08:00, 08:30, ... local (naive: the clinic's wall clock)."""
    minutes = 8 * 60 + round_no * SLOT_MINUTES
    return f"{day.isoformat()}T{minutes // 60:02d}:{minutes % 60:02d}"


def fire(clinic: Clinic, user: User, bodies: list[list[dict[str, Any]]]) -> list[list[Any]]:
    """`bodies[round][booker]`: every booker POSTs its body of each round at the same moment
    (a barrier per round). Returns (status, json) per round and booker."""
    url = f"/api/v1/clinics/{clinic.public_id}/visits/"
    rounds = len(bodies)
    results: list[list[Any]] = [[None] * BOOKERS for _ in range(rounds)]
    failures: list[BaseException] = []
    barrier = threading.Barrier(BOOKERS)

    def booker(index: int) -> None:
        client = APIClient()
        client.force_authenticate(user=user)
        try:
            for round_no in range(rounds):
                barrier.wait(timeout=120)
                response = client.post(url, bodies[round_no][index], format="json")
                body = response.json() if response.status_code < 500 else response.content
                results[round_no][index] = (response.status_code, body)
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)
            barrier.abort()
        finally:
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=booker, args=(i,), daemon=True) for i in range(BOOKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    assert not any(t.is_alive() for t in threads), "a booker hung"
    assert not failures, failures[:3]
    return results


def assert_one_winner_per_round(results: list[list[Any]], blocks: str) -> None:
    for round_no, outcomes in enumerate(results):
        statuses = Counter(status for status, _ in outcomes)
        assert statuses == {201: 1, 409: BOOKERS - 1}, (round_no, statuses)
        (winner,) = [body for status, body in outcomes if status == 201]
        for status, body in outcomes:
            if status != 409:
                continue
            # A lost race is a double booking naming the winner (or, after retries of a
            # deadlock, "busy"): never a 5xx.
            assert body["code"] in {"double_booking", "busy"}, body
            if body["code"] == "double_booking":
                assert body["conflicts"], body
                assert body["conflicts"][0]["visit"] == winner["id"], body
                assert blocks in body["conflicts"][0]["blocks"], body


def overlapping_pairs(column: str) -> int:
    """Pairs of occupying visits sharing `column` whose half-open times overlap."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT count(*) FROM patients_visit a JOIN patients_visit b
              ON a.id < b.id AND a.{column} = b.{column}
             AND a.starts_at < b.ends_at AND b.starts_at < a.ends_at
            WHERE a.status IN {OCCUPYING} AND b.status IN {OCCUPYING}
            """  # noqa: S608 - column names are this module's constants
        )
        (count,) = cursor.fetchone()
    return count


def assert_no_overlaps_in_the_database(expected_visits: int) -> None:
    assert Visit.objects.count() == expected_visits
    for column in ("therapist_id", "room_id", "patient_id"):
        assert overlapping_pairs(column) == 0, column


@pytest.fixture
def day(clinic) -> dt.date:
    return timezone.localdate(None, clinic.tz) + dt.timedelta(days=9)


@pytest.fixture
def desk(clinic) -> User:
    open_every_day(clinic)
    return UserFactory(clinic=clinic, role=Role.RECEPTIONIST)


def therapists_working(clinic: Clinic, day: dt.date, count: int) -> list[User]:
    people = [therapist_in(clinic) for _ in range(count)]
    for person in people:
        WorkingHoursFactory(
            clinic=clinic,
            therapist=person,
            weekday=day.weekday(),
            starts=dt.time(8),
            ends=dt.time(18),
        )
    return people


def test_64_bookers_of_one_therapists_slot_one_wins_each_of_20_rounds(clinic, desk, day):
    rounds = ROUNDS  # 08:00 to 18:00 in half hours
    (therapist,) = therapists_working(clinic, day, 1)
    patients = [PatientFactory(clinic=clinic) for _ in range(BOOKERS)]
    bodies = [
        [
            {
                "patient": str(patient.public_id),
                "therapist": str(therapist.public_id),
                "starts_at": slot_start(clinic, day, round_no),
                "duration_minutes": SLOT_MINUTES,
            }
            for patient in patients
        ]
        for round_no in range(rounds)
    ]

    results = fire(clinic, desk, bodies)

    assert_one_winner_per_round(results, "therapist")
    assert_no_overlaps_in_the_database(rounds)
    assert Visit.objects.filter(therapist=therapist).count() == rounds


def test_64_therapists_booking_one_room_one_wins_each_round(clinic, desk, day):
    rounds = ROUNDS_OF_MANY_THERAPISTS
    therapists = therapists_working(clinic, day, BOOKERS)
    patients = [PatientFactory(clinic=clinic) for _ in range(BOOKERS)]
    room = RoomFactory(clinic=clinic, name="Hydrotherapy pool")
    bodies = [
        [
            {
                "patient": str(patient.public_id),
                "therapist": str(therapist.public_id),
                "room": str(room.public_id),
                "starts_at": slot_start(clinic, day, round_no),
                "duration_minutes": SLOT_MINUTES,
            }
            for therapist, patient in zip(therapists, patients, strict=True)
        ]
        for round_no in range(rounds)
    ]

    results = fire(clinic, desk, bodies)

    assert_one_winner_per_round(results, "room")
    assert_no_overlaps_in_the_database(rounds)
    assert Visit.objects.filter(room=room).count() == rounds


def test_one_patient_booked_with_64_therapists_at_once_gets_one_visit_each_round(clinic, desk, day):
    rounds = ROUNDS_OF_MANY_THERAPISTS
    therapists = therapists_working(clinic, day, BOOKERS)
    patient = PatientFactory(clinic=clinic)
    bodies = [
        [
            {
                "patient": str(patient.public_id),
                "therapist": str(therapist.public_id),
                "starts_at": slot_start(clinic, day, round_no),
                "duration_minutes": SLOT_MINUTES,
            }
            for therapist in therapists
        ]
        for round_no in range(rounds)
    ]

    results = fire(clinic, desk, bodies)

    assert_one_winner_per_round(results, "patient")
    assert_no_overlaps_in_the_database(rounds)
    assert Visit.objects.filter(patient=patient).count() == rounds


@pytest.mark.django_db  # no threads here: the usual rolled-back transaction will do
def test_the_exclusion_constraints_exist():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname FROM pg_constraint WHERE conrelid = 'patients_visit'::regclass "
            "AND contype = 'x'"
        )
        names = {name for (name,) in cursor.fetchall()}
    assert names == {
        "patients_visit_no_therapist_overlap",
        "patients_visit_no_room_overlap",
        "patients_visit_no_patient_overlap",
    }


@pytest.mark.django_db
@pytest.mark.parametrize("shared", ["therapist", "room", "patient"])
def test_the_database_itself_refuses_overlapping_occupying_visits(clinic, shared):
    """The last line of defence, without the service: written straight to the table."""
    start = (timezone.now() + dt.timedelta(days=3)).replace(hour=15, minute=0, second=0)
    hour = dt.timedelta(hours=1)
    first = VisitFactory(
        clinic=clinic, room=RoomFactory(clinic=clinic), starts_at=start, ends_at=start + hour
    )
    same = {shared: getattr(first, shared)}
    half = hour / 2

    with (
        pytest.raises(IntegrityError, match=f"patients_visit_no_{shared}_overlap"),
        transaction.atomic(),
    ):
        VisitFactory(clinic=clinic, starts_at=start + half, ends_at=start + hour + half, **same)

    VisitFactory(clinic=clinic, starts_at=start + hour, ends_at=start + 2 * hour, **same)
    VisitFactory(clinic=clinic, starts_at=start - hour, ends_at=start, **same)
    for status in (Visit.Status.CANCELLED, Visit.Status.LATE_CANCELLED, Visit.Status.NO_SHOW):
        VisitFactory(clinic=clinic, starts_at=start, ends_at=start + hour, status=status, **same)
    assert Visit.objects.count() == 6


def lock_positions(sql: list[str]) -> tuple[int, int, int]:
    """Where the therapist's, the patient's and the room's row locks were taken."""
    therapist = next(i for i, q in enumerate(sql) if "FOR UPDATE" in q and '"clinic_user"' in q)
    patient = next(
        i for i, q in enumerate(sql) if "FOR NO KEY UPDATE" in q and '"patients_patient"' in q
    )
    room = next(i for i, q in enumerate(sql) if "FOR NO KEY UPDATE" in q and '"clinic_room"' in q)
    return therapist, patient, room


def function_statements(name: str) -> list[str]:
    """The statements of an installed PL/pgSQL function, as PostgreSQL stores its source."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT prosrc FROM pg_proc WHERE proname = %s", [name])
        (source,) = cursor.fetchone()
    return [statement.strip() for statement in source.split(";") if statement.strip()]


@pytest.mark.django_db
@pytest.mark.parametrize("one_statement", [True, False], ids=["one statement", "orm"])
def test_booking_locks_the_therapist_row_before_it_checks_and_inserts(
    clinic, desk, day, one_statement, monkeypatch
):
    monkeypatch.setattr(visits, "one_statement_booking", lambda: one_statement)
    (therapist,) = therapists_working(clinic, day, 1)
    patient = PatientFactory(clinic=clinic)
    room = RoomFactory(clinic=clinic)
    starts_at = localize(dt.datetime.combine(day, dt.time(10)), clinic.tz)
    with CaptureQueriesContext(connection) as queries:
        visits.visit_book(
            clinic=clinic,
            patient=patient,
            therapist=therapist,
            room=room,
            starts_at=starts_at,
            ends_at=starts_at + dt.timedelta(minutes=30),
            by=desk,
        )
    sql = [q["sql"] for q in queries.captured_queries]
    if one_statement:  # one call of the booking function (booking_sql): its own statements
        (call,) = [q for q in sql if q.startswith("SELECT patients_visit_book_")]
        sql = function_statements(call.removeprefix("SELECT ").split("(", 1)[0])
    # the therapist's, the patient's and the room's, in that order (every booker: no cycle)
    lock, patient_lock, room_lock = lock_positions(sql)
    assert lock < patient_lock < room_lock
    if one_statement:  # the overlap test and the INSERT are one statement, after the lock
        overlap_check = insert = next(
            i for i, q in enumerate(sql) if 'NOT EXISTS (SELECT 1 FROM "patients_visit"' in q
        )
        assert 'INSERT INTO "patients_visit"' in sql[insert]
    else:
        overlap_check = next(
            i for i, q in enumerate(sql) if q.startswith('SELECT "patients_visit"."id"')
        )
        insert = next(i for i, q in enumerate(sql) if q.startswith('INSERT INTO "patients_visit"'))
    assert room_lock < overlap_check <= insert


@pytest.mark.django_db
def test_rescheduling_and_series_take_the_same_locks_in_the_same_order(clinic, desk, day):
    """Every way of occupying a room or a patient's time takes therapist, patient, room, in
    that order, so no two of them wait on each other in a cycle."""
    (therapist,) = therapists_working(clinic, day, 1)
    patient = PatientFactory(clinic=clinic)
    room = RoomFactory(clinic=clinic)
    starts_at = localize(dt.datetime.combine(day, dt.time(10)), clinic.tz)
    visit = VisitFactory(
        clinic=clinic,
        patient=patient,
        therapist=therapist,
        room=room,
        starts_at=starts_at,
        ends_at=starts_at + dt.timedelta(minutes=30),
    )
    with CaptureQueriesContext(connection) as moved:
        visits.visit_reschedule(visit=visit, starts_at=starts_at + dt.timedelta(hours=1), by=desk)
    therapist_at, patient_at, room_at = lock_positions([q["sql"] for q in moved.captured_queries])
    assert therapist_at < patient_at < room_at
    with CaptureQueriesContext(connection) as booked:
        visits.series_book(
            clinic=clinic,
            patient=PatientFactory(clinic=clinic),
            therapist=therapist,
            weekdays=[day.weekday()],
            local_time=dt.time(14),
            duration=dt.timedelta(minutes=30),
            first_day=day,
            occurrences=2,
            by=desk,
            room=room,
        )
    therapist_at, patient_at, room_at = lock_positions([q["sql"] for q in booked.captured_queries])
    assert therapist_at < patient_at < room_at
