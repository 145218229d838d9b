"""The visits admin: a scoped change list with filters and search, booking through the booking
service (its refusals shown on the form, nothing saved), read-only booked visits, and the
check-in, cancel and no-show actions calling the state machine's services."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from clinic.capabilities import Role
from patients.admin import TherapistFilter, VisitAdmin
from patients.models import Visit
from patients.scheduling import localize
from tests.factories import (
    MembershipFactory,
    PatientFactory,
    RoomFactory,
    VisitFactory,
    next_dst_change,
    open_every_day,
    working_every_day,
)
from tests.text import mentions

pytestmark = pytest.mark.django_db

S = Visit.Status
CHANGELIST = reverse("admin:patients_visit_changelist")
ADD = reverse("admin:patients_visit_add")


def local(clinic, day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return localize(dt.datetime.combine(day, dt.time(hour, minute)), clinic.tz).astimezone(dt.UTC)


def just_started(clinic, **kw) -> Visit:
    now = timezone.now().replace(microsecond=0)
    midnight = local(clinic, timezone.localdate(now, clinic.tz), 0)
    starts_at = max(now - dt.timedelta(minutes=10), midnight)
    return VisitFactory(
        clinic=clinic, starts_at=starts_at, ends_at=starts_at + dt.timedelta(minutes=45), **kw
    )


@pytest.fixture
def admin_client(client, clinic_admin):
    client.force_login(clinic_admin)
    return client


@pytest.fixture
def day(clinic) -> dt.date:
    return timezone.localdate(None, clinic.tz) + dt.timedelta(days=8)


@pytest.fixture
def pt(clinic, therapist):
    open_every_day(clinic)
    return working_every_day(clinic, therapist)


@pytest.fixture
def patient(clinic):
    return PatientFactory(clinic=clinic, mrn="RIV-000123", last_name="Quennell-Abara")


def booking_form(clinic, patient, pt, day: dt.date, at: str = "10:00", **fields) -> dict:
    return {
        "clinic": clinic.pk,
        "patient": patient.pk,
        "therapist": pt.pk,
        "room": "",
        "kind": "treatment",
        "starts_0": day.isoformat(),
        "starts_1": at,
        "duration_minutes": 45,
        **fields,
    }


# --- Change list ----------------------------------------------------------------------------------


def test_changelist_shows_the_clinics_visits_in_local_time(
    admin_client, clinic, other_clinic, pt, patient, day
):
    ours = VisitFactory(
        clinic=clinic, therapist=pt, patient=patient, starts_at=local(clinic, day, 10)
    )
    theirs = VisitFactory(clinic=other_clinic)

    response = admin_client.get(CHANGELIST)

    assert response.status_code == 200
    shown = [v.pk for v in response.context["cl"].result_list]
    assert shown == [ours.pk]
    assert theirs.pk not in shown
    page = response.content.decode()
    local_start = local(clinic, day, 10).astimezone(clinic.tz)
    assert local_start.strftime("%Y-%m-%d 10:00 %Z") in page
    assert "RIV-000123" in page
    assert not mentions(page, patient.last_name)  # the MRN, not the name


def test_changelist_runs_in_a_constant_number_of_queries(
    admin_client, clinic, pt, day, django_assert_max_num_queries
):
    VisitFactory(clinic=clinic, therapist=pt, starts_at=local(clinic, day, 8))
    admin_client.get(CHANGELIST)  # warm caches (content types, sessions)
    with CaptureQueriesContext(connection) as few:
        admin_client.get(CHANGELIST)
    for hour in range(9, 17):
        VisitFactory(
            clinic=clinic,
            therapist=pt,
            room=RoomFactory(clinic=clinic),
            starts_at=local(clinic, day, hour),
        )
    with django_assert_max_num_queries(len(few)):
        response = admin_client.get(CHANGELIST)
    assert len(response.context["cl"].result_list) == 9


def test_changelist_filters_and_search(admin_client, clinic, pt, patient, day):
    other_pt = working_every_day(clinic)
    a = VisitFactory(clinic=clinic, therapist=pt, patient=patient, starts_at=local(clinic, day, 9))
    b = VisitFactory(
        clinic=clinic, therapist=other_pt, starts_at=local(clinic, day, 11), status=S.CANCELLED
    )
    c = VisitFactory(
        clinic=clinic,
        therapist=other_pt,
        starts_at=local(clinic, day + dt.timedelta(days=40), 9),
        kind=Visit.Kind.DISCHARGE,
    )

    def shown(**params) -> set[int]:
        response = admin_client.get(CHANGELIST, params)
        assert response.status_code == 200
        return {v.pk for v in response.context["cl"].result_list}

    assert shown() == {a.pk, b.pk, c.pk}
    assert shown(therapist=pt.pk) == {a.pk}
    assert shown(therapist="x") == set()
    assert shown(status__exact="cancelled") == {b.pk}
    assert shown(kind__exact="discharge") == {c.pk}
    assert shown(clinic=clinic.pk) == {a.pk, b.pk, c.pk}
    # The search box posts (MRNs stay out of URLs): tests/clinic/test_admin_search.py.
    searched = admin_client.post(reverse("admin:patients_visit_search"), {"q": "RIV-000123"})
    assert {v.pk for v in admin_client.get(searched.url).context["cl"].result_list} == {a.pk}
    start = a.starts_at
    assert shown(
        starts_at__year=start.year, starts_at__month=start.month, starts_at__day=start.day
    ) >= {a.pk}
    assert c.pk not in shown(
        starts_at__year=start.year, starts_at__month=start.month, starts_at__day=start.day
    )


def test_therapist_filter_offers_only_the_admins_clinics_therapists(
    admin_client, clinic, other_clinic, pt, receptionist
):
    theirs = working_every_day(other_clinic)
    response = admin_client.get(CHANGELIST)
    (spec,) = [s for s in response.context["cl"].filter_specs if isinstance(s, TherapistFilter)]
    offered = {int(pk) for pk, _ in spec.lookup_choices}
    assert pt.pk in offered
    assert theirs.pk not in offered
    assert receptionist.pk not in offered


def test_staff_without_an_admin_role_cannot_open_the_visits_admin(client, receptionist):
    client.force_login(receptionist)
    response = client.get(CHANGELIST)
    assert response.status_code == 302
    assert reverse("admin:login") in response.url


# --- Booking through the admin --------------------------------------------------------------------


def test_adding_a_visit_books_it_through_the_service(
    admin_client, clinic, clinic_admin, pt, patient, day
):
    room = RoomFactory(clinic=clinic, name="Gym A")
    response = admin_client.post(
        ADD, booking_form(clinic, patient, pt, day, room=room.pk, kind="initial_evaluation")
    )

    assert response.status_code == 302, (
        response.context and response.context["adminform"].form.errors
    )
    visit = Visit.objects.get()
    assert visit.starts_at == local(clinic, day, 10)  # the clinic's wall clock, not UTC
    assert visit.ends_at - visit.starts_at == dt.timedelta(minutes=45)
    assert (visit.patient, visit.therapist, visit.room) == (patient, pt, room)
    assert visit.kind == "initial_evaluation"
    assert visit.status == S.BOOKED
    assert visit.booked_by == clinic_admin
    (created,) = visit.history.all()
    assert created.history_user == clinic_admin
    assert response.url == CHANGELIST


def test_a_conflict_shows_on_the_form_and_saves_nothing(admin_client, clinic, pt, patient, day):
    existing = VisitFactory(
        clinic=clinic,
        therapist=pt,
        starts_at=local(clinic, day, 10),
        ends_at=local(clinic, day, 11),
    )

    response = admin_client.post(ADD, booking_form(clinic, patient, pt, day, at="10:30"))

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == ["starts"]
    assert "is booked" in errors["starts"][0]
    assert "10:00 to 11:00" in errors["starts"][0]
    assert list(Visit.objects.all()) == [existing]


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"starts_1": "18:00"}, "starts", "outside the clinic's opening hours"),
        ({"duration_minutes": 300}, "duration_minutes", ""),
        ({"starts_0": "2020-01-06"}, "starts", "in the past"),
        ({"kind": "massage"}, "kind", ""),
    ],
)
def test_booking_refusals_show_on_the_right_field(
    admin_client, clinic, pt, patient, day, change, field, words
):
    response = admin_client.post(ADD, {**booking_form(clinic, patient, pt, day), **change})
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == [field]
    assert words in " ".join(errors[field])
    assert not Visit.objects.exists()


def test_booking_a_receptionist_as_therapist_is_an_error_on_therapist(
    admin_client, clinic, patient, day, receptionist, pt
):
    response = admin_client.post(ADD, booking_form(clinic, patient, receptionist, day))
    errors = response.context["adminform"].form.errors
    assert list(errors) == ["therapist"]
    assert "No active therapist" in errors["therapist"][0]
    assert not Visit.objects.exists()


@pytest.mark.parametrize("field", ["patient", "therapist", "room"])
def test_booking_with_another_clinics_row_is_refused(
    admin_client, clinic, other_clinic, pt, patient, day, field
):
    theirs = {
        "patient": lambda: PatientFactory(clinic=other_clinic),
        "therapist": lambda: working_every_day(other_clinic),
        "room": lambda: RoomFactory(clinic=other_clinic),
    }[field]()
    response = admin_client.post(ADD, {**booking_form(clinic, patient, pt, day), field: theirs.pk})
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert not Visit.objects.exists()


def test_booking_for_a_clinic_the_admin_does_not_run_is_refused(admin_client, other_clinic, day):
    open_every_day(other_clinic)
    theirs_pt = working_every_day(other_clinic)
    theirs = PatientFactory(clinic=other_clinic)
    response = admin_client.post(ADD, booking_form(other_clinic, theirs, theirs_pt, day))
    assert response.status_code == 200
    assert "clinic" in response.context["adminform"].form.errors
    assert not Visit.objects.exists()


def test_booking_at_a_time_skipped_by_dst_is_refused_with_the_reason(admin_client, clinic, patient):
    open_every_day(clinic, opens=dt.time(0), closes=dt.time(23, 59))
    night_pt = working_every_day(clinic, starts=dt.time(0), ends=dt.time(23, 59))
    change = next_dst_change(
        clinic.timezone, forward=True, after=timezone.localdate(None, clinic.tz)
    )
    response = admin_client.post(ADD, booking_form(clinic, patient, night_pt, change, at="02:30"))
    errors = response.context["adminform"].form.errors
    assert "does not exist in America/New_York" in errors["starts"][0]
    assert not Visit.objects.exists()


def test_a_superuser_books_in_any_clinic(client, superuser, other_clinic, day):
    client.force_login(superuser)
    open_every_day(other_clinic)
    berlin_pt = working_every_day(other_clinic)
    patient = PatientFactory(clinic=other_clinic)
    berlin_day = timezone.localdate(None, other_clinic.tz) + dt.timedelta(days=8)
    response = client.post(ADD, booking_form(other_clinic, patient, berlin_pt, berlin_day))
    assert response.status_code == 302
    visit = Visit.objects.get()
    assert visit.starts_at.astimezone(other_clinic.tz).time() == dt.time(10)


# --- A booked visit is read-only; the actions call the services -----------------------------------


def test_a_booked_visit_is_shown_read_only(admin_client, clinic, pt, patient, day):
    visit = VisitFactory(
        clinic=clinic, therapist=pt, patient=patient, starts_at=local(clinic, day, 10)
    )
    url = reverse("admin:patients_visit_change", args=[visit.pk])

    response = admin_client.get(url)

    assert response.status_code == 200
    assert response.context["adminform"].form.fields == {}
    assert local(clinic, day, 10).astimezone(clinic.tz).strftime("%Y-%m-%d 10:00 %Z") in (
        response.content.decode()
    )
    moved = admin_client.post(url, {"starts_0": day.isoformat(), "starts_1": "14:00"})
    assert moved.status_code == 403
    visit.refresh_from_db()
    assert visit.starts_at == local(clinic, day, 10)


def test_visits_cannot_be_deleted(admin_client, clinic):
    visit = VisitFactory(clinic=clinic)
    assert "delete_selected" not in VisitAdmin(Visit, admin.site).get_actions(
        admin_client.get(CHANGELIST).wsgi_request
    )
    response = admin_client.post(
        reverse("admin:patients_visit_delete", args=[visit.pk]), {"post": "yes"}
    )
    assert response.status_code == 403
    assert Visit.objects.filter(pk=visit.pk).exists()


def run_action(client, action: str, *visits: Visit):
    return client.post(
        CHANGELIST,
        {"action": action, ACTION_CHECKBOX_NAME: [v.pk for v in visits]},
        follow=True,
    )


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_check_in_action_reports_each_refusal(admin_client, clinic, clinic_admin):
    today = just_started(clinic)
    next_week = VisitFactory(clinic=clinic, patient=PatientFactory(clinic=clinic, mrn="NEXT-1"))

    response = run_action(admin_client, "check_in_visits", today, next_week)

    today.refresh_from_db()
    next_week.refresh_from_db()
    assert today.status == S.CHECKED_IN
    assert today.history.first().history_user == clinic_admin
    assert next_week.status == S.BOOKED
    notes = messages_of(response)
    assert any(n.startswith("NEXT-1 at ") and "only on the day" in n for n in notes), notes
    assert "Checked in 1 visit(s)." in notes


def test_cancel_action_cancels_late_or_not(admin_client, clinic):
    soon = VisitFactory(clinic=clinic, starts_at=timezone.now() + dt.timedelta(hours=2))
    later = VisitFactory(clinic=clinic, starts_at=timezone.now() + dt.timedelta(days=5))
    done = VisitFactory(clinic=clinic, status=S.COMPLETED)

    response = run_action(admin_client, "cancel_visits", soon, later, done)

    soon.refresh_from_db()
    later.refresh_from_db()
    done.refresh_from_db()
    assert (soon.status, later.status, done.status) == (
        S.LATE_CANCELLED,
        S.CANCELLED,
        S.COMPLETED,
    )
    assert soon.cancel_reason == "Cancelled in the admin."
    notes = messages_of(response)
    assert any("cannot be cancelled" in n for n in notes), notes
    assert "Cancelled 2 visit(s)." in notes


def test_no_show_action_only_after_the_start(admin_client, clinic):
    started = just_started(clinic)
    future = VisitFactory(clinic=clinic, starts_at=timezone.now() + dt.timedelta(hours=3))

    response = run_action(admin_client, "mark_no_show", started, future)

    started.refresh_from_db()
    future.refresh_from_db()
    assert started.status == S.NO_SHOW
    assert future.status == S.BOOKED
    notes = messages_of(response)
    assert any("only after the visit's start" in n for n in notes), notes


def test_actions_cannot_reach_another_clinics_visits(admin_client, clinic, other_clinic):
    theirs = just_started(other_clinic)
    run_action(admin_client, "mark_no_show", theirs)
    theirs.refresh_from_db()
    assert theirs.status == S.BOOKED


def test_an_admin_of_both_clinics_sees_both(client, clinic, other_clinic, clinic_admin):
    MembershipFactory(user=clinic_admin, clinic=other_clinic, role=Role.CLINIC_ADMIN)
    client.force_login(clinic_admin)
    ours, theirs = VisitFactory(clinic=clinic), VisitFactory(clinic=other_clinic)
    shown = {v.pk for v in client.get(CHANGELIST).context["cl"].result_list}
    assert shown == {ours.pk, theirs.pk}
