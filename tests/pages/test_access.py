"""Who reaches which page: sign-in (with the lockout), the landing page of each role, the clinic
of the URL resolved through the memberships (404 outside them, 403 without the capability)."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from clinic.capabilities import Role
from clinic.security import LOCKOUT_MAX_PER_ACCOUNT, LOCKOUT_MESSAGE
from tests.factories import DEFAULT_PASSWORD, MembershipFactory, UserFactory


def url(practice, name: str, **kwargs: object) -> str:
    return reverse(name, kwargs={"clinic_id": practice.clinic.public_id, **kwargs})


def clinical_pages(practice) -> list[str]:
    evaluation = practice.episode.evaluations.create(
        clinic=practice.clinic,
        kind="initial",
        author=practice.therapist,
        performed_on=practice.today(),
    )
    return [
        url(practice, "pages:worklist"),
        url(practice, "pages:chart", patient_id=practice.patient.public_id),
        url(practice, "pages:note", visit_id=practice.visit_now.public_id),
        url(practice, "pages:evaluation", evaluation_id=evaluation.public_id),
    ]


def desk_pages(practice) -> list[str]:
    return [
        url(practice, "pages:frontdesk"),
        url(practice, "pages:frontdesk_lists"),
        url(practice, "pages:therapist_week", therapist_id=practice.therapist.public_id),
        url(practice, "pages:book"),
        url(practice, "pages:visit", visit_id=practice.visit_now.public_id),
        url(practice, "pages:visit_move", visit_id=practice.visit_now.public_id),
    ]


def test_pages_send_anonymous_users_to_sign_in(practice):
    client = Client()
    for page in desk_pages(practice) + clinical_pages(practice):
        response = client.get(page)
        assert response.status_code == 302, page
        assert response["Location"] == f"/login/?next={page}"


def test_home_sends_anonymous_users_to_sign_in(db):
    response = Client().get("/")
    assert response.status_code == 302
    assert response["Location"] == reverse("pages:login")


def test_each_role_lands_on_its_page(practice, login):
    clinic_home = url(practice, "pages:clinic_home")
    receptionist = login(practice.receptionist)
    assert receptionist.get("/")["Location"] == clinic_home
    assert receptionist.get(clinic_home)["Location"] == url(practice, "pages:frontdesk")
    therapist = login(practice.therapist)
    assert therapist.get(clinic_home)["Location"] == url(practice, "pages:worklist")
    admin = login(UserFactory(clinic=practice.clinic, role=Role.CLINIC_ADMIN))
    assert admin.get(clinic_home)["Location"] == reverse("admin:index")


def test_home_returns_to_the_clinic_last_worked_in(practice, other_clinic, login):
    MembershipFactory(user=practice.receptionist, clinic=other_clinic, role=Role.RECEPTIONIST)
    client = login(practice.receptionist)
    other_home = reverse("pages:clinic_home", kwargs={"clinic_id": other_clinic.public_id})
    other_desk = reverse("pages:frontdesk", kwargs={"clinic_id": other_clinic.public_id})
    page = client.get(other_desk)
    assert page.status_code == 200
    # The switcher lists both clinics.
    assert practice.clinic.name in page.content.decode()
    assert client.get("/")["Location"] == other_home


def test_a_clinic_the_user_is_not_a_member_of_is_404(practice, outsider, login):
    client = login(outsider)
    for page in desk_pages(practice) + clinical_pages(practice):
        assert client.get(page).status_code == 404, page


def test_an_unknown_clinic_is_404(practice, login):
    client = login(practice.therapist)
    page = reverse("pages:frontdesk", kwargs={"clinic_id": "00000000-0000-0000-0000-000000000000"})
    assert client.get(page).status_code == 404


def test_the_front_desk_gets_403_on_clinical_pages(practice, login):
    client = login(practice.receptionist)
    for page in clinical_pages(practice):
        assert client.get(page).status_code == 403, page
    for page in desk_pages(practice):
        assert client.get(page).status_code == 200, page


def test_a_therapist_uses_the_front_desk_pages_too(practice, login):
    client = login(practice.therapist)
    for page in desk_pages(practice) + clinical_pages(practice):
        assert client.get(page).status_code == 200, page


def test_every_page_view_declares_a_capability():
    """The pages use the API's capability map: each clinic page names the one it needs."""
    from clinic import page_urls
    from clinic.capabilities import Capability
    from clinic.pages import ClinicPageMixin

    views = {
        p.callback.view_class
        for p in _patterns(page_urls.urlpatterns)
        if hasattr(p.callback, "view_class")
    }
    public = {"PageLoginView", "PageLogoutView"}
    checked = 0
    for view in views:
        if view.__name__ in public:
            continue
        assert issubclass(view, ClinicPageMixin), view
        assert isinstance(view.capability, Capability), view
        checked += 1
    assert checked >= 15


def _patterns(patterns):
    for p in patterns:
        if hasattr(p, "url_patterns"):
            yield from _patterns(p.url_patterns)
        else:
            yield p


@pytest.mark.parametrize("path", ["/login/"])
def test_the_sign_in_page_sends_the_csp_and_no_inline_script(db, path):
    response = Client().get(path)
    assert response.status_code == 200
    assert "default-src 'self'" in response["Content-Security-Policy"]
    body = response.content.decode()
    assert "<script>" not in body
    assert "style=" not in body


def test_the_page_sign_in_locks_out_after_repeated_failures(practice):
    client = Client()
    username = practice.receptionist.username
    for _ in range(LOCKOUT_MAX_PER_ACCOUNT):
        failed = client.post("/login/", {"username": username, "password": "wrong-password-123"})
        assert failed.status_code == 200
        assert "Please enter a correct username and password" in failed.content.decode()
    locked = client.post("/login/", {"username": username, "password": DEFAULT_PASSWORD})
    assert locked.status_code == 200
    assert LOCKOUT_MESSAGE in locked.content.decode()
    assert "_auth_user_id" not in client.session


def test_signing_in_and_out(practice):
    client = Client()
    response = client.post(
        "/login/", {"username": practice.therapist.username, "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.session["_auth_user_id"] == str(practice.therapist.pk)
    assert client.get(reverse("pages:logout")).status_code == 405  # sign out is a POST
    assert client.post(reverse("pages:logout")).status_code == 302
    assert "_auth_user_id" not in client.session


def test_pages_are_never_cached(practice, login):
    response = login(practice.receptionist).get(url(practice, "pages:frontdesk"))
    assert "no-store" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]


def test_the_favicon_is_served_for_pages_that_name_none(db):
    response = Client().get("/favicon.ico")
    assert response.status_code == 301
    assert response["Location"] == "/static/clinic/favicon.svg"
