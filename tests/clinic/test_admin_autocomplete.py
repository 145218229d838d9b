"""Every autocomplete of the admin offers only rows of the clinics the user administers: walked
over every foreign key with an autocomplete widget on every scoped admin."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse

from clinic.admin_base import ClinicScopedAdmin
from clinic.capabilities import Role
from clinic.models import Membership
from patients.models import Patient, Visit
from tests.factories import MembershipFactory, therapist_in

pytestmark = pytest.mark.django_db

AUTOCOMPLETES = sorted(
    (
        (model, name)
        for model, model_admin in admin.site._registry.items()
        if isinstance(model_admin, ClinicScopedAdmin)
        for name in model_admin.autocomplete_fields
    ),
    key=lambda pair: (pair[0]._meta.label, pair[1]),
)
IDS = [f"{model._meta.label}.{name}" for model, name in AUTOCOMPLETES]


def offered(client: Client, model: Any, field: str, term: str = "") -> set[str]:
    response = client.get(
        reverse("admin:autocomplete"),
        {
            "app_label": model._meta.app_label,
            "model_name": model._meta.model_name,
            "field_name": field,
            "term": term,
        },
    )
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def pks(model: Any, clinic: Any) -> set[str]:
    return {
        str(pk) for pk in model._default_manager.for_clinic(clinic).values_list("pk", flat=True)
    }


def test_the_walk_covers_the_calendar_and_the_clinical_record():
    assert {"patients.Visit.patient", "patients.Visit.therapist", "patients.Visit.room"} <= set(IDS)
    assert "patients.EpisodeOfCare.patient" in IDS


@pytest.mark.parametrize(("model", "field"), AUTOCOMPLETES, ids=IDS)
def test_autocomplete_offers_nothing_of_a_clinic_not_administered(
    model, field, clinic, other_clinic, clinic_admin, make_clinic_rows
):
    make_clinic_rows(clinic)
    make_clinic_rows(other_clinic)
    client = Client()
    client.force_login(clinic_admin)
    related = model._meta.get_field(field).related_model

    shown = offered(client, model, field)

    theirs = pks(related, other_clinic) - pks(related, clinic)
    assert shown, "the administered clinic's rows are offered"
    assert not shown & theirs


def test_autocomplete_of_a_practice_admin_covers_both_clinics(
    clinic, other_clinic, clinic_admin, make_clinic_rows
):
    MembershipFactory(user=clinic_admin, clinic=other_clinic, role=Role.CLINIC_ADMIN)
    make_clinic_rows(clinic)
    make_clinic_rows(other_clinic)
    client = Client()
    client.force_login(clinic_admin)
    shown = offered(client, Visit, "patient")  # the first page of 20
    assert shown & pks(Patient, clinic)
    assert shown & pks(Patient, other_clinic)


def test_therapist_autocomplete_offers_therapists_only(clinic, clinic_admin, receptionist):
    therapist = therapist_in(clinic)
    client = Client()
    client.force_login(clinic_admin)
    shown = offered(client, Visit, "therapist")
    assert str(therapist.pk) in shown
    assert str(receptionist.pk) not in shown
    assert str(clinic_admin.pk) not in shown
    assert str(receptionist.pk) in offered(client, Membership, "user")
