"""Fixtures for the catalogue and contraindication tests: a patient and their record."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from clinic.models import Clinic, User
from patients.models import (
    BillingRule,
    Diagnosis,
    EpisodeOfCare,
    Patient,
    Precaution,
    PrecautionKind,
    Visit,
)
from tests.factories import EpisodeOfCareFactory
from tests.programs.helpers import episode_visit, local_today

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


# --- Plans of care and treatment notes ---------------------------------------------------------


@pytest.fixture
def episode(patient: Patient, therapist: User) -> EpisodeOfCare:
    """An active episode of `patient` with the PT `therapist`, started 21 days ago: a commercial
    payer (rule of eights) and no progress-report clock."""
    return EpisodeOfCareFactory(
        patient=patient,
        therapist=therapist,
        started_on=local_today(patient.clinic) - dt.timedelta(days=21),
        billing_rule=BillingRule.PER_CODE_8,
        progress_report_clock=False,
    )


@pytest.fixture
def medicare_episode(episode: EpisodeOfCare) -> EpisodeOfCare:
    """`episode` under Medicare rules: the 8-minute rule and the progress-report clock."""
    EpisodeOfCare.objects.filter(pk=episode.pk).update(
        billing_rule=BillingRule.MEDICARE_8_MINUTE, progress_report_clock=True
    )
    episode.refresh_from_db()
    return episode


@pytest.fixture
def visit_on() -> Callable[..., Visit]:
    """`visit_on(episode, days_ago, status=...)`: a visit of the episode at 10:00 local time,
    `days_ago` days before today (written straight to the table; booked by default)."""
    return episode_visit
