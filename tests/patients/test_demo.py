"""`manage.py seed_demo` and the patients' demo data: idempotent, and silent about patients."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import call_command

from clinic.models import Clinic
from patients.demo import PATIENTS
from patients.models import Diagnosis, Patient, Precaution


def seed() -> str:
    out = io.StringIO()
    call_command("seed_demo", "--force", stdout=out)
    return out.getvalue()


def counts() -> tuple[int, int, int]:
    return Patient.objects.count(), Diagnosis.objects.count(), Precaution.objects.count()


@pytest.mark.django_db
def test_seed_demo_adds_the_demo_patients_once():
    first_output = seed()
    first = counts()
    second_output = seed()

    assert first == counts()
    assert first == (
        len(PATIENTS),
        sum(len(p.diagnoses) for p in PATIENTS),
        sum(len(p.precautions) for p in PATIENTS),
    )
    assert "patients demo data added: 10 patients" in first_output
    assert "demo patients already present, nothing added" in second_output
    for slug in ("riverside", "harbourside"):
        clinic = Clinic.objects.get(slug=slug)
        expected = sum(1 for p in PATIENTS if p.clinic == slug)
        assert Patient.objects.for_clinic(clinic).count() == expected > 0
        # Diagnoses and precautions belong to their patient's clinic.
        assert not Diagnosis.objects.for_clinic(clinic).exclude(patient__clinic=clinic).exists()
        assert not Precaution.objects.for_clinic(clinic).exclude(patient__clinic=clinic).exists()


@pytest.mark.django_db
def test_seed_demo_prints_no_patient_data():
    output = seed() + seed()
    assert "patients" in output
    text, digits = output.lower(), re.sub(r"\D", "", output)
    for spec in PATIENTS:
        for value in (spec.first_name, spec.last_name, spec.phone, spec.email):
            if value:
                assert value.lower() not in text, value
        assert re.sub(r"\D", "", spec.phone) not in digits
        assert spec.date_of_birth.isoformat() not in output
    for patient in Patient.objects.all():
        assert patient.mrn not in output
