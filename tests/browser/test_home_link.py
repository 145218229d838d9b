"""The patient's home-programme link in a real browser: no login, the programme and the form
render without any Content Security Policy violation, a session is recorded, and a link that
was revoked says so. Screenshots of each page."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from programs import home
from programs.models import HomeSession
from tests.browser.conftest import shoot
from tests.factories import EpisodeOfCareFactory, therapist_in
from tests.programs.helpers import exercise

pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_patient_records_a_session_through_the_link(page, live_server):
    episode = EpisodeOfCareFactory()
    therapist = therapist_in(episode.clinic, discipline="PT")
    program = home.home_program_create(
        episode=episode,
        by=therapist,
        items=[exercise("bird-dog"), exercise("hamstring-stretch")],
        starts_on=episode.started_on,
        notes="Walk every day.",
    )
    link = home.home_link_create(program=program, by=therapist)
    path = f"/home-programme/{home.home_link_token(link)}/"

    page.goto(path)
    expect(page.get_by_role("heading", level=1)).to_have_text("Your home exercise programme")
    expect(page.locator(".exercise")).to_have_count(2)
    shoot(page, "patient-link-programme")
    page.get_by_label("Hamstring stretch").check()
    page.get_by_label("Pain during the exercises").select_option("3")
    page.get_by_label("Comment for your therapist").fill("A little stiff.")
    page.get_by_role("button", name="Record the session").click()
    expect(page.get_by_role("status")).to_contain_text("your session is recorded")
    shoot(page, "patient-link-recorded")
    session = HomeSession.objects.get()
    assert (session.pain, session.comment, session.items.count()) == (3, "A little stiff.", 1)

    home.home_link_revoke(link=link, by=therapist)
    page.goto(path)
    expect(page.get_by_role("heading", level=1)).to_have_text("This link does not open")
    shoot(page, "patient-link-revoked")
    # Chromium logs the 410 (Gone) of the revoked link as a console error: it is the answer this
    # step expects, so only that one is taken off the watch's list.
    gone = [p for p in page.watch.problems if "status of 410 (Gone)" in p]
    assert len(gone) == 1
    page.watch.problems.remove(gone[0])
