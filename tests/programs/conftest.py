"""Fixtures for the catalogue and contraindication tests: a patient and their record."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from clinic.models import Clinic
from patients.models import Diagnosis, Patient, Precaution, PrecautionKind

ON = dt.date(2026, 6, 1)  # the date of service the contraindication tests check on


@pytest.fixture
def patient(clinic: Clinic) -> Patient:
    return Patient.objects.create(
        clinic=clinic,
        mrn="T1",
        first_name="Test",
        last_name="Patient",
        date_of_birth=dt.date(1970, 5, 17),
    )


@pytest.fixture
def add_precaution(patient: Patient) -> Callable[..., Precaution]:
    """`add_precaution("malignancy", "lumbar")`: a current precaution of `patient`."""

    def add(code: str, region: str = "") -> Precaution:
        return Precaution.objects.create(
            clinic=patient.clinic,
            patient=patient,
            kind=PrecautionKind.objects.get(code=code),
            body_region=region,
            noted_on=ON - dt.timedelta(days=7),
        )

    return add


@pytest.fixture
def add_diagnosis(patient: Patient) -> Callable[..., Diagnosis]:
    """`add_diagnosis("M51.26", onset=...)`: a current diagnosis of `patient`."""

    def add(icd10_code: str, *, onset: dt.date | None, description: str = "") -> Diagnosis:
        return Diagnosis.objects.create(
            clinic=patient.clinic,
            patient=patient,
            icd10_code=icd10_code,
            description=description or f"Diagnosis {icd10_code}",
            onset_date=onset,
        )

    return add
