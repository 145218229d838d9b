"""Plans of care and treatment notes: every write of the programs side of the clinical record
(programs.services keeps to the catalogues and the contraindication gate).

The rules (DESIGN.md mechanisms 7, 8 and 9; CLINICAL.md sections 1, 2, 3 and 5):

Plans of care
- A plan belongs to an active episode; one plan per episode is active (a partial unique
  constraint). Only a licensed physical therapist (discipline PT) establishes or recertifies one.
- Certification: `certified_until` lies at most 90 calendar days from the first treatment, the
  first treatment day being day 1 (programs.compliance counts them). The first treatment is the
  episode's first treatment day (a completed visit or the initial evaluation); while there is
  none yet, the plan's `starts_on` stands in for it, which is never later than the real one.
  A recertification counts its 90 days from its own `starts_on`.
- Every planned or delivered item is checked: a modality's parameters against its catalogue spec
  (programs.services.modality_parameters_clean), retired catalogue entries refused, and the
  contraindication gate (programs.services.contraindication_gate): a refusing finding needs the
  therapist's written justification, which is kept on the row with all the findings as
  `warnings`.
- Recertifying (to extend the certification, or because long-term goals changed) makes a new
  version in one transaction: the old one becomes `superseded`, the new one has version + 1 and
  `supersedes` the old. Planned items carry over unless new ones are given, and are re-checked.

Treatment notes
- One note per visit; the visit must belong to an episode and have been held. A draft is saved
  with the version it was based on (409 `stale_version` when another edit came first, 428
  `version_required` without one); signed notes answer 409 `signed` and the database triggers of
  migration 0005 refuse any change to them or their rows. Corrections are addenda.
- Saving recomputes the billing lines with programs.billing.bill and the episode's billing rule:
  delivered modalities by their minutes (timed codes) or one unit (untimed codes), plus the CPT
  code of a signed initial evaluation or re-evaluation of the same visit (97161-97164). Every
  line carries GP. KX is not added: the yearly threshold is money, and fees are not recorded
  yet; `billing.bill(threshold_exceeded=...)` is the hook for it. A draft's delivered rows and
  billing lines are replaced on each save (the note's own history keeps who saved when).
- Signing needs SIGN_CLINICAL in the clinic and an active therapist membership. Where the
  episode's progress-report clock is on, the note of the 10th treatment day since the last
  progress report signed by a PT (or since the episode's first day) is refused with 409
  `progress_report_due` until that report is signed.
- `visit_complete_with_note` is how a therapist completes a visit: the note (signed if asked) and
  the visit's completion in one transaction, then `_after_visit_completed` after commit.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Model
from django.utils import timezone

from clinic.capabilities import Capability
from clinic.errors import ApplicationError, ConflictError
from clinic.models import Clinic, TherapistProfile, User
from clinic.records import check_draft_version, record_save
from clinic.selectors import clinic_capabilities
from patients.clinical import VISIT_NOT_HELD, is_clinic_therapist
from patients.models import EpisodeOfCare, Evaluation, Patient, Visit
from patients.visits import visit_complete
from patients.vocabulary import BodyRegion
from programs import billing, compliance
from programs.contraindications import Finding
from programs.models import (
    BillingLine,
    DeliveredExercise,
    DeliveredModality,
    Exercise,
    Modality,
    PlannedExercise,
    PlannedModality,
    PlanOfCare,
    TreatmentNote,
    TreatmentNoteAddendum,
)
from programs.selectors import (
    contraindications_for_items,
    episode_progress_clock_inputs,
    episode_treatment_dates,
    visit_day,
)
from programs.services import contraindication_gate, modality_parameters_clean

ADDENDUM_MAX = 10_000
NOTE_TEXT_MAX = 20_000
EVALUATION_KINDS_BILLED = (Evaluation.Kind.INITIAL, Evaluation.Kind.RE_EVALUATION)


def _today(clinic: Clinic) -> dt.date:
    return timezone.localdate(timezone=clinic.tz)


# --- Items: catalogue, parameters, contraindications -----------------------------------------


@dataclass
class _Item:
    """One planned or delivered item on its way to a row: where it was in the request (for
    error names such as `modalities[2].parameters`) and its catalogue entry."""

    field: str
    data: Mapping[str, Any]
    entry: Any = None


def _resolve(
    items: Sequence[Mapping[str, Any]],
    *,
    field: str,
    key: str,
    queryset: Any,
    refuse: Any = None,
) -> list[_Item]:
    """The catalogue entries of `items` (by instance or public id), in one query. Unknown,
    retired and (`refuse(entry)` returning a reason) unsuitable entries are named per item."""
    resolved = [_Item(f"{field}[{i}]", item) for i, item in enumerate(items)]
    what = queryset.model._meta.verbose_name
    errors: dict[str, str] = {}
    wanted: list[tuple[_Item, uuid.UUID]] = []
    for item in resolved:
        if not isinstance(item.data, Mapping):
            errors[item.field] = "Must be an object."
            continue
        value = item.data.get(key)
        if isinstance(value, queryset.model):
            item.entry = value
        elif value is None or value == "":
            errors[f"{item.field}.{key}"] = f"This field is required (a {what} id)."
        else:
            try:
                wanted.append((item, uuid.UUID(str(value))))
            except ValueError:
                errors[f"{item.field}.{key}"] = f"{value!r} is not a valid id."
    if wanted:
        ids = {public_id for _, public_id in wanted}
        found = {e.public_id: e for e in queryset.filter(public_id__in=ids)}
        for item, public_id in wanted:
            item.entry = found.get(public_id)
            if item.entry is None:
                errors[f"{item.field}.{key}"] = f"No {what} with the id {public_id}."
    for item in resolved:
        if item.entry is None:
            continue
        if not item.entry.active:
            errors[f"{item.field}.{key}"] = (
                f"{item.entry.name} is retired from the catalogue; choose a current entry."
            )
        elif refuse is not None and (reason := refuse(item.entry)):
            errors[f"{item.field}.{key}"] = reason
    if errors:
        raise ValidationError(errors)
    return resolved


def _resolve_items(
    modalities: Sequence[Mapping[str, Any]], exercises: Sequence[Mapping[str, Any]]
) -> tuple[list[_Item], list[_Item]]:
    """The modality and exercise items with their catalogue entries; every unknown, retired or
    unsuitable one named in one error."""
    errors: dict[str, list[str]] = {}
    resolved: list[list[_Item]] = []
    for items, field, key, queryset, refuse in (
        (modalities, "modalities", "modality", Modality.objects.all(), _not_a_treatment),
        (exercises, "exercises", "exercise", Exercise.objects.all(), None),
    ):
        try:
            resolved.append(_resolve(items, field=field, key=key, queryset=queryset, refuse=refuse))
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    return resolved[0], resolved[1]


def _not_a_treatment(modality: Modality) -> str | None:
    if modality.is_evaluation:
        return (
            f"{modality.name} is an evaluation, not a treatment: it is billed from the signed "
            "evaluation of the visit."
        )
    return None


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    return "" if value is None else str(value).strip()


def _modality_fields(
    item: _Item, *, region_required: bool, default_minutes: bool
) -> tuple[dict[str, Any], int, str]:
    """(cleaned parameters, minutes, body region) of one modality item.

    `minutes` may be given on its own, inside `parameters` (every catalogue spec has it), or
    both when they agree. A planned item without minutes plans the modality's typical minutes.
    """
    modality: Modality = item.entry
    data = item.data
    params = data.get("parameters") or {}
    if not isinstance(params, Mapping):
        raise ValidationError({f"{item.field}.parameters": "Must be an object of name: value."})
    params = dict(params)
    minutes = data.get("minutes")
    if minutes is not None and params.get("minutes") not in (None, minutes):
        raise ValidationError(
            {
                f"{item.field}.minutes": f"{minutes} differs from the {params['minutes']} "
                "minutes in the parameters; give one of them."
            }
        )
    if minutes is None:
        minutes = params.get("minutes")
    if minutes is None and default_minutes:
        minutes = modality.typical_minutes
    if minutes is not None:
        params["minutes"] = minutes
    try:
        cleaned = modality_parameters_clean(modality=modality, params=params)
    except ValidationError as exc:
        raise ValidationError({f"{item.field}.parameters": exc.message_dict["parameters"]}) from exc
    region = _text(data, "body_region")
    if region and region not in BodyRegion.values:
        raise ValidationError({f"{item.field}.body_region": f"{region!r} is not a body region."})
    if region_required and not region:
        raise ValidationError(
            {f"{item.field}.body_region": "Say where the modality was applied (body region)."}
        )
    return cleaned, int(cleaned["minutes"]), region


def _gated(
    items: Sequence[_Item], findings: Sequence[list[Finding]]
) -> list[tuple[_Item, list[dict[str, Any]]]]:
    """Each item with the findings to keep on its row; a refused item without a justification
    stops everything with the gate's error (code `contraindicated`, the findings in the body)."""
    kept = []
    for item, found in zip(items, findings, strict=True):
        contraindication_gate(
            findings=found,
            override_justification=_text(item.data, "override_justification"),
            field=item.field,
        )
        kept.append((item, [f.as_dict() for f in found]))
    return kept


def _check_rows(rows: Iterable[tuple[str, Model]], exclude: list[str]) -> None:
    """Each row's own field validators (doses, minutes), with errors named by the item."""
    errors: dict[str, list[str]] = {}
    for field, row in rows:
        try:
            row.full_clean(exclude=exclude)
        except ValidationError as exc:
            for name, messages in exc.message_dict.items():
                errors[f"{field}.{name}"] = messages
    if errors:
        raise ValidationError(errors)


def _dose(data: Mapping[str, Any], key: str, default: int | None) -> int | None:
    value = data.get(key)
    return default if value is None else value


def _planned_items(
    *,
    patient: Patient,
    on: dt.date,
    modalities: Sequence[Mapping[str, Any]],
    exercises: Sequence[Mapping[str, Any]],
) -> tuple[list[PlannedModality], list[PlannedExercise]]:
    """Unsaved planned rows (no plan yet), every item checked."""
    m_items, e_items = _resolve_items(modalities, exercises)
    fields = [_modality_fields(i, region_required=False, default_minutes=True) for i in m_items]
    m_findings, e_findings = contraindications_for_items(
        patient=patient,
        modalities=[
            (i.entry, region or None) for i, (_, _, region) in zip(m_items, fields, strict=True)
        ],
        exercises=[i.entry for i in e_items],
        on=on,
    )
    planned_m = [
        PlannedModality(
            modality=item.entry,
            parameters=params,
            body_region=region,
            minutes=minutes,
            override_justification=_text(item.data, "override_justification"),
            warnings=kept,
        )
        for (item, kept), (params, minutes, region) in zip(
            _gated(m_items, m_findings), fields, strict=True
        )
    ]
    planned_e = []
    for item, kept in _gated(e_items, e_findings):
        exercise: Exercise = item.entry
        planned_e.append(
            PlannedExercise(
                exercise=exercise,
                sets=_dose(item.data, "sets", exercise.sets),
                reps=_dose(item.data, "reps", exercise.reps),
                hold_seconds=_dose(item.data, "hold_seconds", exercise.hold_seconds),
                times_per_day=_dose(item.data, "times_per_day", exercise.times_per_day),
                days_per_week=_dose(item.data, "days_per_week", exercise.days_per_week),
                override_justification=_text(item.data, "override_justification"),
                warnings=kept,
            )
        )
    _check_rows(
        [(i.field, r) for i, r in zip(m_items, planned_m, strict=True)]
        + [(i.field, r) for i, r in zip(e_items, planned_e, strict=True)],
        exclude=["plan", "modality", "exercise"],
    )
    return planned_m, planned_e


def _delivered_items(
    *,
    patient: Patient,
    on: dt.date,
    modalities: Sequence[Mapping[str, Any]],
    exercises: Sequence[Mapping[str, Any]],
) -> tuple[list[DeliveredModality], list[DeliveredExercise]]:
    """Unsaved delivered rows (no note yet), every item checked."""
    m_items, e_items = _resolve_items(modalities, exercises)
    fields = [_modality_fields(i, region_required=True, default_minutes=False) for i in m_items]
    m_findings, e_findings = contraindications_for_items(
        patient=patient,
        modalities=[(i.entry, region) for i, (_, _, region) in zip(m_items, fields, strict=True)],
        exercises=[i.entry for i in e_items],
        on=on,
    )
    delivered_m = [
        DeliveredModality(
            modality=item.entry,
            parameters=params,
            body_region=region,
            minutes=minutes,
            override_justification=_text(item.data, "override_justification"),
            warnings=kept,
        )
        for (item, kept), (params, minutes, region) in zip(
            _gated(m_items, m_findings), fields, strict=True
        )
    ]
    delivered_e = [
        DeliveredExercise(
            exercise=item.entry,
            sets=item.data.get("sets"),
            reps=item.data.get("reps"),
            hold_seconds=item.data.get("hold_seconds"),
            notes=_text(item.data, "notes"),
            override_justification=_text(item.data, "override_justification"),
            warnings=kept,
        )
        for item, kept in _gated(e_items, e_findings)
    ]
    _check_rows(
        [(i.field, r) for i, r in zip(m_items, delivered_m, strict=True)]
        + [(i.field, r) for i, r in zip(e_items, delivered_e, strict=True)],
        exclude=["note", "modality", "exercise"],
    )
    return delivered_m, delivered_e


# --- Plans of care ---------------------------------------------------------------------------


def _check_plan_author(*, clinic: Clinic, by: User) -> None:
    """Only a licensed physical therapist of the clinic establishes or changes a plan of care."""
    profile = TherapistProfile.objects.filter(user=by).first()
    if (
        Capability.MANAGE_CLINICAL not in clinic_capabilities(user=by, clinic=clinic)
        or not is_clinic_therapist(clinic=clinic, user=by)
        or profile is None
        or not profile.is_licensed_therapist
    ):
        raise PermissionDenied(
            "Only a licensed physical therapist (PT) of the clinic establishes or recertifies a "
            "plan of care; an assistant (PTA) may not."
        )


def _check_certification(
    *,
    basis: dt.date,
    certified_until: dt.date,
    physician_signed_on: dt.date | None,
    verbal_order_on: dt.date | None,
    today: dt.date,
    basis_is: str,
) -> None:
    """The certification's own rules, by programs.compliance, as errors on the right field."""
    for name, day in (
        ("physician_signed_on", physician_signed_on),
        ("verbal_order_on", verbal_order_on),
    ):
        if day is not None and day > today:
            raise ValidationError({name: "Cannot be in the future."})
    try:
        compliance.certification_status(
            first_treatment=basis,
            certified_until=certified_until,
            physician_signed_on=physician_signed_on,
            verbal_order_on=verbal_order_on,
            today=today,
        )
    except compliance.CertificationError as exc:
        latest = compliance.certification_latest_until(basis)
        if certified_until > latest or certified_until < basis:
            field = "certified_until"
        elif physician_signed_on is not None and physician_signed_on < basis:
            field = "physician_signed_on"
        else:
            field = "verbal_order_on"
        raise ValidationError({field: f"{exc} (Counted from {basis_is}.)"}) from exc


def _first_treatment_on(episode: EpisodeOfCare) -> dt.date | None:
    days = episode_treatment_dates(episode=episode)
    return min(days) if days else None


def _save_plan(
    plan: PlanOfCare,
    modalities: list[PlannedModality],
    exercises: list[PlannedExercise],
    by: User,
) -> PlanOfCare:
    record_save(plan, by=by)
    for modality_row in modalities:
        modality_row.plan = plan
    for exercise_row in exercises:
        exercise_row.plan = plan
    PlannedModality.objects.bulk_create(modalities)
    PlannedExercise.objects.bulk_create(exercises)
    return plan


def _lock_episode(episode: EpisodeOfCare) -> EpisodeOfCare:
    return (
        EpisodeOfCare.objects.select_for_update(of=("self",))
        .select_related("clinic", "patient", "patient__clinic")
        .get(pk=episode.pk)
    )


def plan_create_check(
    *,
    episode: EpisodeOfCare,
    starts_on: dt.date,
    certified_until: dt.date,
    physician_signed_on: dt.date | None,
    verbal_order_on: dt.date | None,
    by: User,
) -> dt.date | None:
    """The rules of a new plan apart from its items (the admin's form runs them too). Returns
    the episode's first treatment day, None while there is none."""
    clinic = episode.clinic
    _check_plan_author(clinic=clinic, by=by)
    if episode.status != EpisodeOfCare.Status.ACTIVE:
        raise ValidationError({"episode": "The episode of care has ended."})
    if PlanOfCare.objects.for_clinic(clinic).filter(episode=episode, status="active").exists():
        raise ConflictError(
            "The episode already has an active plan of care; recertify it to change it.",
            code="active_plan_exists",
        )
    if starts_on < episode.started_on:
        raise ValidationError(
            {"starts_on": f"Cannot start before the episode ({episode.started_on})."}
        )
    first_treatment = _first_treatment_on(episode)
    basis = first_treatment or starts_on
    _check_certification(
        basis=basis,
        certified_until=certified_until,
        physician_signed_on=physician_signed_on,
        verbal_order_on=verbal_order_on,
        today=_today(clinic),
        basis_is=(
            f"the first treatment on {basis:%Y-%m-%d}"
            if first_treatment
            else f"the plan's start on {basis:%Y-%m-%d}, as no treatment is recorded yet"
        ),
    )
    return first_treatment


@transaction.atomic
def plan_create(
    *,
    episode: EpisodeOfCare,
    frequency_per_week: int,
    duration_weeks: int,
    starts_on: dt.date,
    certified_until: dt.date,
    by: User,
    physician_name: str = "",
    physician_signed_on: dt.date | None = None,
    verbal_order_on: dt.date | None = None,
    notes: str = "",
    modalities: Sequence[Mapping[str, Any]] = (),
    exercises: Sequence[Mapping[str, Any]] = (),
) -> PlanOfCare:
    """Establish the episode's plan of care (version 1). 409 `active_plan_exists` when the
    episode already has one: recertify it instead."""
    episode = _lock_episode(episode)
    first_treatment = plan_create_check(
        episode=episode,
        starts_on=starts_on,
        certified_until=certified_until,
        physician_signed_on=physician_signed_on,
        verbal_order_on=verbal_order_on,
        by=by,
    )
    planned_m, planned_e = _planned_items(
        patient=episode.patient, on=starts_on, modalities=modalities, exercises=exercises
    )
    plan = PlanOfCare(
        clinic=episode.clinic,
        episode=episode,
        version=1,
        frequency_per_week=frequency_per_week,
        duration_weeks=duration_weeks,
        starts_on=starts_on,
        first_treatment_on=first_treatment,
        certified_until=certified_until,
        physician_name=(physician_name or "").strip(),
        physician_signed_on=physician_signed_on,
        verbal_order_on=verbal_order_on,
        notes=(notes or "").strip(),
        created_by=by,
    )
    return _save_plan(plan, planned_m, planned_e, by)


def _planned_as_input(plan: PlanOfCare) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A plan's items as the input of a new version (carried over, checked again)."""
    modalities = [
        {
            "modality": row.modality,
            "parameters": row.parameters,
            "body_region": row.body_region,
            "minutes": row.minutes,
            "override_justification": row.override_justification,
        }
        for row in plan.modalities.select_related("modality")
    ]
    exercises = [
        {
            "exercise": row.exercise,
            "sets": row.sets,
            "reps": row.reps,
            "hold_seconds": row.hold_seconds,
            "times_per_day": row.times_per_day,
            "days_per_week": row.days_per_week,
            "override_justification": row.override_justification,
        }
        for row in plan.exercises.select_related("exercise")
    ]
    return modalities, exercises


_KEEP: Any = object()  # "as in the plan being recertified"


@transaction.atomic
def plan_recertify(
    *,
    plan: PlanOfCare,
    certified_until: dt.date,
    by: User,
    starts_on: dt.date | None = None,
    frequency_per_week: int | None = None,
    duration_weeks: int | None = None,
    physician_name: str | None = None,
    physician_signed_on: dt.date | None = None,
    verbal_order_on: dt.date | None = None,
    notes: str | None = None,
    modalities: Sequence[Mapping[str, Any]] | None = None,
    exercises: Sequence[Mapping[str, Any]] | None = None,
) -> PlanOfCare:
    """A new certified version of an active plan (to extend it, or because long-term goals
    changed). Unspecified fields and items carry over; `starts_on` defaults to today and the 90
    days count from it. The physician's signature and verbal order belong to the old
    certification and do not carry over. The old version becomes superseded."""
    old = PlanOfCare.objects.select_for_update(of=("self",)).get(pk=plan.pk)
    episode = _lock_episode(old.episode)
    clinic = episode.clinic
    _check_plan_author(clinic=clinic, by=by)
    if old.status != PlanOfCare.Status.ACTIVE:
        raise ConflictError(
            "This version of the plan was superseded; recertify the active one.",
            code="superseded",
        )
    if episode.status != EpisodeOfCare.Status.ACTIVE:
        raise ValidationError({"episode": "The episode of care has ended."})
    today = _today(clinic)
    starts_on = starts_on or today
    if starts_on < old.starts_on:
        raise ValidationError(
            {"starts_on": f"Cannot start before the plan it recertifies ({old.starts_on})."}
        )
    _check_certification(
        basis=starts_on,
        certified_until=certified_until,
        physician_signed_on=physician_signed_on,
        verbal_order_on=verbal_order_on,
        today=today,
        basis_is=f"the recertification's start on {starts_on:%Y-%m-%d}",
    )
    old_modalities, old_exercises = _planned_as_input(old)
    planned_m, planned_e = _planned_items(
        patient=episode.patient,
        on=starts_on,
        modalities=old_modalities if modalities is None else modalities,
        exercises=old_exercises if exercises is None else exercises,
    )
    old.status = PlanOfCare.Status.SUPERSEDED
    record_save(old, by=by, update_fields=["status"])
    new = PlanOfCare(
        clinic=clinic,
        episode=episode,
        version=old.version + 1,
        supersedes=old,
        frequency_per_week=frequency_per_week or old.frequency_per_week,
        duration_weeks=duration_weeks or old.duration_weeks,
        starts_on=starts_on,
        first_treatment_on=None,
        certified_until=certified_until,
        physician_name=old.physician_name if physician_name is None else physician_name.strip(),
        physician_signed_on=physician_signed_on,
        verbal_order_on=verbal_order_on,
        notes=old.notes if notes is None else notes.strip(),
        created_by=by,
    )
    return _save_plan(new, planned_m, planned_e, by)


PHYSICIAN_FIELDS = ("physician_name", "physician_signed_on", "verbal_order_on")


def plan_physician_check(plan: PlanOfCare) -> None:
    """The physician's dates of a plan against its certification (the admin's form runs it)."""
    basis = plan.first_treatment_on or plan.starts_on
    _check_certification(
        basis=basis,
        certified_until=plan.certified_until,
        physician_signed_on=plan.physician_signed_on,
        verbal_order_on=plan.verbal_order_on,
        today=_today(plan.clinic),
        basis_is=f"{basis:%Y-%m-%d}",
    )


@transaction.atomic
def plan_physician_update(*, plan: PlanOfCare, by: User, **fields: Any) -> PlanOfCare:
    """Record the referring physician's certification of a plan: the name, the date the
    physician signed, a verbal order. The plan's content does not change (recertify for that)."""
    if unknown := set(fields) - set(PHYSICIAN_FIELDS):
        raise TypeError(f"Unknown fields: {sorted(unknown)}")
    locked = (
        PlanOfCare.objects.select_for_update(of=("self",)).select_related("clinic").get(pk=plan.pk)
    )
    for name, value in fields.items():
        setattr(locked, name, (value or "").strip() if name == "physician_name" else value)
    plan_physician_check(locked)
    record_save(locked, by=by, update_fields=list(fields))
    return locked


# --- Treatment notes -------------------------------------------------------------------------

NOTE_TEXT_FIELDS = ("subjective", "assessment", "notes")


def _lock_visit(visit: Visit) -> Visit:
    return (
        Visit.objects.select_for_update(of=("self",))
        .select_related("clinic", "episode", "patient", "patient__clinic")
        .get(pk=visit.pk)
    )


def treatment_note_visit_check(visit: Visit) -> EpisodeOfCare:
    """The visit takes a note: it belongs to an episode and was held. Returns the episode."""
    if visit.episode is None:
        raise ApplicationError(
            "The visit belongs to no episode of care; link it to the patient's episode first.",
            code="no_episode",
            field="visit",
        )
    if visit.status in VISIT_NOT_HELD:
        raise ConflictError(
            f"The visit was not held ({visit.get_status_display().lower()}); it takes no "
            "treatment note.",
            code="visit_not_held",
        )
    return visit.episode


def _check_version(note: TreatmentNote, version: int | None) -> None:
    check_draft_version(
        status=note.status, current=note.version, version=version, what="treatment note"
    )


def _service_lines(note: TreatmentNote) -> list[billing.ServiceLine]:
    """The codes of the visit: the signed evaluation's (untimed), then the delivered
    modalities'."""
    lines = [
        billing.ServiceLine(cpt_code=code, minutes=0, timed=False)
        for evaluation in Evaluation.objects.for_clinic(note.clinic_id)
        .signed()
        .filter(visit_id=note.visit_id, kind__in=EVALUATION_KINDS_BILLED)
        .order_by("performed_on", "pk")
        if (code := evaluation.cpt_code)
    ]
    for delivered in note.modalities.select_related("modality").order_by("pk"):
        lines.append(
            billing.ServiceLine(
                cpt_code=delivered.modality.cpt_code,
                minutes=delivered.minutes,
                timed=delivered.modality.timed,
            )
        )
    return lines


def _bill(note: TreatmentNote) -> list[BillingLine]:
    """Replace the note's billing lines with those its items earn under its billing rule."""
    lines = _service_lines(note)
    try:
        billed = billing.bill(lines, note.billing_rule)
    except billing.BillingError as exc:
        raise ValidationError({"modalities": str(exc)}) from exc
    timed = {line.cpt_code: line.timed for line in lines}
    BillingLine.objects.filter(note=note).delete()
    return BillingLine.objects.bulk_create(
        BillingLine(
            note=note,
            cpt_code=line.cpt_code,
            minutes=line.minutes,
            units=line.units,
            timed=timed[line.cpt_code],
            modifiers=" ".join(line.modifiers),
        )
        for line in billed
    )


@transaction.atomic
def treatment_note_save(
    *,
    visit: Visit,
    by: User,
    version: int | None = None,
    subjective: str | None = None,
    assessment: str | None = None,
    notes: str | None = None,
    modalities: Sequence[Mapping[str, Any]] | None = None,
    exercises: Sequence[Mapping[str, Any]] | None = None,
) -> TreatmentNote:
    """Create the visit's draft note, or change it based on `version`.

    None leaves a field (or the list of items) as it is; on a new note it is blank or empty.
    Given items replace the note's items. The billing lines are recomputed every time.
    """
    visit = _lock_visit(visit)
    episode = treatment_note_visit_check(visit)
    note = TreatmentNote.objects.select_for_update(of=("self",)).filter(visit=visit).first()
    if note is None:
        note = TreatmentNote(
            clinic=visit.clinic, visit=visit, episode=episode, author=by, version=1
        )
    else:
        _check_version(note, version)
        note.version += 1
    for name, value in (("subjective", subjective), ("assessment", assessment), ("notes", notes)):
        if value is not None:
            value = value.strip()
            if len(value) > NOTE_TEXT_MAX:
                raise ValidationError({name: f"Keep it under {NOTE_TEXT_MAX} characters."})
            setattr(note, name, value)
    delivered = None
    if modalities is not None or exercises is not None:
        delivered = _delivered_items(
            patient=visit.patient,
            on=visit_day(visit),
            modalities=modalities if modalities is not None else _kept_modalities(note),
            exercises=exercises if exercises is not None else _kept_exercises(note),
        )
    note.billing_rule = episode.billing_rule
    record_save(note, by=by)
    if delivered is not None:
        delivered_m, delivered_e = delivered
        DeliveredModality.objects.filter(note=note).delete()
        DeliveredExercise.objects.filter(note=note).delete()
        for modality_row in delivered_m:
            modality_row.note = note
        for exercise_row in delivered_e:
            exercise_row.note = note
        DeliveredModality.objects.bulk_create(delivered_m)
        DeliveredExercise.objects.bulk_create(delivered_e)
    _bill(note)
    return note


def _kept_modalities(note: TreatmentNote) -> list[dict[str, Any]]:
    if note.pk is None:
        return []
    return [
        {
            "modality": row.modality,
            "parameters": row.parameters,
            "body_region": row.body_region,
            "minutes": row.minutes,
            "override_justification": row.override_justification,
        }
        for row in note.modalities.select_related("modality")
    ]


def _kept_exercises(note: TreatmentNote) -> list[dict[str, Any]]:
    if note.pk is None:
        return []
    return [
        {
            "exercise": row.exercise,
            "sets": row.sets,
            "reps": row.reps,
            "hold_seconds": row.hold_seconds,
            "notes": row.notes,
            "override_justification": row.override_justification,
        }
        for row in note.exercises.select_related("exercise")
    ]


def _check_note_signer(note: TreatmentNote, by: User) -> None:
    clinic = note.clinic
    if Capability.SIGN_CLINICAL not in clinic_capabilities(
        user=by, clinic=clinic
    ) or not is_clinic_therapist(clinic=clinic, user=by):
        raise PermissionDenied("Only a therapist of the clinic may sign treatment notes.")


def progress_report_due_check(*, episode: EpisodeOfCare, day: dt.date) -> None:
    """409 `progress_report_due` when treatment on `day` would be the 10th (or later) treatment
    day since the last progress report by a PT, on an episode whose clock is on."""
    if not episode.progress_report_clock:
        return
    treatment_dates, reports = episode_progress_clock_inputs(episode=episode)
    clock = compliance.progress_report_status(
        treatment_dates=[*treatment_dates, day], reports=reports, today=day
    )
    if clock.status != "due":
        return
    since = (
        f"the last progress report on {clock.last_report_on:%Y-%m-%d}"
        if clock.last_report_on
        else "the start of the episode"
    )
    raise ConflictError(
        f"A progress report is due: {day:%Y-%m-%d} is treatment day {clock.treatment_days} since "
        f"{since}, and one is required at least every "
        f"{compliance.MEDICARE_PROGRESS_REPORT.every} treatment days. A physical therapist (PT) "
        "signs the progress report first; then this note can be signed.",
        code="progress_report_due",
        extra={
            "treatment_days": clock.treatment_days,
            "last_report_on": clock.last_report_on.isoformat() if clock.last_report_on else None,
            "period_started_on": (
                clock.period_started_on.isoformat() if clock.period_started_on else None
            ),
        },
    )


@transaction.atomic
def treatment_note_sign(*, note: TreatmentNote, by: User, version: int | None) -> TreatmentNote:
    """Sign the draft seen at `version`; from then on it is immutable (corrections are addenda).

    The billing lines are computed once more first, so that an evaluation signed since the last
    save is billed. The first signed treatment under a plan with no first treatment day yet
    records it on the plan (the 90 days of certification count from it)."""
    locked = (
        TreatmentNote.objects.select_for_update(of=("self",))
        .select_related("clinic", "episode__clinic", "visit__clinic")
        .get(pk=note.pk)
    )
    _check_version(locked, version)
    _check_note_signer(locked, by)
    visit = locked.visit
    if visit.status in VISIT_NOT_HELD:
        raise ConflictError(
            "The visit was not held; its note cannot be signed.", code="visit_not_held"
        )
    if visit.starts_at > timezone.now():
        raise ConflictError(
            "A treatment note cannot be signed before the visit starts.", code="not_started"
        )
    if not (locked.notes or locked.modalities.exists() or locked.exercises.exists()):
        raise ApplicationError(
            "Nothing to sign: record the treatment given (modalities, exercises or notes).",
            code="empty_note",
        )
    day = visit_day(visit)
    progress_report_due_check(episode=locked.episode, day=day)
    _bill(locked)
    _record_first_treatment(locked.episode, day, by)
    locked.status = TreatmentNote.Status.SIGNED
    locked.signed_at = timezone.now()
    locked.signed_by = by
    locked.version += 1
    record_save(locked, by=by, update_fields=["status", "signed_at", "signed_by", "version"])
    return locked


def _record_first_treatment(episode: EpisodeOfCare, day: dt.date, by: User) -> None:
    """Record `day` as the first treatment of an initial plan that has none yet, when the plan's
    certification holds counted from it (else the plan keeps counting from its start)."""
    plan = (
        PlanOfCare.objects.for_clinic(episode.clinic_id)
        .filter(episode=episode, status=PlanOfCare.Status.ACTIVE, first_treatment_on__isnull=True)
        .first()
    )
    if plan is None or plan.version != 1 or day < plan.starts_on:
        return
    try:
        compliance.certification_status(
            first_treatment=day,
            certified_until=plan.certified_until,
            physician_signed_on=plan.physician_signed_on,
            verbal_order_on=plan.verbal_order_on,
            today=day,
        )
    except compliance.CertificationError:
        return
    plan.first_treatment_on = day
    record_save(plan, by=by, update_fields=["first_treatment_on"])


@transaction.atomic
def treatment_note_addendum_add(
    *, note: TreatmentNote, by: User, text: str
) -> TreatmentNoteAddendum:
    """A correction or addition to a signed note, by a therapist of the clinic; addenda are
    never changed or removed."""
    if note.status != TreatmentNote.Status.SIGNED:
        raise ApplicationError(
            "Addenda are for signed treatment notes; edit the draft instead.", code="not_signed"
        )
    if not is_clinic_therapist(clinic=note.clinic_id, user=by):
        raise PermissionDenied("Only a therapist of the clinic adds to a treatment note.")
    text = (text or "").strip()
    if not text:
        raise ValidationError({"text": "Write the correction or addition."})
    if len(text) > ADDENDUM_MAX:
        raise ValidationError({"text": f"Keep an addendum under {ADDENDUM_MAX} characters."})
    addendum = TreatmentNoteAddendum(clinic_id=note.clinic_id, note=note, author=by, text=text)
    record_save(addendum, by=by)
    return addendum


# --- Completing a visit ----------------------------------------------------------------------


def _after_visit_completed(visit_id: int) -> None:
    """Runs after the transaction that completed the visit has committed: enqueue the progress
    summary and the follow-up of the visit, ids only (DESIGN.md mechanisms 4, 5 and 6). A broker
    that is down is logged, never raised: the completion stands and the sweeper catches up."""
    from programs.tasks import enqueue_after_visit_completed

    enqueue_after_visit_completed(visit_id)


@transaction.atomic
def visit_complete_with_note(
    *,
    visit: Visit,
    by: User,
    version: int | None = None,
    sign: bool = False,
    subjective: str | None = None,
    assessment: str | None = None,
    notes: str | None = None,
    modalities: Sequence[Mapping[str, Any]] | None = None,
    exercises: Sequence[Mapping[str, Any]] | None = None,
) -> tuple[TreatmentNote, Visit]:
    """The therapist completes a visit: save its treatment note (and sign it when `sign`), then
    mark the visit completed, all in one transaction: a refused note leaves the visit as it was,
    a refused completion leaves no note behind. After commit `_after_visit_completed` runs."""
    note = treatment_note_save(
        visit=visit,
        by=by,
        version=version,
        subjective=subjective,
        assessment=assessment,
        notes=notes,
        modalities=modalities,
        exercises=exercises,
    )
    if sign:
        note = treatment_note_sign(note=note, by=by, version=note.version)
    completed = visit_complete(visit=visit, by=by)
    transaction.on_commit(lambda: _after_visit_completed(completed.pk))
    return note, completed
