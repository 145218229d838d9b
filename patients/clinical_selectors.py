"""Reads of the clinical record (episodes, evaluations, goals, outcome measures), scoped by
clinic first. Every list is a fixed number of queries whatever the number of rows."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from itertools import groupby
from typing import Any

from django.db.models import Exists, F, OuterRef, Prefetch, QuerySet, Subquery
from django.utils import timezone

from clinic.models import Clinic, User
from patients import outcomes
from patients.models import (
    EpisodeOfCare,
    Evaluation,
    EvaluationAddendum,
    Goal,
    OutcomeMeasure,
    Patient,
    PatientMessage,
    Visit,
)


def as_uuid(value: uuid.UUID | str) -> uuid.UUID | None:
    """The UUID, or None when malformed (answer as for an id that does not exist)."""
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


# --- Episodes --------------------------------------------------------------------------------


def episode_list(
    *,
    clinic: Clinic,
    patient: Patient | None = None,
    therapist: User | None = None,
    status: str | None = None,
) -> QuerySet[EpisodeOfCare]:
    episodes = EpisodeOfCare.objects.for_clinic(clinic)
    if patient is not None:
        episodes = episodes.filter(patient=patient)
    if therapist is not None:
        episodes = episodes.filter(therapist=therapist)
    if status:
        episodes = episodes.filter(status=status)
    return episodes.select_related("patient", "therapist", "primary_diagnosis").order_by(
        "-started_on", "-pk"
    )


def episode_get(*, clinic: Clinic, public_id: uuid.UUID | str) -> EpisodeOfCare | None:
    found = as_uuid(public_id)
    if found is None:
        return None
    return episode_list(clinic=clinic).filter(public_id=found).first()


# --- Evaluations -----------------------------------------------------------------------------


def addendum_list(*, clinic: Clinic, evaluation: Evaluation) -> QuerySet[EvaluationAddendum]:
    return (
        EvaluationAddendum.objects.for_clinic(clinic)
        .filter(evaluation=evaluation)
        .select_related("author")
        .order_by("created_at", "pk")
    )


def evaluation_list(*, clinic: Clinic, episode: EpisodeOfCare) -> QuerySet[Evaluation]:
    """An episode's evaluations, oldest first, each with its author, signer and addenda."""
    return _evaluations(clinic).filter(episode=episode).order_by("performed_on", "pk")


def _evaluations(clinic: Clinic) -> QuerySet[Evaluation]:
    return (
        Evaluation.objects.for_clinic(clinic)
        .select_related("episode__patient", "author", "signed_by", "visit")
        .prefetch_related(
            Prefetch(
                "addenda",
                queryset=EvaluationAddendum.objects.for_clinic(clinic)
                .select_related("author")
                .order_by("created_at", "pk"),
            )
        )
    )


def evaluation_get(*, clinic: Clinic, public_id: uuid.UUID | str) -> Evaluation | None:
    found = as_uuid(public_id)
    if found is None:
        return None
    return _evaluations(clinic).filter(public_id=found).first()


# --- Goals -----------------------------------------------------------------------------------


def goal_list(*, clinic: Clinic, episode: EpisodeOfCare) -> QuerySet[Goal]:
    return (
        Goal.objects.for_clinic(clinic)
        .filter(episode=episode)
        .select_related("episode")
        .order_by("term", "target_date", "pk")
    )


def goal_get(*, clinic: Clinic, public_id: uuid.UUID | str) -> Goal | None:
    found = as_uuid(public_id)
    if found is None:
        return None
    return Goal.objects.for_clinic(clinic).filter(public_id=found).select_related("episode").first()


@dataclass(frozen=True)
class GoalStatusChange:
    status: str
    changed_at: dt.datetime
    changed_by: User | None


def goal_status_history(*, goals: Iterable[Goal]) -> dict[int, list[GoalStatusChange]]:
    """Each goal's status changes, oldest first (the first is the status it was set with), from
    the goals' history in one query."""
    ids = [goal.pk for goal in goals]
    history: dict[int, list[GoalStatusChange]] = {pk: [] for pk in ids}
    if not ids:
        return history
    rows = (
        Goal.history.model.objects.filter(id__in=ids)
        .select_related("history_user")
        .order_by("id", "history_date", "history_id")
    )
    for row in rows:
        changes = history[row.id]
        if not changes or changes[-1].status != row.status:
            changes.append(GoalStatusChange(row.status, row.history_date, row.history_user))
    return history


# --- Outcome measures ------------------------------------------------------------------------


def outcome_list(
    *, clinic: Clinic, episode: EpisodeOfCare, instrument: str | None = None
) -> QuerySet[OutcomeMeasure]:
    """An episode's measures, oldest first, those entered in error included (and marked)."""
    measures = OutcomeMeasure.objects.for_clinic(clinic).filter(episode=episode)
    if instrument:
        measures = measures.filter(instrument=instrument)
    return measures.select_related("episode", "evaluation", "visit", "recorded_by").order_by(
        "instrument", "recorded_on", "pk"
    )


def outcome_get(*, clinic: Clinic, public_id: uuid.UUID | str) -> OutcomeMeasure | None:
    found = as_uuid(public_id)
    if found is None:
        return None
    return (
        OutcomeMeasure.objects.for_clinic(clinic)
        .filter(public_id=found)
        .select_related("episode", "evaluation", "visit", "recorded_by")
        .first()
    )


def outcome_score(measure: OutcomeMeasure) -> outcomes.Score:
    """The measure's score, recomputed exactly from its raw answers and instrument version."""
    try:
        return outcomes.score(measure.instrument, measure.version, measure.answers)
    except outcomes.AnswerError as exc:  # answers stored before a rule was tightened
        found = outcomes.INSTRUMENTS.get(measure.instrument)
        return outcomes.Score(
            instrument=measure.instrument,
            version=measure.version,
            value=None,
            display="",
            unit=found.unit if found else "",
            direction=found.direction if found else outcomes.LOWER_IS_BETTER,
            reason=f"the stored answers cannot be scored ({exc})",
        )


@dataclass(frozen=True)
class OutcomePoint:
    measure: OutcomeMeasure
    score: outcomes.Score

    @property
    def recorded_on(self) -> dt.date:
        return self.measure.recorded_on

    @property
    def value(self) -> Decimal | None:
        return self.score.stored_value


@dataclass(frozen=True)
class InstrumentSummary:
    """One instrument's series in an episode: baseline (the first measure not entered in error),
    the one before the latest, the latest, and the change from baseline with the MCID verdict."""

    instrument: outcomes.Instrument
    series: list[OutcomePoint]
    change: outcomes.Change | None  # None while the baseline is the only measure

    @property
    def baseline(self) -> OutcomePoint:
        return self.series[0]

    @property
    def previous(self) -> OutcomePoint | None:
        return self.series[-2] if len(self.series) > 1 else None

    @property
    def latest(self) -> OutcomePoint:
        return self.series[-1]

    @property
    def mcid_reached(self) -> bool:
        return self.change is not None and self.change.meaningful


def _valid_measures() -> QuerySet[OutcomeMeasure]:
    """Measures not entered in error, per episode and instrument, oldest first (what
    outcome_summary reads)."""
    return (
        OutcomeMeasure.objects.filter(entered_in_error=False)
        .select_related("recorded_by")
        .order_by("episode_id", "instrument", "recorded_on", "pk")
    )


def outcome_measures_valid(*, episodes: Sequence[EpisodeOfCare]) -> dict[int, list[OutcomeMeasure]]:
    """{episode pk: its valid measures, in outcome_summary's order} for many episodes in one
    query; a measure counts only for an episode of its own clinic."""
    clinic_of = {e.pk: e.clinic_id for e in episodes}
    found: dict[int, list[OutcomeMeasure]] = {pk: [] for pk in clinic_of}
    if not clinic_of:
        return found
    for measure in _valid_measures().filter(
        clinic_id__in=set(clinic_of.values()), episode_id__in=list(clinic_of)
    ):
        if clinic_of[measure.episode_id] == measure.clinic_id:
            found[measure.episode_id].append(measure)
    return found


def outcome_summary(
    *,
    clinic: Clinic,
    episode: EpisodeOfCare,
    measures: Sequence[OutcomeMeasure] | None = None,
) -> list[InstrumentSummary]:
    """Per instrument (in the order of patients.outcomes.INSTRUMENTS): the series of valid
    measures with baseline, previous, latest and the change from baseline, in one query; none
    when the caller passes the episode's valid measures (`outcome_measures_valid`) read already."""
    if measures is None:
        measures = list(_valid_measures().filter(clinic=clinic, episode=episode))
    by_instrument: dict[str, list[OutcomeMeasure]] = {
        code: list(rows) for code, rows in groupby(measures, key=lambda m: m.instrument)
    }
    summaries = []
    for code, found in outcomes.INSTRUMENTS.items():
        rows = by_instrument.get(code)
        if not rows:
            continue
        series = [OutcomePoint(measure, outcome_score(measure)) for measure in rows]
        change = (
            outcomes.change(code, series[0].score, series[-1].score) if len(series) > 1 else None
        )
        summaries.append(InstrumentSummary(instrument=found, series=series, change=change))
    return summaries


def summary_as_dict(summary: InstrumentSummary) -> dict[str, Any]:
    """The summary as plain data (the API's and the pages' shape)."""

    def point(p: OutcomePoint | None) -> dict[str, Any] | None:
        if p is None:
            return None
        return {
            "id": p.measure.public_id,
            "recorded_on": p.recorded_on,
            "score": p.value,
            "display": p.score.text,
            "band": p.score.band,
            "reason": p.score.reason,
        }

    change = summary.change
    return {
        "instrument": summary.instrument.code,
        "name": summary.instrument.name,
        "unit": summary.instrument.unit,
        "direction": summary.instrument.direction,
        "count": len(summary.series),
        "baseline": point(summary.baseline),
        "previous": point(summary.previous),
        "latest": point(summary.latest),
        "change": None
        if change is None
        else {
            "difference": change.difference,
            "improvement": change.improvement,
            "relative_percent": change.relative_percent,
            "improved": change.improved,
            "meaningful": change.meaningful,
            "reached": list(change.reached),
            "mcid_absolute": change.thresholds.absolute,
            "mcid_relative_percent": change.thresholds.relative_percent,
            "reason": change.reason,
        },
        "mcid_reached": summary.mcid_reached,
        "series": [point(p) for p in summary.series],
    }


# --- Patients with no next visit -------------------------------------------------------------


def episode_list_without_next_visit(
    *, clinic: Clinic, now: dt.datetime | None = None, therapist: User | None = None
) -> QuerySet[EpisodeOfCare]:
    """Active episodes whose patient has no booked or checked-in visit from now on at this clinic:
    the front desk's daily list of patients who could be lost between visits.

    Each row carries `last_visit_at` (the latest completed visit at the clinic, None if the
    patient has never been seen), `last_visit_id` and `nudged_at` (when the patient was last
    e-mailed about it, see patients.reminders); those seen longest ago come first. Two
    queries with the paginated count, whatever the number of rows."""
    moment = now or timezone.now()
    visits = Visit.objects.for_clinic(clinic).filter(patient=OuterRef("patient"))
    upcoming = visits.filter(status__in=Visit.LIVE_STATUSES, ends_at__gt=moment)
    last_completed = visits.filter(status=Visit.Status.COMPLETED).order_by("-starts_at", "-pk")
    nudged = PatientMessage.objects.filter(
        episode=OuterRef("pk"),
        kind=PatientMessage.Kind.NO_NEXT_VISIT,
        status=PatientMessage.Status.SENT,
    ).order_by("-sent_at")
    episodes = EpisodeOfCare.objects.for_clinic(clinic).filter(
        status=EpisodeOfCare.Status.ACTIVE, patient__archived_at__isnull=True
    )
    if therapist is not None:
        episodes = episodes.filter(therapist=therapist)
    return (
        episodes.filter(~Exists(upcoming))
        .annotate(
            last_visit_at=Subquery(last_completed.values("starts_at")[:1]),
            last_visit_id=Subquery(last_completed.values("pk")[:1]),
            nudged_at=Subquery(nudged.values("sent_at")[:1]),
        )
        .select_related("patient", "therapist", "primary_diagnosis")
        .order_by(F("last_visit_at").asc(nulls_first=True), "pk")
    )
