"""Demo plans of care and treatment notes (see seed_demo's contract).

For each active demo episode (patients.demo opens them; programs comes after patients in
INSTALLED_APPS, so they exist by now): a plan of care, then two to four completed past visits,
each with a signed treatment note. Items are chosen from a back-pain menu (hot pack; TENS, or
ultrasound where TENS is contraindicated; therapeutic exercise; manual therapy; a few exercises)
and every item the patient's record contraindicates is left out, never overridden. Units follow
the episode's billing rule: the 8-minute rule for the Medicare patients of the US clinic.

Past visits cannot go through `visit_book`, which refuses the past: `_demo_past_visit` writes
the Visit row directly (demo data only), booked, at the first free 45-minute slot from 09:00
local time; `visit_complete_with_note` then saves, signs and completes it as a therapist would.
Idempotent: an episode with a plan gets no second one, one with treatment notes no more visits.

Home programmes: the first HOME_PROGRAMMES demo episodes get one (the menu's exercises the record
allows, prescribed on the first treatment visit's day), a patient link, and a few sessions the
patient "recorded" through it on past days (pain easing), so that adherence and the progress
summary have something to show. An episode that has a home programme gets no second one.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import OutputWrapper
from django.db.models import Q
from django.utils import timezone

from clinic.records import record_save
from patients.models import EpisodeOfCare, Visit
from patients.scheduling import local_day_bounds, localize
from programs import home
from programs.care import plan_create, visit_complete_with_note
from programs.contraindications import refusals
from programs.models import Exercise, HomeProgram, Modality, PlanOfCare, TreatmentNote
from programs.selectors import contraindications_for_items

REGION = "lumbar"
VISIT_LENGTH = dt.timedelta(minutes=45)
VISIT_DAYS = (3, 7, 10, 14)  # days after the evaluation
HEAT = ("Hot pack", {"towel_layers": 3})
ELECTRO = (
    (
        "TENS (unattended)",
        {
            "mode": "conventional",
            "frequency_hz": 100,
            "pulse_width_us": 150,
            "intensity_ma": 20,
            "electrode_placement": "Paravertebral, L3 to L5, both sides",
        },
    ),
    (
        "Therapeutic ultrasound",
        {"frequency_mhz": 1, "intensity_w_cm2": 1.2, "duty_cycle_percent": 100},
    ),
)
EXERCISE: tuple[str, dict[str, Any]] = ("Therapeutic exercise", {})
MANUAL = ("Manual therapy", {"technique": "joint_mobilisation"})
EXERCISE_SLUGS = ("pelvic-tilt", "bird-dog", "bridge", "prone-on-elbows", "hamstring-stretch")
# Minutes per visit: (heat, electrotherapy, therapeutic exercise, manual therapy). Hot packs and
# unattended TENS are untimed (1 unit each); with TENS, the Medicare 8-minute rule gives
# 23 + 15 = 38 -> 3 units; 33 + 7 = 40 -> 3 (2 x 97110, 1 x 97140); 25 + 10 = 35 -> 2;
# 20 + 12 = 32 -> 2. Ultrasound is timed, so its minutes join the total.
MINUTES = ((15, 15, 23, 15), (15, 8, 33, 7), (12, 8, 25, 10), (15, 15, 20, 12))
NOTES = (
    (
        "Pain 6/10 this morning, stiff after sitting at work.",
        "Tolerated treatment well; lumbar flexion a little easier after mobilisation.",
    ),
    (
        "Pain 5/10; doing the home exercises most days.",
        "Less guarding on flexion; progress stabilisation.",
    ),
    ("Pain 4/10; slept better this week.", "Improving as expected; continue the plan."),
    ("Pain 3-4/10; back at work with breaks.", "Good progress towards the short-term goal."),
)


def _allowed(
    episode: EpisodeOfCare, names: list[str], slugs: list[str], on: dt.date
) -> tuple[dict[str, Modality], list[Exercise]]:
    """The menu's modalities and exercises that nothing in the patient's record refuses."""
    modalities = list(Modality.objects.filter(name__in=names, active=True))
    exercises = list(Exercise.objects.filter(slug__in=slugs, active=True).order_by("slug"))
    m_findings, e_findings = contraindications_for_items(
        patient=episode.patient,
        modalities=[(m, REGION) for m in modalities],
        exercises=exercises,
        on=on,
    )
    return (
        {m.name: m for m, f in zip(modalities, m_findings, strict=True) if not refusals(f)},
        [e for e, f in zip(exercises, e_findings, strict=True) if not refusals(f)],
    )


def _menu(allowed: dict[str, Modality]) -> list[tuple[int, Modality, dict[str, Any]]]:
    """(position in MINUTES, modality, parameters) of the visit's modalities."""
    menu: list[tuple[int, Modality, dict[str, Any]]] = []
    if HEAT[0] in allowed:
        menu.append((0, allowed[HEAT[0]], HEAT[1]))
    electro = next(((allowed[n], p) for n, p in ELECTRO if n in allowed), None)
    if electro is not None:
        menu.append((1, *electro))
    for position, (name, params) in ((2, EXERCISE), (3, MANUAL)):
        if name in allowed:
            menu.append((position, allowed[name], params))
    return menu


def _demo_visit(episode: EpisodeOfCare, day: dt.date) -> Visit | None:
    """DEMO ONLY: a booked Visit row written directly (`visit_book` refuses the past, and the
    demo's day has begun), at the first 45 minutes from 09:00 local time that neither the
    therapist nor the patient has taken. None when the day is full."""
    clinic = episode.clinic
    for slot in range(12):
        start = localize(dt.datetime.combine(day, dt.time(9, 0)), clinic.tz).astimezone(dt.UTC)
        start += slot * VISIT_LENGTH
        end = start + VISIT_LENGTH
        busy = (
            Visit.objects.occupying()
            .overlapping(start, end)
            .filter(Q(therapist=episode.therapist) | Q(patient=episode.patient))
        )
        if busy.exists():
            continue
        visit = Visit(
            clinic=clinic,
            patient=episode.patient,
            therapist=episode.therapist,
            starts_at=start,
            ends_at=end,
            kind=Visit.Kind.TREATMENT,
            episode=episode,
            status_changed_at=timezone.now(),
        )
        record_save(visit, by=None)
        return visit
    return None


def _visit_days(started_on: dt.date, today: dt.date) -> list[dt.date]:
    days = []
    for offset in VISIT_DAYS:
        day = started_on + dt.timedelta(days=offset)
        while day.weekday() >= 5:  # the demo clinics treat on weekdays
            day += dt.timedelta(days=1)
        if day < today and day not in days:
            days.append(day)
    return days


def _seed_episode(episode: EpisodeOfCare) -> tuple[int, int]:
    """(plans added, notes added) for one episode."""
    clinic, therapist = episode.clinic, episode.therapist
    today = timezone.localdate(timezone=clinic.tz)
    names = [HEAT[0], *(n for n, _ in ELECTRO), EXERCISE[0], MANUAL[0]]
    allowed, exercises = _allowed(episode, names, list(EXERCISE_SLUGS), episode.started_on)
    menu = _menu(allowed)
    plans = notes = 0
    if not PlanOfCare.objects.for_clinic(clinic).filter(episode=episode).exists():
        signed_on = episode.started_on + dt.timedelta(days=6)
        plan_create(
            episode=episode,
            frequency_per_week=2,
            duration_weeks=6,
            starts_on=episode.started_on,
            certified_until=episode.started_on + dt.timedelta(days=59),
            physician_name=episode.patient.referring_physician_name or "Dr. Helen Marsh",
            physician_signed_on=signed_on if signed_on <= today else None,
            notes="Manual therapy and graded exercise; home programme from the first visit.",
            modalities=[
                {"modality": m, "parameters": p, "body_region": REGION} for _, m, p in menu
            ],
            exercises=[{"exercise": e} for e in exercises],
            by=therapist,
        )
        plans = 1
    if TreatmentNote.objects.for_clinic(clinic).filter(episode=episode).exists():
        return plans, notes
    for number, day in enumerate(_visit_days(episode.started_on, today)[:4]):
        visit = _demo_visit(episode, day)
        if visit is None:
            continue
        subjective, assessment = NOTES[number]
        visit_complete_with_note(
            visit=visit,
            by=therapist,
            sign=True,
            subjective=subjective,
            assessment=assessment,
            notes="Home programme reviewed.",
            modalities=[
                {
                    "modality": modality,
                    "parameters": params,
                    "minutes": MINUTES[number][position],
                    "body_region": REGION,
                }
                for position, modality, params in menu
            ],
            exercises=[
                {"exercise": e, "sets": e.sets, "reps": e.reps, "hold_seconds": e.hold_seconds}
                for e in exercises[:3]
            ],
        )
        notes += 1
    return plans, notes


def _seed_today(episode: EpisodeOfCare) -> int:
    """A booked visit today for the episode's patient, so the worklists and the calendar have a
    day to work through whenever `make run` starts: on weekdays the clinic is open, and only
    when the patient has no visit today yet (so it is added once a day). 1 when added."""
    clinic = episode.clinic
    today = timezone.localdate(timezone=clinic.tz)
    if (
        today.weekday() >= 5
        or clinic.closures.filter(starts_on__lte=today, ends_on__gte=today).exists()
    ):
        return 0
    start, end = local_day_bounds(today, clinic.tz)
    seen_today = Visit.objects.for_clinic(clinic).filter(
        patient=episode.patient, starts_at__gte=start, starts_at__lt=end
    )
    if seen_today.exists():
        return 0
    return 0 if _demo_visit(episode, today) is None else 1


HOME_PROGRAMMES = 2
HOME_SESSION_DAYS_AGO = (9, 8, 6, 5, 3, 2, 1)  # patient-recorded sessions, days before today
HOME_PAIN = (5, 5, 4, 4, 3, 3, 3)


def _seed_home_programme(episode: EpisodeOfCare) -> int:
    """Sessions added for the episode's demo home programme (-1: it already had one)."""
    if HomeProgram.objects.for_clinic(episode.clinic).filter(episode=episode).exists():
        return -1
    clinic, therapist = episode.clinic, episode.therapist
    today = timezone.localdate(timezone=clinic.tz)
    starts_on = min(episode.started_on + dt.timedelta(days=VISIT_DAYS[0]), today)
    _, exercises = _allowed(episode, [], list(EXERCISE_SLUGS), starts_on)
    if not exercises:
        return -1
    program = home.home_program_create(
        episode=episode,
        by=therapist,
        starts_on=starts_on,
        notes="Walk 30 minutes on most days; keep moving through the day.",
        items=[{"exercise": e} for e in exercises[:4]],
    )
    link = home.home_link_create(program=program, by=therapist)
    version = home.home_program_version_get(program=program)
    if version is None:
        return 0
    items = [str(item.public_id) for item in version.items.all()]
    added = 0
    for days_ago, pain in zip(HOME_SESSION_DAYS_AGO, HOME_PAIN, strict=True):
        day = today - dt.timedelta(days=days_ago)
        if day < starts_on:
            continue
        home.home_session_record(
            program=program,
            link=link,
            version=version.version,
            performed_on=day,
            items=items if days_ago % 3 else items[:2],
            pain=pain,
            comment="" if days_ago % 4 else "Stiff in the morning, easier after the exercises.",
        )
        added += 1
    return added


def seed(*, stdout: OutputWrapper) -> list[tuple[str, str, str]]:
    episodes = (
        EpisodeOfCare.objects.filter(
            status=EpisodeOfCare.Status.ACTIVE, clinic__slug__in=("riverside", "harbourside")
        )
        .select_related("clinic", "patient", "therapist")
        .order_by("pk")
    )
    plans = notes = programmes = sessions = today = 0
    for number, episode in enumerate(episodes):
        added_plans, added_notes = _seed_episode(episode)
        plans += added_plans
        notes += added_notes
        today += _seed_today(episode)
        if number < HOME_PROGRAMMES and (added := _seed_home_programme(episode)) >= 0:
            programmes += 1
            sessions += added
    if plans or notes or programmes or today:
        stdout.write(
            f"programs demo data added: {plans} plans of care, {notes} signed treatment notes "
            f"of completed visits, {programmes} home programmes with {sessions} recorded "
            f"sessions, {today} visits booked for today."
        )
    else:
        stdout.write(
            "programs: demo plans of care and treatment notes already present, and the home "
            "programmes."
        )
    return []
