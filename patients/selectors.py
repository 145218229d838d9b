"""Reads about patients, always scoped by clinic first (the clinical record's reads are in
patients.clinical_selectors)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from django.db.models import Prefetch, QuerySet

from clinic.models import Clinic, Closure, OpeningHours, Room, User, WorkingHours
from patients.models import Diagnosis, Patient, Precaution, PrecautionKind, Visit
from patients.rules import PatientFlag, diagnosis_flags
from patients.scheduling import local_day_bounds


def patient_flags(*, patient: Patient, on: dt.date | None = None) -> list[PatientFlag]:
    """Everything the contraindication check needs to know about a patient, in two queries:
    current precautions (with their regions) and the flags current diagnoses raise."""
    on = on or dt.date.today()
    flags = [
        PatientFlag(
            code=p.kind.code,
            label=p.kind.label + (f" ({p.get_body_region_display()})" if p.body_region else ""),
            region=p.body_region,
        )
        for p in Precaution.objects.for_clinic(patient.clinic_id)
        .filter(patient=patient)
        .current()
        .select_related("kind")
    ]
    for d in Diagnosis.objects.for_clinic(patient.clinic_id).filter(patient=patient).current():
        flags.extend(
            diagnosis_flags(
                icd10_code=d.icd10_code, description=d.description, onset=d.onset_date, on=on
            )
        )
    return flags


def patient_search(
    *, clinic: Clinic, query: str = "", include_archived: bool = False
) -> QuerySet[Patient]:
    """The front desk's search: by name (any part, every word must match), date of birth,
    MRN or phone (digits, any part). On PostgreSQL trigram indexes serve the 'contains' matches.
    """
    patients = Patient.objects.for_clinic(clinic)
    if not include_archived:
        patients = patients.active()
    patients = patients.matching(query)
    return patients.order_by("last_name", "first_name", "pk")


def patient_get(*, clinic: Clinic, public_id: uuid.UUID | str) -> Patient | None:
    try:
        public_id = uuid.UUID(str(public_id))
    except ValueError:
        return None
    return Patient.objects.for_clinic(clinic).filter(public_id=public_id).first()


def diagnosis_list(*, clinic: Clinic, patient: Patient) -> QuerySet[Diagnosis]:
    return (
        Diagnosis.objects.for_clinic(clinic).filter(patient=patient).order_by("-onset_date", "pk")
    )


def precaution_list(
    *, clinic: Clinic, patient: Patient, current_only: bool = False
) -> QuerySet[Precaution]:
    precautions = Precaution.objects.for_clinic(clinic).filter(patient=patient)
    if current_only:
        precautions = precautions.current()
    return precautions.select_related("kind").order_by("resolved_on", "kind__label", "pk")


def precaution_kind_list() -> QuerySet[PrecautionKind]:
    return PrecautionKind.objects.filter(active=True).order_by("label")


# --- Visits ----------------------------------------------------------------------------------


def visit_list(*, clinic: Clinic) -> QuerySet[Visit]:
    return (
        Visit.objects.for_clinic(clinic)
        .select_related("patient", "therapist", "room", "episode", "series")
        .order_by("starts_at", "pk")
    )


def visit_get(*, clinic: Clinic, public_id: uuid.UUID | str) -> Visit | None:
    try:
        public_id = uuid.UUID(str(public_id))
    except ValueError:
        return None
    return visit_list(clinic=clinic).filter(public_id=public_id).first()


@dataclass
class DayCalendar:
    clinic: Clinic
    day: dt.date
    opening: list[tuple[dt.time, dt.time]]
    closed: bool
    therapists: list[User]
    rooms: list[Room]
    visits: list[Visit]


def day_calendar(*, clinic: Clinic, day: dt.date) -> DayCalendar:
    """The front desk's day: therapists as columns, rooms, and the day's visits (all statuses),
    in five queries whatever the size of the calendar."""
    start, end = local_day_bounds(day, clinic.tz)
    therapists = list(
        User.objects.for_clinic(clinic)
        .therapists()
        .filter(is_active=True)
        .select_related("therapist_profile")
        .prefetch_related(
            Prefetch(
                "working_hours",
                queryset=WorkingHours.objects.for_clinic(clinic).filter(weekday=day.weekday()),
            )
        )
        .order_by("last_name", "first_name", "pk")
    )
    visits = list(visit_list(clinic=clinic).overlapping(start, end))  # type: ignore[attr-defined]
    return DayCalendar(
        clinic=clinic,
        day=day,
        opening=list(
            OpeningHours.objects.for_clinic(clinic)
            .filter(weekday=day.weekday())
            .order_by("opens")
            .values_list("opens", "closes")
        ),
        closed=Closure.objects.for_clinic(clinic)
        .filter(starts_on__lte=day, ends_on__gte=day)
        .exists(),
        therapists=therapists,
        rooms=list(Room.objects.for_clinic(clinic).filter(active=True).order_by("name")),
        visits=visits,
    )
