"""The front desk's pages through the test client: booking, visit actions, patient search and
the quick new patient, with the services' errors shown inline; constant queries per page."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from patients.models import Patient, Visit
from programs.models import FollowUp
from tests.factories import (
    EpisodeOfCareFactory,
    FollowUpFactory,
    PatientFactory,
    PrecautionFactory,
    RoomFactory,
    VisitFactory,
    therapist_in,
    working_every_day,
)

HTMX = {"HTTP_HX_REQUEST": "true"}


def url(practice, name: str, **kwargs: object) -> str:
    return reverse(name, kwargs={"clinic_id": practice.clinic.public_id, **kwargs})


def booking(practice, **overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "patient": practice.patient.public_id,
        "therapist": practice.therapist.public_id,
        "date": practice.today().isoformat(),
        "time": "15:00",
        "duration": 45,
        "room": practice.room.public_id,
        "kind": "treatment",
    }
    data.update(overrides)
    return data


def test_booking_from_the_panel_books_in_the_active_episode(practice, login):
    client = login(practice.receptionist)
    form = client.get(
        url(practice, "pages:book")
        + f"?therapist={practice.therapist.public_id}&date={practice.today()}&time=15:00",
        **HTMX,
    )
    assert form.status_code == 200
    assert 'value="15:00"' in form.content.decode()
    response = client.post(url(practice, "pages:book"), booking(practice), **HTMX)
    assert response.status_code == 200
    assert response["HX-Trigger"] == "calendar-changed"
    assert "Booked." in response.content.decode()
    visit = Visit.objects.get(starts_at=practice.local(practice.today(), "15:00"))
    assert visit.episode == practice.episode
    assert visit.room == practice.room
    assert visit.booked_by == practice.receptionist
    assert visit.ends_at - visit.starts_at == dt.timedelta(minutes=45)


def test_booking_without_script_redirects_to_the_day(practice, login):
    response = login(practice.receptionist).post(url(practice, "pages:book"), booking(practice))
    assert response.status_code == 302
    assert response["Location"] == url(practice, "pages:frontdesk") + f"?date={practice.today()}"


def test_a_double_booking_is_a_409_naming_what_is_in_the_way(practice, login):
    other = PatientFactory(clinic=practice.clinic)
    taken = VisitFactory(
        clinic=practice.clinic,
        patient=practice.patient,
        therapist=practice.therapist,
        starts_at=practice.local(practice.today(), "14:00"),
        ends_at=practice.local(practice.today(), "14:45"),
    )
    response = login(practice.receptionist).post(
        url(practice, "pages:book"),
        booking(practice, patient=other.public_id, time="14:15", room=""),
        **HTMX,
    )
    body = response.content.decode()
    assert response.status_code == 409
    assert "This time is not free" in body
    assert f"Sarah Kim is booked {practice.today():%Y-%m-%d} 14:00 to 14:45" in body
    assert not Visit.objects.filter(patient=other).exists()
    assert taken.status == "booked"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"time": ""}, "This field is required."),
        ({"patient": ""}, "Choose the patient"),
        ({"date": "2020-01-01"}, "Cannot book a visit in the past."),
        ({"time": "06:00", "date": "tomorrow"}, "outside the clinic"),
        ({"therapist": "4bb0c0a4-3e04-4a5e-9a1e-1f0e0e0e0e0e"}, "Select a valid choice"),
    ],
)
def test_bad_booking_input_is_a_400_naming_the_field(practice, login, overrides, message):
    if overrides.get("date") == "tomorrow":
        overrides = {**overrides, "date": (practice.today() + dt.timedelta(days=1)).isoformat()}
    response = login(practice.receptionist).post(
        url(practice, "pages:book"), booking(practice, **overrides), **HTMX
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    assert Visit.objects.count() == 1


def test_a_patient_of_another_clinic_cannot_be_booked(practice, other_clinic, login):
    stranger = PatientFactory(clinic=other_clinic)
    response = login(practice.receptionist).post(
        url(practice, "pages:book"), booking(practice, patient=stranger.public_id), **HTMX
    )
    assert response.status_code == 400
    assert "No patient with this id in this clinic." in response.content.decode()


def test_check_in_cancel_and_no_show(practice, login):
    client = login(practice.receptionist)
    visit = practice.visit_now
    shown = client.get(url(practice, "pages:visit", visit_id=visit.public_id), **HTMX)
    assert "Check in" in shown.content.decode()
    # A visit that started can be marked a no-show; a later one cannot, and says why.
    later = VisitFactory(
        clinic=practice.clinic,
        patient=PatientFactory(clinic=practice.clinic),
        therapist=practice.therapist,
        starts_at=practice.local(practice.today(), "16:00"),
        ends_at=practice.local(practice.today(), "16:30"),
    )
    refused = client.post(
        url(practice, "pages:visit_action", visit_id=later.public_id, action="no-show"), **HTMX
    )
    assert refused.status_code == 409
    assert "only after the visit" in refused.content.decode()
    checked = client.post(
        url(practice, "pages:visit_action", visit_id=visit.public_id, action="check-in"), **HTMX
    )
    assert checked.status_code == 200
    assert checked["HX-Trigger"] == "calendar-changed"
    visit.refresh_from_db()
    assert visit.status == Visit.Status.CHECKED_IN
    again = client.post(
        url(practice, "pages:visit_action", visit_id=visit.public_id, action="check-in"), **HTMX
    )
    assert again.status_code == 409
    assert "cannot be checked in" in again.content.decode()
    cancelled = client.post(
        url(practice, "pages:visit_action", visit_id=later.public_id, action="cancel"),
        {"reason": "Patient has the flu"},
        **HTMX,
    )
    assert cancelled.status_code == 200
    later.refresh_from_db()
    assert later.status == Visit.Status.LATE_CANCELLED
    assert later.cancel_reason == "Patient has the flu"


def test_moving_a_visit_onto_another_is_a_409_and_moves_nothing(practice, login):
    client = login(practice.receptionist)
    later = VisitFactory(
        clinic=practice.clinic,
        patient=PatientFactory(clinic=practice.clinic),
        therapist=practice.therapist,
        starts_at=practice.local(practice.today(), "16:00"),
        ends_at=practice.local(practice.today(), "16:30"),
    )
    VisitFactory(
        clinic=practice.clinic,
        patient=PatientFactory(clinic=practice.clinic),
        therapist=practice.therapist,
        starts_at=practice.local(practice.today(), "14:00"),
        ends_at=practice.local(practice.today(), "14:45"),
    )
    move = url(practice, "pages:visit_move", visit_id=later.public_id)
    data = {
        "date": practice.today().isoformat(),
        "time": "14:30",
        "therapist": practice.therapist.public_id,
        "room": "",
    }
    refused = client.post(move, data, **HTMX)
    assert refused.status_code == 409
    assert "Sarah Kim is booked" in refused.content.decode()
    later.refresh_from_db()
    assert later.starts_at == practice.local(practice.today(), "16:00")
    moved = client.post(move, {**data, "time": "17:00"}, **HTMX)
    assert moved.status_code == 200
    later.refresh_from_db()
    assert later.starts_at == practice.local(practice.today(), "17:00")


def test_patient_search_is_a_post_and_finds_by_name(practice, login):
    client = login(practice.receptionist)
    search = url(practice, "pages:patient_search")
    assert client.get(search + "?q=Lopez").status_code == 405  # names never in a URL
    found = client.post(search, {"q": "lop"}, **HTMX)
    assert "Lopez, Maria" in found.content.decode()
    nothing = client.post(search, {"q": "zzzz"}, **HTMX)
    assert "No patient matches" in nothing.content.decode()


def test_the_quick_new_patient(practice, login):
    client = login(practice.receptionist)
    new = url(practice, "pages:patient_new")
    refused = client.post(new, {"first_name": "Tom", "last_name": "Reyes"}, **HTMX)
    assert refused.status_code == 400
    assert "This field is required." in refused.content.decode()
    future = client.post(
        new,
        {
            "first_name": "Tom",
            "last_name": "Reyes",
            "date_of_birth": "2999-01-01",
            "sex": "male",
            "payer_type": "other",
        },
        **HTMX,
    )
    assert future.status_code == 400
    assert not Patient.objects.filter(last_name="Reyes").exists()
    created = client.post(
        new,
        {
            "first_name": "Tom",
            "last_name": "Reyes",
            "date_of_birth": "1980-04-02",
            "sex": "male",
            "payer_type": "medicare",
        },
        **HTMX,
    )
    assert created.status_code == 200
    patient = Patient.objects.get(last_name="Reyes")
    assert patient.mrn
    body = created.content.decode()
    assert f'value="{patient.public_id}" form="book-form" checked' in body
    assert 'hx-swap-oob="innerHTML"' in body


def test_the_visit_panel_shows_the_precautions(practice, login):
    PrecautionFactory(patient=practice.patient, clinic=practice.clinic)
    body = (
        login(practice.receptionist)
        .get(url(practice, "pages:visit", visit_id=practice.visit_now.public_id), **HTMX)
        .content.decode()
    )
    assert "Deep vein thrombosis" in body or "DVT" in body


def test_the_lists_show_follow_ups_and_patients_without_a_next_visit(practice, login):
    followup = FollowUpFactory(clinic=practice.clinic)
    lonely = EpisodeOfCareFactory(clinic=practice.clinic, therapist=practice.therapist)
    body = login(practice.receptionist).get(url(practice, "pages:frontdesk_lists")).content
    text = body.decode()
    patient = followup.episode.patient
    assert f"{patient.last_name}, {patient.first_name}" in text
    assert followup.reason in text
    assert f"patient={patient.public_id}" in text  # the book action
    assert f"{lonely.patient.last_name}, {lonely.patient.first_name}" in text
    assert FollowUp.objects.count() == 1


def _grow_the_day(practice, extra: int) -> None:
    """More therapists, visits (every status), precautions and follow-ups."""
    for _ in range(extra):
        therapist = working_every_day(practice.clinic, therapist_in(practice.clinic))
        room = RoomFactory(clinic=practice.clinic)
        for hour, status in zip((12, 14, 16), ("booked", "cancelled", "no_show"), strict=True):
            patient = PatientFactory(clinic=practice.clinic)
            PrecautionFactory(patient=patient, clinic=practice.clinic)
            VisitFactory(
                clinic=practice.clinic,
                patient=patient,
                therapist=therapist,
                room=room if hour == 12 else None,
                status=status,
                starts_at=practice.local(practice.today(), f"{hour}:00"),
                ends_at=practice.local(practice.today(), f"{hour}:45"),
            )
        FollowUpFactory(clinic=practice.clinic)
        EpisodeOfCareFactory(clinic=practice.clinic, therapist=therapist)


@pytest.mark.parametrize(
    "page",
    ["pages:frontdesk", "pages:frontdesk_lists", "pages:therapist_week", "pages:visit"],
)
def test_front_desk_pages_take_a_constant_number_of_queries(
    practice, login, django_assert_max_num_queries, page
):
    client = login(practice.receptionist)
    kwargs: dict[str, object] = {}
    if page == "pages:therapist_week":
        kwargs["therapist_id"] = practice.therapist.public_id
    if page == "pages:visit":
        kwargs["visit_id"] = practice.visit_now.public_id
    target = url(practice, page, **kwargs)
    _grow_the_day(practice, 1)  # every list has rows in both sizes
    client.get(target)  # session and caches warm
    limit = 18
    with django_assert_max_num_queries(limit) as small:
        assert client.get(target).status_code == 200
    _grow_the_day(practice, 6)
    with django_assert_max_num_queries(limit) as large:
        assert client.get(target).status_code == 200
    assert len(large.captured_queries) == len(small.captured_queries), [
        q["sql"][:150] for q in large.captured_queries
    ]
