"""A patient's record export: everything the practice holds about one patient, as JSON, for a
request of access.

The export is a list of sections (`SECTIONS`), each one queryset of the patient's rows plus the
child rows printed inside each row (a treatment note's lines and addenda). A new model of the
record is one more `Section`. Every row is written out field by field (all concrete fields but
the internal primary key, the clinic and the derived search columns), a reference to another row
as that row's public id (a member of staff also by name), so nothing the practice holds is left
out by a serializer that was not updated.

Reads are a constant number of queries whatever the size of the record: one per section, one per
kind of child rows, one per history table. The export lives in programs because it includes the
programmes' rows (plans, notes, home programmes), and patients may not import programs.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import models
from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from clinic.access import access_record
from clinic.models import AccessLog, Clinic, User
from patients.models import (
    Diagnosis,
    EpisodeOfCare,
    Evaluation,
    EvaluationAddendum,
    Goal,
    OutcomeMeasure,
    Patient,
    Precaution,
    Visit,
)
from programs.models import (
    BillingLine,
    DeliveredExercise,
    DeliveredModality,
    FollowUp,
    HomeProgram,
    HomeProgramEmail,
    HomeProgramItem,
    HomeProgramLink,
    HomeProgramVersion,
    HomeSession,
    PlannedExercise,
    PlannedModality,
    PlanOfCare,
    ProgressSummary,
    TreatmentNote,
    TreatmentNoteAddendum,
)

EXPORT_FORMAT = "ptpractice.patient-export/1"

# Columns that are not the record: the row's internal key, the tenancy column (the export names
# the clinic once) and columns derived for search.
SKIPPED_FIELDS = {"id", "clinic", "search_name", "phone_digits"}


@dataclass(frozen=True)
class Child:
    """Rows printed inside each row of a section, e.g. the addenda of an evaluation."""

    name: str  # the key in the parent's row
    related_name: str  # the reverse relation from the parent
    model: type[models.Model]
    order_by: tuple[str, ...] = ("pk",)


@dataclass(frozen=True)
class Section:
    """One kind of the patient's rows: `rows(patient)` narrows the model's rows to the patient."""

    name: str
    model: type[models.Model]
    rows: Callable[[QuerySet[Any], Patient], QuerySet[Any]]
    order_by: tuple[str, ...] = ("pk",)
    children: tuple[Child, ...] = field(default_factory=tuple)
    # Many-to-many relations written as the related rows' public ids.
    many: tuple[str, ...] = field(default_factory=tuple)


def _by_patient(rows: QuerySet[Any], patient: Patient) -> QuerySet[Any]:
    return rows.filter(patient=patient)


def _by_episode(rows: QuerySet[Any], patient: Patient) -> QuerySet[Any]:
    return rows.filter(episode__patient=patient)


def _by_visit(rows: QuerySet[Any], patient: Patient) -> QuerySet[Any]:
    return rows.filter(visit__patient=patient)


def _by_program(rows: QuerySet[Any], patient: Patient) -> QuerySet[Any]:
    return rows.filter(program__episode__patient=patient)


def _by_program_version(rows: QuerySet[Any], patient: Patient) -> QuerySet[Any]:
    return rows.filter(version__program__episode__patient=patient)


SECTIONS: list[Section] = [
    Section("diagnoses", Diagnosis, _by_patient),
    Section("precautions", Precaution, _by_patient),
    Section("episodes_of_care", EpisodeOfCare, _by_patient, ("started_on", "pk")),
    Section(
        "evaluations",
        Evaluation,
        _by_episode,
        ("performed_on", "pk"),
        (Child("addenda", "addenda", EvaluationAddendum),),
    ),
    Section("outcome_measures", OutcomeMeasure, _by_episode, ("recorded_on", "pk")),
    Section("goals", Goal, _by_episode),
    Section(
        "plans_of_care",
        PlanOfCare,
        _by_episode,
        ("starts_on", "pk"),
        (
            Child("modalities", "modalities", PlannedModality),
            Child("exercises", "exercises", PlannedExercise),
        ),
    ),
    Section("visits", Visit, _by_patient, ("starts_at", "pk")),
    Section(
        "treatment_notes",
        TreatmentNote,
        _by_episode,
        ("visit__starts_at", "pk"),
        (
            Child("modalities", "modalities", DeliveredModality),
            Child("exercises", "exercises", DeliveredExercise),
            Child("billing_lines", "billing_lines", BillingLine),
            Child("addenda", "addenda", TreatmentNoteAddendum),
        ),
    ),
    Section("follow_ups", FollowUp, _by_episode, ("due_from", "pk")),
    Section("progress_summaries", ProgressSummary, _by_visit, ("visit__starts_at", "pk")),
    Section("home_programmes", HomeProgram, _by_episode),
    Section(
        "home_programme_versions",
        HomeProgramVersion,
        _by_program,
        ("program_id", "version"),
        (Child("items", "items", HomeProgramItem, ("position", "pk")),),
    ),
    Section("home_programme_links", HomeProgramLink, _by_program),
    Section("home_sessions", HomeSession, _by_program, ("performed_on", "pk"), many=("items",)),
    Section("home_programme_emails", HomeProgramEmail, _by_program_version),
]


# --- Rows as JSON ------------------------------------------------------------------------------


def _references(model: type[models.Model], *, parent: str | None = None) -> list[str]:
    """The foreign keys a row is written with (fetched with it: no query per row)."""
    return [
        f.name
        for f in model._meta.concrete_fields
        if f.is_relation and f.name not in SKIPPED_FIELDS and f.name != parent
    ]


def _reference(obj: models.Model | None) -> Any:
    if obj is None:
        return None
    if isinstance(obj, User):
        return {"id": str(obj.public_id), "name": obj.get_full_name() or obj.username}
    public_id = getattr(obj, "public_id", None)
    if public_id is None:
        return str(obj)
    name = getattr(obj, "name", None)
    return {"id": str(public_id), "name": name} if isinstance(name, str) else str(public_id)


def _value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    return value


def row_data(obj: models.Model, *, parent: str | None = None) -> dict[str, Any]:
    """Every concrete field of the row (`public_id` as `id`), references as public ids."""
    data: dict[str, Any] = {}
    for f in obj._meta.concrete_fields:
        if f.name in SKIPPED_FIELDS or f.name == parent:
            continue
        if f.is_relation:
            data[f.name] = _reference(getattr(obj, f.name))
        else:
            data["id" if f.name == "public_id" else f.name] = _value(getattr(obj, f.attname))
    return data


def _parent_field(child: Child, parent: type[models.Model]) -> str:
    for f in child.model._meta.concrete_fields:
        if f.is_relation and f.related_model is parent:
            return f.name
    raise LookupError(f"{child.model.__name__} has no key to {parent.__name__}")


def section_queryset(section: Section, patient: Patient) -> QuerySet[Any]:
    rows = section.model._default_manager.filter(clinic=patient.clinic)
    rows = section.rows(rows, patient).select_related(*_references(section.model))
    for child in section.children:
        parent = _parent_field(child, section.model)
        children = child.model._default_manager.select_related(
            *_references(child.model, parent=parent)
        ).order_by(*child.order_by)
        rows = rows.prefetch_related(Prefetch(child.related_name, queryset=children))
    for name in section.many:
        related = section.model._meta.get_field(name).related_model
        if not isinstance(related, type):  # a section declared wrongly: a programming error
            raise TypeError(f"{section.name}.{name} is not a relation")
        rows = rows.prefetch_related(
            Prefetch(name, queryset=related._default_manager.only("pk", "public_id"))
        )
    return rows.order_by(*section.order_by)


def section_data(section: Section, patient: Patient) -> list[dict[str, Any]]:
    out = []
    for obj in section_queryset(section, patient):
        data = row_data(obj)
        for child in section.children:
            parent = _parent_field(child, section.model)
            data[child.name] = [
                row_data(row, parent=parent) for row in getattr(obj, child.related_name).all()
            ]
        for name in section.many:
            data[name] = [str(row.public_id) for row in getattr(obj, name).all()]
        out.append(data)
    return out


# --- History and reads ---------------------------------------------------------------------------


def _history(patient: Patient) -> list[dict[str, Any]]:
    """Every recorded change of the patient's rows that keep a history (who, when, what kind of
    change, the row's values as they were; references to other rows are left out, they are
    internal keys): one query per history table."""
    changes: list[tuple[dt.datetime, int, dict[str, Any]]] = []
    histories: list[tuple[str, type[models.Model], Callable[..., QuerySet[Any]] | None]] = [
        ("patient", Patient, None),
        *((s.name, s.model, s.rows) for s in SECTIONS),
    ]
    for name, model, narrow in histories:
        manager = getattr(model, "history", None)
        if manager is None:
            continue
        rows = manager.model.objects.filter(clinic_id=patient.clinic_id)
        if narrow is None:
            rows = rows.filter(id=patient.pk)
        else:
            rows = rows.filter(id__in=narrow(model._default_manager.all(), patient).values("pk"))
        fields = [
            f
            for f in model._meta.concrete_fields
            if f.name not in SKIPPED_FIELDS and not f.is_relation and f.name != "public_id"
        ]
        for row in rows.select_related("history_user").order_by("history_date", "history_id"):
            change = {
                "record": name,
                "id": str(row.public_id),
                "change": HISTORY_TYPES[row.history_type],
                "at": _value(row.history_date),
                "by": _reference(row.history_user),
                "values": {
                    f.name: _value(getattr(row, f.attname))
                    for f in fields
                    if hasattr(row, f.attname)
                },
            }
            changes.append((row.history_date, row.history_id, change))
    changes.sort(key=lambda c: (c[0], c[1]))
    return [change for _, _, change in changes]


HISTORY_TYPES = {"+": "created", "~": "changed", "-": "deleted"}


def _reads(patient: Patient) -> list[dict[str, Any]]:
    rows = (
        AccessLog.objects.for_clinic(patient.clinic)
        .filter(patient_public_id=patient.public_id)
        .select_related("actor")
        .order_by("at", "id")
    )
    return [
        {
            "at": _value(row.at),
            "by": _reference(row.actor),
            "record": row.record,
            "what": row.what,
            "method": row.method,
        }
        for row in rows
    ]


# --- The export --------------------------------------------------------------------------------


def patient_export(*, patient: Patient, by: User, request: Any = None) -> dict[str, Any]:
    """The patient's whole record as JSON-ready data; the export itself is logged (before it
    is answered) in the access log."""
    clinic: Clinic = patient.clinic
    access_record(
        request_or_actor=request if request is not None else by,
        clinic=clinic,
        patient_public_id=patient.public_id,
        what="patient export",
        record=AccessLog.Record.EXPORT,
    )
    return {
        "format": EXPORT_FORMAT,
        "exported_at": _value(timezone.now()),
        "exported_by": _reference(by),
        "clinic": {"id": str(clinic.public_id), "name": clinic.name},
        "patient": row_data(patient),
        **{section.name: section_data(section, patient) for section in SECTIONS},
        "history": _history(patient),
        "access_log": _reads(patient),
    }
