"""The demo clinical record from `seed_demo`: an active episode per back-pain patient with a PT of
their clinic, a signed initial evaluation 2-4 weeks ago, goals, ODI and NPRS series improving, one
patient past the MCID; idempotent."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from clinic.models import TherapistProfile, User
from patients.clinical import is_clinic_therapist
from patients.clinical_selectors import outcome_summary
from patients.demo import BACK_PAIN_CODES, EPISODES, PATIENTS, odi_answers
from patients.models import EpisodeOfCare, Evaluation, EvaluationAddendum, Goal, OutcomeMeasure

pytestmark = pytest.mark.django_db


def seed() -> str:
    out = io.StringIO()
    call_command("seed_demo", "--force", stdout=out)
    return out.getvalue()


def counts() -> tuple[int, ...]:
    return tuple(
        model.objects.count()
        for model in (EpisodeOfCare, Evaluation, EvaluationAddendum, Goal, OutcomeMeasure)
    )


def test_seed_demo_adds_the_clinical_record_once():
    first_output = seed()
    first = counts()
    second_output = seed()
    assert counts() == first
    back_pain = [
        p for p in PATIENTS if any(d.icd10_code.startswith(BACK_PAIN_CODES) for d in p.diagnoses)
    ]
    assert first[0] == len(back_pain) == len(EPISODES)
    assert f"clinical record added: {len(back_pain)} episodes" in first_output
    assert "demo clinical records already present, nothing added" in second_output


def test_each_demo_episode_is_complete_and_consistent():
    seed()
    for episode in EpisodeOfCare.objects.select_related("patient", "therapist", "clinic"):
        clinic_today = timezone.localdate(timezone=episode.clinic.tz)
        assert episode.status == "active"
        assert episode.patient.clinic_id == episode.clinic_id
        assert is_clinic_therapist(clinic=episode.clinic, user=episode.therapist)
        assert episode.therapist.therapist_profile.discipline == TherapistProfile.Discipline.PT
        assert episode.primary_diagnosis.icd10_code.startswith(BACK_PAIN_CODES)
        (evaluation,) = Evaluation.objects.filter(episode=episode)
        assert evaluation.kind == "initial"
        assert evaluation.status == "signed"
        assert evaluation.signed_by == episode.therapist
        assert evaluation.cpt_code in ("97161", "97162", "97163")
        assert dt.timedelta(days=14) <= clinic_today - evaluation.performed_on <= dt.timedelta(28)
        assert Goal.objects.filter(episode=episode).count() == 2
        for instrument in ("odi", "nprs"):
            series = OutcomeMeasure.objects.filter(episode=episode, instrument=instrument)
            assert series.count() >= 2
            baseline = series.order_by("recorded_on").first()
            assert (baseline.recorded_on, baseline.evaluation) == (
                evaluation.performed_on,
                evaluation,
            )
            scores = list(series.order_by("recorded_on").values_list("score", flat=True))
            assert scores == sorted(scores, reverse=True)
            assert scores[-1] < scores[0]


def test_exactly_one_demo_patient_reaches_the_mcid():
    seed()
    reached = set()
    for episode in EpisodeOfCare.objects.select_related("patient"):
        for summary in outcome_summary(clinic=episode.clinic, episode=episode):
            assert summary.change is not None
            assert summary.change.improved
            if summary.mcid_reached:
                reached.add((episode.patient.first_name, episode.patient.last_name))
    assert reached == {("Daniel", "Okafor")}


def test_demo_therapists_are_the_staff_of_clinic_demo():
    seed()
    usernames = {e.therapist for e in EPISODES.values()}
    assert (
        set(User.objects.filter(episodes_treated__isnull=False).values_list("username", flat=True))
        == usernames
    )


@pytest.mark.parametrize("total", [0, 9, 24, 50])
def test_odi_answers_sum_to_the_total(total):
    sections = odi_answers(total)["sections"]
    assert len(sections) == 10
    assert sum(sections.values()) == total
    assert max(sections.values()) - min(sections.values()) <= 1


def test_odi_answers_refuse_an_impossible_total():
    with pytest.raises(ValueError, match="does not fit"):
        odi_answers(51)
