"""The background jobs: enqueued after commit with ids only, safe when the broker is down, and
caught up by the sweeper."""

from __future__ import annotations

import datetime as dt
import logging
import time

import pytest
from django_celery_beat.models import PeriodicTask

from clinic.celery import app
from patients.models import EpisodeOfCare, Visit
from programs import care, tasks
from programs.models import FollowUp, ProgressSummary
from tests.factories import open_every_day, working_every_day
from tests.programs.helpers import THER_EX, item, use_broker

pytestmark = pytest.mark.django_db


@pytest.fixture
def planned(episode: EpisodeOfCare, therapist) -> EpisodeOfCare:
    care.plan_create(
        episode=episode,
        by=therapist,
        frequency_per_week=2,
        duration_weeks=6,
        starts_on=episode.started_on,
        certified_until=episode.started_on + dt.timedelta(days=60),
    )
    open_every_day(episode.clinic)
    working_every_day(episode.clinic, therapist)
    return episode


def complete(visit: Visit, therapist) -> Visit:
    _, done = care.visit_complete_with_note(
        visit=visit, by=therapist, modalities=[item(THER_EX, 23)]
    )
    return done


@pytest.fixture
def unreachable_broker():
    """A Redis broker nobody listens on (the product's 2 s connect timeout applies)."""
    with use_broker(
        "redis://127.0.0.1:6399/0", socket_connect_timeout=1, socket_timeout=1, max_retries=0
    ):
        yield


def test_completing_a_visit_enqueues_both_tasks_after_commit_with_ids_only(
    planned, therapist, visit_on, monkeypatch, django_capture_on_commit_callbacks
):
    sent: list[tuple[str, tuple, dict]] = []
    for task in (tasks.progress_summary_write_task, tasks.followup_create_task):
        monkeypatch.setattr(task, "delay", lambda *a, _n=task.name, **k: sent.append((_n, a, k)))
    visit = visit_on(planned, days_ago=0, at=dt.time(0, 0))
    with django_capture_on_commit_callbacks(execute=True):
        complete(visit, therapist)
        assert sent == []  # nothing before commit
    assert sorted(sent) == [
        ("programs.followup_create", (visit.pk,), {}),
        ("programs.progress_summary_write", (visit.pk,), {}),
    ]


def test_eager_completion_writes_the_summary_and_books_the_followup(
    planned, therapist, visit_on, django_capture_on_commit_callbacks
):
    visit = visit_on(planned, days_ago=0, at=dt.time(0, 0))
    saved = app.conf.task_always_eager
    app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(execute=True):
            complete(visit, therapist)
    finally:
        app.conf.task_always_eager = saved
    assert ProgressSummary.objects.filter(visit=visit).count() == 1
    followup = FollowUp.objects.get(after_visit=visit)
    assert followup.status == FollowUp.Status.BOOKED
    assert followup.booked_visit is not None
    assert followup.booked_visit.therapist_id == therapist.pk


def test_sweeper_writes_a_missing_summary_and_followup(planned, therapist, visit_on):
    visit = complete(visit_on(planned, days_ago=1), therapist)  # hook never ran: no commit
    assert not ProgressSummary.objects.exists()
    assert tasks.summary_sweep_task.apply().get() == (1, 1)
    assert ProgressSummary.objects.filter(visit=visit).count() == 1
    assert FollowUp.objects.filter(after_visit=visit).count() == 1
    assert tasks.summary_sweep_task.apply().get() == (0, 0)


def test_dispatcher_task_books_pending_followups(planned, therapist, visit_on):
    visit = complete(visit_on(planned, days_ago=1), therapist)
    tasks.summary_sweep_task.apply()
    assert tasks.followup_dispatch_due_task.apply().get() == 1
    assert FollowUp.objects.get(after_visit=visit).status == FollowUp.Status.BOOKED


def test_broker_down_completion_succeeds_quickly_then_the_sweeper_catches_up(
    planned, therapist, visit_on, unreachable_broker, django_capture_on_commit_callbacks, caplog
):
    visit = visit_on(planned, days_ago=0, at=dt.time(0, 0))
    started = time.monotonic()
    with (
        caplog.at_level(logging.WARNING, logger="clinic.jobs"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        complete(visit, therapist)
    assert time.monotonic() - started < 5
    # Both publishes were tried and failed: the broker really was down.
    failed = [r.getMessage() for r in caplog.records if "enqueue_failed" in r.getMessage()]
    assert len(failed) == 2, failed
    visit.refresh_from_db()
    assert visit.status == Visit.Status.COMPLETED
    assert not ProgressSummary.objects.exists()
    tasks.summary_sweep_task.apply()
    assert ProgressSummary.objects.filter(visit=visit).count() == 1


def test_tasks_declare_reliability_options():
    for task in (
        tasks.progress_summary_write_task,
        tasks.followup_create_task,
        tasks.followup_dispatch_task,
        tasks.followup_dispatch_due_task,
        tasks.summary_sweep_task,
    ):
        assert task.acks_late is True
        assert task.reject_on_worker_lost is True
        assert task.time_limit
        assert task.soft_time_limit
        assert task.max_retries == 5


def test_beat_schedules_are_created_by_the_migration():
    schedules = {t.task: t.interval.every for t in PeriodicTask.objects.select_related("interval")}
    assert schedules["programs.followup_dispatch_due"] == 5
    assert schedules["programs.summary_sweep"] == 10


def test_beat_schedules_show_in_the_admin(superuser, client):
    client.force_login(superuser)
    response = client.get("/admin/django_celery_beat/periodictask/")
    assert response.status_code == 200
    assert b"Dispatch pending follow-ups" in response.content
    assert b"Sweep missing summaries and follow-ups" in response.content
