"""The clinical record's services: every write to episodes of care, evaluations, addenda, goals and
outcome measures (patients.services keeps to demographics, diagnoses and precautions).

The rules (DESIGN.md mechanisms 7 and 8, CLINICAL.md sections 3 and 4):
- An episode belongs to one patient and is treated by an active therapist of the patient's clinic.
  Its billing rule and progress-report clock default from the payer and the clinic: Medicare
  patients of a clinic with `medicare_rules` get the 8-minute rule and the clock, everyone else
  the rule of eights and no clock. An ended episode (discharged or closed) is not edited.
- Evaluations are drafts until signed. Every edit of a draft names the version it was based on;
  the row is locked (SELECT ... FOR UPDATE; on SQLite the IMMEDIATE transaction serialises
  writers) and a stale version is refused with 409 naming the current one, so two concurrent
  edits cannot both win. Signed evaluations are immutable: the services answer 409 "signed",
  and the database triggers of migration 0007 refuse any UPDATE or DELETE too. Corrections are
  addenda, append-only.
- Only a therapist of the clinic (capability SIGN_CLINICAL) signs; a progress report only a
  licensed physical therapist (discipline PT, not a PTA); an initial evaluation needs its
  complexity (97161/97162/97163) before it is signed.
- Outcome measures keep the raw answers and the instrument version; the score is computed by
  patients.outcomes. They are never edited: a correction is a new measure plus marking the old
  one entered in error.
Every change is kept by django-simple-history, attributed to `by`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from clinic.capabilities import Capability
from clinic.errors import ApplicationError
from clinic.jobs import publish_on_commit
from clinic.models import Clinic, TherapistProfile, User
from clinic.records import check_draft_version, record_save
from clinic.selectors import clinic_capabilities
from patients import outcomes
from patients.clinical_schema import validate_diagnoses, validate_objective, validate_subjective
from patients.models import (
    BillingRule,
    Diagnosis,
    EpisodeOfCare,
    Evaluation,
    EvaluationAddendum,
    Goal,
    OutcomeMeasure,
    Patient,
    PatientMessage,
    Visit,
)
from patients.reminders import EPISODE_END_REASONS, _reachable, notice_queue
from patients.visits import visit_cancel

ADDENDUM_MAX = 10_000
# Kinds that only a licensed physical therapist (not an assistant) may sign.
PT_SIGNED_KINDS = frozenset({Evaluation.Kind.PROGRESS_REPORT})
# Visits at which nothing was done: no evaluation or measure may point at them.
VISIT_NOT_HELD = (Visit.Status.CANCELLED, Visit.Status.LATE_CANCELLED, Visit.Status.NO_SHOW)


def _unknown(fields: dict[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = set(fields) - set(allowed)
    if unknown:
        raise TypeError(f"Unknown fields: {sorted(unknown)}")


def _today(clinic: Clinic) -> dt.date:
    return timezone.localdate(timezone=clinic.tz)


def is_clinic_therapist(*, clinic: Clinic | int, user: User) -> bool:
    """An active user with an active therapist membership of the clinic."""
    return (
        user.is_active
        and User.objects.therapists(getattr(clinic, "pk", clinic)).filter(pk=user.pk).exists()
    )


def _check_visit(visit: Visit | None, *, episode: EpisodeOfCare, field: str = "visit") -> None:
    if visit is None:
        return
    if visit.clinic_id != episode.clinic_id or visit.patient_id != episode.patient_id:
        raise ValidationError({field: "No visit with this id for this patient."})
    if visit.episode_id is not None and visit.episode_id != episode.pk:
        raise ValidationError({field: "The visit belongs to another episode of care."})
    if visit.status in VISIT_NOT_HELD:
        raise ValidationError({field: f"The visit was not held ({visit.get_status_display()})."})


def _check_within_episode(
    day: dt.date | None, *, episode: EpisodeOfCare, field: str, what: str
) -> None:
    """`day` lies in the episode: not before its start, not after its end, not in the future."""
    if day is None:
        raise ValidationError({field: "This field is required."})
    if day < episode.started_on:
        raise ValidationError(
            {field: f"The {what} cannot be before the episode started ({episode.started_on})."}
        )
    if episode.ended_on is not None and day > episode.ended_on:
        raise ValidationError(
            {field: f"The {what} cannot be after the episode ended ({episode.ended_on})."}
        )
    if day > _today(episode.clinic):
        raise ValidationError({field: f"The {what} cannot be in the future."})


# --- Episodes of care ------------------------------------------------------------------------

EPISODE_FIELDS = (
    "therapist",
    "primary_diagnosis",
    "started_on",
    "billing_rule",
    "progress_report_clock",
    "auth_reference",
    "auth_visits",
    "auth_units",
    "auth_starts_on",
    "auth_ends_on",
)


def episode_defaults(*, patient: Patient) -> tuple[str, bool]:
    """(billing rule, progress-report clock) for a new episode of `patient`: the Medicare
    8-minute rule and the clock for Medicare patients of a clinic applying Medicare rules; the
    rule of eights and no clock otherwise."""
    medicare = patient.clinic.medicare_rules and patient.payer_type == Patient.Payer.MEDICARE
    return (BillingRule.MEDICARE_8_MINUTE if medicare else BillingRule.PER_CODE_8), medicare


def episode_check(episode: EpisodeOfCare) -> None:
    """The rules of an episode's fields; the services and the admin's form both run it."""
    patient = episode.patient
    if not is_clinic_therapist(clinic=patient.clinic_id, user=episode.therapist):
        raise ValidationError({"therapist": "No active therapist with this id in this clinic."})
    diagnosis: Diagnosis | None = episode.primary_diagnosis
    if diagnosis is not None and diagnosis.patient_id != patient.pk:
        raise ValidationError({"primary_diagnosis": "No diagnosis with this id for this patient."})
    if episode.billing_rule not in BillingRule.values:
        raise ValidationError({"billing_rule": f"Choose one of {', '.join(BillingRule.values)}."})
    for field in ("auth_visits", "auth_units"):
        value = getattr(episode, field)
        if value is not None and value < 0:
            raise ValidationError({field: "Cannot be negative."})
    if (
        episode.auth_starts_on is not None
        and episode.auth_ends_on is not None
        and episode.auth_ends_on < episode.auth_starts_on
    ):
        raise ValidationError({"auth_ends_on": "The authorization cannot end before it starts."})
    if episode.ended_on is not None and episode.ended_on < episode.started_on:
        raise ValidationError({"ended_on": "The episode cannot end before it started."})


@transaction.atomic
def episode_open(
    *,
    patient: Patient,
    therapist: User,
    started_on: dt.date,
    by: User | None,
    primary_diagnosis: Diagnosis | None = None,
    billing_rule: str | None = None,
    progress_report_clock: bool | None = None,
    auth_reference: str = "",
    auth_visits: int | None = None,
    auth_units: int | None = None,
    auth_starts_on: dt.date | None = None,
    auth_ends_on: dt.date | None = None,
) -> EpisodeOfCare:
    """Open an episode of care; billing rule and clock default from the payer and the clinic."""
    if patient.is_archived:
        raise ApplicationError(
            "The patient's record is archived; restore it first.", code="archived"
        )
    default_rule, default_clock = episode_defaults(patient=patient)
    episode = EpisodeOfCare(
        clinic_id=patient.clinic_id,
        patient=patient,
        therapist=therapist,
        primary_diagnosis=primary_diagnosis,
        started_on=started_on,
        billing_rule=billing_rule or default_rule,
        progress_report_clock=(
            default_clock if progress_report_clock is None else progress_report_clock
        ),
        auth_reference=auth_reference or "",
        auth_visits=auth_visits,
        auth_units=auth_units,
        auth_starts_on=auth_starts_on,
        auth_ends_on=auth_ends_on,
    )
    episode_check(episode)
    record_save(episode, by=by)
    return episode


def _ensure_active(episode: EpisodeOfCare) -> None:
    if episode.status != EpisodeOfCare.Status.ACTIVE:
        raise ApplicationError(
            f"The episode of care is {episode.get_status_display().lower()}; "
            "an ended episode is not changed.",
            code="episode_ended",
        )


@transaction.atomic
def episode_update(*, episode: EpisodeOfCare, by: User | None, **fields: Any) -> EpisodeOfCare:
    _unknown(fields, EPISODE_FIELDS)
    episode = EpisodeOfCare.objects.select_for_update().get(pk=episode.pk)
    _ensure_active(episode)
    if fields.get("billing_rule") is None:
        fields.pop("billing_rule", None)
    if fields.get("progress_report_clock") is None:
        fields.pop("progress_report_clock", None)
    for name, value in fields.items():
        setattr(episode, name, "" if name == "auth_reference" and value is None else value)
    episode_check(episode)
    if "started_on" in fields:
        first = (
            Evaluation.objects.for_clinic(episode.clinic_id)
            .filter(episode=episode)
            .order_by("performed_on")
            .values_list("performed_on", flat=True)
            .first()
        )
        if first is not None and episode.started_on > first:
            raise ValidationError(
                {"started_on": f"The episode cannot start after its first evaluation ({first})."}
            )
    if fields:
        record_save(episode, by=by, update_fields=list(fields))
    return episode


@dataclass(frozen=True)
class EpisodeEnd:
    """An ended episode, the booked visits of it that were cancelled with it, and whether the
    patient is told by e-mail (after the commit)."""

    episode: EpisodeOfCare
    cancelled: list[Visit]
    notified: bool = False


def _end(
    episode: EpisodeOfCare, *, status: str, ended_on: dt.date, by: User | None, notify: bool
) -> EpisodeEnd:
    """End the episode and cancel its visits still booked from now on (the clinic's
    cancellation, never a late one; the calendar frees the time). A checked-in visit stays.
    With `notify`, a patient who agreed to e-mail gets one message listing the cancelled
    visits, sent by a task after the commit (`patients.reminders.episode_end_notice_send`)."""
    _ensure_active(episode)
    if ended_on < episode.started_on:
        raise ValidationError(
            {"ended_on": f"The episode cannot end before it started ({episode.started_on})."}
        )
    if ended_on > _today(episode.clinic):
        raise ValidationError({"ended_on": "Cannot be in the future."})
    episode.status = status
    episode.ended_on = ended_on
    record_save(episode, by=by, update_fields=["status", "ended_on"])
    reason = EPISODE_END_REASONS[status]
    booked = (
        Visit.objects.for_clinic(episode.clinic_id)
        .filter(episode=episode, status=Visit.Status.BOOKED, starts_at__gt=timezone.now())
        .select_related("clinic")
        .order_by("starts_at", "pk")
    )
    # One visit at a time through the state machine (its lock, history and rules); an
    # episode has at most a series' worth of visits ahead (patients.visits.MAX_SERIES).
    cancelled = [visit_cancel(visit=v, by=by, reason=reason, by_clinic=True) for v in booked]
    notified = bool(notify and cancelled and _reachable(episode.patient))
    if notified:
        from patients.tasks import episode_end_notice_send_task

        notice_queue(kind=PatientMessage.Kind.EPISODE_ENDED, visit=cancelled[0], episode=episode)
        publish_on_commit(episode_end_notice_send_task, episode.pk)
    return EpisodeEnd(episode=episode, cancelled=cancelled, notified=notified)


@transaction.atomic
def episode_discharge(
    *, episode: EpisodeOfCare, ended_on: dt.date, by: User | None, notify: bool = True
) -> EpisodeEnd:
    """The patient is discharged: the episode ends (follow-ups stop for discharged episodes)
    and its visits still booked are cancelled (the patient is told, see `_end`)."""
    episode = EpisodeOfCare.objects.select_for_update().get(pk=episode.pk)
    return _end(
        episode, status=EpisodeOfCare.Status.DISCHARGED, ended_on=ended_on, by=by, notify=notify
    )


@transaction.atomic
def episode_close(
    *,
    episode: EpisodeOfCare,
    by: User | None,
    ended_on: dt.date | None = None,
    notify: bool = True,
) -> EpisodeEnd:
    """End an episode without a discharge (the patient stopped coming, opened in error); its
    visits still booked are cancelled (the patient is told, see `_end`)."""
    episode = EpisodeOfCare.objects.select_for_update().get(pk=episode.pk)
    return _end(
        episode,
        status=EpisodeOfCare.Status.CLOSED,
        ended_on=ended_on or _today(episode.clinic),
        by=by,
        notify=notify,
    )


# --- Evaluations -----------------------------------------------------------------------------

EVALUATION_FIELDS = (
    "performed_on",
    "visit",
    "subjective",
    "objective",
    "diagnoses",
    "complexity",
    "assessment",
    "plan",
)


def evaluation_check(evaluation: Evaluation) -> None:
    """The rules of a draft's fields; normalises its JSON fields in place. The services and the
    admin's form both run it."""
    episode = evaluation.episode
    if not is_clinic_therapist(clinic=episode.clinic_id, user=evaluation.author):
        raise ValidationError({"author": "The author must be an active therapist of the clinic."})
    if evaluation.kind not in Evaluation.Kind.values:
        raise ValidationError({"kind": f"Choose one of {', '.join(Evaluation.Kind.values)}."})
    if evaluation.complexity and evaluation.kind != Evaluation.Kind.INITIAL:
        raise ValidationError(
            {"complexity": "Only an initial evaluation has a complexity (97161-97163)."}
        )
    if evaluation.complexity and evaluation.complexity not in Evaluation.Complexity.values:
        raise ValidationError(
            {"complexity": f"Choose one of {', '.join(Evaluation.Complexity.values)}."}
        )
    _check_within_episode(
        evaluation.performed_on, episode=episode, field="performed_on", what="evaluation"
    )
    _check_visit(evaluation.visit, episode=episode)
    errors: dict[str, list[str]] = {}
    for name, validate in (
        ("subjective", validate_subjective),
        ("objective", validate_objective),
        ("diagnoses", validate_diagnoses),
    ):
        try:
            setattr(evaluation, name, validate(getattr(evaluation, name)))
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    if evaluation.kind == Evaluation.Kind.INITIAL:
        others = Evaluation.objects.for_clinic(episode.clinic_id).filter(
            episode=episode, kind=Evaluation.Kind.INITIAL
        )
        if evaluation.pk is not None:
            others = others.exclude(pk=evaluation.pk)
        if others.exists():
            raise ValidationError(
                {
                    "kind": "This episode already has an initial evaluation; "
                    "record a re-evaluation or a progress report instead."
                }
            )


@transaction.atomic
def evaluation_create(
    *,
    episode: EpisodeOfCare,
    kind: str,
    author: User,
    performed_on: dt.date,
    by: User | None,
    visit: Visit | None = None,
    subjective: dict[str, Any] | None = None,
    objective: dict[str, Any] | None = None,
    diagnoses: list[dict[str, Any]] | None = None,
    complexity: str = "",
    assessment: str = "",
    plan: str = "",
) -> Evaluation:
    """Start a draft evaluation. The episode's row is locked, so two initial evaluations of one
    episode cannot be created at the same time."""
    episode = EpisodeOfCare.objects.select_for_update().select_related("clinic").get(pk=episode.pk)
    if episode.status != EpisodeOfCare.Status.ACTIVE and not (
        kind == Evaluation.Kind.DISCHARGE and episode.status == EpisodeOfCare.Status.DISCHARGED
    ):
        _ensure_active(episode)
    evaluation = Evaluation(
        clinic_id=episode.clinic_id,
        episode=episode,
        kind=kind,
        author=author,
        performed_on=performed_on,
        visit=visit,
        subjective=subjective if subjective is not None else {},
        objective=objective if objective is not None else {},
        diagnoses=diagnoses if diagnoses is not None else [],
        complexity=complexity or "",
        assessment=assessment or "",
        plan=plan or "",
    )
    evaluation_check(evaluation)
    record_save(evaluation, by=by)
    return evaluation


def _locked_draft(evaluation: Evaluation, version: int | None) -> Evaluation:
    """The evaluation's row, locked; refused when signed (409), without a version (428) or when
    `version` is not the current one (409 naming it)."""
    locked = (
        Evaluation.objects.select_for_update()
        .select_related("episode", "episode__clinic")
        .get(pk=evaluation.pk)
    )
    check_draft_version(
        status=locked.status, current=locked.version, version=version, what="evaluation"
    )
    return locked


@transaction.atomic
def evaluation_update(
    *, evaluation: Evaluation, version: int | None, by: User | None, **fields: Any
) -> Evaluation:
    """Change a draft based on `version`; the version goes up by one."""
    _unknown(fields, EVALUATION_FIELDS)
    locked = _locked_draft(evaluation, version)
    if not fields:
        return locked  # nothing to change: the version stays
    for name, value in fields.items():
        if name in ("subjective", "objective") and value is None:
            value = {}
        elif name == "diagnoses" and value is None:
            value = []
        elif name in ("complexity", "assessment", "plan") and value is None:
            value = ""
        setattr(locked, name, value)
    evaluation_check(locked)
    locked.version += 1
    record_save(locked, by=by, update_fields=[*fields, "version"])
    return locked


def _check_signer(evaluation: Evaluation, by: User) -> None:
    clinic = evaluation.episode.clinic
    if Capability.SIGN_CLINICAL not in clinic_capabilities(
        user=by, clinic=clinic
    ) or not is_clinic_therapist(clinic=clinic, user=by):
        raise PermissionDenied("Only a therapist of the clinic may sign clinical notes.")
    if evaluation.kind in PT_SIGNED_KINDS:
        profile = TherapistProfile.objects.filter(user=by).first()
        if profile is None or not profile.is_licensed_therapist:
            raise PermissionDenied(
                f"A {evaluation.get_kind_display().lower()} must be signed by a licensed "
                "physical therapist (PT); an assistant's (PTA) signature does not count."
            )


@transaction.atomic
def evaluation_sign(*, evaluation: Evaluation, by: User, version: int | None) -> Evaluation:
    """Sign the draft seen at `version`; from then on it is immutable."""
    locked = _locked_draft(evaluation, version)
    _check_signer(locked, by)
    if locked.kind == Evaluation.Kind.INITIAL and not locked.complexity:
        raise ValidationError(
            {
                "complexity": "An initial evaluation needs its complexity (low 97161, moderate "
                "97162, high 97163) before it is signed."
            }
        )
    locked.status = Evaluation.Status.SIGNED
    locked.signed_at = timezone.now()
    locked.signed_by = by
    locked.version += 1
    record_save(locked, by=by, update_fields=["status", "signed_at", "signed_by", "version"])
    return locked


@transaction.atomic
def evaluation_addendum_add(
    *, evaluation: Evaluation, author: User, text: str, by: User | None
) -> EvaluationAddendum:
    """A correction or addition to a signed evaluation; addenda are never changed or removed."""
    if evaluation.status != Evaluation.Status.SIGNED:
        raise ApplicationError(
            "Addenda are for signed evaluations; edit the draft instead.", code="not_signed"
        )
    if not is_clinic_therapist(clinic=evaluation.clinic_id, user=author):
        raise ValidationError({"author": "The author must be an active therapist of the clinic."})
    text = (text or "").strip()
    if not text:
        raise ValidationError({"text": "Write the correction or addition."})
    if len(text) > ADDENDUM_MAX:
        raise ValidationError({"text": f"Keep an addendum under {ADDENDUM_MAX} characters."})
    addendum = EvaluationAddendum(
        clinic_id=evaluation.clinic_id, evaluation=evaluation, author=author, text=text
    )
    record_save(addendum, by=by)
    return addendum


# --- Goals -----------------------------------------------------------------------------------


def goal_check(goal: Goal) -> None:
    """The rules of a goal's fields; the services and the admin's form both run it."""
    if goal.term not in Goal.Term.values:
        raise ValidationError({"term": f"Choose one of {', '.join(Goal.Term.values)}."})
    if not (goal.description or "").strip():
        raise ValidationError({"description": "Describe the goal: what, how much, by when."})
    if goal.target_date is not None and goal.target_date < goal.episode.started_on:
        raise ValidationError(
            {"target_date": f"Cannot be before the episode started ({goal.episode.started_on})."}
        )


@transaction.atomic
def goal_add(
    *,
    episode: EpisodeOfCare,
    term: str,
    description: str,
    by: User | None,
    target_date: dt.date | None = None,
) -> Goal:
    episode = EpisodeOfCare.objects.select_for_update().get(pk=episode.pk)
    _ensure_active(episode)
    goal = Goal(
        clinic_id=episode.clinic_id,
        episode=episode,
        term=term,
        description=(description or "").strip(),
        target_date=target_date,
    )
    goal_check(goal)
    record_save(goal, by=by)
    return goal


@transaction.atomic
def goal_update_status(*, goal: Goal, status: str, by: User | None) -> Goal:
    """Mark a goal met, progressing or not met; each change is kept in the goal's history."""
    if status not in Goal.Status.values:
        raise ValidationError({"status": f"Choose one of {', '.join(Goal.Status.values)}."})
    goal = Goal.objects.select_for_update().select_related("episode").get(pk=goal.pk)
    if goal.episode.status == EpisodeOfCare.Status.CLOSED:
        _ensure_active(goal.episode)
    if goal.status != status:
        goal.status = status
        record_save(goal, by=by, update_fields=["status"])
    return goal


# --- Outcome measures ------------------------------------------------------------------------


def outcome_check(measure: OutcomeMeasure) -> None:
    """The rules of a new measure: a known instrument and version (blank: the current one),
    answers that fit it, a date within the episode, an evaluation of the same episode and a
    visit of the same patient. Fills in the version and the score computed from the answers.
    The services and the admin's form both run it."""
    episode = measure.episode
    try:
        found = outcomes.instrument_get(measure.instrument)
    except outcomes.AnswerError as exc:
        raise ValidationError({"instrument": exc.message}) from None
    measure.instrument = found.code
    measure.version = measure.version or found.version_names[-1]
    try:
        found.version(measure.version)
    except outcomes.AnswerError as exc:
        raise ValidationError({"version": exc.message}) from None
    try:
        scored = outcomes.score(found.code, measure.version, measure.answers)
    except outcomes.AnswerError as exc:
        raise ValidationError({f"answers.{exc.field}": exc.message}) from None
    measure.score = scored.stored_value
    _check_within_episode(measure.recorded_on, episode=episode, field="recorded_on", what="measure")
    if measure.evaluation is not None and measure.evaluation.episode_id != episode.pk:
        raise ValidationError({"evaluation": "No evaluation with this id in this episode."})
    _check_visit(measure.visit, episode=episode)


@transaction.atomic
def outcome_record(
    *,
    episode: EpisodeOfCare,
    instrument: str,
    answers: Any,
    recorded_on: dt.date,
    by: User,
    evaluation: Evaluation | None = None,
    visit: Visit | None = None,
    version: str | None = None,
) -> OutcomeMeasure:
    """Record a questionnaire or scale as answered; the score is computed from the raw answers.
    Without `version` the instrument's current version is assumed. Invalid answers are refused
    naming the answer, e.g. {"answers.sections.lifting": "6 is out of range; ..."}."""
    episode = EpisodeOfCare.objects.select_for_update().select_related("clinic").get(pk=episode.pk)
    if episode.status == EpisodeOfCare.Status.CLOSED:
        _ensure_active(episode)
    measure = OutcomeMeasure(
        clinic_id=episode.clinic_id,
        episode=episode,
        evaluation=evaluation,
        visit=visit,
        instrument=instrument,
        version=version or "",
        answers=answers,
        recorded_on=recorded_on,
        recorded_by=by,
    )
    outcome_check(measure)
    record_save(measure, by=by)
    return measure


@transaction.atomic
def outcome_mark_entered_in_error(*, measure: OutcomeMeasure, by: User | None) -> OutcomeMeasure:
    """Take a measure out of the series (it stays in the record, marked); record the correct one
    with `outcome_record`. Marking twice changes nothing."""
    measure = OutcomeMeasure.objects.select_for_update().get(pk=measure.pk)
    if not measure.entered_in_error:
        measure.entered_in_error = True
        record_save(measure, by=by, update_fields=["entered_in_error"])
    return measure
