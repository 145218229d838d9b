"""The programs demo data: a plan and signed notes of completed past visits for each demo
episode, units by the episode's rule, idempotent."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from patients.models import BillingRule, EpisodeOfCare, Visit
from programs import billing
from programs.models import PlanOfCare, TreatmentNote

pytestmark = pytest.mark.django_db


def seed() -> str:
    out = io.StringIO()
    call_command("seed_demo", "--force", stdout=out)
    return out.getvalue()


def test_seed_demo_adds_plans_and_signed_notes_once():
    first = seed()
    episodes = EpisodeOfCare.objects.filter(status="active")
    assert episodes.count() == 10
    assert PlanOfCare.objects.filter(status="active").count() == episodes.count()
    counts = {e.pk: e.treatment_notes.count() for e in episodes}
    assert all(2 <= n <= 4 for n in counts.values()), counts
    assert not TreatmentNote.objects.exclude(status="signed").exists()
    assert (
        not Visit.objects.filter(treatment_note__isnull=False).exclude(status="completed").exists()
    )
    assert "programs demo data added: 10 plans of care" in first

    totals = (PlanOfCare.objects.count(), TreatmentNote.objects.count(), Visit.objects.count())
    second = seed()
    assert (PlanOfCare.objects.count(), TreatmentNote.objects.count(), Visit.objects.count()) == (
        totals
    )
    assert "programs: demo plans of care and treatment notes already present" in second


def test_seed_demo_notes_bill_by_the_episodes_rule():
    seed()
    medicare = TreatmentNote.objects.filter(billing_rule=BillingRule.MEDICARE_8_MINUTE)
    assert medicare.exists()
    for note in TreatmentNote.objects.prefetch_related("modalities__modality", "billing_lines"):
        expected = billing.bill(
            [
                billing.ServiceLine(d.modality.cpt_code, d.minutes, d.modality.timed)
                for d in note.modalities.all()
            ],
            note.billing_rule,
        )
        assert {b.cpt_code: b.units for b in expected} == {
            b.cpt_code: b.units for b in note.billing_lines.all()
        }
    # the 8-minute rule pools minutes: 33 + 7 minutes bill 97140 too under Medicare
    pooled = [
        {b.cpt_code: b.units for b in n.billing_lines.all()}
        for n in medicare.prefetch_related("billing_lines")
    ]
    assert any(lines.get("97110") == 2 and lines.get("97140") == 1 for lines in pooled)


def test_seed_demo_books_a_visit_today_for_each_episode_once_a_day():
    from django.utils import timezone

    from patients.scheduling import local_day_bounds

    seed()
    expected, found = set(), set()
    for episode in EpisodeOfCare.objects.filter(status="active").select_related("clinic"):
        clinic = episode.clinic
        today = timezone.localdate(timezone=clinic.tz)
        closed = clinic.closures.filter(starts_on__lte=today, ends_on__gte=today).exists()
        if today.weekday() < 5 and not closed:
            expected.add(episode.pk)
        start, end = local_day_bounds(today, clinic.tz)
        todays = Visit.objects.filter(
            patient=episode.patient, clinic=clinic, starts_at__gte=start, starts_at__lt=end
        )
        if todays.exists():
            found.add(episode.pk)
            assert todays.count() == 1
            assert todays.get().therapist_id == episode.therapist_id
    assert found == expected
    booked = Visit.objects.count()
    seed()
    assert Visit.objects.count() == booked
