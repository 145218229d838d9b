"""E-mail to patients: visit reminders and the no-next-visit nudge, at most once each, only with
consent; the front desk's list of patients with no next visit."""

from __future__ import annotations

import datetime as dt
import smtplib
from typing import Any

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from clinic.jobs import publish
from patients import clinical, reminders, tasks
from patients.models import EpisodeOfCare, Patient, PatientMessage, Visit
from tests.factories import (
    ClinicFactory,
    EpisodeOfCareFactory,
    PatientFactory,
    VisitFactory,
    therapist_in,
)
from tests.text import mentions

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 12, 1, 15, 0, tzinfo=dt.UTC)  # 10:00 in New York


def reachable(clinic: Any, **fields: Any) -> Patient:
    defaults = {"consent_email": True, "email": "pat@example.org"}
    return PatientFactory(clinic=clinic, **(defaults | fields))


def visit_in(clinic: Any, hours: float, *, after: dt.datetime = NOW, **fields: Any) -> Visit:
    """A visit `hours` after `after`: the fixed NOW that the tests pass on, or the real clock's
    now for a task that reads it."""
    starts = after + dt.timedelta(hours=hours)
    fields.setdefault("patient", reachable(clinic))
    return VisitFactory(
        clinic=clinic, starts_at=starts, ends_at=starts + dt.timedelta(minutes=45), **fields
    )


# --- Reminders -------------------------------------------------------------------------------


def test_visits_due_for_reminder_takes_booked_visits_inside_the_lead_time(
    clinic, django_assert_num_queries
):
    due = visit_in(clinic, 23)
    later = visit_in(clinic, 25)
    past = visit_in(clinic, -1)
    with django_assert_num_queries(2):
        chosen = reminders.visits_due_for_reminder(now=NOW)
    assert chosen == [due.pk]
    assert later.pk not in chosen
    assert past.pk not in chosen


@pytest.mark.parametrize(
    ("why", "patient_fields", "status"),
    [
        ("no consent", {"consent_email": False}, Visit.Status.BOOKED),
        ("no address", {"email": ""}, Visit.Status.BOOKED),
        ("archived", {"archived_at": NOW - dt.timedelta(days=1)}, Visit.Status.BOOKED),
        ("cancelled", {}, Visit.Status.CANCELLED),
        ("late cancelled", {}, Visit.Status.LATE_CANCELLED),
        ("checked in", {}, Visit.Status.CHECKED_IN),
    ],
)
def test_visits_due_for_reminder_leaves_out(clinic, why, patient_fields, status):
    visit = visit_in(clinic, 3, patient=reachable(clinic, **patient_fields), status=status)
    assert visit.pk not in reminders.visits_due_for_reminder(now=NOW), why
    assert reminders.visit_reminder_send(visit.pk, now=NOW) is None, why
    assert mail.outbox == []


def test_each_clinic_has_its_own_lead_time_and_zero_turns_reminders_off(clinic, other_clinic):
    clinic.reminder_lead_hours = 48
    clinic.save(update_fields=["reminder_lead_hours"])
    other_clinic.reminder_lead_hours = 0
    other_clinic.save(update_fields=["reminder_lead_hours"])
    third = ClinicFactory(timezone="Europe/Berlin")  # default 24 h
    in_30h_here = visit_in(clinic, 30)
    in_3h_there = visit_in(other_clinic, 3)
    in_30h_third = visit_in(third, 30)
    in_20h_third = visit_in(third, 20)
    assert reminders.visits_due_for_reminder(now=NOW) == [in_20h_third.pk, in_30h_here.pk]
    assert in_3h_there.pk not in reminders.visits_due_for_reminder(now=NOW)
    assert in_30h_third.pk not in reminders.visits_due_for_reminder(now=NOW)


def test_visit_reminder_send_mails_once_in_the_clinic_time(clinic):
    visit = visit_in(clinic, 20)  # 06:00 tomorrow in New York
    message = reminders.visit_reminder_send(visit.pk, now=NOW)
    assert message is not None
    assert message.status == PatientMessage.Status.SENT
    assert message.sent_at is not None
    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.to == ["pat@example.org"]
    assert clinic.name in sent.subject
    assert "Wednesday 02 December 2026 at 06:00" in sent.body
    assert visit.patient.first_name in sent.body
    assert visit.therapist.get_full_name() in sent.body
    # A retry, a redelivered task or the next dispatcher run sends nothing more.
    assert reminders.visit_reminder_send(visit.pk, now=NOW) is None
    assert visit.pk not in reminders.visits_due_for_reminder(now=NOW)
    assert len(mail.outbox) == 1
    assert PatientMessage.objects.filter(visit=visit).count() == 1


def test_a_visit_cancelled_after_it_was_chosen_gets_no_reminder(clinic):
    visit = visit_in(clinic, 5)
    assert reminders.visits_due_for_reminder(now=NOW) == [visit.pk]
    Visit.objects.filter(pk=visit.pk).update(status=Visit.Status.CANCELLED)
    assert reminders.visit_reminder_send(visit.pk, now=NOW) is None
    assert mail.outbox == []
    assert not PatientMessage.objects.exists()


def test_a_refused_mail_is_recorded_failed_and_sent_by_the_retry(clinic, monkeypatch):
    visit = visit_in(clinic, 5)

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise smtplib.SMTPServerDisconnected("gone")

    monkeypatch.setattr(reminders, "send_mail", refuse)
    with pytest.raises(smtplib.SMTPServerDisconnected):
        reminders.visit_reminder_send(visit.pk, now=NOW)
    failed = PatientMessage.objects.get(visit=visit)
    assert (failed.status, failed.error) == (PatientMessage.Status.FAILED, "SMTPServerDisconnected")
    monkeypatch.undo()
    retried = reminders.visit_reminder_send(visit.pk, now=NOW)
    assert retried is not None
    assert retried.pk == failed.pk
    assert (retried.status, retried.attempts) == (PatientMessage.Status.SENT, 2)
    assert len(mail.outbox) == 1


def test_a_message_left_sending_by_a_killed_worker_is_not_sent_again(clinic):
    visit = visit_in(clinic, 5)
    PatientMessage.objects.create(
        clinic=clinic, patient=visit.patient, visit=visit, kind=PatientMessage.Kind.VISIT_REMINDER
    )
    assert reminders.visit_reminder_send(visit.pk, now=NOW) is None
    assert mail.outbox == []


def test_reminder_send_task_retries_mail_errors():
    assert smtplib.SMTPException in tasks.visit_reminder_send_task.autoretry_for
    assert tasks.visit_reminder_send_task.acks_late is True


def test_reminders_dispatch_task_publishes_one_send_per_due_visit(clinic, monkeypatch):
    due = [visit_in(clinic, hours) for hours in (2, 4)]
    visit_in(clinic, 30)
    sent: list[int] = []
    monkeypatch.setattr(reminders.timezone, "now", lambda: NOW)
    monkeypatch.setattr(tasks.visit_reminder_send_task, "delay", sent.append)
    assert tasks.visit_reminders_dispatch_task() == 2
    assert sent == [v.pk for v in due]


def test_publish_reports_a_broker_that_is_down_without_raising(caplog):
    class Down:
        name = "patients.visit_reminder_send"

        def delay(self, *ids: int) -> None:
            raise ConnectionError("broker down")

    assert publish(Down(), 42) is False
    assert "enqueue_failed task=patients.visit_reminder_send ids=(42,)" in caplog.text


# --- Patients with no next visit -------------------------------------------------------------


def episode_seen(clinic: Any, days_ago: float, **patient_fields: Any) -> EpisodeOfCare:
    patient = reachable(clinic, **patient_fields)
    therapist = therapist_in(clinic)
    episode = EpisodeOfCareFactory(patient=patient, therapist=therapist)
    starts = NOW - dt.timedelta(days=days_ago)
    VisitFactory(
        clinic=clinic,
        patient=patient,
        therapist=therapist,
        episode=episode,
        starts_at=starts,
        ends_at=starts + dt.timedelta(minutes=45),
        status=Visit.Status.COMPLETED,
    )
    return episode


def test_episodes_due_for_nudge_after_two_days_without_a_next_visit(
    clinic, django_assert_num_queries
):
    gap = episode_seen(clinic, 3)
    episode_seen(clinic, 1)  # too soon: the dispatcher and the front desk come first
    booked = episode_seen(clinic, 5)
    visit_in(clinic, 48, patient=booked.patient, therapist=booked.therapist)
    episode_seen(clinic, 4, consent_email=False)
    discharged = episode_seen(clinic, 6)
    EpisodeOfCare.objects.filter(pk=discharged.pk).update(status=EpisodeOfCare.Status.DISCHARGED)
    with django_assert_num_queries(2):
        assert reminders.episodes_due_for_nudge(now=NOW) == [gap.pk]


def test_nudges_go_in_the_clinics_daytime_only(clinic):
    episode = episode_seen(clinic, 3)
    night_in_new_york = dt.datetime(2026, 12, 1, 5, 0, tzinfo=dt.UTC)  # 00:00 local
    assert reminders.episodes_due_for_nudge(now=night_in_new_york) == []
    assert reminders.episodes_due_for_nudge(now=NOW) == [episode.pk]


def test_one_nudge_per_gap_and_another_after_the_next_visit(clinic):
    episode = episode_seen(clinic, 3)
    message = reminders.no_next_visit_nudge_send(episode.pk, now=NOW)
    assert message is not None
    assert message.episode == episode
    assert len(mail.outbox) == 1
    assert "no next visit booked" in mail.outbox[0].body
    assert reminders.no_next_visit_nudge_send(episode.pk, now=NOW) is None
    assert reminders.episodes_due_for_nudge(now=NOW) == []
    # The patient comes once more, then again books nothing: a new gap, a new nudge.
    again = NOW + dt.timedelta(days=7)
    VisitFactory(
        clinic=clinic,
        patient=episode.patient,
        therapist=episode.therapist,
        episode=episode,
        starts_at=NOW + dt.timedelta(days=4),
        ends_at=NOW + dt.timedelta(days=4, minutes=45),
        status=Visit.Status.COMPLETED,
    )
    assert reminders.episodes_due_for_nudge(now=again) == [episode.pk]
    assert reminders.no_next_visit_nudge_send(episode.pk, now=again) is not None
    assert len(mail.outbox) == 2


def test_a_nudge_is_not_sent_when_a_visit_was_booked_meanwhile(clinic):
    episode = episode_seen(clinic, 3)
    assert reminders.episodes_due_for_nudge(now=NOW) == [episode.pk]
    visit_in(clinic, 24, patient=episode.patient, therapist=episode.therapist)
    assert reminders.no_next_visit_nudge_send(episode.pk, now=NOW) is None
    assert mail.outbox == []


# --- The front desk's list -------------------------------------------------------------------


def no_next_visit_url(clinic: Any) -> str:
    return f"/api/v1/clinics/{clinic.public_id}/no-next-visit/"


def test_no_next_visit_list_for_the_front_desk(
    clinic, receptionist, client_for, django_assert_max_num_queries
):
    older = episode_seen(clinic, 9)
    recent = episode_seen(clinic, 2)
    booked = episode_seen(clinic, 4)
    VisitFactory(
        clinic=clinic,
        patient=booked.patient,
        therapist=booked.therapist,
        starts_at=timezone.now() + dt.timedelta(days=1),
        ends_at=timezone.now() + dt.timedelta(days=1, minutes=45),
    )
    reminders.no_next_visit_nudge_send(older.pk, now=timezone.now())
    client = client_for(receptionist)
    with django_assert_max_num_queries(8):
        response = client.get(no_next_visit_url(clinic))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == 2
    rows = body["results"]
    assert [r["episode"] for r in rows] == [str(older.public_id), str(recent.public_id)]
    first = rows[0]
    assert first["patient"]["mrn"] == older.patient.mrn
    assert first["therapist"]["id"] == str(older.therapist.public_id)
    assert first["nudged_at"] is not None
    assert rows[1]["nudged_at"] is None
    assert first["days_since_last_visit"] >= 8


def test_no_next_visit_list_keeps_its_query_count_as_rows_grow(clinic, receptionist, client_for):
    client = client_for(receptionist)
    counts = []
    for _ in range(2):
        for days in (3, 4, 5, 6, 7):
            episode_seen(clinic, days)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(no_next_visit_url(clinic)).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_no_next_visit_list_filters_by_therapist_and_refuses_a_foreign_one(
    clinic, other_clinic, receptionist, client_for
):
    mine = episode_seen(clinic, 3)
    episode_seen(clinic, 4)
    client = client_for(receptionist)
    response = client.get(no_next_visit_url(clinic), {"therapist": str(mine.therapist.public_id)})
    assert [r["episode"] for r in response.json()["results"]] == [str(mine.public_id)]
    stranger = therapist_in(other_clinic)
    refused = client.get(no_next_visit_url(clinic), {"therapist": str(stranger.public_id)})
    assert refused.status_code == 400
    assert "therapist" in refused.json()["errors"]
    malformed = client.get(no_next_visit_url(clinic), {"therapist": "nope"})
    assert malformed.status_code == 400
    assert "therapist" in malformed.json()["errors"]


def test_no_next_visit_list_of_another_clinic_is_a_404(clinic, outsider, client_for):
    episode_seen(clinic, 3)
    assert client_for(outsider).get(no_next_visit_url(clinic)).status_code == 404


def test_reminder_lead_hours_is_a_clinic_setting_with_bounds(clinic, clinic_admin, client_for):
    client = client_for(clinic_admin)
    url = f"/api/v1/clinics/{clinic.public_id}/"
    ok = client.patch(url, {"reminder_lead_hours": 48}, format="json")
    assert ok.status_code == 200, ok.content
    assert ok.json()["reminder_lead_hours"] == 48
    too_far = client.patch(url, {"reminder_lead_hours": 24 * 15}, format="json")
    assert too_far.status_code == 400
    assert "reminder_lead_hours" in too_far.json()["errors"]
    clinic.refresh_from_db()
    assert clinic.reminder_lead_hours == 48


# --- The admin -------------------------------------------------------------------------------


def test_messages_in_the_admin_are_read_only_and_scoped(clinic, other_clinic, clinic_admin, client):
    mine = visit_in(clinic, 5)
    theirs = visit_in(other_clinic, 5)
    reminders.visit_reminder_send(mine.pk, now=NOW)
    reminders.visit_reminder_send(theirs.pk, now=NOW)
    client.force_login(clinic_admin)
    listing = client.get("/admin/patients/patientmessage/")
    assert listing.status_code == 200
    shown = list(listing.context["cl"].result_list)
    assert [m.visit_id for m in shown] == [mine.pk]
    message = shown[0]
    assert client.get(f"/admin/patients/patientmessage/{message.pk}/change/").status_code == 200
    assert client.get("/admin/patients/patientmessage/add/").status_code == 403
    other = PatientMessage.objects.get(visit=theirs)
    assert client.get(f"/admin/patients/patientmessage/{other.pk}/change/").status_code in (
        302,
        404,
    )
    deleted = client.post(f"/admin/patients/patientmessage/{message.pk}/delete/", {"post": "yes"})
    assert deleted.status_code == 403
    assert PatientMessage.objects.filter(pk=message.pk).exists()


def test_the_reminder_schedules_are_created_by_the_migration():
    from django_celery_beat.models import PeriodicTask

    rows = {
        task.task: task.interval.every
        for task in PeriodicTask.objects.filter(task__startswith="patients.").select_related(
            "interval"
        )
    }
    assert rows == {
        "patients.visit_reminders_dispatch": 15,
        "patients.no_next_visit_nudges_dispatch": 60,
        "patients.notices_dispatch": 10,
    }


# --- Visits cancelled by the end of an episode -----------------------------------------------


@pytest.fixture
def published(monkeypatch) -> list[int]:
    """Each queued episode-end notice runs at once, as a worker would, and its id is kept."""
    ids: list[int] = []

    def run(episode_id: int) -> None:
        ids.append(episode_id)
        tasks.episode_end_notice_send_task(episode_id)

    monkeypatch.setattr(tasks.episode_end_notice_send_task, "delay", run)
    return ids


def episode_with_booked_visits(clinic: Any, patient: Patient, *hours: float) -> EpisodeOfCare:
    episode = EpisodeOfCareFactory(clinic=clinic, patient=patient)
    now = timezone.now()
    for ahead in hours:
        starts = (now + dt.timedelta(hours=ahead)).replace(minute=0, second=0, microsecond=0)
        VisitFactory(
            clinic=clinic,
            patient=patient,
            therapist=episode.therapist,
            episode=episode,
            starts_at=starts,
            ends_at=starts + dt.timedelta(minutes=45),
        )
    return episode


@pytest.mark.parametrize(
    ("end", "wording"),
    [
        (clinical.episode_discharge, "you were discharged on"),
        (clinical.episode_close, "was closed"),
    ],
)
def test_ending_an_episode_mails_the_patient_the_visits_it_cancelled_once(
    clinic, end, wording, published, django_capture_on_commit_callbacks
):
    patient = reachable(clinic, first_name="Quennell")
    episode = episode_with_booked_visits(clinic, patient, 50, 26)
    with django_capture_on_commit_callbacks(execute=True):
        ended = end(episode=episode, by=None, ended_on=timezone.localdate(timezone=clinic.tz))

    assert ended.notified is True
    assert published == [episode.pk]  # the id only: no patient data in the broker
    [sent] = mail.outbox
    assert sent.to == ["pat@example.org"]
    assert sent.subject == f"Your booked visits at {clinic.name} are cancelled"
    assert not mentions(sent.subject, "Quennell")
    assert wording in sent.body
    for visit in ended.cancelled:
        local = visit.starts_at.astimezone(clinic.tz)
        assert f"  - {local:%A %d %B %Y at %H:%M}\n" in sent.body
    assert len(ended.cancelled) == 2
    message = PatientMessage.objects.get()
    assert (message.kind, message.episode_id, message.status) == (
        PatientMessage.Kind.EPISODE_ENDED,
        episode.pk,
        PatientMessage.Status.SENT,
    )

    assert tasks.episode_end_notice_send_task(episode.pk) is False  # redelivered: nothing more
    assert len(mail.outbox) == 1


@pytest.mark.parametrize(
    "why",
    ["no consent", "nothing was booked", "notify off"],
)
def test_ending_an_episode_queues_no_mail(
    clinic, why, published, django_capture_on_commit_callbacks
):
    patient = reachable(clinic, consent_email=why != "no consent")
    episode = episode_with_booked_visits(
        clinic, patient, *(() if why == "nothing was booked" else (30,))
    )
    with django_capture_on_commit_callbacks(execute=True):
        ended = clinical.episode_close(episode=episode, by=None, notify=why != "notify off")
    assert ended.notified is False
    assert published == []
    assert mail.outbox == []
    assert len(ended.cancelled) == (0 if why == "nothing was booked" else 1)


def test_the_episode_end_notice_checks_again_when_it_runs(
    clinic, monkeypatch, django_capture_on_commit_callbacks
):
    """A task that runs late finds the facts as they are then: a patient who withdrew consent
    gets nothing, and the notice is declined (the dispatcher stops publishing it); an episode
    whose end asked for no notice, or cancelled nothing, gets none."""
    patient = reachable(clinic)
    episode = episode_with_booked_visits(clinic, patient, 30)
    with django_capture_on_commit_callbacks():  # the task is published, and runs later
        clinical.episode_close(episode=episode, by=None)
    Patient.objects.filter(pk=patient.pk).update(consent_email=False)
    assert reminders.episode_end_notice_send(episode.pk) is None
    declined = PatientMessage.objects.get()
    assert (declined.status, declined.error) == (PatientMessage.Status.DECLINED, "no_consent")
    monkeypatch.setattr(reminders, "NOTICE_LOST_AFTER", dt.timedelta(0))
    assert reminders.notices_lost() == []
    Patient.objects.filter(pk=patient.pk).update(consent_email=True)
    assert reminders.episode_end_notice_send(episode.pk) is None  # declined stays declined
    silent = episode_with_booked_visits(clinic, patient, 54)
    clinical.episode_close(episode=silent, by=None, notify=False)
    assert reminders.episode_end_notice_send(silent.pk) is None  # no notice was asked for
    quiet = EpisodeOfCareFactory(clinic=clinic, patient=patient)
    clinical.episode_close(episode=quiet, by=None)
    assert reminders.episode_end_notice_send(quiet.pk) is None  # nothing was cancelled
    assert mail.outbox == []
    assert PatientMessage.objects.count() == 1


def test_a_closure_notice_for_a_visit_no_longer_cancelled_is_declined(clinic):
    visit = visit_in(clinic, 30)  # booked: whatever queued the notice, it is not due
    reminders.notice_queue(kind=PatientMessage.Kind.VISIT_CANCELLED, visit=visit)
    assert tasks.visit_cancellation_send_task(visit.pk) is False
    notice = PatientMessage.objects.get()
    assert (notice.status, notice.error) == (PatientMessage.Status.DECLINED, "not_cancelled")
    assert mail.outbox == []


# --- Lost notices ------------------------------------------------------------------------------


def test_a_notice_whose_task_was_lost_is_published_again_and_sent_once(
    clinic, monkeypatch, django_capture_on_commit_callbacks
):
    """The broker is down when the episode ends: the queued notice survives in the database,
    the dispatcher publishes its task again once it is 5 minutes old, and the e-mail goes
    once however many times the dispatcher or the broker delivers it."""

    def broker_down(*ids):
        raise ConnectionError("broker down")

    monkeypatch.setattr(tasks.episode_end_notice_send_task, "delay", broker_down)
    episode = episode_with_booked_visits(clinic, reachable(clinic), 30)
    with django_capture_on_commit_callbacks(execute=True):
        ended = clinical.episode_close(episode=episode, by=None)
    assert ended.notified is True
    assert mail.outbox == []
    queued = PatientMessage.objects.get()
    assert (queued.status, queued.attempts) == (PatientMessage.Status.QUEUED, 0)

    assert reminders.notices_lost() == []  # just asked for: its task may still come
    later = timezone.now() + dt.timedelta(minutes=6)
    assert reminders.notices_lost(now=later) == [
        (PatientMessage.Kind.EPISODE_ENDED, queued.visit_id, episode.pk)
    ]
    assert reminders.notices_lost(now=later + dt.timedelta(days=2)) == []  # its visit has come

    delivered: list[int] = []

    def run(episode_id: int) -> None:
        delivered.append(episode_id)
        tasks.episode_end_notice_send_task(episode_id)

    monkeypatch.setattr(tasks.episode_end_notice_send_task, "delay", run)
    monkeypatch.setattr(reminders, "NOTICE_LOST_AFTER", dt.timedelta(0))
    assert tasks.notices_dispatch_task() == 1
    assert tasks.notices_dispatch_task() == 0  # sent: nothing queued any more
    assert delivered == [episode.pk]
    assert len(mail.outbox) == 1
    sent = PatientMessage.objects.get()
    assert (sent.status, sent.attempts) == (PatientMessage.Status.SENT, 1)
    assert tasks.episode_end_notice_send_task(episode.pk) is False  # a late redelivery
    assert len(mail.outbox) == 1


def test_the_dispatcher_publishes_a_lost_closure_notice_by_its_visit(clinic, monkeypatch):
    # The task reads the real clock: the visit is still to come by it.
    visit = visit_in(
        clinic,
        30,
        after=timezone.now(),
        status=Visit.Status.CANCELLED,
        cancel_reason="Clinic closed: x",
    )
    reminders.notice_queue(kind=PatientMessage.Kind.VISIT_CANCELLED, visit=visit)
    assert reminders.notice_queue(kind=PatientMessage.Kind.VISIT_CANCELLED, visit=visit) is None
    published: list[int] = []
    monkeypatch.setattr(tasks.visit_cancellation_send_task, "delay", published.append)
    monkeypatch.setattr(reminders, "NOTICE_LOST_AFTER", dt.timedelta(0))
    assert tasks.notices_dispatch_task() == 1
    assert published == [visit.pk]  # ids only
    week = timezone.now() + reminders.NOTICE_GIVE_UP + dt.timedelta(hours=1)
    Visit.objects.filter(pk=visit.pk).update(
        starts_at=week + dt.timedelta(days=1), ends_at=week + dt.timedelta(days=1, minutes=45)
    )
    assert reminders.notices_lost(now=week) == []  # given up after a week


def test_a_cancellation_task_without_a_queued_notice_sends_nothing(clinic):
    """Only a notice that staff asked for goes: a task for any other cancelled visit (a forged
    or stale message) finds no queued row to claim."""
    visit = visit_in(clinic, 30, status=Visit.Status.CANCELLED)
    assert tasks.visit_cancellation_send_task(visit.pk) is False
    assert mail.outbox == []
    assert not PatientMessage.objects.exists()


def test_a_refused_notice_is_failed_and_the_retry_claims_it_again(clinic, monkeypatch):
    visit = visit_in(clinic, 30, status=Visit.Status.CANCELLED, cancel_reason="Clinic closed: x")
    reminders.notice_queue(kind=PatientMessage.Kind.VISIT_CANCELLED, visit=visit)

    def refuse(*args, **kwargs):
        raise smtplib.SMTPServerDisconnected("gone")

    monkeypatch.setattr(reminders, "send_mail", refuse)
    with pytest.raises(smtplib.SMTPServerDisconnected):
        tasks.visit_cancellation_send_task(visit.pk)
    failed = PatientMessage.objects.get()
    assert (failed.status, failed.attempts) == (PatientMessage.Status.FAILED, 1)
    monkeypatch.undo()
    assert tasks.visit_cancellation_send_task(visit.pk) is True
    sent = PatientMessage.objects.get()
    assert (sent.status, sent.attempts) == (PatientMessage.Status.SENT, 2)
    assert len(mail.outbox) == 1
