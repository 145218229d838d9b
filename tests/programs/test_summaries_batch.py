"""Progress summaries written in batches (programs.summaries.progress_summaries_write): the same
data and text as one by one, in the same number of queries for 3 visits as for 30."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clinic.models import Clinic, User
from patients import clinical
from patients.models import EpisodeOfCare, Evaluation, Goal, Patient, Visit
from patients.outcomes import ODI_SECTIONS
from programs import care, home, summaries, tasks
from programs.models import ProgressSummary
from tests.factories import (
    EpisodeOfCareFactory,
    FollowUpFactory,
    GoalFactory,
    PatientFactory,
    SignedEvaluationFactory,
    therapist_in,
)
from tests.programs.helpers import MANUAL, THER_EX, episode_visit, exercise, item, local_today

pytestmark = pytest.mark.django_db


def _odi(total: int) -> dict:
    return {"sections": dict.fromkeys(ODI_SECTIONS, total)}


def _completed(episode: EpisodeOfCare, by: User, days_ago: int, *, sign: bool = True) -> Visit:
    at = dt.time(9, 0) if days_ago else dt.time(0, 0)  # local midnight: today's has started
    visit = episode_visit(episode, days_ago, Visit.Status.BOOKED, at=at)
    _, visit = care.visit_complete_with_note(
        visit=visit,
        by=by,
        sign=sign,
        modalities=[item(THER_EX, 23 + days_ago), item(MANUAL, 8)],
        exercises=[exercise("bird-dog", sets=2, reps=10)] if days_ago % 2 else None,
    )
    return visit


def _measure(episode: EpisodeOfCare, by: User, instrument: str, answers: dict, days_ago: int):
    return clinical.outcome_record(
        episode=episode,
        instrument=instrument,
        answers=answers,
        recorded_on=local_today(episode.clinic) - dt.timedelta(days=days_ago),
        by=by,
    )


def _episode(clinic: Clinic, mrn: str, **fields) -> EpisodeOfCare:
    """An episode of a new patient with a PT of its own (so that visits never overlap)."""
    patient: Patient = PatientFactory(clinic=clinic, mrn=mrn)
    return EpisodeOfCareFactory(
        patient=patient,
        therapist=therapist_in(clinic, discipline="PT"),
        started_on=local_today(clinic) - dt.timedelta(days=30),
        **fields,
    )


def rich_episode(clinic: Clinic, mrn: str, *, visits: int = 3) -> list[Visit]:
    """An episode with everything a summary reads: a plan, an authorization, pain and ODI series
    (one ODI entered in error) and a PSFS, goals, a home programme with sessions, a follow-up
    and the next visit booked. Its completed visits, oldest first."""
    episode = _episode(
        clinic,
        mrn,
        auth_reference=f"AUTH-{mrn}",
        auth_visits=12,
        auth_units=30,
        auth_starts_on=local_today(clinic) - dt.timedelta(days=20),
        auth_ends_on=local_today(clinic) + dt.timedelta(days=10),
    )
    by = episode.therapist
    care.plan_create(
        episode=episode,
        by=by,
        frequency_per_week=2,
        duration_weeks=6,
        starts_on=episode.started_on,
        certified_until=local_today(clinic) + dt.timedelta(days=9),
    )
    program = home.home_program_create(
        episode=episode,
        by=by,
        items=[exercise("bird-dog", days_per_week=5)],
        starts_on=episode.started_on,
    )
    version = home.home_program_version_get(program=program)
    assert version is not None
    chosen = [str(i.public_id) for i in version.items.all()]
    for days in (26, 12, 9, 8, 5, 3, 1, 0):
        home.home_session_record(
            program=program,
            version=version.version,
            performed_on=local_today(clinic) - dt.timedelta(days=days),
            items=chosen,
            by=by,
        )
    typo = _measure(episode, by, "odi", _odi(5), 28)
    clinical.outcome_mark_entered_in_error(measure=typo, by=by)
    for days_ago, pain, odi in ((28, 8, 3), (14, 6, 2), (2, 3, 1)):
        _measure(episode, by, "nprs", {"pain": pain}, days_ago)
        _measure(episode, by, "odi", _odi(odi), days_ago)
    for days_ago, score in ((20, 3), (10, 6)):
        activities = [{"name": name, "score": score} for name in ("stairs", "socks", "car")]
        _measure(episode, by, "psfs", {"activities": activities}, days_ago)
    GoalFactory(episode=episode, term=Goal.Term.LONG, status="met")
    GoalFactory(episode=episode, term=Goal.Term.SHORT)
    done = [_completed(episode, by, days_ago) for days_ago in range(3 * visits, 0, -3)]
    done.append(_completed(episode, by, 0, sign=False))
    FollowUpFactory(after_visit=done[0], episode=episode)
    # the next visit, in three days
    episode_visit(episode, -3, Visit.Status.BOOKED, at=dt.time(9, 0))
    return done


def plain_episodes(clinic: Clinic, other_clinic: Clinic) -> list[Visit]:
    """Episodes with little: no plan, authorization, programme or next visit; one under
    Medicare rules with a progress report by a PT; one in another clinic (another zone)."""
    bare = _episode(clinic, "P-BARE")
    medicare = _episode(clinic, "P-MED", progress_report_clock=True)
    by = medicare.therapist
    SignedEvaluationFactory(episode=medicare, author=by)
    SignedEvaluationFactory(
        episode=medicare,
        author=by,
        kind=Evaluation.Kind.PROGRESS_REPORT,
        performed_on=local_today(clinic) - dt.timedelta(days=5),
    )
    _measure(medicare, by, "nprs", {"pain": 5}, 6)
    elsewhere = _episode(other_clinic, "P-DE", auth_visits=4)
    elsewhere_by = elsewhere.therapist
    _measure(elsewhere, elsewhere_by, "rmdq", {"items": [True] * 6 + [False] * 18}, 7)
    return [
        _completed(bare, bare.therapist, 6),
        _completed(bare, bare.therapist, 2, sign=False),
        _completed(medicare, by, 4),
        _completed(medicare, by, 1),
        _completed(elsewhere, elsewhere_by, 3),
        _completed(elsewhere, elsewhere_by, 0),
    ]


def _written() -> dict[int, tuple[dict, str]]:
    return {s.visit_id: (s.data, s.text) for s in ProgressSummary.objects.all()}


def test_batch_writes_the_same_summaries_as_one_by_one(clinic, other_clinic):
    visits = [
        *rich_episode(clinic, "P-RICH1"),
        *rich_episode(clinic, "P-RICH2", visits=1),
        *plain_episodes(clinic, other_clinic),
    ]
    ids = [v.pk for v in visits]
    for visit_id in ids:
        assert summaries.progress_summary_write(visit_id) is not None
    one_by_one = _written()
    assert len(one_by_one) == len(ids)
    ProgressSummary.objects.all().delete()

    assert summaries.progress_summaries_write(list(reversed(ids))) == len(ids)

    batch = _written()
    assert set(batch) == set(one_by_one)
    for visit_id in ids:
        assert batch[visit_id] == one_by_one[visit_id], visit_id
    # The history is varied: what each part of the summary shows is there somewhere.
    datas = [data for data, _ in batch.values()]
    assert any(d["plan"] for d in datas)
    assert any(not d["plan"] for d in datas)
    assert any(d["authorization"] for d in datas)
    assert any(d["home_programme_adherence"] for d in datas)
    assert any(d["followup"] for d in datas)
    assert any(d["next_visit"] for d in datas)
    assert any(not d["next_visit"] for d in datas)
    assert {f["instrument"] for d in datas for f in d["function"]} >= {"odi", "rmdq", "psfs"}
    assert any(d["compliance_flags"] for d in datas)


def test_batch_skips_visits_summarised_not_completed_or_without_episode(clinic):
    done = rich_episode(clinic, "P-SKIP", visits=2)
    already = summaries.progress_summary_write(done[0].pk)
    assert already is not None
    booked = episode_visit(done[0].episode, 0, Visit.Status.BOOKED, at=dt.time(15, 0))
    loose = episode_visit(done[0].episode, 1, Visit.Status.COMPLETED, at=dt.time(15, 0))
    Visit.objects.filter(pk=loose.pk).update(episode=None)

    written = summaries.progress_summaries_write([v.pk for v in done] + [booked.pk, loose.pk])

    assert written == len(done) - 1
    assert ProgressSummary.objects.get(visit=done[0]).pk == already.pk  # kept as it was
    assert set(ProgressSummary.objects.values_list("visit_id", flat=True)) == {v.pk for v in done}
    assert summaries.progress_summaries_write([v.pk for v in done]) == 0
    assert summaries.progress_summaries_write([]) == 0


def test_batch_queries_do_not_grow_with_the_visits(clinic, django_assert_num_queries):
    few = rich_episode(clinic, "P-FEW", visits=2)
    many = [visit for n in range(6) for visit in rich_episode(clinic, f"P-MANY{n}", visits=4)]
    assert (len(few), len(many)) == (3, 30)
    with CaptureQueriesContext(connection) as captured:
        assert summaries.progress_summaries_write([v.pk for v in few]) == 3
    # Every read is there (notes, authorizations, programmes): the visits, 13 reads, the INSERT.
    assert len(captured) == 15
    with django_assert_num_queries(len(captured)):
        assert summaries.progress_summaries_write([v.pk for v in many]) == 30
    assert ProgressSummary.objects.count() == 33


def test_sweeper_writes_the_missing_summaries_in_chunks(clinic, monkeypatch):
    done = rich_episode(clinic, "P-SWEEP", visits=2)  # three in the sweeper's week, none summarised
    calls: list[list[int]] = []
    write = summaries.progress_summaries_write

    def spy(visit_ids):
        calls.append(list(visit_ids))
        return write(visit_ids)

    monkeypatch.setattr(tasks, "SUMMARY_CHUNK", 2)
    monkeypatch.setattr(tasks, "progress_summaries_write", spy)
    written, _ = tasks.summary_sweep_task.apply().get()
    assert written == 3
    assert [len(chunk) for chunk in calls] == [2, 1]
    assert set(ProgressSummary.objects.values_list("visit_id", flat=True)) == {v.pk for v in done}
    assert tasks.summary_sweep_task.apply().get()[0] == 0
