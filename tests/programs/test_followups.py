"""Follow-ups: the due window from the plan's frequency, and the dispatcher that books them."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from patients.models import EpisodeOfCare, Visit
from patients.scheduling import localize
from programs import care, followups
from programs.models import FollowUp
from tests.factories import FollowUpFactory, VisitFactory, open_every_day, working_every_day
from tests.programs.helpers import local_today

pytestmark = pytest.mark.django_db


def plan(episode: EpisodeOfCare, by, **fields):
    values = {
        "frequency_per_week": 2,
        "duration_weeks": 6,
        "starts_on": episode.started_on,
        "certified_until": episode.started_on + dt.timedelta(days=60),
        **fields,
    }
    return care.plan_create(episode=episode, by=by, **values)


@pytest.fixture
def open_clinic(episode, therapist):
    open_every_day(episode.clinic)
    working_every_day(episode.clinic, therapist)
    return episode.clinic


def completed(visit_on, episode, days_ago=0, at=dt.time(10, 0)) -> Visit:
    return visit_on(episode, days_ago=days_ago, status=Visit.Status.COMPLETED, at=at)


@pytest.mark.parametrize(
    ("frequency", "window"),
    [(1, (4, 8)), (2, (2, 4)), (3, (1, 3)), (4, (1, 2)), (5, (1, 2)), (6, (1, 1)), (7, (1, 1))],
)
def test_due_window_table(frequency, window):
    assert followups.due_window_days(frequency) == window


def test_followup_created_once_with_the_window_after_the_visit(episode, therapist, visit_on):
    plan(episode, therapist, frequency_per_week=2)
    visit = completed(visit_on, episode)
    first = followups.followup_create_for_visit(visit.pk)
    again = followups.followup_create_for_visit(visit.pk)
    assert first is not None
    assert again is not None
    assert first.pk == again.pk
    today = local_today(episode.clinic)
    assert (first.due_from, first.due_until) == (
        today + dt.timedelta(days=2),
        today + dt.timedelta(days=4),
    )
    assert FollowUp.objects.count() == 1


def test_no_followup_after_the_plan_ended(episode, therapist, visit_on):
    # Plan of one week from the episode's start (21 days ago): ended two weeks ago.
    plan(episode, therapist, duration_weeks=1)
    visit = completed(visit_on, episode)
    assert followups.followup_create_for_visit(visit.pk) is None
    found = followups.followup_plan_for(visit)
    assert "plan of care ends" in found.reason


def test_no_followup_for_a_discharged_episode(episode, therapist, visit_on):
    plan(episode, therapist)
    visit = completed(visit_on, episode)
    EpisodeOfCare.objects.filter(pk=episode.pk).update(status=EpisodeOfCare.Status.DISCHARGED)
    assert followups.followup_create_for_visit(visit.pk) is None


def test_window_is_cut_at_the_end_of_the_certification(episode, therapist, visit_on):
    today = local_today(episode.clinic)
    plan(episode, therapist, certified_until=today + dt.timedelta(days=3))
    followup = followups.followup_create_for_visit(completed(visit_on, episode).pk)
    assert followup is not None
    assert followup.due_until == today + dt.timedelta(days=3)


def test_dispatch_books_inside_the_window_with_the_same_therapist_at_the_usual_time(
    open_clinic, episode, therapist, visit_on, monkeypatch
):
    plan(episode, therapist)
    completed(visit_on, episode, days_ago=3, at=dt.time(14, 0))
    visit = completed(visit_on, episode, at=dt.time(14, 0))
    followup = followups.followup_create_for_visit(visit.pk)
    assert followup is not None
    calls = []
    original = followups._book
    monkeypatch.setattr(followups, "_book", lambda f, s: calls.append(s) or original(f, s))
    done = followups.followup_dispatch(followup.pk)
    assert done is not None
    assert done.status == FollowUp.Status.BOOKED
    booked = done.booked_visit
    assert booked is not None
    assert calls
    local = booked.starts_at.astimezone(episode.clinic.tz)
    assert followup.due_from <= local.date() <= followup.due_until
    assert local.time() == dt.time(14, 0)
    assert booked.therapist_id == therapist.pk
    assert booked.episode_id == episode.pk
    assert booked.ends_at - booked.starts_at == visit.ends_at - visit.starts_at
    # Dispatching again does nothing: the follow-up is no longer pending.
    assert followups.followup_dispatch(followup.pk) is None


@pytest.mark.parametrize("days_later", [1, 3], ids=["before the window", "inside the window"])
def test_dispatch_takes_a_next_visit_already_booked_instead_of_booking_another(
    open_clinic, episode, therapist, visit_on, days_later
):
    plan(episode, therapist)
    visit = completed(visit_on, episode)
    already = visit_on(episode, days_ago=-days_later, at=dt.time(10, 0))  # the front desk's
    followup = followups.followup_create_for_visit(visit.pk)
    assert followup is not None
    done = followups.followup_dispatch(followup.pk)
    assert done is not None
    assert (done.status, done.booked_visit) == (FollowUp.Status.BOOKED, already)
    assert done.reason == "The next visit was already booked."
    assert Visit.objects.filter(status=Visit.Status.BOOKED).count() == 1


def test_dispatch_books_when_the_only_booked_visit_is_after_the_window(
    open_clinic, episode, therapist, visit_on
):
    plan(episode, therapist)
    visit = completed(visit_on, episode)
    later = visit_on(episode, days_ago=-10, at=dt.time(10, 0))
    followup = followups.followup_create_for_visit(visit.pk)
    assert followup is not None
    done = followups.followup_dispatch(followup.pk)
    assert done is not None
    assert done.status == FollowUp.Status.BOOKED
    assert done.booked_visit not in (None, later)
    assert Visit.objects.filter(status=Visit.Status.BOOKED).count() == 2


def test_dispatch_tries_the_next_slot_when_one_is_taken(
    open_clinic, episode, therapist, visit_on, monkeypatch
):
    from clinic.errors import ConflictError

    plan(episode, therapist)
    followup = followups.followup_create_for_visit(completed(visit_on, episode).pk)
    assert followup is not None
    original = followups._book
    tried = []

    def flaky(f, slot):
        tried.append(slot)
        if len(tried) == 1:
            raise ConflictError("taken", code="double_booking")
        return original(f, slot)

    monkeypatch.setattr(followups, "_book", flaky)
    done = followups.followup_dispatch(followup.pk)
    assert done is not None
    assert done.status == FollowUp.Status.BOOKED
    assert len(tried) == 2
    assert done.booked_visit.starts_at == tried[1].starts_at


def test_dispatch_without_a_free_slot_goes_to_the_front_desk(episode, therapist, visit_on):
    # The therapist has no working hours: no slot anywhere.
    open_every_day(episode.clinic)
    plan(episode, therapist)
    followup = followups.followup_create_for_visit(completed(visit_on, episode).pk)
    assert followup is not None
    done = followups.followup_dispatch(followup.pk)
    assert done is not None
    assert done.status == FollowUp.Status.NEEDS_FRONT_DESK
    assert "No free slot with the same therapist" in done.reason
    assert done.attempts == 1
    assert not Visit.objects.filter(status=Visit.Status.BOOKED).exists()


def test_dispatch_after_the_plan_was_cut_short_goes_to_the_front_desk(
    open_clinic, episode, therapist, visit_on
):
    made = plan(episode, therapist)
    followup = followups.followup_create_for_visit(completed(visit_on, episode).pk)
    assert followup is not None
    type(made).objects.filter(pk=made.pk).update(certified_until=local_today(episode.clinic))
    done = followups.followup_dispatch(followup.pk)
    assert done is not None
    assert done.status == FollowUp.Status.NEEDS_FRONT_DESK
    assert "plan of care ended" in done.reason


def test_dispatch_for_a_discharged_episode_cancels(open_clinic, episode, therapist, visit_on):
    plan(episode, therapist)
    followup = followups.followup_create_for_visit(completed(visit_on, episode).pk)
    assert followup is not None
    EpisodeOfCare.objects.filter(pk=episode.pk).update(status=EpisodeOfCare.Status.DISCHARGED)
    done = followups.followup_dispatch(followup.pk)
    assert done is not None
    assert done.status == FollowUp.Status.CANCELLED


def _dispatch_queries(episode, therapist, visit_on, other_visits: int, at: dt.time) -> int:
    clinic = episode.clinic
    for n in range(other_visits):
        day = local_today(clinic) + dt.timedelta(days=2 + n % 3)
        start = localize(dt.datetime.combine(day, dt.time(8 + n % 8, 0)), clinic.tz)
        VisitFactory(
            clinic=clinic,
            therapist=therapist,
            starts_at=start.astimezone(dt.UTC),
            ends_at=(start + dt.timedelta(minutes=30)).astimezone(dt.UTC),
        )
    followup = followups.followup_create_for_visit(completed(visit_on, episode, at=at).pk)
    assert followup is not None
    with CaptureQueriesContext(connection) as queries:
        done = followups.followup_dispatch(followup.pk)
    assert done is not None
    assert done.status == FollowUp.Status.BOOKED
    return len(queries)


def test_dispatch_runs_in_a_constant_number_of_queries(open_clinic, episode, therapist, visit_on):
    plan(episode, therapist)
    few = _dispatch_queries(episode, therapist, visit_on, other_visits=0, at=dt.time(7, 0))
    FollowUp.objects.all().delete()
    Visit.objects.filter(status=Visit.Status.BOOKED).delete()
    many = _dispatch_queries(episode, therapist, visit_on, other_visits=12, at=dt.time(7, 45))
    assert many == few


# --- API: the front desk's work list ---------------------------------------------------------


def followups_url(clinic, **query) -> str:
    path = reverse("followup-list", kwargs={"clinic_id": clinic.public_id})
    return path + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def test_front_desk_lists_the_followups_needing_it_in_constant_queries(
    clinic, receptionist, client_for, django_assert_max_num_queries
):
    client = client_for(receptionist)
    FollowUpFactory(clinic=clinic)
    FollowUpFactory(clinic=clinic, status=FollowUp.Status.BOOKED, reason="")
    with CaptureQueriesContext(connection) as one:
        response = client.get(followups_url(clinic, status="needs_front_desk"))
    assert response.status_code == 200
    rows = response.json()["results"]
    assert [r["status"] for r in rows] == ["needs_front_desk"]
    assert rows[0]["reason"] == "No free slot with the same therapist."
    for _ in range(5):
        FollowUpFactory(clinic=clinic)
    with django_assert_max_num_queries(len(one)):
        response = client.get(followups_url(clinic, status="needs_front_desk"))
    assert len(response.json()["results"]) == 6


def test_followup_list_refuses_an_unknown_status(clinic, receptionist, client_for):
    response = client_for(receptionist).get(followups_url(clinic, status="nope"))
    assert response.status_code == 400


def test_open_followups_of_ended_episodes_are_cancelled_by_the_dispatcher_run(
    clinic, django_assert_num_queries
):
    from programs import tasks

    waiting = FollowUpFactory(clinic=clinic)  # needs the front desk
    discharged = FollowUpFactory(clinic=clinic)
    EpisodeOfCare.objects.filter(pk=discharged.episode_id).update(
        status=EpisodeOfCare.Status.DISCHARGED
    )
    booked_before = FollowUpFactory(clinic=clinic, status=FollowUp.Status.BOOKED)
    EpisodeOfCare.objects.filter(pk=booked_before.episode_id).update(
        status=EpisodeOfCare.Status.CLOSED
    )
    with django_assert_num_queries(1):
        assert followups.followups_cancel_for_ended_episodes() == 1
    tasks.followup_dispatch_due_task.apply()
    statuses = dict(FollowUp.objects.values_list("pk", "status"))
    assert statuses == {
        waiting.pk: FollowUp.Status.NEEDS_FRONT_DESK,
        discharged.pk: FollowUp.Status.CANCELLED,
        booked_before.pk: FollowUp.Status.BOOKED,  # its visit is the front desk's to cancel
    }
    assert FollowUp.objects.get(pk=discharged.pk).reason == (
        "The episode of care is no longer active."
    )
