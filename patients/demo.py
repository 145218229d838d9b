"""Demo patients with realistic back-pain diagnoses and precautions, and their clinical record:
for each back-pain patient an active episode with the treating PT, a signed initial evaluation
two to four weeks ago, goals, and ODI + NPRS series improving since the evaluation (one patient,
Daniel Okafor, past the MCID). See seed_demo's contract.

All names, dates and numbers are invented. Nothing here is printed: only counts are.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, NamedTuple

from django.core.management.base import OutputWrapper
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from clinic.models import Clinic, User
from patients import clinical
from patients.models import Diagnosis, EpisodeOfCare, Evaluation, Goal, Patient, Visit
from patients.outcomes import ODI_SECTION_MAX, ODI_SECTIONS
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
    episodes = seed_clinical(clinics)
    if episodes:
        stdout.write(
            f"patients clinical record added: {episodes} episodes of care with a signed initial "
            "evaluation, goals and ODI and NPRS series."
        )
    else:
        stdout.write("patients: demo clinical records already present, nothing added.")
    missed = seed_missed_visits(clinics)
    if missed:
        stdout.write(
            f"patients missed visits added: {missed} past no-shows and late cancellations, "
            "for the attendance report."
        )
    return []


# --- Missed visits (for the attendance report) -----------------------------------------------

# (days ago, status, cancel reason) for every other demo episode, at 16:00 clinic time: a no-show
# last week and a late cancellation the week before. Written straight to the table (demo only:
# booking refuses the past); neither status holds its time, so they block no later booking.
MISSED = (
    (8, "no_show", ""),
    (13, "late_cancelled", "Patient unwell; called two hours before the visit."),
)


def seed_missed_visits(clinics: dict[str, Clinic]) -> int:
    """Past no-shows and late cancellations of every other demo episode that has none yet."""
    every_other = list(
        EpisodeOfCare.objects.filter(
            clinic__in=clinics.values(), status=EpisodeOfCare.Status.ACTIVE
        )
        .select_related("clinic")
        .order_by("pk")
    )[::2]
    already = set(
        Visit.objects.filter(
            episode__in=every_other, status__in=[s for _, s, _ in MISSED]
        ).values_list("episode_id", flat=True)
    )
    episodes = [e for e in every_other if e.pk not in already]
    now = timezone.now()
    missed = []
    for episode in episodes:
        tz = episode.clinic.tz
        for days_ago, status, reason in MISSED:
            day = timezone.localdate(now, tz) - dt.timedelta(days=days_ago)
            while day.weekday() >= 5:  # the demo clinics treat on weekdays
                day += dt.timedelta(days=1)
            starts = dt.datetime.combine(day, dt.time(16), tzinfo=tz)
            missed.append(
                Visit(
                    clinic=episode.clinic,
                    patient_id=episode.patient_id,
                    therapist_id=episode.therapist_id,
                    episode=episode,
                    starts_at=starts,
                    ends_at=starts + dt.timedelta(minutes=45),
                    kind=Visit.Kind.TREATMENT,
                    status=status,
                    cancel_reason=reason,
                    status_changed_at=starts,
                )
            )
    bulk_create_with_history(missed, Visit)
    return len(missed)


# --- The clinical record ---------------------------------------------------------------------

# ICD-10-CM codes (prefixes) of the back-pain pathway: low back pain, radiculopathy, sciatica,
# lumbar disc displacement, lumbar stenosis, lumbar spondylosis.
BACK_PAIN_CODES = ("M54.5", "M54.1", "M54.3", "M54.4", "M51.", "M48.06", "M47.81")


class DemoEpisode(NamedTuple):
    therapist: str  # username, from clinic.demo's staff
    evaluated_days_ago: int
    complexity: str
    # (days after the evaluation, ODI section total out of 50, NPRS 0-10); the first is baseline
    series: tuple[tuple[int, int, int], ...]
    short_term_goal_met: bool = False


# Improvement everywhere; only Daniel Okafor's reaches the MCID (ODI 48 % -> 30 %, NPRS 8 -> 4).
EPISODES: dict[tuple[str, str], DemoEpisode] = {
    ("Margaret", "Holloway"): DemoEpisode("sarah", 24, "high", ((0, 22, 7), (12, 20, 6))),
    ("Daniel", "Okafor"): DemoEpisode(
        "david", 17, "moderate", ((0, 24, 8), (7, 21, 6), (14, 15, 4)), short_term_goal_met=True
    ),
    ("Priya", "Raman"): DemoEpisode("sarah", 15, "low", ((0, 14, 5), (10, 12, 4))),
    ("Walter", "Brandt"): DemoEpisode("david", 28, "high", ((0, 26, 6), (14, 24, 6), (21, 23, 5))),
    ("Lucia", "Fernandez"): DemoEpisode("sarah", 20, "low", ((0, 15, 6), (14, 13, 5))),
    ("Kevin", "Tran"): DemoEpisode("david", 21, "moderate", ((0, 20, 7), (14, 18, 6))),
    ("Eleanor", "Whitcombe"): DemoEpisode("oliver", 18, "moderate", ((0, 21, 7), (10, 19, 6))),
    ("Tomasz", "Nowak"): DemoEpisode("oliver", 14, "low", ((0, 17, 6), (7, 16, 5))),
    ("Aisha", "Bello"): DemoEpisode("oliver", 26, "high", ((0, 25, 7), (13, 23, 6), (20, 22, 6))),
    ("George", "Pemberton"): DemoEpisode("oliver", 22, "moderate", ((0, 19, 5), (14, 17, 4))),
}


def odi_answers(total: int) -> dict[str, dict[str, int]]:
    """ODI answers (all ten sections) summing to `total`, spread as evenly as the form allows."""
    base, extra = divmod(total, len(ODI_SECTIONS))
    sections = {code: base + (1 if i < extra else 0) for i, code in enumerate(ODI_SECTIONS)}
    if max(sections.values()) > ODI_SECTION_MAX:
        raise ValueError(f"An ODI total of {total} does not fit ten sections of 0-5.")
    return {"sections": sections}


def _evaluation_content(diagnoses: list[Diagnosis], complexity: str) -> dict[str, Any]:
    return {
        "subjective": {
            "history": "Low back pain for several weeks; worse after prolonged sitting and "
            "lifting at work. No previous physiotherapy for this episode.",
            "pain_location": "Lumbar spine, central, at times into the buttock",
            "aggravating": ["sitting over 20 minutes", "bending", "lifting"],
            "easing": ["walking", "changing position", "heat"],
            "red_flags": {
                "saddle_anaesthesia": False,
                "bladder_or_bowel_dysfunction": False,
                "progressive_neurological_deficit": False,
                "unexplained_weight_loss": False,
                "fever_or_infection": False,
            },
        },
        "objective": {
            "range_of_motion": {"lumbar_flexion": 45, "lumbar_extension": 15},
            "strength": {"hip_flexion_left": 4, "hip_flexion_right": 4, "hip_abduction_left": 4},
            "special_tests": {
                "slr_left": "negative",
                "slr_right": "negative",
                "slump": "equivocal",
            },
            "findings": "Reduced lumbar mobility, guarding on flexion; neurology intact.",
        },
        "diagnoses": [
            {"icd10_code": d.icd10_code, "description": d.description} for d in diagnoses
        ],
        "complexity": complexity,
        "assessment": "Mechanical low back pain with movement-related pain and reduced function; "
        "good prognosis with an active programme.",
        "plan": "Twice weekly for four weeks: manual therapy, therapeutic exercise, home "
        "exercise programme; re-assess ODI and NPRS fortnightly.",
    }


def seed_clinical(clinics: dict[str, Clinic]) -> int:
    """Add the clinical record of each demo back-pain patient that has no episode yet."""
    therapists = {
        u.username: u
        for u in User.objects.filter(username__in={e.therapist for e in EPISODES.values()})
    }
    with_episode = set(EpisodeOfCare.objects.values_list("patient_id", flat=True))
    added = 0
    for spec in PATIENTS:
        clinic = clinics.get(spec.clinic)
        plan = EPISODES.get((spec.first_name, spec.last_name))
        therapist = therapists.get(plan.therapist) if plan else None
        if clinic is None or plan is None or therapist is None:
            continue
        patient = (
            Patient.objects.for_clinic(clinic)
            .filter(
                first_name=spec.first_name,
                last_name=spec.last_name,
                date_of_birth=spec.date_of_birth,
            )
            .first()
        )
        if patient is None or patient.pk in with_episode:
            continue
        diagnoses = [
            d
            for d in Diagnosis.objects.for_clinic(clinic).filter(patient=patient).current()
            if d.icd10_code.startswith(BACK_PAIN_CODES)
        ]
        if not diagnoses:
            continue
        _seed_episode(clinic, patient, therapist, diagnoses, plan)
        added += 1
    return added


def _seed_episode(
    clinic: Clinic, patient: Patient, therapist: User, diagnoses: list[Diagnosis], plan: DemoEpisode
) -> None:
    evaluated_on = timezone.localdate(None, clinic.tz) - dt.timedelta(days=plan.evaluated_days_ago)
    episode = clinical.episode_open(
        patient=patient,
        therapist=therapist,
        started_on=evaluated_on,
        primary_diagnosis=diagnoses[0],
        by=therapist,
    )
    evaluation = clinical.evaluation_create(
        episode=episode,
        kind=Evaluation.Kind.INITIAL,
        author=therapist,
        performed_on=evaluated_on,
        by=therapist,
        **_evaluation_content(diagnoses, plan.complexity),
    )
    evaluation = clinical.evaluation_sign(
        evaluation=evaluation, by=therapist, version=evaluation.version
    )
    short = clinical.goal_add(
        episode=episode,
        term=Goal.Term.SHORT,
        description="Sit for 30 minutes with pain at or below 3/10 within 3 weeks.",
        target_date=evaluated_on + dt.timedelta(days=21),
        by=therapist,
    )
    clinical.goal_add(
        episode=episode,
        term=Goal.Term.LONG,
        description="ODI under 20 % and back to usual work and lifting within 8 weeks.",
        target_date=evaluated_on + dt.timedelta(days=56),
        by=therapist,
    )
    if plan.short_term_goal_met:
        clinical.goal_update_status(goal=short, status=Goal.Status.MET, by=therapist)
    for days_after, odi_total, nprs in plan.series:
        at_evaluation = evaluation if days_after == 0 else None
        recorded_on = evaluated_on + dt.timedelta(days=days_after)
        for instrument, answers in (("odi", odi_answers(odi_total)), ("nprs", {"pain": nprs})):
            clinical.outcome_record(
                episode=episode,
                instrument=instrument,
                answers=answers,
                recorded_on=recorded_on,
                evaluation=at_evaluation,
                by=therapist,
            )
