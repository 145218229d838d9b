"""Demo patients with realistic back-pain diagnoses and precautions (see seed_demo's contract).

All names, dates and numbers are invented. Nothing here is printed: only counts are.
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

from django.core.management.base import OutputWrapper
from django.utils import timezone

from clinic.models import Clinic
from patients.models import Patient
from patients.services import diagnosis_add, patient_create, precaution_add


class DemoCondition(NamedTuple):
    icd10_code: str
    description: str
    onset_days_ago: int
    side: str = ""


class DemoPrecaution(NamedTuple):
    kind: str
    body_region: str = ""


class DemoPatient(NamedTuple):
    clinic: str
    first_name: str
    last_name: str
    date_of_birth: dt.date
    sex: str
    phone: str
    email: str
    payer_type: str
    diagnoses: tuple[DemoCondition, ...]
    precautions: tuple[DemoPrecaution, ...] = ()


LBP = DemoCondition("M54.50", "Low back pain, unspecified", 21)

PATIENTS: list[DemoPatient] = [
    DemoPatient(
        "riverside",
        "Margaret",
        "Holloway",
        dt.date(1951, 3, 14),
        "female",
        "860-555-0111",
        "m.holloway@example.org",
        "medicare",
        (DemoCondition("M48.061", "Spinal stenosis, lumbar region", 400),),
        (DemoPrecaution("pacemaker"), DemoPrecaution("osteoporosis")),
    ),
    DemoPatient(
        "riverside",
        "Daniel",
        "Okafor",
        dt.date(1984, 7, 2),
        "male",
        "860-555-0112",
        "dokafor@example.org",
        "commercial",
        (
            DemoCondition("M51.26", "Other intervertebral disc displacement, lumbar", 35),
            DemoCondition("M54.16", "Radiculopathy, lumbar region", 30, "left"),
        ),
    ),
    DemoPatient(
        "riverside",
        "Priya",
        "Raman",
        dt.date(1992, 11, 23),
        "female",
        "860-555-0113",
        "",
        "commercial",
        (LBP,),
        (DemoPrecaution("pregnancy"),),
    ),
    DemoPatient(
        "riverside",
        "Walter",
        "Brandt",
        dt.date(1946, 1, 5),
        "male",
        "860-555-0114",
        "",
        "medicare",
        (DemoCondition("M47.816", "Spondylosis without myelopathy, lumbar", 900),),
        (DemoPrecaution("impaired_sensation", "lower_leg"), DemoPrecaution("dvt")),
    ),
    DemoPatient(
        "riverside",
        "Lucia",
        "Fernandez",
        dt.date(1978, 5, 30),
        "female",
        "860-555-0115",
        "lucia.f@example.org",
        "self_pay",
        (LBP,),
    ),
    DemoPatient(
        "riverside",
        "Kevin",
        "Tran",
        dt.date(1969, 9, 9),
        "male",
        "860-555-0116",
        "ktran@example.org",
        "medicare",
        (DemoCondition("M54.50", "Low back pain, unspecified", 200),),
        (DemoPrecaution("malignancy", "thoracic"),),
    ),
    DemoPatient(
        "harbourside",
        "Eleanor",
        "Whitcombe",
        dt.date(1958, 12, 1),
        "female",
        "0117 496 0111",
        "e.whitcombe@example.org",
        "other",
        (DemoCondition("M51.26", "Other intervertebral disc displacement, lumbar", 60),),
    ),
    DemoPatient(
        "harbourside",
        "Tomasz",
        "Nowak",
        dt.date(1988, 4, 17),
        "male",
        "0117 496 0112",
        "",
        "self_pay",
        (LBP,),
        (DemoPrecaution("acute_injury", "lumbar"),),
    ),
    DemoPatient(
        "harbourside",
        "Aisha",
        "Bello",
        dt.date(1975, 8, 8),
        "female",
        "0117 496 0113",
        "aisha.bello@example.org",
        "other",
        (DemoCondition("M48.061", "Spinal stenosis, lumbar region", 500),),
        (DemoPrecaution("epilepsy"),),
    ),
    DemoPatient(
        "harbourside",
        "George",
        "Pemberton",
        dt.date(1963, 2, 28),
        "male",
        "0117 496 0114",
        "",
        "other",
        (DemoCondition("M54.50", "Low back pain, unspecified", 120),),
        (DemoPrecaution("open_wound", "lumbar"),),
    ),
]


def seed(*, stdout: OutputWrapper) -> list[tuple[str, str, str]]:
    clinics = {c.slug: c for c in Clinic.objects.filter(slug__in={p.clinic for p in PATIENTS})}
    existing = {
        (p.clinic_id, p.first_name, p.last_name, p.date_of_birth)
        for p in Patient.objects.filter(clinic__in=clinics.values())
    }
    added = 0
    for spec in PATIENTS:
        clinic = clinics.get(spec.clinic)
        if clinic is None:
            continue
        if (clinic.pk, spec.first_name, spec.last_name, spec.date_of_birth) in existing:
            continue
        today = timezone.localdate(None, clinic.tz)
        patient = patient_create(
            clinic=clinic,
            by=None,
            first_name=spec.first_name,
            last_name=spec.last_name,
            date_of_birth=spec.date_of_birth,
            sex=spec.sex,
            phone=spec.phone,
            email=spec.email,
            payer_type=spec.payer_type,
            consent_email=bool(spec.email),
        )
        for condition in spec.diagnoses:
            diagnosis_add(
                patient=patient,
                by=None,
                icd10_code=condition.icd10_code,
                description=condition.description,
                onset_date=today - dt.timedelta(days=condition.onset_days_ago),
                side=condition.side,
            )
        for precaution in spec.precautions:
            precaution_add(
                patient=patient, kind=precaution.kind, by=None, body_region=precaution.body_region
            )
        added += 1
    if added:
        stdout.write(f"patients demo data added: {added} patients with diagnoses and precautions.")
    else:
        stdout.write("patients: demo patients already present, nothing added.")
    return []
