"""Home exercise programmes (programs.home): prescription with versions, items and the
contraindication gate, patient links, recorded sessions, adherence, the handout e-mail."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from clinic.errors import ApplicationError, ConflictError, VersionRequired
from patients.models import EpisodeOfCare, Patient
from programs import home
from programs.models import (
    Exercise,
    HomeProgram,
    HomeProgramEmail,
    HomeProgramItem,
    HomeProgramLink,
    HomeProgramVersion,
    HomeSession,
)
from tests.factories import therapist_in
from tests.programs.helpers import exercise, local_today

pytestmark = pytest.mark.django_db


def prescribe(episode: EpisodeOfCare, by, *slugs: str, **fields) -> HomeProgram:
    items = fields.pop("items", None) or [exercise(s) for s in slugs or ("bird-dog", "bridge")]
    return home.home_program_create(episode=episode, by=by, items=items, **fields)


def nothing_saved() -> bool:
    return not (
        HomeProgram.objects.exists()
        or HomeProgramVersion.objects.exists()
        or HomeProgramItem.objects.exists()
    )


def current(program: HomeProgram) -> HomeProgramVersion:
    program.refresh_from_db()
    version = home.home_program_version_get(program=program)
    assert version is not None
    return version


# --- Prescription ------------------------------------------------------------------------------


def test_home_program_create_takes_the_library_defaults(episode, therapist):
    program = prescribe(episode, therapist, "bird-dog", "prone-on-elbows")
    version = current(program)
    assert (program.status, program.current_version, version.version) == ("active", 1, 1)
    assert version.starts_on == local_today(episode.clinic)
    assert version.prescribed_by == therapist
    bird_dog, elbows = version.items.all()
    library = Exercise.objects.get(slug="bird-dog")
    assert (bird_dog.sets, bird_dog.reps, bird_dog.hold_seconds, bird_dog.days_per_week) == (
        library.sets,
        library.reps,
        library.hold_seconds,
        library.days_per_week,
    )
    assert (elbows.reps, elbows.hold_seconds, elbows.times_per_day) == (5, 30, 3)
    assert [i.position for i in (bird_dog, elbows)] == [0, 1]
    assert bird_dog.dose_text == "2 x 10, hold 5 s, 5 days/week"


def test_home_program_create_keeps_the_given_dose_side_and_notes(episode, therapist):
    program = prescribe(
        episode,
        therapist,
        items=[
            exercise(
                "hamstring-stretch",
                reps=2,
                hold_seconds=45,
                times_per_day=2,
                side="left",
                notes="Stop if the leg tingles.",
            )
        ],
        notes="Walk every day.",
    )
    version = current(program)
    (row,) = version.items.all()
    assert (row.reps, row.hold_seconds, row.times_per_day, row.side) == (2, 45, 2, "left")
    assert row.notes == "Stop if the leg tingles."
    assert version.notes == "Walk every day."
    assert row.dose_text == "2 reps, hold 45 s, left, 2/day, 7 days/week"


@pytest.mark.parametrize("sets", [0, -1])
def test_home_program_zero_or_negative_sets_names_the_item_and_saves_nothing(
    episode, therapist, sets
):
    with pytest.raises(ValidationError) as caught:
        prescribe(episode, therapist, items=[exercise("bird-dog"), exercise("bridge", sets=sets)])
    assert "items[1].sets" in caught.value.message_dict
    assert nothing_saved()


def test_home_program_unknown_or_retired_exercise_names_the_item(episode, therapist):
    Exercise.objects.filter(slug="bridge").update(active=False)
    with pytest.raises(ValidationError) as caught:
        prescribe(
            episode,
            therapist,
            items=[
                {"exercise": "8d0f9c3e-5d4b-4e55-9a1e-7f3c2b1a0d9e"},
                exercise("bridge"),
                {"exercise": "not-an-id"},
                {},
            ],
        )
    errors = caught.value.message_dict
    assert "No exercise with the id" in errors["items[0].exercise"][0]
    assert "retired" in errors["items[1].exercise"][0]
    assert "not a valid id" in errors["items[2].exercise"][0]
    assert "required" in errors["items[3].exercise"][0]
    assert nothing_saved()


def test_home_program_bad_side_and_empty_list_are_refused(episode, therapist):
    with pytest.raises(ValidationError) as caught:
        prescribe(episode, therapist, items=[exercise("bridge", side="up")])
    assert "items[0].side" in caught.value.message_dict
    with pytest.raises(ValidationError) as caught:
        home.home_program_create(episode=episode, by=therapist, items=[])
    assert "items" in caught.value.message_dict
    assert nothing_saved()


def test_home_program_crunches_for_a_disc_herniation_refused_then_justified(
    episode, therapist, add_diagnosis
):
    add_diagnosis("M51.26", onset=local_today(episode.clinic) - dt.timedelta(days=200))
    with pytest.raises(ApplicationError) as caught:
        prescribe(episode, therapist, "crunch")
    assert caught.value.code == "contraindicated"
    assert caught.value.field == "items[0]"
    assert "disc" in caught.value.message.lower()
    assert caught.value.extra["findings"][0]["severity"] == "refuse"
    assert nothing_saved()

    program = prescribe(
        episode,
        therapist,
        items=[exercise("crunch", override_justification="Surgeon cleared flexion.")],
    )
    (row,) = current(program).items.all()
    assert row.override_justification == "Surgeon cleared flexion."
    assert row.warnings[0]["condition"] == "lumbar_disc_herniation"


def test_home_program_press_ups_for_stenosis_refused(episode, therapist, add_precaution):
    add_precaution("lumbar_spinal_stenosis", "lumbar")
    with pytest.raises(ApplicationError) as caught:
        prescribe(episode, therapist, "bird-dog", "mckenzie-prone-press-up")
    assert caught.value.code == "contraindicated"
    assert caught.value.field == "items[1]"
    assert "stenosis" in caught.value.message.lower()
    assert nothing_saved()


def test_home_program_needs_manage_clinical_in_the_clinic(episode, receptionist, outsider):
    for who in (receptionist, outsider):
        with pytest.raises(PermissionDenied):
            prescribe(episode, who)
    assert nothing_saved()
    assistant = therapist_in(episode.clinic, discipline="PTA")
    assert prescribe(episode, assistant).current_version == 1


def test_home_program_twice_is_409_and_dates_are_checked(episode, therapist):
    today = local_today(episode.clinic)
    with pytest.raises(ValidationError) as caught:
        prescribe(episode, therapist, starts_on=episode.started_on - dt.timedelta(days=1))
    assert "starts_on" in caught.value.message_dict
    with pytest.raises(ValidationError) as caught:
        prescribe(episode, therapist, starts_on=today + dt.timedelta(days=1))
    assert "starts_on" in caught.value.message_dict
    prescribe(episode, therapist)
    with pytest.raises(ConflictError) as conflict:
        prescribe(episode, therapist)
    assert conflict.value.code == "active_program_exists"
    assert HomeProgram.objects.count() == 1


def test_home_program_on_an_ended_episode_is_refused(episode, therapist):
    EpisodeOfCare.objects.filter(pk=episode.pk).update(status="discharged")
    with pytest.raises(ValidationError) as caught:
        prescribe(episode, therapist)
    assert "episode" in caught.value.message_dict


def test_database_holds_one_active_programme_per_episode(episode, therapist):
    program = prescribe(episode, therapist)
    with pytest.raises(IntegrityError), transaction.atomic():
        HomeProgram.objects.create(
            clinic=episode.clinic, episode=episode, created_by=therapist, current_version=1
        )
    assert HomeProgram.objects.get() == program


# --- Versions ----------------------------------------------------------------------------------


def test_home_program_revise_makes_a_new_version_and_keeps_the_old(episode, therapist):
    program = prescribe(episode, therapist, "bird-dog", starts_on=episode.started_on)
    revised = home.home_program_revise(
        program=program,
        by=therapist,
        version=1,
        items=[exercise("bird-dog", sets=3), exercise("walking")],
    )
    assert revised.pk == program.pk
    assert revised.current_version == 2
    old, new = HomeProgramVersion.objects.filter(program=program).order_by("version")
    assert [i.sets for i in old.items.all()] == [2]
    assert [(i.exercise.slug, i.sets) for i in new.items.all()] == [
        ("bird-dog", 3),
        ("walking", None),
    ]
    assert new.starts_on == local_today(episode.clinic)
    assert program.history.count() == 2


def test_home_program_revise_carries_items_over_and_rechecks_them(
    episode, therapist, add_diagnosis
):
    program = prescribe(episode, therapist, "crunch", starts_on=episode.started_on)
    add_diagnosis("M51.26", onset=episode.started_on)
    with pytest.raises(ApplicationError) as caught:
        home.home_program_revise(program=program, by=therapist, version=1, notes="Add walking.")
    assert caught.value.code == "contraindicated"
    assert HomeProgramVersion.objects.count() == 1
    program.refresh_from_db()
    assert program.current_version == 1


def test_home_program_revise_needs_the_current_version(episode, therapist):
    program = prescribe(episode, therapist, starts_on=episode.started_on)
    with pytest.raises(VersionRequired):
        home.home_program_revise(program=program, by=therapist, version=None, notes="x")
    home.home_program_revise(program=program, by=therapist, version=1, notes="Walk daily.")
    with pytest.raises(ConflictError) as caught:
        home.home_program_revise(program=program, by=therapist, version=1, notes="Other.")
    assert caught.value.code == "stale_version"
    assert caught.value.extra["current_version"] == 2
    assert HomeProgramVersion.objects.count() == 2


def test_home_program_revise_without_a_change_is_refused(episode, therapist):
    program = prescribe(episode, therapist)
    with pytest.raises(ApplicationError) as caught:
        home.home_program_revise(program=program, by=therapist, version=1)
    assert caught.value.code == "unchanged"
    assert HomeProgramVersion.objects.count() == 1


def test_home_program_archive_stops_changes_and_frees_the_episode(episode, therapist):
    program = prescribe(episode, therapist)
    home.home_program_archive(program=program, by=therapist)
    program.refresh_from_db()
    assert program.status == "archived"
    assert program.archived_at is not None
    with pytest.raises(ConflictError) as caught:
        home.home_program_revise(program=program, by=therapist, version=1, notes="x")
    assert caught.value.code == "archived"
    assert prescribe(episode, therapist).pk != program.pk


# --- Links and sessions --------------------------------------------------------------------------


@pytest.fixture
def program(episode, therapist) -> HomeProgram:
    return prescribe(
        episode, therapist, "bird-dog", "prone-on-elbows", starts_on=episode.started_on
    )


@pytest.fixture
def link(program, therapist) -> HomeProgramLink:
    return home.home_link_create(program=program, by=therapist)


def record(opened: home.OpenedLink, **fields) -> HomeSession:
    values = {
        "version": opened.version.version,
        "performed_on": local_today(opened.program.clinic),
        "items": [str(i.public_id) for i in opened.version.items.all()],
        "pain": 3,
        "comment": "Fine.",
        **fields,
    }
    return home.home_session_record(program=opened.program, link=opened.link, **values)


def test_home_link_opens_the_current_version_and_counts(link, program, therapist):
    token = home.home_link_token(link)
    assert str(link.public_id.hex) in token
    opened = home.home_link_open(token=token)
    assert opened.program == program
    assert opened.version.version == 1
    home.home_program_revise(program=program, by=therapist, version=1, notes="New advice.")
    opened = home.home_link_open(token=token)
    assert opened.version.version == 2
    link.refresh_from_db()
    assert link.open_count == 2
    assert link.last_opened_at is not None


def test_home_link_tampered_or_made_up_is_unknown(link):
    token = home.home_link_token(link)
    for bad in (token[:-1] + ("A" if token[-1] != "A" else "B"), "abc", token.split(":")[0]):
        with pytest.raises(home.LinkUnknown) as caught:
            home.home_link_open(token=bad)
        assert caught.value.status_code == 404


def test_home_link_expired_revoked_or_archived_is_gone(link, program, therapist, episode):
    token = home.home_link_token(link)
    HomeProgramLink.objects.filter(pk=link.pk).update(expires_at=timezone.now())
    with pytest.raises(home.LinkRefused) as caught:
        home.home_link_open(token=token)
    assert (caught.value.status_code, caught.value.code) == (410, "link_expired")

    second = home.home_link_create(program=program, by=therapist, valid_days=1)
    home.home_link_revoke(link=second, by=therapist)
    with pytest.raises(home.LinkRefused) as caught:
        home.home_link_open(token=home.home_link_token(second))
    assert caught.value.code == "link_revoked"

    third = home.home_link_create(program=program, by=therapist)
    home.home_program_archive(program=program, by=therapist)
    with pytest.raises(home.LinkRefused) as caught:
        home.home_link_open(token=home.home_link_token(third))
    assert caught.value.code == "program_archived"


def test_home_link_of_an_ended_episode_is_gone(link, episode):
    EpisodeOfCare.objects.filter(pk=episode.pk).update(status="discharged")
    with pytest.raises(home.LinkRefused) as caught:
        home.home_link_open(token=home.home_link_token(link))
    assert caught.value.code == "program_archived"


@pytest.mark.parametrize("days", [0, 91, "7"])
def test_home_link_validity_is_checked(program, therapist, days):
    with pytest.raises(ValidationError) as caught:
        home.home_link_create(program=program, by=therapist, valid_days=days)
    assert "valid_days" in caught.value.message_dict
    assert not HomeProgramLink.objects.exists()


def test_home_session_record_through_the_link(link):
    opened = home.home_link_open(token=home.home_link_token(link))
    first_item = opened.version.items.all()[0]
    session = record(opened, items=[str(first_item.public_id)], pain="4", comment="  Easy. ")
    assert (session.version, session.link, session.recorded_by) == (opened.version, link, None)
    assert list(session.items.all()) == [first_item]
    assert (session.pain, session.comment) == (4, "Easy.")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"performed_on": "tomorrow"}, "performed_on"),
        ({"pain": 11}, "pain"),
        ({"pain": -1}, "pain"),
        ({"pain": "a lot"}, "pain"),
        ({"comment": "x" * (home.COMMENT_MAX + 1)}, "comment"),
        ({"items": []}, "items"),
        ({"items": ["8d0f9c3e-5d4b-4e55-9a1e-7f3c2b1a0d9e"]}, "items"),
        ({"items": ["junk"]}, "items"),
        ({"version": None}, "version"),
    ],
)
def test_home_session_bad_input_names_the_field_and_saves_nothing(link, fields, field):
    opened = home.home_link_open(token=home.home_link_token(link))
    with pytest.raises(ValidationError) as caught:
        record(opened, **fields)
    assert field in caught.value.message_dict
    assert not HomeSession.objects.exists()


def test_home_session_dates_not_in_the_future_nor_before_the_prescription(link, program):
    opened = home.home_link_open(token=home.home_link_token(link))
    today = local_today(program.clinic)
    for day in (today + dt.timedelta(days=1), opened.version.starts_on - dt.timedelta(days=1)):
        with pytest.raises(ValidationError) as caught:
            record(opened, performed_on=day)
        assert "performed_on" in caught.value.message_dict
    assert not HomeSession.objects.exists()
    assert record(opened, performed_on=opened.version.starts_on).performed_on == (
        opened.version.starts_on
    )


def test_home_session_against_a_superseded_version_is_409(link, program, therapist):
    opened = home.home_link_open(token=home.home_link_token(link))
    old_items = [str(i.public_id) for i in opened.version.items.all()]
    home.home_program_revise(program=program, by=therapist, version=1, notes="More walking.")
    with pytest.raises(ConflictError) as caught:
        record(opened, items=old_items)
    assert caught.value.code == "superseded"
    # the new version's items are new rows: the old ones do not belong to it
    with pytest.raises(ValidationError):
        record(opened, version=2, items=old_items)
    assert not HomeSession.objects.exists()


def test_home_session_through_a_revoked_link_is_refused(link, therapist):
    opened = home.home_link_open(token=home.home_link_token(link))
    home.home_link_revoke(link=link, by=therapist)
    with pytest.raises(home.LinkRefused):
        record(opened)
    assert not HomeSession.objects.exists()


def test_home_session_by_a_therapist_and_a_daily_limit(program, therapist):
    version = current(program)
    items = [str(version.items.all()[0].public_id)]
    day = local_today(program.clinic)
    for _ in range(home.SESSIONS_PER_DAY_MAX):
        home.home_session_record(
            program=program, version=1, performed_on=day, items=items, by=therapist
        )
    with pytest.raises(ConflictError) as caught:
        home.home_session_record(
            program=program, version=1, performed_on=day, items=items, by=therapist
        )
    assert caught.value.code == "too_many"
    assert HomeSession.objects.count() == home.SESSIONS_PER_DAY_MAX
    assert HomeSession.objects.filter(recorded_by=therapist).count() == home.SESSIONS_PER_DAY_MAX


# --- Adherence -----------------------------------------------------------------------------------

MONDAY = dt.date(2026, 6, 1)


def test_adherence_rule_per_iso_week_prorates_the_first_and_the_current_week():
    # 3 sessions a week (at most one a day) from a Thursday; today is the Wednesday after next.
    result = home.adherence_compute(
        versions=[(MONDAY + dt.timedelta(days=3), 3, 1)],
        session_days=[
            MONDAY + dt.timedelta(days=3),
            MONDAY + dt.timedelta(days=3),  # twice on one day counts once
            MONDAY + dt.timedelta(days=8),
            MONDAY + dt.timedelta(days=9),
            MONDAY + dt.timedelta(days=11),
            MONDAY + dt.timedelta(days=15),
        ],
        since=None,
        until=MONDAY + dt.timedelta(days=16),
    )
    assert [(w.label, w.prescribed, w.done, w.percent) for w in result.weeks] == [
        ("2026-W23", 2, 1, 50),  # Thu-Sun: 4/7 of 3 = 1.71 -> 2
        ("2026-W24", 3, 3, 100),
        ("2026-W25", 2, 1, 50),  # Mon-Wed: 3/7 of 3 = 1.29 -> 2
    ]
    assert (result.prescribed, result.done, result.percent) == (7, 5, 71)
    assert result.since == MONDAY + dt.timedelta(days=3)


def test_adherence_rule_follows_the_version_in_force_and_caps_a_week_at_100():
    result = home.adherence_compute(
        versions=[(MONDAY, 7, 1), (MONDAY + dt.timedelta(days=7), 14, 2)],
        session_days=[MONDAY + dt.timedelta(days=d) for d in range(7)] * 3
        + [MONDAY + dt.timedelta(days=7)] * 3,
        since=MONDAY,
        until=MONDAY + dt.timedelta(days=7),
    )
    first, second = result.weeks
    assert (first.prescribed, first.done, first.percent) == (7, 7, 100)
    assert (second.prescribed, second.done, second.percent) == (2, 2, 100)
    assert result.percent == 100


def test_adherence_rule_without_versions_or_before_the_start():
    assert (
        home.adherence_compute(versions=[], session_days=[], since=None, until=MONDAY).weeks == ()
    )
    result = home.adherence_compute(
        versions=[(MONDAY, 7, 1)],
        session_days=[],
        since=MONDAY - dt.timedelta(days=30),
        until=MONDAY,
    )
    assert result.since == MONDAY
    assert [(w.prescribed, w.done, w.percent) for w in result.weeks] == [(1, 0, 0)]


def test_sessions_per_week_is_the_largest_item_rate(episode, therapist):
    program = prescribe(
        episode,
        therapist,
        items=[
            exercise("bird-dog"),  # 5 days, once a day
            exercise("prone-on-elbows", times_per_day=2, days_per_week=6),  # 12
            exercise("bridge", days_per_week=None, times_per_day=None),  # library's 5 days
        ],
    )
    items = list(current(program).items.all())
    assert home.sessions_per_week(items) == 12
    assert home.sessions_per_day_max(items) == 2


def test_home_program_adherence_reads_the_sessions(program, therapist, django_assert_num_queries):
    version = current(program)
    items = [str(version.items.all()[0].public_id)]
    today = local_today(program.clinic)
    for days_ago in (0, 1, 2, 9):
        home.home_session_record(
            program=program,
            version=1,
            performed_on=today - dt.timedelta(days=days_ago),
            items=items,
            by=therapist,
        )
    program = home.home_program_get(clinic=program.clinic, public_id=program.public_id)
    with django_assert_num_queries(3):
        result = home.home_program_adherence(program=program)
    assert result.done == 4
    assert result.until == today
    assert result.since == version.starts_on
    assert sum(w.done for w in result.weeks) == 4
    since = home.home_program_adherence(program=program, since=today - dt.timedelta(days=2))
    assert since.done == 3
    assert since.prescribed == sum(w.prescribed for w in since.weeks)


# --- E-mail --------------------------------------------------------------------------------------


@pytest.fixture
def reachable(episode) -> Patient:
    Patient.objects.filter(pk=episode.patient_id).update(
        consent_email=True, email="test.patient@example.org"
    )
    episode.patient.refresh_from_db()
    return episode.patient


def test_home_program_email_needs_consent_and_an_address(
    program, therapist, episode, django_capture_on_commit_callbacks
):
    with pytest.raises(ApplicationError) as caught:
        home.home_program_email_request(program=program, by=therapist)
    assert caught.value.code == "no_email_consent"
    Patient.objects.filter(pk=episode.patient_id).update(consent_email=True)
    with pytest.raises(ApplicationError) as caught:
        home.home_program_email_request(program=program, by=therapist)
    assert caught.value.code == "no_email_address"
    assert not HomeProgramEmail.objects.exists()


def requested(program, therapist) -> HomeProgramEmail:
    return home.home_program_email_request(program=program, by=therapist).email


def test_home_program_email_deliver_sends_once_per_version(program, therapist, reachable):
    email = requested(program, therapist)
    assert email.status == "requested"
    assert home.home_program_email_deliver(email_id=email.pk) == "sent"
    assert home.home_program_email_deliver(email_id=email.pk) == "already_sent"
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["test.patient@example.org"]
    assert "Riverside Physio" in message.subject
    ((name, content, mimetype),) = message.attachments
    assert (name, mimetype) == ("home-programme-v1.pdf", "application/pdf")
    assert content[:5] == b"%PDF-"
    email.refresh_from_db()
    assert (email.status, email.version) == ("sent", current(program))
    assert email.sent_at is not None
    again = home.home_program_email_request(program=program, by=therapist)
    assert (again.created, again.email.pk) == (False, email.pk)
    assert HomeProgramEmail.objects.count() == 1


def test_database_holds_one_email_per_version(program, therapist, reachable):
    email = requested(program, therapist)
    with pytest.raises(IntegrityError), transaction.atomic():
        HomeProgramEmail.objects.create(
            clinic=email.clinic, version=email.version, requested_by=therapist
        )


def test_home_program_email_deliver_skips_withdrawn_consent_and_old_versions(
    program, therapist, reachable
):
    email = requested(program, therapist)
    Patient.objects.filter(pk=reachable.pk).update(consent_email=False)
    assert home.home_program_email_deliver(email_id=email.pk) == "no_consent"
    email.refresh_from_db()
    assert (email.status, email.reason, email.sent_at) == ("skipped", "no_consent", None)
    Patient.objects.filter(pk=reachable.pk).update(consent_email=True)
    again = home.home_program_email_request(program=program, by=therapist)
    assert (again.created, again.email.pk, again.email.status) == (True, email.pk, "requested")
    home.home_program_revise(program=program, by=therapist, version=1, notes="Walk.")
    assert home.home_program_email_deliver(email_id=email.pk) == "superseded"
    assert home.home_program_email_deliver(email_id=0) == "missing"
    assert mail.outbox == []
    assert not HomeProgramEmail.objects.filter(status="sent").exists()


def test_home_program_email_request_enqueues_after_commit_once(
    program, therapist, reachable, django_capture_on_commit_callbacks, monkeypatch
):
    sent: list[tuple[int, ...]] = []
    from programs import tasks

    monkeypatch.setattr(
        tasks.home_program_email_send_task, "delay", lambda *args: sent.append(args)
    )
    with django_capture_on_commit_callbacks(execute=True):
        request = home.home_program_email_request(program=program, by=therapist)
        assert sent == []  # not before the commit
    assert request.created
    assert sent == [(request.email.pk,)]
    with django_capture_on_commit_callbacks(execute=True):
        again = home.home_program_email_request(program=program, by=therapist)
    assert not again.created
    assert len(sent) == 1


def test_home_program_email_sweep_sends_a_request_whose_message_was_lost(
    program, therapist, reachable
):
    from programs import tasks

    email = requested(program, therapist)  # no on-commit in this test: the message is "lost"
    assert tasks.home_program_email_sweep_task() == 0  # too recent: the job may still come
    HomeProgramEmail.objects.filter(pk=email.pk).update(
        requested_at=timezone.now() - home.EMAIL_SWEEP_AFTER - dt.timedelta(seconds=1)
    )
    assert home.home_program_emails_unsent() == [email.pk]
    assert tasks.home_program_email_sweep_task() == 1
    assert tasks.home_program_email_sweep_task() == 0
    assert len(mail.outbox) == 1
