"""The admin actions that reach into the calendar: deactivating staff (their future visits are
listed for rebooking) and closing clinics for a day (visits cancelled, patients told once)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.contrib.admin import helpers
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from clinic.capabilities import Role
from clinic.models import Closure, Membership
from patients import closures, tasks
from patients.models import PatientMessage, Visit
from tests.factories import (
    MembershipFactory,
    PatientFactory,
    VisitFactory,
    therapist_in,
)
from tests.text import mentions

pytestmark = pytest.mark.django_db


@pytest.fixture
def as_admin(clinic_admin) -> Client:
    client = Client()
    client.force_login(clinic_admin)
    return client


def act(client: Client, model: str, action: str, pks: list[int], **data: Any) -> Any:
    return client.post(
        reverse(f"admin:{model}_changelist"),
        {"action": action, helpers.ACTION_CHECKBOX_NAME: [str(pk) for pk in pks], **data},
    )


def local_day_visit(clinic, day: dt.date, hour: int, **fields: Any) -> Visit:
    starts = dt.datetime.combine(day, dt.time(hour), tzinfo=clinic.tz)
    return VisitFactory(
        clinic=clinic, starts_at=starts, ends_at=starts + dt.timedelta(minutes=45), **fields
    )


# --- Deactivating staff ----------------------------------------------------------------------


def test_deactivate_lists_future_visits_then_ends_only_the_roles_in_administered_clinics(
    as_admin, clinic, other_clinic, clinic_admin
):
    leaving = therapist_in(clinic)
    elsewhere = MembershipFactory(user=leaving, clinic=other_clinic, role=Role.THERAPIST)
    future = VisitFactory(clinic=clinic, therapist=leaving)
    past = VisitFactory(
        clinic=clinic,
        therapist=leaving,
        starts_at=timezone.now() - dt.timedelta(days=3),
        ends_at=timezone.now() - dt.timedelta(days=3) + dt.timedelta(minutes=45),
        status=Visit.Status.COMPLETED,
    )
    other_clinics_visit = VisitFactory(clinic=other_clinic, therapist=leaving)

    page = act(as_admin, "clinic_user", "deactivate_staff", [leaving.pk])

    assert page.status_code == 200
    listed = [visit for visit, _ in page.context["visits"]]
    assert listed == [future]  # not the past one, nor the other clinic's
    assert past not in listed
    assert other_clinics_visit not in listed
    assert Membership.objects.filter(user=leaving, clinic=clinic, active=True).exists()

    done = act(as_admin, "clinic_user", "deactivate_staff", [leaving.pk], apply="yes")

    assert done.status_code == 200
    assert done.context["done"]
    assert [visit for visit, _ in done.context["visits"]] == [future]
    ended = Membership.objects.get(user=leaving, clinic=clinic, role=Role.THERAPIST)
    assert not ended.active
    assert ended.history.first().history_user == clinic_admin
    elsewhere.refresh_from_db()
    assert elsewhere.active  # the other clinic's administrator decides that one
    future.refresh_from_db()
    assert future.status == Visit.Status.BOOKED  # listed for rebooking, not cancelled
    assert future.patient.mrn in done.content.decode()


def test_deactivate_cannot_reach_staff_of_another_clinic_or_oneself(
    as_admin, clinic_admin, outsider, other_clinic
):
    act(as_admin, "clinic_user", "deactivate_staff", [outsider.pk, clinic_admin.pk], apply="y")

    assert Membership.objects.filter(user=outsider, active=True).count() == len(Role.values)
    assert Membership.objects.filter(user=clinic_admin, active=True).exists()


def test_deactivate_page_keeps_its_query_count_as_visits_grow(
    as_admin, clinic, django_assert_max_num_queries
):
    leaving = therapist_in(clinic)
    VisitFactory.create_batch(2, clinic=clinic, therapist=leaving)
    with CaptureQueriesContext(connection) as few:
        act(as_admin, "clinic_user", "deactivate_staff", [leaving.pk])
    VisitFactory.create_batch(8, clinic=clinic, therapist=leaving)
    with django_assert_max_num_queries(len(few)):
        page = act(as_admin, "clinic_user", "deactivate_staff", [leaving.pk])
    assert len(page.context["visits"]) == 10


# --- Closing a clinic for a day --------------------------------------------------------------


@pytest.fixture
def tomorrow(clinic) -> dt.date:
    return timezone.localdate(timezone=clinic.tz) + dt.timedelta(days=1)


@pytest.fixture
def sent_tasks(monkeypatch) -> list[int]:
    """Each queued notification runs at once, as a worker would, and is recorded."""
    sent: list[int] = []

    def run(visit_id: int) -> None:
        sent.append(visit_id)
        tasks.visit_cancellation_send_task(visit_id)

    monkeypatch.setattr(tasks.visit_cancellation_send_task, "delay", run)
    return sent


def test_close_for_day_previews_then_cancels_the_days_visits_and_tells_consenting_patients(
    as_admin, clinic, other_clinic, tomorrow, sent_tasks, django_capture_on_commit_callbacks
):
    told = PatientFactory(clinic=clinic, consent_email=True, email="told@example.org")
    silent = PatientFactory(clinic=clinic, consent_email=False, email="silent@example.org")
    first = local_day_visit(clinic, tomorrow, 9, patient=told)
    second = local_day_visit(clinic, tomorrow, 11, patient=silent)
    day_after = local_day_visit(clinic, tomorrow + dt.timedelta(days=1), 9)
    cancelled_before = local_day_visit(clinic, tomorrow, 14, status=Visit.Status.CANCELLED)
    theirs = local_day_visit(other_clinic, tomorrow, 10)
    form = {"day": tomorrow.isoformat(), "reason": "Burst water pipe", "notify": "on"}

    preview = act(as_admin, "clinic_clinic", "close_for_day", [clinic.pk], **form)

    assert preview.status_code == 200
    [(shown_clinic, rows)] = preview.context["preview"]
    assert shown_clinic == clinic
    assert [v for v, _ in rows] == [first, second]
    assert not Closure.objects.exists()
    assert mail.outbox == []

    with django_capture_on_commit_callbacks(execute=True):
        done = act(as_admin, "clinic_clinic", "close_for_day", [clinic.pk], apply="y", **form)

    assert done.status_code == 302
    closure = Closure.objects.get()
    assert (closure.clinic, closure.starts_on, closure.ends_on) == (clinic, tomorrow, tomorrow)
    for visit in (first, second):
        visit.refresh_from_db()
        assert visit.status == Visit.Status.CANCELLED  # the clinic's doing: never late
        assert visit.cancel_reason == "Clinic closed: Burst water pipe"
    for untouched, status in ((day_after, "booked"), (theirs, "booked")):
        untouched.refresh_from_db()
        assert untouched.status == status
    cancelled_before.refresh_from_db()
    assert cancelled_before.cancel_reason == ""
    assert sent_tasks == [first.pk]  # ids only, and only with consent
    assert [m.to for m in mail.outbox] == [["told@example.org"]]
    assert "Burst water pipe" in mail.outbox[0].body
    assert not mentions(mail.outbox[0].subject, told.first_name)

    tasks.visit_cancellation_send_task(first.pk)  # a redelivered task sends nothing
    assert len(mail.outbox) == 1
    assert PatientMessage.objects.get().kind == PatientMessage.Kind.VISIT_CANCELLED


def test_close_for_day_in_the_past_is_refused_on_the_field_and_changes_nothing(as_admin, clinic):
    yesterday = timezone.localdate(timezone=clinic.tz) - dt.timedelta(days=1)
    visit = local_day_visit(clinic, yesterday, 10)
    form = {"day": yesterday.isoformat(), "reason": "Storm"}

    page = act(as_admin, "clinic_clinic", "close_for_day", [clinic.pk], apply="y", **form)

    assert page.status_code == 200
    assert "has passed" in str(page.context["form"].errors["day"])
    assert not Closure.objects.exists()
    visit.refresh_from_db()
    assert visit.status == Visit.Status.BOOKED


def test_close_for_day_without_notifying_queues_nothing(
    as_admin, clinic, tomorrow, sent_tasks, django_capture_on_commit_callbacks
):
    local_day_visit(clinic, tomorrow, 9, patient=PatientFactory(clinic=clinic, consent_email=True))
    form = {"day": tomorrow.isoformat(), "reason": "Training day"}
    with django_capture_on_commit_callbacks(execute=True):
        act(as_admin, "clinic_clinic", "close_for_day", [clinic.pk], apply="y", **form)
    assert Closure.objects.count() == 1
    assert sent_tasks == []
    assert mail.outbox == []
    assert not PatientMessage.objects.exists()  # no notice asked for: the dispatcher finds none


def test_close_for_day_of_two_clinics_is_all_or_nothing(
    client, clinic, other_clinic, clinic_admin, tomorrow
):
    """A practice administrator of both closes both; if one clinic's check fails, neither."""
    MembershipFactory(user=clinic_admin, clinic=other_clinic, role=Role.CLINIC_ADMIN)
    client.force_login(clinic_admin)
    form = {"day": tomorrow.isoformat(), "reason": "Practice away day"}
    done = act(
        client, "clinic_clinic", "close_for_day", [clinic.pk, other_clinic.pk], apply="y", **form
    )
    assert done.status_code == 302
    assert set(Closure.objects.values_list("clinic_id", flat=True)) == {clinic.pk, other_clinic.pk}

    Closure.objects.all().delete()
    blank = {"day": tomorrow.isoformat(), "reason": "   "}
    page = act(
        client, "clinic_clinic", "close_for_day", [clinic.pk, other_clinic.pk], apply="y", **blank
    )
    assert page.status_code == 200
    assert not Closure.objects.exists()


def test_close_for_day_is_not_offered_for_another_clinic(as_admin, other_clinic, tomorrow):
    form = {"day": tomorrow.isoformat(), "reason": "Not mine"}
    act(as_admin, "clinic_clinic", "close_for_day", [other_clinic.pk], apply="y", **form)
    assert not Closure.objects.exists()


def test_cancellation_mail_is_not_sent_for_a_visit_that_is_not_cancelled(clinic):
    visit = VisitFactory(
        clinic=clinic,
        patient=PatientFactory(clinic=clinic, consent_email=True, email="a@example.org"),
    )
    assert closures.visit_cancellation_send(visit.pk) is None
    assert mail.outbox == []
