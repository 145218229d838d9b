"""Reads of the catalogues, the contraindication check against a patient's record, plans of
care, treatment notes and an episode's compliance clocks.

The catalogues are practice-wide: every member of staff reads all of them, so these selectors
take no clinic. The contraindication selectors take a patient, whose clinic scopes the record.
Plans, notes and compliance are read with the clinic first (or the episode's own clinic).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from django.db.models import IntegerField, Prefetch, Q, QuerySet, Value
from django.utils import timezone

from clinic.models import Clinic, TherapistProfile
from patients.models import EpisodeOfCare, Evaluation, Goal, Patient, Visit
from patients.scheduling import local_day_bounds
from patients.selectors import patient_flags
from programs import compliance
from programs.contraindications import Finding, check, rules_from_rows
from programs.models import (
    BillingLine,
    ContraindicationRule,
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

_RULES_IN_ORDER = ContraindicationRule.objects.order_by("condition", "pk")


def modality_list() -> QuerySet[Modality]:
    return Modality.objects.prefetch_related(
        Prefetch("contraindication_rules", queryset=_RULES_IN_ORDER)
    ).order_by("name")


def modality_get(*, public_id: uuid.UUID | str) -> Modality | None:
    try:
        public_id = uuid.UUID(str(public_id))
    except ValueError:
        return None
    return modality_list().filter(public_id=public_id).first()


def exercise_list() -> QuerySet[Exercise]:
    return Exercise.objects.prefetch_related(
        Prefetch("contraindication_rules", queryset=_RULES_IN_ORDER)
    ).order_by("name")


def exercise_get(*, public_id: uuid.UUID | str) -> Exercise | None:
    try:
        public_id = uuid.UUID(str(public_id))
    except ValueError:
        return None
    return exercise_list().filter(public_id=public_id).first()


def contraindications_for_modality(
    *, patient: Patient, modality: Modality, body_region: str | None, on: dt.date | None = None
) -> list[Finding]:
    """What stands against giving `modality` over `body_region` to `patient` on `on` (today).

    Three queries: the patient's precautions and diagnoses, and the modality's rules (none when
    they were prefetched, as `modality_list` does). `body_region` None means not yet known.
    """
    return check(
        flags=patient_flags(patient=patient, on=on),
        rules=rules_from_rows(modality.contraindication_rules.all()),
        treated_region=body_region,
    )


def contraindications_for_exercise(
    *, patient: Patient, exercise: Exercise, on: dt.date | None = None
) -> list[Finding]:
    """What stands against prescribing `exercise` to `patient`; the region is the exercise's."""
    return check(
        flags=patient_flags(patient=patient, on=on),
        rules=rules_from_rows(exercise.contraindication_rules.all()),
        treated_region=exercise.body_region,
    )


def contraindications_for_items(
    *,
    patient: Patient,
    modalities: Sequence[tuple[Modality, str | None]] = (),
    exercises: Sequence[Exercise] = (),
    on: dt.date | None = None,
) -> tuple[list[list[Finding]], list[list[Finding]]]:
    """The findings of several items at once (a plan of care, a home programme), in three
    queries whatever their number: (findings per modality, findings per exercise), in order."""
    flags = patient_flags(patient=patient, on=on)
    modality_ids = {m.pk for m, _ in modalities}
    exercise_ids = {e.pk for e in exercises}
    by_modality: dict[int, list[ContraindicationRule]] = {pk: [] for pk in modality_ids}
    by_exercise: dict[int, list[ContraindicationRule]] = {pk: [] for pk in exercise_ids}
    if modality_ids or exercise_ids:
        for row in _RULES_IN_ORDER.filter(
            Q(modality_id__in=modality_ids) | Q(exercise_id__in=exercise_ids)
        ):
            if row.modality_id is not None:
                by_modality[row.modality_id].append(row)
            else:
                by_exercise[row.exercise_id].append(row)  # type: ignore[index]
    return (
        [
            check(flags=flags, rules=rules_from_rows(by_modality[m.pk]), treated_region=region)
            for m, region in modalities
        ],
        [
            check(
                flags=flags, rules=rules_from_rows(by_exercise[e.pk]), treated_region=e.body_region
            )
            for e in exercises
        ],
    )


def _uuid(value: uuid.UUID | str) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


# --- Plans of care ---------------------------------------------------------------------------


def _plans(clinic: Clinic | int) -> QuerySet[PlanOfCare]:
    return (
        PlanOfCare.objects.for_clinic(clinic)
        .select_related("episode", "supersedes", "created_by")
        .prefetch_related(
            Prefetch(
                "modalities",
                queryset=PlannedModality.objects.select_related("modality").order_by("pk"),
            ),
            Prefetch(
                "exercises",
                queryset=PlannedExercise.objects.select_related("exercise").order_by("pk"),
            ),
        )
    )


def plan_list(*, clinic: Clinic, episode: EpisodeOfCare) -> QuerySet[PlanOfCare]:
    """The episode's plans, newest version first, with their items (four queries)."""
    return _plans(clinic).filter(episode=episode).order_by("-version", "-pk")


def plan_get(*, clinic: Clinic, public_id: uuid.UUID | str) -> PlanOfCare | None:
    found = _uuid(public_id)
    if found is None:
        return None
    return _plans(clinic).filter(public_id=found).first()


def plan_active(*, episode: EpisodeOfCare) -> PlanOfCare | None:
    return (
        PlanOfCare.objects.for_clinic(episode.clinic_id)
        .filter(episode=episode, status=PlanOfCare.Status.ACTIVE)
        .first()
    )


# --- Treatment notes -------------------------------------------------------------------------


def visit_day(visit: Visit) -> dt.date:
    """The date of service: the visit's local date in its clinic's zone."""
    return timezone.localdate(visit.starts_at, visit.clinic.tz)


def treatment_note_get(*, clinic: Clinic, visit_public_id: uuid.UUID | str) -> TreatmentNote | None:
    """The note of the clinic's visit with this public id, with its items, billing lines and
    addenda (six queries), or None."""
    found = _uuid(visit_public_id)
    if found is None:
        return None
    return (
        TreatmentNote.objects.for_clinic(clinic)
        .filter(visit__public_id=found, visit__clinic=clinic)
        .select_related("visit", "episode", "author", "signed_by")
        .prefetch_related(
            Prefetch(
                "modalities",
                queryset=DeliveredModality.objects.select_related("modality").order_by("pk"),
            ),
            Prefetch(
                "exercises",
                queryset=DeliveredExercise.objects.select_related("exercise").order_by("pk"),
            ),
            Prefetch("billing_lines", queryset=BillingLine.objects.order_by("cpt_code", "pk")),
            Prefetch(
                "addenda",
                queryset=TreatmentNoteAddendum.objects.select_related("author").order_by(
                    "created_at", "pk"
                ),
            ),
        )
        .first()
    )


def treatment_note_addendum_list(
    *, clinic: Clinic, note: TreatmentNote
) -> QuerySet[TreatmentNoteAddendum]:
    return (
        TreatmentNoteAddendum.objects.for_clinic(clinic)
        .filter(note=note)
        .select_related("author")
        .order_by("created_at", "pk")
    )


# --- Compliance ------------------------------------------------------------------------------

# The plan-of-care certification is flagged this many days before it ends (CLINICAL.md names
# no number; two weeks leave time to re-evaluate and have the physician sign).
CERTIFICATION_ENDING_WARN_DAYS = 14
# Kinds of a signed evaluation that end a progress-report period when a PT signed them: the
# progress report itself, and a re-evaluation (which includes one, CMS Pub. 100-02 ch. 15
# section 220.3 D).
PROGRESS_REPORT_KINDS = (Evaluation.Kind.PROGRESS_REPORT, Evaluation.Kind.RE_EVALUATION)


EvaluationFact = tuple[str, dt.date, str, str | None]


@dataclass(frozen=True)
class EpisodeFacts:
    """What an episode's compliance clocks (and its progress summaries) read besides the episode
    itself, read once by `episode_facts_read` for one episode or many."""

    completed: tuple[tuple[int, dt.datetime], ...]  # (pk, starts_at) of completed visits, in order
    evaluations: tuple[EvaluationFact, ...]  # (kind, performed_on, status, signer's discipline)
    plan: PlanOfCare | None  # the active plan of care
    goals: tuple[Goal, ...]
    # (visit's start, units) of the billing lines of its signed notes; read only for an episode
    # with an authorization (the only reader), empty otherwise.
    billing: tuple[tuple[dt.datetime, int], ...]

    @property
    def completed_starts(self) -> list[dt.datetime]:
        return [starts for _, starts in self.completed]


def _has_authorization(episode: EpisodeOfCare) -> bool:
    return not (
        episode.auth_visits is None
        and episode.auth_units is None
        and episode.auth_ends_on is None
        and episode.auth_starts_on is None
    )


def episode_facts_read(*, episodes: Sequence[EpisodeOfCare]) -> dict[int, EpisodeFacts]:
    """{episode pk: its facts} in four queries whatever the number of episodes, their size and
    their authorizations; each row counts only for an episode of its own clinic."""
    if not episodes:
        return {}
    clinic_of = {e.pk: e.clinic_id for e in episodes}
    ids, clinics = list(clinic_of), set(clinic_of.values())
    completed: dict[int, list[tuple[int, dt.datetime]]] = {pk: [] for pk in ids}
    billing: dict[int, list[tuple[dt.datetime, int]]] = {pk: [] for pk in ids}
    for pk, episode_id, clinic_id, starts, units in _treatments_read(
        clinics, ids, authorized=[e.pk for e in episodes if _has_authorization(e)]
    ):
        if clinic_of[episode_id] != clinic_id:
            continue
        if units is not None:  # a billing line
            billing[episode_id].append((starts, units))
        elif pk is not None:  # a completed visit
            completed[episode_id].append((pk, starts))
    for visits in completed.values():
        visits.sort(key=lambda visit: (visit[1], visit[0]))
    evaluations: dict[int, list[EvaluationFact]] = {pk: [] for pk in ids}
    for episode_id, clinic_id, kind, day, status, discipline in (
        Evaluation.objects.filter(clinic_id__in=clinics, episode_id__in=ids)
        .order_by("pk")
        .values_list(
            "episode_id",
            "clinic_id",
            "kind",
            "performed_on",
            "status",
            "signed_by__therapist_profile__discipline",
        )
    ):
        if clinic_of[episode_id] == clinic_id:
            evaluations[episode_id].append((kind, day, status, discipline))
    plans: dict[int, PlanOfCare] = {}
    for plan in PlanOfCare.objects.filter(
        clinic_id__in=clinics, episode_id__in=ids, status=PlanOfCare.Status.ACTIVE
    ).order_by("pk"):
        if clinic_of[plan.episode_id] == plan.clinic_id:
            plans.setdefault(plan.episode_id, plan)
    goals: dict[int, list[Goal]] = {pk: [] for pk in ids}
    for goal in Goal.objects.filter(clinic_id__in=clinics, episode_id__in=ids).order_by("pk"):
        if clinic_of[goal.episode_id] == goal.clinic_id:
            goals[goal.episode_id].append(goal)
    return {
        pk: EpisodeFacts(
            completed=tuple(completed[pk]),
            evaluations=tuple(evaluations[pk]),
            plan=plans.get(pk),
            goals=tuple(goals[pk]),
            billing=tuple(billing[pk]),
        )
        for pk in ids
    }


def _treatments_read(
    clinics: set[int], ids: list[int], *, authorized: list[int]
) -> QuerySet[Visit, tuple[int | None, int, int, dt.datetime, int | None]]:
    """One query (UNION ALL): (visit pk, episode, clinic, start, None) per completed visit of
    the episodes, and (None, episode, clinic, the visit's start, units) per billing line of the
    signed notes of those of them with an authorization. Without any, the second half is left
    out of the SQL: the same one query."""
    null = Value(None, output_field=IntegerField())
    visits = Visit.objects.filter(
        clinic_id__in=clinics, episode_id__in=ids, status=Visit.Status.COMPLETED
    ).values_list("pk", "episode_id", "clinic_id", "starts_at", null)
    units = BillingLine.objects.filter(
        note__clinic_id__in=clinics,
        note__episode_id__in=authorized,
        note__status=TreatmentNote.Status.SIGNED,
    ).values_list(null, "note__episode_id", "note__clinic_id", "note__visit__starts_at", "units")
    return visits.order_by().union(units.order_by(), all=True)


def _completed_visit_starts(episode: EpisodeOfCare) -> list[dt.datetime]:
    return list(
        Visit.objects.for_clinic(episode.clinic_id)
        .filter(episode=episode, status=Visit.Status.COMPLETED)
        .values_list("starts_at", flat=True)
    )


def _evaluation_facts(episode: EpisodeOfCare) -> list[EvaluationFact]:
    """(kind, performed_on, status, signer's discipline) of the episode's evaluations."""
    return list(
        Evaluation.objects.for_clinic(episode.clinic_id)
        .filter(episode=episode)
        .order_by("pk")
        .values_list("kind", "performed_on", "status", "signed_by__therapist_profile__discipline")
    )


def _treatment_dates(
    episode: EpisodeOfCare,
    starts: Sequence[dt.datetime],
    evaluations: Sequence[tuple[str, dt.date, str, str | None]],
) -> list[dt.date]:
    tz = episode.clinic.tz
    return _treatment_days({timezone.localdate(start, tz) for start in starts}, evaluations)


def _treatment_days(
    visit_days: Iterable[dt.date], evaluations: Sequence[tuple[str, dt.date, str, str | None]]
) -> list[dt.date]:
    """The clinic-local days of the completed visits and the initial evaluation's day, each
    once, in order."""
    days = set(visit_days)
    days |= {day for kind, day, _, _ in evaluations if kind == Evaluation.Kind.INITIAL}
    return sorted(days)


def _progress_reports(
    evaluations: Sequence[tuple[str, dt.date, str, str | None]],
) -> list[compliance.ProgressReport]:
    return [
        compliance.ProgressReport(
            written_on=day,
            by_licensed_therapist=discipline == TherapistProfile.Discipline.PT,
            signed=status == Evaluation.Status.SIGNED,
        )
        for kind, day, status, discipline in evaluations
        if kind in PROGRESS_REPORT_KINDS
    ]


def episode_treatment_dates(*, episode: EpisodeOfCare) -> list[dt.date]:
    """The episode's treatment days: the local dates of its completed visits and the day of its
    initial evaluation, each once, in order."""
    return _treatment_dates(episode, _completed_visit_starts(episode), _evaluation_facts(episode))


def episode_progress_clock_inputs(
    *, episode: EpisodeOfCare
) -> tuple[list[dt.date], list[compliance.ProgressReport]]:
    """What the progress-report clock reads, in two queries: the episode's treatment days (as
    `episode_treatment_dates`) and its progress reports and re-evaluations (only one signed by
    a PT ends a period; an assistant's does not)."""
    evaluations = _evaluation_facts(episode)
    days = _treatment_dates(episode, _completed_visit_starts(episode), evaluations)
    return days, _progress_reports(evaluations)


Level = Literal["warning", "critical"]


@dataclass(frozen=True)
class ComplianceFlag:
    """One thing to act on. `area`: progress_report, certification, plan or authorization."""

    area: str
    level: Level
    message: str


@dataclass(frozen=True)
class CertificationState:
    """The active plan's certification: `status` from programs.compliance, or `problem` when
    the plan's own dates break the rule (a plan recorded before these checks)."""

    plan: PlanOfCare
    counted_from: dt.date
    status: compliance.CertificationStatus | None
    problem: str = ""


@dataclass(frozen=True)
class AuthorizationUse:
    """The payer's authorization, what has been used of it, and its status."""

    reference: str
    visits_approved: int | None
    visits_used: int
    units_approved: int | None
    units_used: int
    starts_on: dt.date | None
    ends_on: dt.date | None
    status: compliance.AuthorizationStatus


@dataclass(frozen=True)
class EpisodeCompliance:
    episode: EpisodeOfCare
    today: dt.date
    treatment_dates: list[dt.date]
    progress_report: compliance.ProgressReportStatus
    certification: CertificationState | None
    authorization: AuthorizationUse | None
    flags: tuple[ComplianceFlag, ...]


def _certification(
    plan: PlanOfCare | None, today: dt.date
) -> tuple[CertificationState | None, list[ComplianceFlag]]:
    if plan is None:
        return None, []
    counted_from = plan.first_treatment_on or plan.starts_on
    try:
        status = compliance.certification_status(
            first_treatment=counted_from,
            certified_until=plan.certified_until,
            physician_signed_on=plan.physician_signed_on,
            verbal_order_on=plan.verbal_order_on,
            today=today,
        )
    except compliance.CertificationError as exc:
        message = f"Plan of care certification is not valid: {exc}"
        return CertificationState(plan, counted_from, None, str(exc)), [
            ComplianceFlag("certification", "critical", message)
        ]
    critical = status.expired or status.signature == "overdue"
    flags = [
        ComplianceFlag("certification", "critical" if critical else "warning", message)
        for message in status.flags
    ]
    if not status.expired and status.days_left <= CERTIFICATION_ENDING_WARN_DAYS:
        when = "today" if status.days_left == 0 else f"in {status.days_left} days"
        flags.insert(
            0,
            ComplianceFlag(
                "certification",
                "warning",
                f"Plan of care certification ends on {plan.certified_until:%Y-%m-%d} ({when}): "
                "re-evaluate and recertify to continue treatment",
            ),
        )
    return CertificationState(plan, counted_from, status), flags


def _authorization(
    episode: EpisodeOfCare, facts: EpisodeFacts, today: dt.date
) -> tuple[AuthorizationUse | None, list[ComplianceFlag]]:
    if not _has_authorization(episode):
        return None, []
    tz = episode.clinic.tz
    first, last = episode.auth_starts_on, episode.auth_ends_on
    visits_used = sum(
        1
        for start in facts.completed_starts
        if (first is None or timezone.localdate(start, tz) >= first)
        and (last is None or timezone.localdate(start, tz) <= last)
    )
    after = local_day_bounds(first, tz)[0] if first is not None else None
    before = local_day_bounds(last, tz)[1] if last is not None else None
    units_used = sum(
        units
        for starts, units in facts.billing
        if (after is None or starts >= after) and (before is None or starts < before)
    )
    status = compliance.authorization_status(
        visits_approved=episode.auth_visits,
        visits_used=visits_used,
        units_approved=episode.auth_units,
        units_used=units_used,
        starts_on=first,
        ends_on=last,
        today=today,
    )
    level: Level = "critical" if status.status == "exhausted" else "warning"
    use = AuthorizationUse(
        reference=episode.auth_reference,
        visits_approved=episode.auth_visits,
        visits_used=visits_used,
        units_approved=episode.auth_units,
        units_used=units_used,
        starts_on=first,
        ends_on=last,
        status=status,
    )
    return use, [ComplianceFlag("authorization", level, message) for message in status.flags]


def _goals_changed_flag(
    episode: EpisodeOfCare, plan: PlanOfCare, goals: Sequence[Goal]
) -> list[ComplianceFlag]:
    """Long-term goals changed after the plan was certified: the plan must be recertified."""
    changed = max(
        (
            g.updated_at
            for g in goals
            if g.term == Goal.Term.LONG and g.updated_at > plan.created_at
        ),
        default=None,
    )
    if changed is None:
        return []
    day = timezone.localdate(changed, episode.clinic.tz)
    return [
        ComplianceFlag(
            "plan",
            "warning",
            f"Long-term goals changed on {day:%Y-%m-%d}, after the plan of care (version "
            f"{plan.version}) was certified: recertify it",
        )
    ]


def episode_compliance(
    *, episode: EpisodeOfCare, today: dt.date | None = None, facts: EpisodeFacts | None = None
) -> EpisodeCompliance:
    """The episode's clocks as of `today` (the clinic's today): the progress report every 10
    treatment days, the active plan's certification and physician's signature, and the payer's
    authorization, each with readable flags. Four queries (`episode_facts_read`),
    whatever the episode's size; none when the caller passes the episode's facts read already
    (the progress summaries do, for many episodes at once)."""
    clinic = episode.clinic
    today = today or timezone.localdate(timezone=clinic.tz)
    if facts is None:
        facts = episode_facts_read(episodes=[episode])[episode.pk]
    treatment_dates = _treatment_dates(episode, facts.completed_starts, facts.evaluations)
    clock = compliance.progress_report_status(
        treatment_dates=treatment_dates,
        reports=_progress_reports(facts.evaluations),
        today=today,
        clock_on=episode.progress_report_clock,
    )
    flags = [
        ComplianceFlag(
            "progress_report", "critical" if clock.status == "due" else "warning", message
        )
        for message in clock.flags
    ]
    plan = facts.plan
    certification, certification_flags = _certification(plan, today)
    flags += certification_flags
    if plan is not None:
        flags += _goals_changed_flag(episode, plan, facts.goals)
    elif episode.status == EpisodeOfCare.Status.ACTIVE:
        flags.append(
            ComplianceFlag(
                "plan",
                "warning",
                "No plan of care: establish one and have the physician certify it",
            )
        )
    authorization, authorization_flags = _authorization(episode, facts, today)
    flags += authorization_flags
    return EpisodeCompliance(
        episode=episode,
        today=today,
        treatment_dates=treatment_dates,
        progress_report=clock,
        certification=certification,
        authorization=authorization,
        flags=tuple(flags),
    )
