"""The calendar API: booking, error bodies (400 naming the field, 409 naming the conflict), list
filters, the visit state machine's endpoints, series, free slots and the day calendar, and that
the day calendar and the list answer in a constant number of queries."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from clinic.capabilities import Role
from clinic.models import Clinic, Room
from patients.models import Visit, VisitSeries
from patients.scheduling import localize
from tests.factories import (
    ClosureFactory,
    MembershipFactory,
    PatientFactory,
    RoomFactory,
    TimeOffFactory,
    UserFactory,
    VisitFactory,
    next_dst_change,
    open_every_day,
    working_every_day,
)

pytestmark = pytest.mark.django_db

S = Visit.Status


def base(clinic: Clinic) -> str:
    return f"/api/v1/clinics/{clinic.public_id}"


def visits_url(clinic: Clinic, visit: Visit | None = None, action: str = "") -> str:
    url = f"{base(clinic)}/visits/"
    if visit is not None:
        url += f"{visit.public_id}/"
    return url + (f"{action}/" if action else "")


def local(clinic: Clinic, day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return localize(dt.datetime.combine(day, dt.time(hour, minute)), clinic.tz).astimezone(dt.UTC)


def assert_field_error(response, status: int, field: str, text: str = "") -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert list(body["errors"]) == [field], body
    if text:
        assert text in " ".join(body["errors"][field]), body
    return body


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
def room(clinic):
    return RoomFactory(clinic=clinic, name="Treatment 1")


@pytest.fixture
def desk(client_for, receptionist):
    return client_for(receptionist)


@pytest.fixture
def booking(pt, patient, day):
    """The body of a booking at 10:00 local for 45 minutes (naive: the clinic's wall clock)."""
    return {
        "patient": str(patient.public_id),
        "therapist": str(pt.public_id),
        "starts_at": f"{day.isoformat()}T10:00",
        "duration_minutes": 45,
    }


# --- Booking --------------------------------------------------------------------------------------


def test_book_with_a_naive_local_time_answers_in_local_time_with_offset(
    desk, clinic, booking, day, patient, pt, room, receptionist
):
    response = desk.post(
        visits_url(clinic), {**booking, "room": str(room.public_id), "kind": "initial_evaluation"}
    )

    assert response.status_code == 201, response.content
    body = response.json()
    expected_start = local(clinic, day, 10).astimezone(clinic.tz)
    assert body["starts_at"] == expected_start.isoformat()
    assert body["starts_at"].endswith(("-05:00", "-04:00"))
    assert body["ends_at"] == (expected_start + dt.timedelta(minutes=45)).isoformat()
    assert body["patient"] == {
        "id": str(patient.public_id),
        "mrn": patient.mrn,
        "name": patient.full_name,
    }
    assert body["therapist"]["id"] == str(pt.public_id)
    assert body["room"] == {"id": str(room.public_id), "name": "Treatment 1", "kind": "treatment"}
    assert body["kind"] == "initial_evaluation"
    assert body["status"] == "booked"
    assert body["series"] is None
    assert set(body["allowed_actions"]) == {
        "check_in",
        "complete",
        "cancel",
        "no_show",
        "reschedule",
    }
    visit = Visit.objects.get(public_id=body["id"])
    assert visit.starts_at == local(clinic, day, 10)
    assert visit.booked_by == receptionist


def test_book_with_an_offset_is_that_instant(desk, clinic, booking, day):
    instant = local(clinic, day, 11)
    response = desk.post(
        visits_url(clinic),
        {
            **booking,
            "starts_at": instant.isoformat(),
            "ends_at": (instant + dt.timedelta(hours=1)).isoformat(),
        },
    )
    assert response.status_code == 201, response.content
    visit = Visit.objects.get()
    assert (visit.starts_at, visit.ends_at) == (instant, instant + dt.timedelta(hours=1))
    assert response.json()["starts_at"] == instant.astimezone(clinic.tz).isoformat()


@pytest.mark.parametrize(
    ("forward", "at", "words"),
    [
        (True, "02:30", "does not exist in America/New_York: the clocks go forward"),
        (False, "01:30", "happens twice in America/New_York: the clocks go back"),
    ],
    ids=["spring-gap", "autumn-overlap"],
)
def test_book_naive_time_on_a_dst_change_is_400_naming_starts_at(
    desk, clinic, booking, forward, at, words
):
    change = next_dst_change(
        clinic.timezone, forward=forward, after=timezone.localdate(None, clinic.tz)
    )
    response = desk.post(visits_url(clinic), {**booking, "starts_at": f"{change}T{at}"})
    body = assert_field_error(response, 400, "starts_at", words)
    assert body["detail"].startswith("starts_at: ")
    assert not Visit.objects.exists()


@pytest.mark.parametrize("value", ["2026-13-45T10:00", "tomorrow at ten", "", 12])
def test_book_with_a_malformed_start_is_400_naming_starts_at(desk, clinic, booking, value):
    response = desk.post(visits_url(clinic), {**booking, "starts_at": value}, format="json")
    assert_field_error(response, 400, "starts_at")


def test_book_without_an_end_or_duration_is_400_naming_ends_at(desk, clinic, booking):
    body = {k: v for k, v in booking.items() if k != "duration_minutes"}
    assert_field_error(desk.post(visits_url(clinic), body), 400, "ends_at", "duration_minutes")


def test_book_conflict_is_409_naming_the_visit_in_the_way(desk, clinic, booking, day, pt, room):
    first = desk.post(visits_url(clinic), {**booking, "room": str(room.public_id)})
    assert first.status_code == 201
    other_patient = PatientFactory(clinic=clinic)

    response = desk.post(
        visits_url(clinic),
        {**booking, "patient": str(other_patient.public_id), "starts_at": f"{day}T10:30"},
    )

    assert response.status_code == 409, response.content
    body = response.json()
    assert body["code"] == "double_booking"
    assert {"detail", "code", "conflicts"} <= set(body)
    (conflict,) = body["conflicts"]
    assert conflict["visit"] == first.json()["id"]
    assert conflict["starts_at"] == first.json()["starts_at"]
    assert conflict["ends_at"] == first.json()["ends_at"]
    assert conflict["blocks"] == ["therapist"]
    assert "10:00 to 10:45" in body["detail"]
    assert body["errors"] == {"starts_at": [body["detail"]]}
    assert Visit.objects.count() == 1


def test_book_back_to_back_is_201(desk, clinic, booking, day):
    assert desk.post(visits_url(clinic), booking).status_code == 201
    other = PatientFactory(clinic=clinic)
    response = desk.post(
        visits_url(clinic),
        {**booking, "patient": str(other.public_id), "starts_at": f"{day}T10:45"},
    )
    assert response.status_code == 201, response.content


@pytest.mark.parametrize(
    ("setup", "status", "code"),
    [
        ("after_hours", 400, "outside_opening_hours"),
        ("closed", 400, "clinic_closed"),
        ("away", 409, "therapist_time_off"),
    ],
)
def test_book_refused_with_the_reason(desk, clinic, booking, day, pt, setup, status, code):
    if setup == "after_hours":
        booking = {**booking, "starts_at": f"{day}T18:00"}
    elif setup == "closed":
        ClosureFactory(clinic=clinic, starts_on=day, ends_on=day)
    else:
        TimeOffFactory(
            therapist=pt, starts_at=local(clinic, day, 8), ends_at=local(clinic, day, 12)
        )
    response = desk.post(visits_url(clinic), booking)
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code
    assert list(body["errors"]) == ["starts_at"]
    assert not Visit.objects.exists()


@pytest.mark.parametrize("field", ["patient", "therapist", "room"])
def test_book_with_another_clinics_party_is_400_naming_it_and_writes_nothing(
    desk, clinic, other_clinic, booking, field
):
    theirs = {
        "patient": lambda: PatientFactory(clinic=other_clinic),
        "therapist": lambda: working_every_day(other_clinic),
        "room": lambda: RoomFactory(clinic=other_clinic),
    }[field]()
    response = desk.post(visits_url(clinic), {**booking, field: str(theirs.public_id)})
    assert_field_error(response, 400, field, "in this clinic")
    response = desk.post(visits_url(clinic), {**booking, field: str(uuid.uuid4())})
    assert_field_error(response, 400, field)
    assert not Visit.objects.exists()


def test_book_with_a_receptionist_as_therapist_is_400(desk, clinic, booking, receptionist):
    response = desk.post(visits_url(clinic), {**booking, "therapist": str(receptionist.public_id)})
    assert_field_error(response, 400, "therapist")


def test_book_with_someone_who_is_a_therapist_only_elsewhere_is_400(
    desk, clinic, other_clinic, booking
):
    front_desk_here = UserFactory(clinic=clinic, role=Role.RECEPTIONIST)
    working_every_day(other_clinic, front_desk_here)
    MembershipFactory(user=front_desk_here, clinic=other_clinic, role=Role.THERAPIST)
    response = desk.post(
        visits_url(clinic), {**booking, "therapist": str(front_desk_here.public_id)}
    )
    assert_field_error(response, 400, "therapist")
    assert not Visit.objects.exists()


@pytest.mark.parametrize("role", [Role.RECEPTIONIST, Role.THERAPIST, Role.CLINIC_ADMIN])
def test_every_clinic_role_may_book(client_for, clinic, booking, role):
    user = UserFactory(clinic=clinic, role=role)
    assert client_for(user).post(visits_url(clinic), booking).status_code == 201


def test_a_member_of_another_clinic_gets_404_and_books_nothing(
    client_for, outsider, clinic, booking
):
    response = client_for(outsider).post(visits_url(clinic), booking)
    assert response.status_code == 404
    assert not Visit.objects.exists()


def test_anonymous_booking_is_401(api_client, clinic, booking):
    assert api_client.post(visits_url(clinic), booking).status_code == 401


# --- List and detail ------------------------------------------------------------------------------


@pytest.fixture
def week(clinic, pt, patient, day):
    """Visits on three days, with two therapists, two patients and several statuses."""
    other_pt = working_every_day(clinic)
    other_patient = PatientFactory(clinic=clinic)

    def at(offset: int, hour: int, **kw) -> Visit:
        d = day + dt.timedelta(days=offset)
        return VisitFactory(
            clinic=clinic,
            starts_at=local(clinic, d, hour),
            ends_at=local(clinic, d, hour, 45),
            **kw,
        )

    return {
        "a": at(0, 9, therapist=pt, patient=patient),
        "b": at(0, 23, therapist=other_pt, patient=other_patient, status=S.CANCELLED),
        "c": at(1, 9, therapist=pt, patient=other_patient, status=S.CHECKED_IN),
        "d": at(2, 0, therapist=other_pt, patient=patient, status=S.NO_SHOW),
        "theirs": VisitFactory(starts_at=local(clinic, day, 9)),  # another clinic's
        "other_pt": other_pt,
        "other_patient": other_patient,
    }


def listed(client, clinic, **params) -> list[str]:
    response = client.get(visits_url(clinic), params)
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}
    return [row["id"] for row in body["results"]]


def ids(*items: Visit) -> list[str]:
    return [str(v.public_id) for v in items]


def test_list_filters(desk, clinic, week, day, pt, patient):
    a, b, c, d = week["a"], week["b"], week["c"], week["d"]
    assert listed(desk, clinic) == ids(a, b, c, d)  # never another clinic's visit
    assert listed(desk, clinic, day=day.isoformat()) == ids(a, b)  # 23:00 local is still that day
    assert listed(desk, clinic, day=(day + dt.timedelta(days=2)).isoformat()) == ids(d)
    assert listed(
        desk,
        clinic,
        date_from=(day + dt.timedelta(days=1)).isoformat(),
        date_to=(day + dt.timedelta(days=2)).isoformat(),
    ) == ids(c, d)
    assert listed(desk, clinic, date_to=day.isoformat()) == ids(a, b)
    assert listed(desk, clinic, therapist=str(pt.public_id)) == ids(a, c)
    assert listed(desk, clinic, patient=str(patient.public_id)) == ids(a, d)
    assert listed(desk, clinic, status="booked") == ids(a)
    assert desk.get(visits_url(clinic), {"status": ["cancelled", "no_show"]}).json()["count"] == 2
    assert listed(desk, clinic, status=["cancelled", "no_show"]) == ids(b, d)
    assert listed(desk, clinic, therapist=str(pt.public_id), status="checked_in") == ids(c)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "lost"}, "status"),
        ({"day": "yesterday"}, "day"),
        ({"therapist": "42"}, "therapist"),
        ({"date_from": "2026-02-30"}, "date_from"),
    ],
)
def test_list_with_a_bad_filter_is_400_naming_it(desk, clinic, params, field):
    assert_field_error(desk.get(visits_url(clinic), params), 400, field)


def test_list_answers_in_a_constant_number_of_queries(desk, clinic, pt, day):
    VisitFactory(clinic=clinic, therapist=pt, starts_at=local(clinic, day, 9))
    with CaptureQueriesContext(connection) as few:
        assert desk.get(visits_url(clinic)).status_code == 200
    for hour in range(10, 17):
        VisitFactory(
            clinic=clinic,
            therapist=pt,
            room=RoomFactory(clinic=clinic),
            starts_at=local(clinic, day, hour),
            ends_at=local(clinic, day, hour, 30),
        )
    with CaptureQueriesContext(connection) as many:
        assert desk.get(visits_url(clinic)).json()["count"] == 8
    assert len(many) == len(few)


def test_detail_and_404s(desk, clinic, other_clinic, day, pt):
    visit = VisitFactory(clinic=clinic, therapist=pt, starts_at=local(clinic, day, 9))
    theirs = VisitFactory(clinic=other_clinic)
    response = desk.get(visits_url(clinic, visit))
    assert response.status_code == 200
    assert response.json()["id"] == str(visit.public_id)
    assert response.json()["starts_at"] == local(clinic, day, 9).astimezone(clinic.tz).isoformat()
    assert desk.get(visits_url(clinic, theirs)).status_code == 404
    assert desk.get(f"{visits_url(clinic)}not-a-uuid/").status_code == 404
    for action in ("check-in", "complete", "cancel", "no-show", "reschedule"):
        assert desk.post(visits_url(clinic, theirs, action), {}).status_code == 404, action


# --- Transitions ----------------------------------------------------------------------------------


def just_started(clinic: Clinic, **kw) -> Visit:
    now = timezone.now().replace(microsecond=0)
    midnight = local(clinic, timezone.localdate(now, clinic.tz), 0)
    starts_at = max(now - dt.timedelta(minutes=10), midnight)
    return VisitFactory(
        clinic=clinic, starts_at=starts_at, ends_at=starts_at + dt.timedelta(minutes=45), **kw
    )


@pytest.mark.parametrize(
    ("action", "status", "result"),
    [
        ("check-in", S.BOOKED, S.CHECKED_IN),
        ("complete", S.CHECKED_IN, S.COMPLETED),
        ("complete", S.BOOKED, S.COMPLETED),
        ("no-show", S.BOOKED, S.NO_SHOW),
        ("cancel", S.CHECKED_IN, S.LATE_CANCELLED),
    ],
)
def test_transition_endpoints(desk, clinic, action, status, result, receptionist):
    visit = just_started(clinic, status=status)
    response = desk.post(visits_url(clinic, visit, action))
    assert response.status_code == 200, response.content
    assert response.json()["status"] == result
    visit.refresh_from_db()
    assert visit.status == result
    assert visit.history.first().history_user == receptionist


def test_cancel_endpoint_keeps_the_reason_and_is_late_only_inside_the_window(desk, clinic):
    soon = VisitFactory(clinic=clinic, starts_at=timezone.now() + dt.timedelta(hours=3))
    later = VisitFactory(clinic=clinic, starts_at=timezone.now() + dt.timedelta(days=5))
    response = desk.post(visits_url(clinic, soon, "cancel"), {"reason": "Flu"})
    assert response.json()["status"] == "late_cancelled"
    assert response.json()["cancel_reason"] == "Flu"
    assert desk.post(visits_url(clinic, later, "cancel")).json()["status"] == "cancelled"
    assert response.json()["allowed_actions"] == []
    response = desk.post(visits_url(clinic, later, "cancel"), {"reason": "x" * 301})
    assert response.status_code == 400


def test_illegal_transition_is_409_listing_the_allowed_actions(desk, clinic):
    visit = just_started(clinic, status=S.CHECKED_IN)
    response = desk.post(visits_url(clinic, visit, "no-show"))
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "illegal_transition"
    assert body["status"] == "checked_in"
    assert body["allowed"] == ["complete", "cancel"]
    assert "Allowed now: complete, cancel." in body["detail"]
    done = just_started(clinic, status=S.COMPLETED)
    body = desk.post(visits_url(clinic, done, "cancel")).json()
    assert body["allowed"] == []
    assert "No change is allowed." in body["detail"]


def test_no_show_before_the_start_is_409(desk, clinic):
    visit = VisitFactory(clinic=clinic, starts_at=timezone.now() + dt.timedelta(hours=2))
    response = desk.post(visits_url(clinic, visit, "no-show"))
    assert response.status_code == 409
    assert response.json()["code"] == "not_started"


def test_reschedule_endpoint_moves_keeps_duration_and_history(
    desk, clinic, booking, day, room, receptionist
):
    created = desk.post(visits_url(clinic), booking).json()
    visit = Visit.objects.get(public_id=created["id"])

    response = desk.post(
        visits_url(clinic, visit, "reschedule"),
        {"starts_at": f"{day + dt.timedelta(days=1)}T15:00", "room": str(room.public_id)},
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"] == created["id"]
    new_start = local(clinic, day + dt.timedelta(days=1), 15)
    assert body["starts_at"] == new_start.astimezone(clinic.tz).isoformat()
    assert (
        body["ends_at"] == (new_start + dt.timedelta(minutes=45)).astimezone(clinic.tz).isoformat()
    )
    assert body["room"]["id"] == str(room.public_id)
    assert [h.starts_at for h in visit.history.order_by("history_date")] == [
        local(clinic, day, 10),
        new_start,
    ]


def test_reschedule_endpoint_refuses_a_conflict_with_409(desk, clinic, booking, day):
    first = Visit.objects.get(public_id=desk.post(visits_url(clinic), booking).json()["id"])
    other = PatientFactory(clinic=clinic)
    second = desk.post(
        visits_url(clinic),
        {**booking, "patient": str(other.public_id), "starts_at": f"{day}T12:00"},
    ).json()
    response = desk.post(visits_url(clinic, first, "reschedule"), {"starts_at": f"{day}T11:30"})
    assert response.status_code == 409
    assert response.json()["conflicts"][0]["visit"] == second["id"]
    first.refresh_from_db()
    assert first.starts_at == local(clinic, day, 10)


def test_reschedule_endpoint_with_another_clinics_therapist_is_400(
    desk, clinic, other_clinic, booking, day
):
    visit = Visit.objects.get(public_id=desk.post(visits_url(clinic), booking).json()["id"])
    theirs = working_every_day(other_clinic)
    response = desk.post(
        visits_url(clinic, visit, "reschedule"),
        {"starts_at": f"{day}T11:00", "therapist": str(theirs.public_id)},
    )
    assert_field_error(response, 400, "therapist")


# --- Series ---------------------------------------------------------------------------------------


@pytest.fixture
def series_body(clinic, pt, patient):
    today = timezone.localdate(None, clinic.tz)
    first_day = today + dt.timedelta(days=7 - today.weekday() + 7)  # a Monday 8-14 days ahead
    return {
        "patient": str(patient.public_id),
        "therapist": str(pt.public_id),
        "weekdays": [0, 3],
        "local_time": "10:00",
        "duration_minutes": 45,
        "first_day": first_day.isoformat(),
        "occurrences": 12,
    }


def test_series_preview_lists_occurrences_and_a_conflict_with_its_alternative(
    desk, clinic, series_body, pt
):
    first_day = dt.date.fromisoformat(series_body["first_day"])
    VisitFactory(
        clinic=clinic,
        therapist=pt,
        starts_at=local(clinic, first_day + dt.timedelta(days=3), 10),
        ends_at=local(clinic, first_day + dt.timedelta(days=3), 10, 30),
    )

    response = desk.post(f"{base(clinic)}/series/preview/", series_body, format="json")

    assert response.status_code == 200, response.content
    rows = response.json()
    assert [r["index"] for r in rows] == list(range(12))
    assert [r["bookable"] for r in rows].count(False) == 1
    blocked = rows[1]
    assert blocked["day"] == (first_day + dt.timedelta(days=3)).isoformat()
    assert blocked["bookable"] is False
    assert blocked["code"] == "double_booking"
    assert blocked["problem"]
    alternative = blocked["alternative"]
    assert (
        alternative["starts_at"]
        == local(clinic, first_day + dt.timedelta(days=3), 10, 30).astimezone(clinic.tz).isoformat()
    )
    assert alternative["therapist"]["id"] == str(pt.public_id)
    assert rows[0]["starts_at"].startswith(f"{first_day}T10:00:00")
    assert rows[0]["alternative"] is None
    assert not Visit.objects.filter(series__isnull=False).exists()


def test_series_book_with_accept_then_a_conflicting_accept_is_409(desk, clinic, series_body, pt):
    first_day = dt.date.fromisoformat(series_body["first_day"])
    VisitFactory(
        clinic=clinic,
        therapist=pt,
        starts_at=local(clinic, first_day + dt.timedelta(days=3), 10),
        ends_at=local(clinic, first_day + dt.timedelta(days=3), 10, 30),
    )
    refused = desk.post(
        f"{base(clinic)}/series/", {**series_body, "accept": [0, 1, 2]}, format="json"
    )
    assert refused.status_code == 409
    assert refused.json()["code"] == "series_conflict"
    assert refused.json()["occurrences"] == [1]
    assert not VisitSeries.objects.exists()

    response = desk.post(
        f"{base(clinic)}/series/", {**series_body, "accept": [0, 2, 3, 4]}, format="json"
    )

    assert response.status_code == 201, response.content
    body = response.json()
    series = VisitSeries.objects.get(public_id=body["series"])
    assert len(body["visits"]) == 4
    assert {v["series"] for v in body["visits"]} == {body["series"]}
    assert all("T10:00:00" in v["starts_at"] for v in body["visits"])
    assert series.visits.count() == 4


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"weekdays": []}, "weekdays"),
        ({"weekdays": [8]}, "weekdays"),
        ({"occurrences": 61}, "occurrences"),
        ({"local_time": "25:00"}, "local_time"),
        ({"first_day": "2020-01-06"}, "first_day"),
    ],
)
def test_series_bad_input_is_400_naming_the_field(desk, clinic, series_body, changes, field):
    response = desk.post(f"{base(clinic)}/series/", {**series_body, **changes}, format="json")
    assert_field_error(response, 400, field)
    assert not VisitSeries.objects.exists()


def test_series_with_another_clinics_patient_is_400(desk, clinic, other_clinic, series_body):
    theirs = PatientFactory(clinic=other_clinic)
    for url in (f"{base(clinic)}/series/preview/", f"{base(clinic)}/series/"):
        response = desk.post(url, {**series_body, "patient": str(theirs.public_id)}, format="json")
        assert_field_error(response, 400, "patient")


# --- Free slots -----------------------------------------------------------------------------------


def test_slots_endpoint_lists_local_times_with_offsets(desk, clinic, pt, day):
    RoomFactory(clinic=clinic, kind=Room.Kind.GYM)
    response = desk.get(
        f"{base(clinic)}/slots/",
        {
            "date_from": day.isoformat(),
            "duration_minutes": 60,
            "therapist": str(pt.public_id),
            "room_kind": "gym",
            "page_size": 200,
        },
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == 37
    first = body["results"][0]
    assert first["starts_at"] == local(clinic, day, 8).astimezone(clinic.tz).isoformat()
    assert first["ends_at"] == local(clinic, day, 9).astimezone(clinic.tz).isoformat()
    assert first["therapist"]["id"] == str(pt.public_id)
    assert first["room"]["kind"] == "gym"
    pool = desk.get(f"{base(clinic)}/slots/", {"date_from": day.isoformat(), "room_kind": "pool"})
    assert pool.json()["count"] == 0


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"date_from": "2027-03-10", "date_to": "2027-03-09"}, "date_to"),
        ({"date_from": "2027-03-01", "date_to": "2027-04-01"}, "date_to"),  # 32 days
        ({"date_from": "2027-02-30"}, "date_from"),
        ({"duration_minutes": 4}, "duration_minutes"),
        ({"duration_minutes": 241}, "duration_minutes"),
        ({"room_kind": "sauna"}, "room_kind"),
        ({"therapist": "not-a-uuid"}, "therapist"),
        ({"therapist": str(uuid.UUID(int=7))}, "therapist"),
    ],
)
def test_slots_endpoint_validation_is_400_naming_the_field(desk, clinic, params, field):
    assert_field_error(desk.get(f"{base(clinic)}/slots/", params), 400, field)


def test_slots_for_someone_who_is_a_therapist_only_elsewhere_is_400(desk, clinic, other_clinic):
    front_desk_here = UserFactory(clinic=clinic, role=Role.RECEPTIONIST)
    MembershipFactory(user=front_desk_here, clinic=other_clinic, role=Role.THERAPIST)
    response = desk.get(f"{base(clinic)}/slots/", {"therapist": str(front_desk_here.public_id)})
    assert_field_error(response, 400, "therapist", "No therapist with this id in this clinic.")


def test_slots_endpoint_allows_exactly_31_days(desk, clinic, pt):
    today = timezone.localdate(None, clinic.tz)
    response = desk.get(
        f"{base(clinic)}/slots/",
        {"date_from": today.isoformat(), "date_to": (today + dt.timedelta(days=30)).isoformat()},
    )
    assert response.status_code == 200, response.content


# --- The day calendar -----------------------------------------------------------------------------


def test_day_calendar_lists_therapists_rooms_and_visits(desk, clinic, pt, day, room):
    part_timer = working_every_day(clinic, starts=dt.time(13), ends=dt.time(17))
    visit = VisitFactory(
        clinic=clinic,
        therapist=pt,
        room=room,
        starts_at=local(clinic, day, 9),
        ends_at=local(clinic, day, 10),
    )
    VisitFactory(
        clinic=clinic, therapist=pt, starts_at=local(clinic, day + dt.timedelta(days=1), 9)
    )

    response = desk.get(f"{base(clinic)}/calendar/", {"date": day.isoformat()})

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["date"] == day.isoformat()
    assert body["timezone"] == "America/New_York"
    assert body["closed"] is False
    assert body["opening_hours"] == [{"opens": "08:00", "closes": "18:00"}]
    hours = {t["id"]: t["working_hours"] for t in body["therapists"]}
    assert hours[str(pt.public_id)] == [{"starts": "08:00", "ends": "18:00"}]
    assert hours[str(part_timer.public_id)] == [{"starts": "13:00", "ends": "17:00"}]
    assert [r["id"] for r in body["rooms"]] == [str(room.public_id)]
    assert [v["id"] for v in body["visits"]] == [str(visit.public_id)]
    assert body["starts_at"] == local(clinic, day, 0).astimezone(clinic.tz).isoformat()


def test_day_calendar_on_a_closure_says_closed(desk, clinic, day):
    ClosureFactory(clinic=clinic, starts_on=day, ends_on=day)
    assert desk.get(f"{base(clinic)}/calendar/", {"date": day.isoformat()}).json()["closed"] is True


def test_day_calendar_on_the_spring_change_is_23_hours(desk, clinic):
    change = next_dst_change(
        clinic.timezone, forward=True, after=timezone.localdate(None, clinic.tz)
    )
    body = desk.get(f"{base(clinic)}/calendar/", {"date": change.isoformat()}).json()
    starts = dt.datetime.fromisoformat(body["starts_at"])
    ends = dt.datetime.fromisoformat(body["ends_at"])
    assert ends - starts == dt.timedelta(hours=23)


def _fill_day(clinic: Clinic, day: dt.date, pt, count: int) -> None:
    """`count` visits on `day` (some with rooms, some of a series) of fresh therapists."""
    series = None
    for n in range(count):
        therapist = working_every_day(clinic) if n % 3 == 0 else pt
        hour, minute = divmod(n * 20, 60)
        if n % 2 == 0:
            series = series or VisitSeries.objects.create(
                clinic=clinic,
                patient=PatientFactory(clinic=clinic),
                therapist=pt,
                weekdays=[day.weekday()],
                local_time=dt.time(8),
                duration_minutes=20,
                first_day=day,
                occurrences=1,
            )
        VisitFactory(
            clinic=clinic,
            therapist=therapist,
            room=RoomFactory(clinic=clinic) if n % 2 else None,
            series=series if n % 2 == 0 else None,
            starts_at=local(clinic, day, 6 + hour, minute),
            ends_at=local(clinic, day, 6 + hour, minute) + dt.timedelta(minutes=20),
            status=S.CANCELLED if n % 5 == 0 else S.BOOKED,
        )


def test_day_calendar_answers_in_a_constant_number_of_queries(desk, clinic, pt, day):
    _fill_day(clinic, day, pt, 3)
    with CaptureQueriesContext(connection) as few:
        body = desk.get(f"{base(clinic)}/calendar/", {"date": day.isoformat()}).json()
    assert len(body["visits"]) == 3
    _fill_day(clinic, day + dt.timedelta(days=1), pt, 30)
    with CaptureQueriesContext(connection) as many:
        body = desk.get(
            f"{base(clinic)}/calendar/", {"date": (day + dt.timedelta(days=1)).isoformat()}
        ).json()
    assert len(body["visits"]) == 30
    assert len(body["therapists"]) > 3
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]
