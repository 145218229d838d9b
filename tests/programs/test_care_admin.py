"""The admin of plans of care and treatment notes: through the services, signed notes read-only,
nothing deleted. (Scoping to the admin's clinics is walked for every scoped admin in
tests/clinic/test_admin.py.)"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from clinic.capabilities import Role
from programs.models import PlanOfCare, TreatmentNote
from tests.factories import (
    EpisodeOfCareFactory,
    MembershipFactory,
    PlanOfCareFactory,
    SignedTreatmentNoteFactory,
    TreatmentNoteFactory,
)

pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def page_data(response) -> dict[str, Any]:
    """The POST data of an admin change form as it was rendered (no inline rows)."""
    form = response.context["adminform"].form
    data: dict[str, Any] = {}
    for name, field in form.fields.items():
        value = form.initial.get(name, field.initial)
        if value is None:
            continue
        data[name] = value.isoformat() if isinstance(value, dt.date) else value
    for inline in response.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        for name in management.fields:
            data[f"{management.prefix}-{name}"] = management.initial.get(name, 0)
    return data


def admin_url(model, view: str, *args) -> str:
    return reverse(f"admin:programs_{model._meta.model_name}_{view}", args=args)


def test_admin_records_the_physicians_signature_through_the_service(clinic, clinic_admin):
    plan = PlanOfCareFactory(clinic=clinic)
    client = signed_in(clinic_admin)
    page = client.get(admin_url(PlanOfCare, "change", plan.pk))
    assert page.status_code == 200
    signed_on = plan.starts_on + dt.timedelta(days=3)
    data = {**page_data(page), "physician_signed_on": signed_on.isoformat()}
    response = client.post(admin_url(PlanOfCare, "change", plan.pk), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    plan.refresh_from_db()
    assert plan.physician_signed_on == signed_on
    assert plan.history.first().history_user == clinic_admin


def test_admin_physician_date_before_the_plan_is_an_error_on_the_field(clinic, clinic_admin):
    plan = PlanOfCareFactory(clinic=clinic)
    client = signed_in(clinic_admin)
    page = client.get(admin_url(PlanOfCare, "change", plan.pk))
    early = (plan.starts_on - dt.timedelta(days=2)).isoformat()
    response = client.post(
        admin_url(PlanOfCare, "change", plan.pk), {**page_data(page), "verbal_order_on": early}
    )
    assert response.status_code == 200
    assert "verbal_order_on" in response.context["adminform"].form.errors
    plan.refresh_from_db()
    assert plan.verbal_order_on is None


def test_admin_plan_add_needs_a_licensed_pt(clinic, clinic_admin, therapist):
    plan_episode = EpisodeOfCareFactory(clinic=clinic)
    data = {
        "episode": plan_episode.pk,
        "frequency_per_week": 2,
        "duration_weeks": 4,
        "starts_on": plan_episode.started_on.isoformat(),
        "certified_until": (plan_episode.started_on + dt.timedelta(days=30)).isoformat(),
        "physician_name": "",
        "notes": "",
    }
    add = admin_url(PlanOfCare, "add")
    page = signed_in(clinic_admin).get(add)
    refused = signed_in(clinic_admin).post(add, {**page_data(page), **data})
    assert refused.status_code == 200
    assert "licensed physical therapist" in str(refused.context["adminform"].form.errors)
    assert PlanOfCare.objects.filter(status="active").count() == 0

    MembershipFactory(user=therapist, clinic=clinic, role=Role.CLINIC_ADMIN)
    created = signed_in(therapist).post(add, {**page_data(page), **data})
    assert created.status_code == 302
    plan = PlanOfCare.objects.get(status="active")
    assert (plan.version, plan.created_by, plan.clinic) == (1, therapist, clinic)


def test_admin_edits_a_drafts_text_through_the_service_with_its_version(clinic, clinic_admin):
    note = TreatmentNoteFactory(clinic=clinic)
    client = signed_in(clinic_admin)
    change = admin_url(TreatmentNote, "change", note.pk)
    page = client.get(change)
    data = {**page_data(page), "assessment": "Improving."}
    TreatmentNote.objects.filter(pk=note.pk).update(version=2)  # a colleague saved meanwhile
    stale = client.post(change, data)
    assert stale.status_code == 200
    assert "reload the page" in str(stale.context["adminform"].form.errors)

    page = client.get(change)
    response = client.post(change, {**page_data(page), "assessment": "Improving."})
    assert response.status_code == 302
    note.refresh_from_db()
    assert (note.assessment, note.version) == ("Improving.", 3)


def test_admin_signed_note_is_read_only_and_nothing_is_deleted(clinic, clinic_admin):
    note = SignedTreatmentNoteFactory(clinic=clinic)
    client = signed_in(clinic_admin)
    change = admin_url(TreatmentNote, "change", note.pk)
    page = client.get(change)
    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    assert client.post(change, {"notes": "rewritten"}).status_code == 403
    for model, obj in ((TreatmentNote, note), (PlanOfCare, PlanOfCareFactory(clinic=clinic))):
        assert client.get(admin_url(model, "delete", obj.pk)).status_code == 403
    note.refresh_from_db()
    assert note.notes != "rewritten"
