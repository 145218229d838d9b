"""Every write to patients' demographics, their diagnoses and precautions.

The clinical record (episodes of care, evaluations and addenda, goals, outcome measures) has its
own services in patients.clinical, and its reads in patients.clinical_selectors; the calendar's
are in patients.visits."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from clinic.errors import ApplicationError
from clinic.models import Clinic, User
from clinic.records import record_save
from patients.models import Diagnosis, MrnSequence, Patient, Precaution, PrecautionKind
from patients.rules import phone_digits, search_name

PATIENT_FIELDS = (
    "first_name",
    "last_name",
    "date_of_birth",
    "sex",
    "phone",
    "email",
    "address",
    "emergency_contact_name",
    "emergency_contact_phone",
    "preferred_language",
    "referring_physician_name",
    "referring_physician_npi",
    "payer_type",
    "consent_email",
    "consent_sms",
)


def _unknown(fields: dict[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = set(fields) - set(allowed)
    if unknown:
        raise TypeError(f"Unknown fields: {sorted(unknown)}")


def _next_mrns(clinic: Clinic, count: int, reserved: frozenset[str] = frozenset()) -> list[str]:
    """The clinic's next `count` medical record numbers, e.g. RIV-000042, skipping any already
    taken or `reserved` (an imported MRN may look like a generated one). Holds the sequence
    row's lock."""
    MrnSequence.objects.get_or_create(clinic=clinic)
    sequence = MrnSequence.objects.select_for_update().get(clinic=clinic)
    prefix = "".join(ch for ch in clinic.slug.upper() if ch.isalnum())[:3] or "PT"
    mrns: list[str] = []
    while len(mrns) < count:
        start = sequence.last_value + 1
        sequence.last_value += count - len(mrns)
        candidates = [f"{prefix}-{n:06d}" for n in range(start, sequence.last_value + 1)]
        taken = set(
            Patient.objects.for_clinic(clinic)
            .filter(mrn__in=candidates)
            .values_list("mrn", flat=True)
        )
        mrns.extend(mrn for mrn in candidates if mrn not in taken and mrn not in reserved)
    sequence.save(update_fields=["last_value"])
    return mrns


def derive_search_fields(patient: Patient) -> list[str]:
    patient.search_name = search_name(patient.first_name, patient.last_name)
    patient.phone_digits = phone_digits(patient.phone)
    return ["search_name", "phone_digits"]


def _check_mrn_free(*, clinic: Clinic, mrn: str, exclude_pk: int | None = None) -> None:
    taken = Patient.objects.for_clinic(clinic).filter(mrn=mrn)
    if exclude_pk is not None:
        taken = taken.exclude(pk=exclude_pk)
    if taken.exists():
        raise ValidationError({"mrn": f"Another patient of this clinic has the MRN {mrn}."})


@transaction.atomic
def patient_register(*, patient: Patient, by: User | None) -> Patient:
    """Save a new patient built by a form or import; the MRN is generated unless one is set."""
    if patient.mrn:
        _check_mrn_free(clinic=patient.clinic, mrn=patient.mrn)
    patient.full_clean(exclude=["mrn", "search_name", "phone_digits"])
    if not patient.mrn:
        patient.mrn = _next_mrns(patient.clinic, 1)[0]
    derive_search_fields(patient)
    record_save(patient, by=by)
    return patient


def patient_create(*, clinic: Clinic, by: User | None, mrn: str = "", **fields: Any) -> Patient:
    """Register a patient from field values."""
    _unknown(fields, PATIENT_FIELDS)
    return patient_register(patient=Patient(clinic=clinic, mrn=mrn, **fields), by=by)


@transaction.atomic
def patient_register_many(*, patients: list[Patient], by: User | None) -> list[Patient]:
    """Save many new, already validated patients of one clinic in a few statements (imports)."""
    if not patients:
        return []
    clinic = patients[0].clinic
    given = frozenset(p.mrn for p in patients if p.mrn)
    mrns = iter(_next_mrns(clinic, sum(1 for p in patients if not p.mrn), reserved=given))
    for patient in patients:
        patient.mrn = patient.mrn or next(mrns)
        derive_search_fields(patient)
    return bulk_create_with_history(patients, Patient, default_user=by)


@transaction.atomic
def patient_update(*, patient: Patient, by: User | None, **fields: Any) -> Patient:
    _unknown(fields, PATIENT_FIELDS)
    if patient.is_archived:
        raise ApplicationError(
            "An archived patient cannot be edited; restore the record first.", code="archived"
        )
    for name, value in fields.items():
        setattr(patient, name, value)
    update_fields = list(fields)
    if {"first_name", "last_name", "phone"} & set(fields):
        update_fields += derive_search_fields(patient)
    record_save(patient, by=by, update_fields=update_fields)
    return patient


@transaction.atomic
def patient_archive(*, patient: Patient, by: User | None) -> Patient:
    """Archive instead of delete: the record stays, leaves searches and lists of active patients."""
    if patient.is_archived:
        return patient
    patient.archived_at = timezone.now()
    record_save(patient, by=by, update_fields=["archived_at"])
    return patient


@transaction.atomic
def patient_restore(*, patient: Patient, by: User | None) -> Patient:
    if not patient.is_archived:
        return patient
    patient.archived_at = None
    record_save(patient, by=by, update_fields=["archived_at"])
    return patient


@transaction.atomic
def patient_transfer(*, patient: Patient, to_clinic: Clinic, by: User | None) -> Patient:
    """Move a patient and their conditions to another clinic of the practice.

    The patient gets the new clinic's next MRN (MRNs are unique per clinic); the history keeps the
    old clinic and MRN. Visits and notes stay with the clinic where they happened.
    """
    if to_clinic.pk == patient.clinic_id:
        raise ValidationError({"to_clinic": "The patient already belongs to this clinic."})
    if not to_clinic.active:
        raise ValidationError({"to_clinic": "The clinic is not active."})
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    patient.clinic = to_clinic
    patient.mrn = _next_mrns(to_clinic, 1)[0]
    record_save(patient, by=by, update_fields=["clinic", "mrn"])
    diagnoses = list(Diagnosis.objects.filter(patient=patient))
    precautions = list(Precaution.objects.filter(patient=patient))
    for diagnosis in diagnoses:
        diagnosis.clinic = to_clinic
    for precaution in precautions:
        precaution.clinic = to_clinic
    bulk_update_with_history(diagnoses, Diagnosis, ["clinic"], default_user=by)
    bulk_update_with_history(precautions, Precaution, ["clinic"], default_user=by)
    return patient


# --- Diagnoses -------------------------------------------------------------------------------

DIAGNOSIS_FIELDS = ("icd10_code", "description", "onset_date", "side", "resolved_on", "notes")


def _normalise_icd10(code: str) -> str:
    code = (code or "").strip().upper()
    if len(code) > 3 and "." not in code:
        code = f"{code[:3]}.{code[3:]}"
    return code


@transaction.atomic
def diagnosis_add(*, patient: Patient, by: User | None, **fields: Any) -> Diagnosis:
    _unknown(fields, DIAGNOSIS_FIELDS)
    fields["icd10_code"] = _normalise_icd10(fields.get("icd10_code", ""))
    diagnosis = Diagnosis(patient=patient, clinic_id=patient.clinic_id, **fields)
    record_save(diagnosis, by=by)
    return diagnosis


@transaction.atomic
def diagnosis_update(*, diagnosis: Diagnosis, by: User | None, **fields: Any) -> Diagnosis:
    _unknown(fields, DIAGNOSIS_FIELDS)
    if "icd10_code" in fields:
        fields["icd10_code"] = _normalise_icd10(fields["icd10_code"])
    for name, value in fields.items():
        setattr(diagnosis, name, value)
    _check_resolved(diagnosis.onset_date, diagnosis.resolved_on)
    record_save(diagnosis, by=by, update_fields=list(fields))
    return diagnosis


def _check_resolved(start: dt.date | None, resolved_on: dt.date | None) -> None:
    if start is not None and resolved_on is not None and resolved_on < start:
        raise ValidationError({"resolved_on": "Cannot be before the onset."})


def diagnosis_check(diagnosis: Diagnosis) -> None:
    """The service's rules for a diagnosis a form built (the admin)."""
    _check_resolved(diagnosis.onset_date, diagnosis.resolved_on)


# --- Precautions -----------------------------------------------------------------------------

PRECAUTION_FIELDS = ("body_region", "side", "noted_on", "resolved_on", "notes")


def _precaution_kind(code: str) -> PrecautionKind:
    kind = PrecautionKind.objects.filter(code=code, active=True).first()
    if kind is None:
        known = ", ".join(PrecautionKind.objects.filter(active=True).values_list("code", flat=True))
        raise ValidationError({"kind": f"Unknown precaution {code!r}; known: {known}."})
    return kind


def _check_region(kind: PrecautionKind, body_region: str) -> None:
    if kind.needs_region and not body_region:
        raise ValidationError({"body_region": f"{kind.label} needs the body region it applies to."})


def precaution_check(precaution: Precaution) -> None:
    """The service's rules for a precaution a form built (the admin)."""
    _check_region(precaution.kind, precaution.body_region)
    _check_resolved(precaution.noted_on, precaution.resolved_on)


@transaction.atomic
def precaution_add(*, patient: Patient, kind: str, by: User | None, **fields: Any) -> Precaution:
    _unknown(fields, PRECAUTION_FIELDS)
    precaution_kind = _precaution_kind(kind)
    _check_region(precaution_kind, fields.get("body_region", ""))
    precaution = Precaution(
        patient=patient, clinic_id=patient.clinic_id, kind=precaution_kind, **fields
    )
    _check_resolved(precaution.noted_on, precaution.resolved_on)
    record_save(precaution, by=by)
    return precaution


@transaction.atomic
def precaution_update(*, precaution: Precaution, by: User | None, **fields: Any) -> Precaution:
    _unknown(fields, PRECAUTION_FIELDS)
    for name, value in fields.items():
        setattr(precaution, name, value)
    _check_region(precaution.kind, precaution.body_region)
    _check_resolved(precaution.noted_on, precaution.resolved_on)
    record_save(precaution, by=by, update_fields=list(fields))
    return precaution
