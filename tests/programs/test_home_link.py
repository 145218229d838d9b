"""The patient's link pages (no login): the current programme, recording a session, and every
way a link is refused; the pages keep to the Content Security Policy and log ids only."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from programs import home
from programs.models import HomeProgram, HomeProgramLink, HomeSession
from tests.programs.helpers import exercise, local_today

pytestmark = pytest.mark.django_db


@pytest.fixture
def program(episode, therapist) -> HomeProgram:
    return home.home_program_create(
        episode=episode,
        by=therapist,
        items=[exercise("bird-dog"), exercise("prone-on-elbows")],
        starts_on=episode.started_on,
    )


@pytest.fixture
def link(program, therapist) -> HomeProgramLink:
    return home.home_link_create(program=program, by=therapist)


def page(link: HomeProgramLink, name: str = "home-link-page") -> str:
    return reverse(name, kwargs={"token": home.home_link_token(link)})


def form(program: HomeProgram, **fields):
    version = home.home_program_version_get(program=program)
    return {
        "version": str(version.version),
        "performed_on": str(local_today(program.clinic)),
        "items": [str(i.public_id) for i in version.items.all()],
        "pain": "3",
        "comment": "Felt looser afterwards.",
        **fields,
    }


def test_link_page_shows_the_current_programme_without_a_login(link, program, episode):
    response = Client().get(page(link))
    assert response.status_code == 200
    text = response.content.decode()
    assert "Bird dog" in text or "Bird-dog" in text
    assert "2 x 10, hold 5 s, 5 days/week" in text
    assert episode.patient.first_name in text
    assert 'name="items"' in text
    assert "<script" not in text
    assert "style=" not in text
    assert "programs/patient_link.css" in text
    assert response["Cache-Control"] == "no-store"
    assert response["Referrer-Policy"] == "same-origin"
    assert "default-src 'self'" in response["Content-Security-Policy"]


def test_link_page_records_a_session_and_says_thank_you(link, program):
    client = Client(enforce_csrf_checks=True)
    client.get(page(link))  # sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    response = client.post(
        page(link, "home-link-session"), {**form(program), "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 302
    assert response["Location"] == page(link, "home-link-thanks")
    session = HomeSession.objects.get()
    assert (session.link, session.pain, session.comment) == (link, 3, "Felt looser afterwards.")
    assert session.items.count() == 2
    thanks = client.get(response["Location"])
    assert "your session is recorded" in thanks.content.decode()


def test_link_session_without_the_csrf_token_is_refused(link, program):
    response = Client(enforce_csrf_checks=True).post(page(link, "home-link-session"), form(program))
    assert response.status_code == 403
    assert not HomeSession.objects.exists()


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"performed_on": "2999-01-01"}, "performed_on"),
        ({"performed_on": "not a date"}, "performed_on"),
        ({"pain": "12"}, "pain"),
        ({"items": []}, "items"),
        ({"items": ["8d0f9c3e-5d4b-4e55-9a1e-7f3c2b1a0d9e"]}, "items"),
        ({"comment": "x" * (home.COMMENT_MAX + 1)}, "comment"),
    ],
)
def test_link_session_bad_input_is_400_naming_the_field_and_saves_nothing(
    link, program, fields, field
):
    response = Client().post(page(link, "home-link-session"), form(program, **fields))
    assert response.status_code == 400
    assert f'data-field="{field}"' in response.content.decode()
    assert not HomeSession.objects.exists()


def test_link_session_before_the_prescription_is_400(link, program):
    day = home.home_program_version_get(program=program).starts_on - dt.timedelta(days=1)
    response = Client().post(page(link, "home-link-session"), form(program, performed_on=str(day)))
    assert response.status_code == 400
    assert not HomeSession.objects.exists()


def test_link_session_for_a_superseded_version_is_409_and_shows_the_new_one(
    link, program, therapist
):
    old = form(program)
    home.home_program_revise(program=program, by=therapist, version=1, items=[exercise("walking")])
    response = Client().post(page(link, "home-link-session"), old)
    assert response.status_code == 409
    text = response.content.decode()
    assert "changed the programme" in text
    assert "Walking" in text
    assert not HomeSession.objects.exists()


def test_link_tampered_token_is_404(link):
    token = home.home_link_token(link)
    forged = token[:-2] + ("xx" if not token.endswith("xx") else "yy")
    response = Client().get(reverse("home-link-page", kwargs={"token": forged}))
    assert response.status_code == 404
    assert "does not open" in response.content.decode()


def test_link_expired_revoked_or_archived_is_410_and_records_nothing(link, program, therapist):
    client = Client()
    HomeProgramLink.objects.filter(pk=link.pk).update(expires_at=timezone.now())
    assert client.get(page(link)).status_code == 410
    assert client.post(page(link, "home-link-session"), form(program)).status_code == 410

    revoked = home.home_link_create(program=program, by=therapist)
    home.home_link_revoke(link=revoked, by=therapist)
    response = client.get(page(revoked))
    assert response.status_code == 410
    assert "withdrawn" in response.content.decode()

    archived = home.home_link_create(program=program, by=therapist)
    home.home_program_archive(program=program, by=therapist)
    assert client.get(page(archived)).status_code == 410
    assert client.post(page(archived, "home-link-session"), form(program)).status_code == 410
    assert client.get(page(archived, "home-link-handout")).status_code == 410
    assert not HomeSession.objects.exists()


def test_link_handout_pdf(link):
    response = Client().get(page(link, "home-link-handout"))
    assert response.status_code == 200
    assert response.content[:5] == b"%PDF-"


def test_link_opening_is_logged_with_ids_only(link, program, episode, caplog):
    with caplog.at_level(logging.INFO, logger="programs.home"):
        Client().get(page(link))
        Client().post(page(link, "home-link-session"), form(program))
    text = caplog.text
    assert f"home_link.opened link={link.public_id}" in text
    assert "home_session.recorded" in text
    patient = episode.patient
    for secret in (patient.first_name, patient.last_name, home.home_link_token(link)):
        assert secret not in text
    link.refresh_from_db()
    assert link.open_count == 1
