"""The admin of home programmes: read-only records, archive and revoke through the services,
nothing added or deleted. (Scoping to the admin's clinics is walked for every scoped admin in
tests/clinic/test_admin.py.)"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from programs import home
from programs.models import HomeProgram, HomeProgramLink
from tests.factories import HomeProgramFactory, HomeProgramLinkFactory
from tests.text import mentions

pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_admin_home_programme_page_shows_versions_links_and_sessions(
    clinic, clinic_admin, django_assert_max_num_queries
):
    # A name no generated staff name or page text can contain (a generated "Taylor" was a
    # staff member's first name on the page).
    program = HomeProgramFactory(clinic=clinic, episode__patient__last_name="Quillfeatherby")
    link = HomeProgramLinkFactory(program=program)
    client = signed_in(clinic_admin)
    page = client.get(reverse("admin:programs_homeprogram_change", args=[program.pk]))
    assert page.status_code == 200
    text = page.content.decode()
    assert "Bird dog" in text or "Bird-dog" in text
    assert "2 x 10, hold 5 s, 5 days/week" in text
    assert str(link.expires_at.year) in text
    assert not mentions(text, program.episode.patient.last_name)
    with django_assert_max_num_queries(25):
        listing = client.get(reverse("admin:programs_homeprogram_changelist"))
    assert listing.status_code == 200
    assert program.episode.patient.mrn in listing.content.decode()


def test_admin_home_programmes_cannot_be_added_or_deleted(clinic, clinic_admin):
    program = HomeProgramFactory(clinic=clinic)
    client = signed_in(clinic_admin)
    assert client.get(reverse("admin:programs_homeprogram_add")).status_code == 403
    response = client.post(
        reverse("admin:programs_homeprogram_delete", args=[program.pk]), {"post": "yes"}
    )
    assert response.status_code == 403
    assert HomeProgram.objects.filter(pk=program.pk).exists()


def test_admin_archive_action_goes_through_the_service(clinic, clinic_admin):
    program = HomeProgramFactory(clinic=clinic)
    link = HomeProgramLinkFactory(program=program)
    response = signed_in(clinic_admin).post(
        reverse("admin:programs_homeprogram_changelist"),
        {"action": "archive", "_selected_action": [program.pk]},
    )
    assert response.status_code == 302
    program.refresh_from_db()
    assert program.status == "archived"
    assert program.history.first().history_user == clinic_admin
    with pytest.raises(home.LinkRefused):
        home.home_link_open(token=home.home_link_token(link))


def test_admin_revoke_action_revokes_the_links(clinic, clinic_admin):
    link = HomeProgramLinkFactory(clinic=clinic)
    response = signed_in(clinic_admin).post(
        reverse("admin:programs_homeprogramlink_changelist"),
        {"action": "revoke", "_selected_action": [link.pk]},
    )
    assert response.status_code == 302
    link.refresh_from_db()
    assert link.revoked_at is not None
    assert link.revoked_by == clinic_admin
    assert HomeProgramLink.objects.filter(revoked_at__isnull=True).count() == 0
