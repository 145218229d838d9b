"""Progress summaries: exactly one per completed visit (DESIGN.md mechanism 5).

`progress_summary_write(visit_id)` is idempotent: the summary's visit is unique, so a second
call (a redelivered message, the sweeper) finds the row, and a race loses on the constraint and
reads the winner's row. The data comes from the existing selectors (episode_compliance,
outcome_summary), the visit's note and the home programme's adherence since the previous visit
(programs.home), in a constant number of queries whatever the episode's size. The text is short
and readable; it names no patient, and nothing here logs it.

`progress_summaries_write(visit_ids)` writes many at once (the sweeper): the same selectors are
given what `_summary_reads` read for the whole batch (each selector's batch reader next to it),
so the reads are once per batch, not once per visit, and one INSERT writes them all. A single
summary is a batch of one: both paths build the data with the same code.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import OuterRef, QuerySet, Subquery
from django.utils import timezone

from patients.clinical_selectors import (
    InstrumentSummary,
    OutcomePoint,
    outcome_measures_valid,
    outcome_summary,
)
from patients.models import OutcomeMeasure, Visit
from programs.home import (
    AdherenceInputs,
    home_program_adherence,
    home_program_adherence_inputs,
    home_programs_current,
)
from programs.models import (
    BillingLine,
    DeliveredExercise,
    DeliveredModality,
    FollowUp,
    HomeProgram,
    ProgressSummary,
    TreatmentNote,
)
from programs.selectors import EpisodeFacts, episode_compliance, episode_facts_read, visit_day

logger = logging.getLogger(__name__)

FUNCTION_INSTRUMENTS = ("odi", "rmdq", "psfs")
SOON_DAYS = 14  # certification and authorization flags within this many days


def _number(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _point(p: OutcomePoint | None) -> dict[str, Any] | None:
    if p is None:
        return None
    return {"recorded_on": p.recorded_on.isoformat(), "score": _number(p.value)}


def _instrument(s: InstrumentSummary) -> dict[str, Any]:
    latest, previous, baseline = s.latest.value, s.previous, s.baseline.value
    prev_value = previous.value if previous is not None else None
    return {
        "instrument": s.instrument.code,
        "name": s.instrument.name,
        "baseline": _point(s.baseline),
        "previous": _point(previous),
        "latest": _point(s.latest),
        "change_from_previous": _number(latest - prev_value)
        if latest is not None and prev_value is not None
        else None,
        "change_from_baseline": _number(latest - baseline)
        if latest is not None and baseline is not None
        else None,
        "improved": s.change.improved if s.change is not None else None,
        "mcid_reached": s.mcid_reached,
    }


@dataclass(frozen=True)
class Delivered:
    """What a visit's note records as delivered, as the summary shows it, in the models' order."""

    modalities: list[dict[str, Any]]
    exercises: list[dict[str, Any]]
    billing: list[dict[str, Any]]


def _delivered_read(notes: Sequence[TreatmentNote]) -> dict[int, Delivered]:
    """{note pk: what it delivered} for many notes in three queries (the catalogue's names
    joined), as plain values: no model per row."""
    ids = [note.pk for note in notes]
    if not ids:
        return {}
    found = {pk: Delivered([], [], []) for pk in ids}
    for note_id, name, cpt_code, minutes, region in DeliveredModality.objects.filter(
        note_id__in=ids
    ).values_list("note_id", "modality__name", "modality__cpt_code", "minutes", "body_region"):
        found[note_id].modalities.append(
            {"name": name, "cpt_code": cpt_code, "minutes": minutes, "body_region": region}
        )
    for note_id, name, sets, reps in DeliveredExercise.objects.filter(note_id__in=ids).values_list(
        "note_id", "exercise__name", "sets", "reps"
    ):
        found[note_id].exercises.append({"name": name, "sets": sets, "reps": reps})
    for note_id, cpt_code, minutes, units, modifiers in BillingLine.objects.filter(
        note_id__in=ids
    ).values_list("note_id", "cpt_code", "minutes", "units", "modifiers"):
        found[note_id].billing.append(
            {"cpt_code": cpt_code, "minutes": minutes, "units": units, "modifiers": modifiers}
        )
    return found


def _delivered(found: Delivered | None) -> dict[str, Any]:
    if found is None:
        return {"modalities": [], "exercises": [], "billing": [], "total_units": 0}
    return {
        "modalities": [dict(m) for m in found.modalities],
        "exercises": [dict(e) for e in found.exercises],
        "billing": [dict(b) for b in found.billing],
        "total_units": sum(b["units"] for b in found.billing),
    }


@dataclass(frozen=True)
class SummaryReads:
    """What a visit's summary reads besides the visit (its clinic, episode, note and follow-up),
    read for many visits at once by `_summary_reads`."""

    facts: EpisodeFacts
    measures: Sequence[OutcomeMeasure]  # the episode's valid outcome measures
    next_visit: dt.datetime | None  # the patient's next booked visit after this one
    program: HomeProgram | None  # the episode's active home programme
    adherence: AdherenceInputs | None  # its adherence inputs, with the sessions up to the visit
    delivered: Delivered | None  # what the visit's note delivered; None without a note


def _summary_reads(visits: Sequence[Visit]) -> dict[int, SummaryReads]:
    """{visit pk: its reads} for visits of episodes, in a constant number of queries whatever
    their number (at most 13: the episodes' facts 4, outcome measures 1, notes' items 3, next
    visits 1, home programmes 1 and their adherence inputs 3; fewer when none has a note or a
    programme)."""
    episodes = list({v.episode_id: v.episode for v in visits if v.episode is not None}.values())
    facts = episode_facts_read(episodes=episodes)
    measures = outcome_measures_valid(episodes=episodes)
    notes = {visit.pk: note for visit in visits if (note := _note(visit)) is not None}
    delivered = _delivered_read(list(notes.values()))
    next_visits = dict(
        Visit.objects.filter(pk__in=[v.pk for v in visits])
        .annotate(
            next_at=Subquery(
                Visit.objects.filter(
                    patient_id=OuterRef("patient_id"),
                    status=Visit.Status.BOOKED,
                    starts_at__gt=OuterRef("starts_at"),
                )
                .order_by("starts_at")
                .values("starts_at")[:1]
            )
        )
        .values_list("pk", "next_at")
    )
    programs = home_programs_current(episodes=episodes)
    for episode in episodes:
        if episode.pk in programs:
            programs[episode.pk].clinic = episode.clinic
    inputs = home_program_adherence_inputs(
        programs=list(programs.values()), until=max((visit_day(v) for v in visits), default=None)
    )
    reads = {}
    for visit in visits:
        if visit.episode_id is None:
            continue
        program = programs.get(visit.episode_id)
        reads[visit.pk] = SummaryReads(
            facts=facts[visit.episode_id],
            measures=measures[visit.episode_id],
            next_visit=next_visits.get(visit.pk),
            program=program,
            adherence=inputs[program.pk] if program is not None else None,
            delivered=delivered[notes[visit.pk].pk] if visit.pk in notes else None,
        )
    return reads


def _home_adherence(
    reads: SummaryReads, *, since: dt.date | None, until: dt.date
) -> dict[str, Any] | None:
    """The active home programme's adherence from the day after the previous visit (or from the
    programme's start) to the visit's day, by programs.home's rule; None without a programme."""
    program = reads.program
    if program is None:
        return None
    result = home_program_adherence(
        program=program, since=since, until=until, inputs=reads.adherence
    )
    return {
        "program": str(program.public_id),
        "version": program.current_version,
        "since_previous_visit": since is not None,
        **result.as_dict(),
    }


def _note(visit: Visit) -> TreatmentNote | None:
    try:
        note: TreatmentNote = visit.treatment_note
    except TreatmentNote.DoesNotExist:
        return None
    return note


def progress_summary_data(visit: Visit, *, reads: SummaryReads | None = None) -> dict[str, Any]:
    """The structured summary of a completed visit of an episode, from `reads` when the caller
    (progress_summaries_write) has read them for many visits, else read here."""
    episode = visit.episode
    if episode is None:
        raise ValueError("A progress summary needs a visit of an episode.")
    if reads is None:
        reads = _summary_reads([visit])[visit.pk]
    clinic = visit.clinic
    day = visit_day(visit)
    today = timezone.localdate(timezone=clinic.tz)
    completed = reads.facts.completed
    state = episode_compliance(episode=episode, today=today, facts=reads.facts)
    plan = reads.facts.plan
    number = next((i for i, (pk, _) in enumerate(completed, 1) if pk == visit.pk), len(completed))
    previous_start = completed[number - 2][1] if number > 1 else None
    plan_data = None
    if plan is not None:
        in_plan = sum(
            1
            for pk, starts in completed[:number]
            if starts.astimezone(clinic.tz).date() >= plan.starts_on
        )
        plan_data = {
            "visit_number": in_plan,
            "planned_visits": plan.frequency_per_week * plan.duration_weeks,
            "frequency_per_week": plan.frequency_per_week,
            "duration_weeks": plan.duration_weeks,
        }
    auth = state.authorization
    auth_data = None
    if auth is not None:
        auth_data = {
            "reference": auth.reference,
            "visits_used": auth.visits_used,
            "visits_approved": auth.visits_approved,
            "visits_left": auth.status.visits_left,
            "units_used": auth.units_used,
            "units_approved": auth.units_approved,
            "units_left": auth.status.units_left,
            "days_left": auth.status.days_left,
        }
    outcomes = {
        s.instrument.code: s
        for s in outcome_summary(clinic=clinic, episode=episode, measures=reads.measures)
    }
    pain = _instrument(outcomes["nprs"]) if "nprs" in outcomes else None
    function = [_instrument(outcomes[c]) for c in FUNCTION_INSTRUMENTS if c in outcomes]
    goals = [
        {"term": g.term, "description": g.description, "status": g.status}
        for g in sorted(reads.facts.goals, key=lambda g: (g.term, g.pk))
    ]
    next_visit = reads.next_visit
    try:  # joined by progress_summary_write's query; one query otherwise
        found: FollowUp | None = visit.followup
    except FollowUp.DoesNotExist:
        found = None
    followup: dict[str, Any] | None = (
        None
        if found is None
        else {
            "status": found.status,
            "due_from": found.due_from,
            "due_until": found.due_until,
            "reason": found.reason,
        }
    )
    flags: list[dict[str, Any]] = []
    report = state.progress_report
    if report.days_left is not None:
        flags.append(
            {
                "kind": "progress_report_due",
                "treatment_days_left": report.days_left,
                "message": "Progress report due now"
                if report.days_left == 0
                else f"Progress report due in {report.days_left} treatment days",
            }
        )
    cert = state.certification
    if cert is not None and cert.status is not None and cert.status.days_left <= SOON_DAYS:
        flags.append(
            {
                "kind": "certification_ends",
                "days_left": cert.status.days_left,
                "message": f"Certification ends in {cert.status.days_left} days",
            }
        )
    if auth_data is not None and auth_data["visits_left"] is not None:
        flags.append(
            {
                "kind": "authorization_left",
                "visits_left": auth_data["visits_left"],
                "units_left": auth_data["units_left"],
                "message": f"Authorization: {auth_data['visits_left']} visits left",
            }
        )
    if next_visit is None:
        flags.append({"kind": "no_next_visit", "message": "No next visit booked"})
    return {
        "visit": {
            "id": str(visit.public_id),
            "date": day.isoformat(),
            "number_in_episode": number,
            "previous_visit_on": previous_start.astimezone(clinic.tz).date().isoformat()
            if previous_start is not None
            else None,
        },
        "episode": {"id": str(episode.public_id), "status": episode.status},
        "plan": plan_data,
        "authorization": auth_data,
        "pain": pain,
        "function": function,
        "delivered": _delivered(reads.delivered),
        "home_programme_adherence": _home_adherence(
            reads,
            since=previous_start.astimezone(clinic.tz).date() + dt.timedelta(days=1)
            if previous_start is not None
            else None,
            until=day,
        ),
        "goals": goals,
        "flags": flags,
        "compliance_flags": [f.message for f in state.flags],
        "next_visit": next_visit.astimezone(clinic.tz).isoformat() if next_visit else None,
        "followup": None
        if followup is None
        else {
            "status": followup["status"],
            "due_from": followup["due_from"].isoformat(),
            "due_until": followup["due_until"].isoformat(),
            "reason": followup["reason"],
        },
    }


def _fmt(value: float | None) -> str:
    if value is None:
        return "?"
    return f"{value:g}"


def progress_summary_text(data: dict[str, Any]) -> str:
    """A few readable lines from the structured data."""
    v = data["visit"]
    lines = [f"Visit {v['number_in_episode']} of the episode ({v['date']})"]
    if data["plan"]:
        p = data["plan"]
        lines[0] += f", visit {p['visit_number']} of {p['planned_visits']} planned"
    if data["authorization"] and data["authorization"]["visits_approved"]:
        a = data["authorization"]
        lines[0] += f", {a['visits_used']} of {a['visits_approved']} authorized"
    lines[0] += "."
    pain = data["pain"]
    if pain:
        lines.append(
            f"Pain {_fmt(pain['latest']['score'])}/10 (previous "
            f"{_fmt(pain['previous']['score'] if pain['previous'] else None)}, baseline "
            f"{_fmt(pain['baseline']['score'])})."
        )
    for f in data["function"]:
        lines.append(
            f"{f['name']}: {_fmt(f['baseline']['score'])} -> {_fmt(f['latest']['score'])}, "
            f"MCID {'reached' if f['mcid_reached'] else 'not reached'}."
        )
    delivered = data["delivered"]
    if delivered["billing"]:
        codes = ", ".join(f"{b['cpt_code']} x{b['units']}" for b in delivered["billing"])
        lines.append(f"Delivered: {codes} ({delivered['total_units']} units).")
    if data["goals"]:
        met = sum(1 for g in data["goals"] if g["status"] == "met")
        lines.append(f"Goals: {met} of {len(data['goals'])} met.")
    adherence = data.get("home_programme_adherence")
    if adherence and adherence["prescribed"]:
        when = "since the previous visit" if adherence["since_previous_visit"] else "so far"
        lines.append(
            f"Home programme {when}: {adherence['done']} of {adherence['prescribed']} sessions "
            f"({adherence['percent']} %)."
        )
    for flag in data["flags"]:
        lines.append(f"{flag['message']}.")
    if data["next_visit"]:
        lines.append(f"Next visit: {data['next_visit']}.")
    return "\n".join(lines)


def _visits() -> QuerySet[Visit]:
    """Visits with their clinic, episode, summary (if written already), note and follow-up."""
    return Visit.objects.select_related(
        "clinic", "episode", "episode__clinic", "progress_summary", "treatment_note", "followup"
    )


def progress_summary_write(visit_id: int) -> ProgressSummary | None:
    """The summary of a completed visit of an episode, written once (idempotent); None for a
    visit that is not completed or belongs to no episode.

    One query reads the visit with its clinic, episode, summary (if written already), note and
    follow-up. Outside a transaction (a worker) the INSERT is its own; inside one it gets a
    savepoint, so that losing the race does not break the caller's transaction."""
    visit = _visits().filter(pk=visit_id).first()
    if visit is None:
        return None
    try:
        return visit.progress_summary
    except ProgressSummary.DoesNotExist:
        pass
    if visit.status != Visit.Status.COMPLETED or visit.episode is None:
        return None
    data = progress_summary_data(visit)
    try:
        with transaction.atomic() if connection.in_atomic_block else nullcontext():
            summary = ProgressSummary.objects.create(
                clinic=visit.clinic, visit=visit, data=data, text=progress_summary_text(data)
            )
    except IntegrityError:  # written meanwhile: the constraint keeps one
        return ProgressSummary.objects.get(visit_id=visit_id)
    logger.info("progress_summary.written visit=%s", visit_id)
    return summary


def progress_summaries_write(visit_ids: Sequence[int]) -> int:
    """The summaries of many visits at once (the sweeper catching up a backlog): how many were
    written (one written meanwhile by the per-visit task, which the INSERT skips, counts too:
    the INSERT cannot tell). Visits that are not completed, belong to no episode or have a
    summary already are skipped. A constant number of queries whatever the number of visits:
    one reads the visits as progress_summary_write does, `_summary_reads` reads the rest for
    all of them, and one INSERT writes the summaries (a summary written meanwhile wins on the
    unique visit). The same data as progress_summary_write, from the same selectors."""
    visits = [
        visit
        for visit in _visits()
        .filter(pk__in=list(visit_ids), status=Visit.Status.COMPLETED, episode__isnull=False)
        .order_by("pk")
        if not _has_summary(visit)
    ]
    if not visits:
        return 0
    reads = _summary_reads(visits)
    rows = []
    for visit in visits:
        data = progress_summary_data(visit, reads=reads[visit.pk])
        rows.append(
            ProgressSummary(
                clinic=visit.clinic, visit=visit, data=data, text=progress_summary_text(data)
            )
        )
    ProgressSummary.objects.bulk_create(rows, ignore_conflicts=True)
    logger.info("progress_summary.batch_written visits=%s", len(rows))
    return len(rows)


def _has_summary(visit: Visit) -> bool:
    try:
        return visit.progress_summary is not None
    except ProgressSummary.DoesNotExist:
        return False


def visits_missing_work(*, days: int = 7, limit: int = 500) -> tuple[list[int], list[int]]:
    """(visits without a summary, visits without a follow-up): completed visits of an episode
    in the last `days` days. A visit whose plan makes no follow-up stays in the second list, and
    followup_create_for_visit answers None again: cheap, and bounded by `limit`."""
    since = timezone.now() - dt.timedelta(days=days)
    recent = Visit.objects.filter(
        status=Visit.Status.COMPLETED, episode__isnull=False, starts_at__gte=since
    ).order_by("starts_at", "pk")
    no_summary = list(
        recent.filter(progress_summary__isnull=True).values_list("pk", flat=True)[:limit]
    )
    no_followup = list(
        recent.filter(followup__isnull=True, episode__status="active").values_list("pk", flat=True)[
            :limit
        ]
    )
    return no_summary, no_followup
