"""The home-programme API: wiring, roles, status codes, the one error body, query counts."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from clinic.models import AccessLog
from patients.models import Patient
from programs import home
from programs.models import HomeProgram, HomeProgramEmail, HomeProgramVersion, HomeSession
from tests.programs.helpers import exercise, local_today

pytestmark = pytest.mark.django_db


def list_url(episode) -> str:
    return reverse(
        "episode-home-program-list",
        kwargs={"clinic_id": episode.clinic.public_id, "episode_id": episode.public_id},
    )


def program_url(program: HomeProgram, action: str = "detail") -> str:
    names = {
        "detail": "home-program-detail",
        "versions": "home-program-versions",
        "archive": "home-program-archive",
        "links": "home-program-links",
        "sessions": "home-program-sessions",
        "adherence": "home-program-adherence",
        "send-email": "home-program-send-email",
        "html": "home-program-handout-html",
        "pdf": "home-program-handout-pdf",
    }
    return reverse(
        names[action],
        kwargs={"clinic_id": program.clinic.public_id, "public_id": program.public_id},
    )


def body(*slugs: str, **extra):
    return {"items": [exercise(s) for s in slugs or ("bird-dog", "bridge")], **extra}


@pytest.fixture
def prescribed(episode, therapist, client_for) -> HomeProgram:
    response = client_for(therapist).post(
        list_url(episode), body(starts_on=str(episode.started_on)), format="json"
    )
    assert response.status_code == 201, response.content
    return HomeProgram.objects.get(public_id=response.json()["id"])


def assert_error(response, status: int, field: str | None = None, code: str | None = None):
    assert response.status_code == status, response.content
    data = response.json()
    assert data["detail"]
    if code is not None:
        assert data["code"] == code
    if field is not None:
        assert field in data["errors"], data


def test_api_prescribe_answers_the_programme_with_its_current_version(
    episode, therapist, client_for
):
    response = client_for(therapist).post(
        list_url(episode), body("bird-dog", notes="Daily walk."), format="json"
    )
    assert response.status_code == 201, response.content
    data = response.json()
    assert response["ETag"] == '"1"'
    assert (data["status"], data["current_version"]) == ("active", 1)
    assert data["episode"] == str(episode.public_id)
    current = data["current"]
    assert current["notes"] == "Daily walk."
    assert current["sessions_per_week"] == 5
    (item,) = current["items"]
    assert item["exercise"]["slug"] == "bird-dog"
    assert item["dose"] == "2 x 10, hold 5 s, 5 days/week"
    assert item["instructions"]


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"sets": 0}, "items[0].sets"),
        ({"sets": -2}, "items[0].sets"),
        ({"exercise": "8d0f9c3e-5d4b-4e55-9a1e-7f3c2b1a0d9e"}, "items[0].exercise"),
        ({"side": "upside"}, "items[0].side"),
        (None, "items"),
    ],
)
def test_api_bad_items_are_400_naming_the_field_and_save_nothing(
    episode, therapist, client_for, extra, field
):
    items = [] if extra is None else [{**exercise("bird-dog"), **extra}]
    response = client_for(therapist).post(list_url(episode), {"items": items}, format="json")
    assert_error(response, 400, field, "invalid")
    assert not HomeProgram.objects.exists()
    assert not HomeProgramVersion.objects.exists()


def test_api_contraindicated_exercise_is_400_with_findings_then_justified(
    episode, therapist, client_for, add_diagnosis
):
    add_diagnosis("M51.26", onset=episode.started_on)
    client = client_for(therapist)
    response = client.post(list_url(episode), body("crunch"), format="json")
    assert_error(response, 400, "items[0]", "contraindicated")
    assert response.json()["findings"][0]["condition"] == "lumbar_disc_herniation"
    assert not HomeProgram.objects.exists()
    justified = {"items": [exercise("crunch", override_justification="Cleared by surgeon.")]}
    response = client.post(list_url(episode), justified, format="json")
    assert response.status_code == 201, response.content
    (item,) = response.json()["current"]["items"]
    assert item["override_justification"] == "Cleared by surgeon."
    assert item["warnings"][0]["severity"] == "refuse"


def test_api_second_programme_is_409(prescribed, episode, therapist, client_for):
    response = client_for(therapist).post(list_url(episode), body(), format="json")
    assert_error(response, 409, code="active_program_exists")


def test_api_revise_makes_a_version_and_keeps_the_old_readable(prescribed, therapist, client_for):
    client = client_for(therapist)
    response = client.patch(
        program_url(prescribed), body("walking"), format="json", HTTP_IF_MATCH='"1"'
    )
    assert response.status_code == 200, response.content
    assert response["ETag"] == '"2"'
    assert [i["exercise"]["slug"] for i in response.json()["current"]["items"]] == ["walking"]
    versions = client.get(program_url(prescribed, "versions")).json()
    assert versions["count"] == 2
    assert [v["version"] for v in versions["results"]] == [2, 1]
    assert [i["exercise"]["slug"] for i in versions["results"][1]["items"]] == [
        "bird-dog",
        "bridge",
    ]


def test_api_revise_without_or_with_a_stale_version(prescribed, therapist, client_for):
    client = client_for(therapist)
    response = client.put(program_url(prescribed), body("walking"), format="json")
    assert_error(response, 428, code="version_required")
    client.put(program_url(prescribed), {**body("walking"), "version": 1}, format="json")
    response = client.put(
        program_url(prescribed), {**body("swimming"), "version": 1}, format="json"
    )
    assert_error(response, 409, code="stale_version")
    assert response.json()["current_version"] == 2
    assert HomeProgramVersion.objects.count() == 2


def test_api_receptionist_gets_403_and_another_clinic_404(
    prescribed, episode, receptionist, outsider, client_for
):
    desk = client_for(receptionist)
    for target in (program_url(prescribed), program_url(prescribed, "pdf"), list_url(episode)):
        assert_error(desk.get(target), 403)
    assert_error(desk.post(list_url(episode), body(), format="json"), 403)
    stranger = client_for(outsider)
    assert_error(stranger.get(program_url(prescribed)), 404)
    assert_error(stranger.post(program_url(prescribed, "links"), {}, format="json"), 404)
    assert HomeProgramVersion.objects.count() == 1


def test_api_reads_are_in_the_access_log(prescribed, therapist, client_for):
    client = client_for(therapist)
    client.get(program_url(prescribed))
    client.get(program_url(prescribed, "html"))
    whats = set(
        AccessLog.objects.filter(
            patient_public_id=prescribed.episode.patient.public_id
        ).values_list("what", flat=True)
    )
    assert {"home programme", "home programme handout"} <= whats


def test_api_list_runs_in_constant_queries(
    episode, therapist, client_for, django_assert_max_num_queries
):
    client = client_for(therapist)
    for _ in range(4):
        program = home.home_program_create(
            episode=episode, by=therapist, items=[exercise("bird-dog"), exercise("bridge")]
        )
        home.home_program_archive(program=program, by=therapist)
    with django_assert_max_num_queries(12):
        response = client.get(list_url(episode))
    assert response.json()["count"] == 4
    assert all(p["current"]["items"] for p in response.json()["results"])


def test_api_links_create_list_revoke(prescribed, therapist, client_for):
    client = client_for(therapist)
    response = client.post(program_url(prescribed, "links"), {"valid_days": 14}, format="json")
    assert response.status_code == 201, response.content
    link = response.json()
    assert link["status"] == "live"
    assert "/home-programme/" in link["url"]
    assert str(prescribed.episode.patient.public_id) not in link["url"]
    assert "?" not in link["url"]
    assert client.get(link["url"]).status_code == 200
    listed = client.get(program_url(prescribed, "links")).json()
    assert [row["id"] for row in listed["results"]] == [link["id"]]
    revoke = reverse(
        "home-program-link-revoke",
        kwargs={"clinic_id": prescribed.clinic.public_id, "public_id": link["id"]},
    )
    response = client.post(revoke, {}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "revoked"
    assert client.get(link["url"]).status_code == 410


def test_api_link_with_a_bad_validity_is_400(prescribed, therapist, client_for):
    response = client_for(therapist).post(
        program_url(prescribed, "links"), {"valid_days": 365}, format="json"
    )
    assert_error(response, 400, "valid_days")


def test_api_sessions_record_list_and_adherence(prescribed, therapist, client_for):
    client = client_for(therapist)
    version = home.home_program_version_get(program=prescribed)
    items = [str(i.public_id) for i in version.items.all()]
    today = local_today(prescribed.clinic)
    for days_ago in (0, 1):
        response = client.post(
            program_url(prescribed, "sessions"),
            {
                "version": 1,
                "performed_on": str(today - dt.timedelta(days=days_ago)),
                "items": items,
                "pain": 2,
            },
            format="json",
        )
        assert response.status_code == 201, response.content
    assert response.json()["recorded_via"] == "staff"
    response = client.post(
        program_url(prescribed, "sessions"),
        {"version": 1, "performed_on": str(today + dt.timedelta(days=1)), "items": items},
        format="json",
    )
    assert_error(response, 400, "performed_on")
    listed = client.get(program_url(prescribed, "sessions")).json()
    assert listed["count"] == 2
    adherence = client.get(program_url(prescribed, "adherence")).json()
    assert adherence["done"] == 2
    assert adherence["weeks"][-1]["ends_on"] >= str(today)
    since = client.get(
        program_url(prescribed, "adherence"), {"since": str(today - dt.timedelta(days=0))}
    ).json()
    assert since["done"] == 1
    assert_error(client.get(program_url(prescribed, "adherence"), {"since": "soon"}), 400, "since")
    assert HomeSession.objects.count() == 2


def test_api_send_email_needs_consent_then_queues_once(
    prescribed, therapist, client_for, django_capture_on_commit_callbacks, monkeypatch
):
    from programs import tasks

    published: list[tuple[int, ...]] = []
    monkeypatch.setattr(
        tasks.home_program_email_send_task, "delay", lambda *ids: published.append(ids)
    )
    client = client_for(therapist)
    response = client.post(program_url(prescribed, "send-email"), {}, format="json")
    assert_error(response, 400, "patient", "no_email_consent")
    Patient.objects.filter(pk=prescribed.episode.patient_id).update(
        consent_email=True, email="t.patient@example.org"
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(program_url(prescribed, "send-email"), {}, format="json")
    assert response.status_code == 202, response.content
    assert response.json()["status"] == "requested"
    email = HomeProgramEmail.objects.get()
    assert published == [(email.pk,)]
    with django_capture_on_commit_callbacks(execute=True):
        again = client.post(program_url(prescribed, "send-email"), {}, format="json")
    assert again.status_code == 200
    assert published == [(email.pk,)]


def test_api_archive(prescribed, therapist, client_for):
    client = client_for(therapist)
    response = client.post(program_url(prescribed, "archive"), {}, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "archived"
    assert_error(client.post(program_url(prescribed, "archive"), {}, format="json"), 409)


def test_api_send_email_runs_the_task_after_commit_and_sends_the_pdf_once(
    prescribed, therapist, client_for, django_capture_on_commit_callbacks
):
    from django.core import mail

    from clinic.celery import app

    Patient.objects.filter(pk=prescribed.episode.patient_id).update(
        consent_email=True, email="t.patient@example.org"
    )
    saved = app.conf.task_always_eager
    app.conf.task_always_eager = True
    try:
        client = client_for(therapist)
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(program_url(prescribed, "send-email"), {}, format="json")
        assert response.status_code == 202
        with django_capture_on_commit_callbacks(execute=True):
            again = client.post(program_url(prescribed, "send-email"), {}, format="json")
    finally:
        app.conf.task_always_eager = saved
    assert again.status_code == 200
    assert again.json()["status"] == "sent"
    assert len(mail.outbox) == 1
    assert mail.outbox[0].attachments[0][2] == "application/pdf"
