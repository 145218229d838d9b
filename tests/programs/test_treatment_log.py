"""The treatment log PostgreSQL's triggers keep per episode (programs/treatment_log.py) says what
counting the visits says, after every kind of write, through services, the ORM or plain SQL;
and two visits of one episode completed at once both count."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from clinic.models import Clinic
from patients.models import EpisodeOfCare, Visit
from programs import reports, treatment_log
from programs.models import BillingLine, EpisodeTreatmentLog, TreatmentNote
from tests.factories import (
    ClinicFactory,
    EpisodeOfCareFactory,
    TreatmentNoteFactory,
    VisitFactory,
)

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the triggers are PostgreSQL's"),
    pytest.mark.django_db,
]

S = Visit.Status
Days = dict[dt.date, tuple[int, int]]


def counted(clinics: list[Clinic]) -> dict[int, Days]:
    """What the report counts from the visits (its path on SQLite), per episode and day."""
    ids = [c.pk for c in clinics]
    every = set(EpisodeOfCare.objects.values_list("pk", flat=True))
    found = reports._counted_tallies(ids, reports._counting_episodes(ids), every)
    return {episode: _by_day(days) for episode, days in found.items() if _by_day(days)}


def logged(clinics: list[Clinic]) -> dict[int, Days]:
    """The log's rows of the same episodes, units only where the authorization counts them
    (as the report counts)."""
    ids = [c.pk for c in clinics]
    found = {
        episode: [
            (dt.date.fromisoformat(day), visits, units if auth_units is not None else 0)
            for day, visits, units in days  # ["YYYY-MM-DD", visits, units]
        ]
        for episode, days, auth_units in EpisodeTreatmentLog.objects.filter(
            reports._counting_episodes(ids)
        ).values_list("episode_id", "days", "episode__auth_units")
    }
    return {episode: _by_day(days) for episode, days in found.items() if _by_day(days)}


def _by_day(days: list[tuple[dt.date, int, int]]) -> Days:
    totals: dict[dt.date, list[int]] = {}
    for day, visits, units in days:
        total = totals.setdefault(day, [0, 0])
        total[0] += visits
        total[1] += units
    return {day: (v, u) for day, (v, u) in sorted(totals.items()) if v or u}


def agreed(*clinics: Clinic) -> dict[int, Days]:
    """The log, once it is checked against the count from the visits."""
    from_log = logged(list(clinics))
    assert from_log == counted(list(clinics))
    return from_log


def authorized(clinic: Clinic) -> EpisodeOfCare:
    """An active episode whose clocks count visits and units (a payer's authorization)."""
    return EpisodeOfCareFactory(
        clinic=clinic, progress_report_clock=True, auth_visits=20, auth_units=60
    )


def visit_at(episode: EpisodeOfCare, when: dt.datetime, status: str = S.COMPLETED) -> Visit:
    return VisitFactory(
        clinic=episode.clinic,
        patient=episode.patient,
        therapist=episode.therapist,
        episode=episode,
        starts_at=when,
        ends_at=when + dt.timedelta(minutes=45),
        status=status,
    )


def local(clinic: Clinic, day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=clinic.tz)


def signed_note(visit: Visit, *units: int) -> TreatmentNote:
    """A note of the visit with one billing line per `units`, then signed (lines go in while it
    is a draft: a signed note's rows are immutable)."""
    note = TreatmentNoteFactory(visit=visit)
    BillingLine.objects.bulk_create(
        BillingLine(note=note, cpt_code=f"9711{n}", minutes=15 * u, units=u, timed=True)
        for n, u in enumerate(units)
    )
    TreatmentNote.objects.filter(pk=note.pk).update(
        status=TreatmentNote.Status.SIGNED, signed_at=timezone.now(), signed_by=note.author
    )
    return note


@pytest.fixture
def day(clinic) -> dt.date:
    return timezone.localdate(timezone=clinic.tz) - dt.timedelta(days=3)


def test_completed_visits_and_signed_units_count_per_clinic_day(clinic, day):
    episode = authorized(clinic)
    first = visit_at(episode, local(clinic, day, 9))
    visit_at(episode, local(clinic, day, 14))
    signed_note(first, 2, 1)
    visit_at(episode, local(clinic, day + dt.timedelta(days=1), 10), status=S.BOOKED)
    assert agreed(clinic) == {episode.pk: {day: (2, 3)}}
    # The last local hour of the day is the next day in UTC: still the clinic's day.
    visit_at(episode, local(clinic, day + dt.timedelta(days=1), 23, 10))
    assert agreed(clinic)[episode.pk][day + dt.timedelta(days=1)] == (1, 0)


def test_a_draft_notes_lines_count_once_it_is_signed(clinic, day):
    episode = authorized(clinic)
    visit = visit_at(episode, local(clinic, day, 9))
    note = TreatmentNoteFactory(visit=visit)
    BillingLine.objects.create(note=note, cpt_code="97110", minutes=30, units=2, timed=True)
    assert agreed(clinic) == {episode.pk: {day: (1, 0)}}
    TreatmentNote.objects.filter(pk=note.pk).update(
        status=TreatmentNote.Status.SIGNED, signed_at=timezone.now(), signed_by=note.author
    )
    assert agreed(clinic) == {episode.pk: {day: (1, 2)}}


def test_status_start_and_episode_changes_move_the_count(clinic, day):
    episode, other = authorized(clinic), authorized(clinic)
    visit = visit_at(episode, local(clinic, day, 9), status=S.CHECKED_IN)
    assert agreed(clinic) == {}
    visit.status = S.COMPLETED
    visit.save()  # the ORM's save: every column in the UPDATE
    assert agreed(clinic) == {episode.pk: {day: (1, 0)}}
    moved = local(clinic, day - dt.timedelta(days=1), 9)
    Visit.objects.filter(pk=visit.pk).update(
        starts_at=moved, ends_at=moved + dt.timedelta(minutes=45)
    )
    assert agreed(clinic) == {episode.pk: {day - dt.timedelta(days=1): (1, 0)}}
    with connection.cursor() as cursor:  # plain SQL, as a repair script would
        cursor.execute(
            "UPDATE patients_visit SET episode_id = %s, patient_id = %s WHERE id = %s",
            [other.pk, other.patient_id, visit.pk],
        )
    assert agreed(clinic) == {other.pk: {day - dt.timedelta(days=1): (1, 0)}}
    Visit.objects.filter(pk=visit.pk).update(status=S.NO_SHOW)
    assert agreed(clinic) == {}


def test_a_signed_notes_units_follow_its_visit_even_when_not_completed(clinic, day):
    episode = authorized(clinic)
    visit = visit_at(episode, local(clinic, day, 9))
    signed_note(visit, 3)
    Visit.objects.filter(pk=visit.pk).update(status=S.CHECKED_IN)
    assert agreed(clinic) == {episode.pk: {day: (0, 3)}}
    moved = local(clinic, day + dt.timedelta(days=1), 9)
    Visit.objects.filter(pk=visit.pk).update(
        starts_at=moved, ends_at=moved + dt.timedelta(minutes=45)
    )
    assert agreed(clinic) == {episode.pk: {day + dt.timedelta(days=1): (0, 3)}}


def test_deleting_a_completed_visit_or_a_draft_note_recounts(clinic, day):
    episode = authorized(clinic)
    gone = visit_at(episode, local(clinic, day, 9))
    kept = visit_at(episode, local(clinic, day, 11))
    note = TreatmentNoteFactory(visit=kept)
    BillingLine.objects.create(note=note, cpt_code="97110", minutes=30, units=2, timed=True)
    gone.delete()
    assert agreed(clinic) == {episode.pk: {day: (1, 0)}}
    note.delete()  # a draft: its lines go with it
    assert agreed(clinic) == {episode.pk: {day: (1, 0)}}
    assert not BillingLine.objects.exists()


def test_a_clinics_time_zone_and_an_episodes_clinic_move_the_days(clinic, day):
    episode = authorized(clinic)
    visit_at(episode, local(clinic, day, 21))  # 21:00 in New York is 03:00 the next day in Berlin
    assert agreed(clinic) == {episode.pk: {day: (1, 0)}}
    clinic.timezone = "Europe/Berlin"
    clinic.save(update_fields=["timezone"])
    assert agreed(clinic) == {episode.pk: {day + dt.timedelta(days=1): (1, 0)}}
    tokyo = ClinicFactory(name="Tokyo Physio", timezone="Asia/Tokyo", country="DE")
    EpisodeOfCare.objects.filter(pk=episode.pk).update(clinic=tokyo)
    assert agreed(clinic, tokyo) == {episode.pk: {day + dt.timedelta(days=1): (1, 0)}}
    assert EpisodeTreatmentLog.objects.get(episode=episode).days == [
        [(day + dt.timedelta(days=1)).isoformat(), 1, 0]  # 11:00 the next morning in Tokyo
    ]


def test_the_report_counts_from_the_log_what_it_counts_from_the_visits(clinic, day):
    """The report's two paths (`_treatment_tallies`): on PostgreSQL the database walks the log's
    days (treatment_log.LoggedVisitDays, LoggedSum); on SQLite Python folds the count from the
    visits (`_counts_of`). The same days and sums, inside and outside an authorization's days,
    and no units where the authorization approves none."""
    one_day = dt.timedelta(days=1)
    windowed = authorized(clinic)
    EpisodeOfCare.objects.filter(pk=windowed.pk).update(
        auth_starts_on=day - one_day, auth_ends_on=day
    )
    visits_only = EpisodeOfCareFactory(clinic=clinic, auth_visits=12)  # no units approved
    for episode in (windowed, visits_only):
        signed_note(visit_at(episode, local(clinic, day - 2 * one_day, 9)), 4)  # before it
        signed_note(visit_at(episode, local(clinic, day - one_day, 9)), 2, 1)
        visit_at(episode, local(clinic, day, 10))
        signed_note(visit_at(episode, local(clinic, day, 15)), 3)
    episodes = {e.pk: e for e in EpisodeOfCare.objects.filter(clinic=clinic)}
    ids = [clinic.pk]

    from_log = reports._treatment_tallies(ids, episodes)
    from_visits = {
        pk: reports._counts_of(episodes[pk], days)
        for pk, days in reports._counted_tallies(
            ids, reports._counting_episodes(ids), set(episodes)
        ).items()
    }

    every_day = [day - 2 * one_day, day - one_day, day]
    assert {
        pk: (sorted(c.visit_days), c.authorized_visits, c.authorized_units)
        for pk, c in from_log.items()
    } == {
        windowed.pk: (every_day, 3, 6),  # the day before the window is not counted
        visits_only.pk: (every_day, 4, 0),  # no window: every visit; no units approved
    }
    assert {
        pk: (sorted(set(c.visit_days)), c.authorized_visits, c.authorized_units)
        for pk, c in from_visits.items()
    } == {
        pk: (sorted(c.visit_days), c.authorized_visits, c.authorized_units)
        for pk, c in from_log.items()
    }


def test_rebuild_counts_what_the_triggers_kept(clinic, other_clinic, day):
    episodes = [authorized(clinic), authorized(other_clinic)]
    for n, episode in enumerate(episodes):
        signed_note(visit_at(episode, local(episode.clinic, day, 9 + n)), 2)
        visit_at(episode, local(episode.clinic, day - dt.timedelta(days=2), 10))
    kept = {row.episode_id: row.days for row in EpisodeTreatmentLog.objects.all()}
    assert len(kept) == 2
    EpisodeTreatmentLog.objects.all().delete()
    treatment_log.rebuild(clinic_id=clinic.pk)
    assert {row.episode_id: row.days for row in EpisodeTreatmentLog.objects.all()} == {
        episodes[0].pk: kept[episodes[0].pk]
    }
    treatment_log.rebuild()
    assert {row.episode_id: row.days for row in EpisodeTreatmentLog.objects.all()} == kept


def test_the_compliance_report_reads_the_log_not_the_visits(clinic, day, django_assert_num_queries):
    episode = authorized(clinic)
    for n in range(3):
        visit_at(episode, local(clinic, day - dt.timedelta(days=n), 9))
    with django_assert_num_queries(4) as captured:
        report = reports.compliance_report(clinics=[clinic])
    statements = [q["sql"] for q in captured.captured_queries]
    assert any('FROM "programs_episodetreatmentlog"' in sql for sql in statements)
    assert not any('"patients_visit"' in sql for sql in statements)
    assert report.table("clinics") is not None


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_visits_of_one_episode_completed_at_once_both_count(clinic, day):
    """The second completion's refresh waits for the first's lock, then counts both; without
    the lock it would count from before the first committed and leave 1."""
    episode = authorized(clinic)
    visits = [visit_at(episode, local(clinic, day, 9 + n), status=S.CHECKED_IN) for n in (0, 2)]
    first_done = threading.Event()
    errors: list[BaseException] = []

    def complete(visit: Visit, hold: bool) -> None:
        try:
            with transaction.atomic():
                Visit.objects.filter(pk=visit.pk).update(status=S.COMPLETED)
                if hold:
                    first_done.set()
                    threading.Event().wait(0.5)  # still uncommitted while the other one runs
        except BaseException as exc:  # reported by the test
            errors.append(exc)
        finally:
            connections.close_all()

    holder = threading.Thread(target=complete, args=(visits[0], True))
    holder.start()
    assert first_done.wait(10)
    second = threading.Thread(target=complete, args=(visits[1], False))
    second.start()
    holder.join(10)
    second.join(10)
    assert not errors
    assert EpisodeTreatmentLog.objects.get(episode=episode).days == [[day.isoformat(), 2, 0]]
    assert agreed(clinic) == {episode.pk: {day: (2, 0)}}
