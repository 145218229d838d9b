"""Admin searches keep patient data out of URLs: the change-list search box posts the text, the
list opens at `?qt=<token>` (the text waits in the session), a search in the URL (`?q=`) is a 400
saying to use the search box, and the autocomplete widgets post their term. Walked over every
admin whose search can match patient data (clinic/admin_base.py, `searches_patient_data`)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from django.contrib import admin
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from clinic.admin_base import (
    SEARCH_ENDED_MESSAGE,
    SEARCH_TOKEN_VAR,
    SEARCHES_KEPT,
    ClinicScopedAdmin,
    PostedAutocompleteSelect,
    searches_patient_data,
)
from clinic.models import Room, User
from patients.models import EpisodeOfCare, Patient, Visit
from programs.models import Exercise
from tests.factories import PatientFactory, RoomFactory, VisitFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:patients_patient_changelist"
SEARCH = "admin:patients_patient_search"
NAME_PARTS = ("margaret", "holloway", "holl", "marg")

PATIENT_DATA_ADMINS = sorted(
    (
        (model, model_admin)
        for model, model_admin in admin.site._registry.items()
        if model_admin.search_fields and searches_patient_data(model_admin)
    ),
    key=lambda pair: pair[0]._meta.label,
)
PATIENT_DATA_IDS = [model._meta.label for model, _ in PATIENT_DATA_ADMINS]


@pytest.fixture
def admin_client(client, clinic_admin) -> Client:
    client.force_login(clinic_admin)
    return client


@pytest.fixture
def margaret(clinic) -> Patient:
    return PatientFactory(
        clinic=clinic,
        mrn="OURS-0001",
        first_name="Margaret",
        last_name="Holloway",
        date_of_birth=dt.date(1951, 3, 14),
        phone="860-555-0111",
    )


@pytest.fixture
def others(clinic, other_clinic) -> list[Patient]:
    """A patient of the clinic who matches nothing, and a namesake of Margaret's in the other
    clinic (never found by its administrator)."""
    return [
        PatientFactory(clinic=clinic, first_name="Daniel", last_name="Okafor", phone=""),
        PatientFactory(
            clinic=other_clinic,
            mrn="OURS-0001",
            first_name="Margaret",
            last_name="Holloway",
            date_of_birth=dt.date(1951, 3, 14),
            phone="860-555-0111",
        ),
    ]


def search(client: Client, q: str, url_name: str = SEARCH, **fields: Any) -> Any:
    return client.post(reverse(url_name), {"q": q, **fields})


def token_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)[SEARCH_TOKEN_VAR][0]


def urls_in(html: str) -> list[str]:
    """Every address a page links to, submits to or loads."""
    return [unquote(u) for u in re.findall(r'(?:href|action|src)="([^"]*)"', html)]


def assert_no_name_in(url: str) -> None:
    lowered = unquote(url).lower()
    for part in NAME_PARTS:
        assert part not in lowered, f"{part!r} in {url!r}"


# --- The search box ---------------------------------------------------------------------------


@pytest.mark.parametrize("q", ["Holloway", "holl", "marg", "1951-03-14", "OURS-0001", "555-0111"])
def test_search_by_post_redirects_to_a_token_and_finds_the_patient(
    admin_client, margaret, others, q
):
    response = search(admin_client, q)

    assert response.status_code == 303
    path, _, query = response.url.partition("?")
    assert path == reverse(CHANGELIST)
    assert list(parse_qs(query)) == [SEARCH_TOKEN_VAR]
    assert q.lower() not in response.url.lower()
    listed = admin_client.get(response.url)
    assert listed.status_code == 200
    assert list(listed.context["cl"].result_list) == [margaret]
    assert listed.context["cl"].query == q


def test_no_url_the_search_produces_holds_any_part_of_the_name(admin_client, margaret, others):
    response = search(admin_client, "Margaret Holloway")
    assert_no_name_in(response.url)
    page = admin_client.get(response.url)
    html = page.content.decode()

    # The text is shown back in the search box (the page body), escaped, not in any address.
    assert 'value="Margaret Holloway" id="searchbar"' in html
    assert 'method="post" action="/admin/patients/patient/search/"' in html
    links = urls_in(html)
    assert any("o=" in url and SEARCH_TOKEN_VAR in url for url in links), "sorting keeps qt"
    for url in links:
        assert_no_name_in(url)
    assert list(page.context["cl"].result_list) == [margaret]


def test_search_keeps_the_lists_filters_sorting_and_popup_flags_drops_the_page(
    admin_client, margaret, clinic
):
    response = search(
        admin_client, "holl", archived="no", clinic=str(clinic.pk), o="2", p="3", _popup="1"
    )

    params = parse_qs(urlsplit(response.url).query)
    assert set(params) == {"archived", "clinic", "o", "_popup", SEARCH_TOKEN_VAR}
    assert params["archived"] == ["no"]
    page = admin_client.get(response.url)
    assert page.status_code == 200
    assert list(page.context["cl"].result_list) == [margaret]
    # The list's own search box posts the filters again, not the token nor the text.
    html = page.content.decode()
    assert '<input type="hidden" name="archived" value="no">' in html
    assert f'type="hidden" name="{SEARCH_TOKEN_VAR}"' not in html


def test_an_empty_search_goes_back_to_the_whole_list(admin_client, margaret, others):
    response = search(admin_client, "   ", archived="no")
    assert response.status_code == 303
    assert response.url == reverse(CHANGELIST) + "?archived=no"


def test_a_search_over_100_characters_is_a_400_naming_q(admin_client, margaret):
    response = search(admin_client, "x" * 101)
    assert response.status_code == 400
    assert "q: a search is at most 100 characters" in response.content.decode()


def test_the_search_address_takes_only_post(admin_client):
    assert admin_client.get(reverse(SEARCH)).status_code == 405


def test_staff_without_the_admin_cannot_search(client, receptionist, margaret):
    client.force_login(receptionist)
    response = search(client, "holl")
    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))
    assert not client.session.get("admin_searches")


# --- A search in the URL ----------------------------------------------------------------------


def test_a_get_search_in_the_url_is_a_400_that_says_to_use_the_search_box(admin_client, margaret):
    response = admin_client.get(reverse(CHANGELIST), {"q": "Holloway", "archived": "no"})

    assert response.status_code == 400
    html = response.content.decode()
    assert "q: searches here go through the search box" in html
    assert "Holloway" not in html  # never echoed
    assert f'href="{reverse(CHANGELIST)}?archived=no"' in html  # back, without the text
    assert "cl" not in (response.context or {})  # nothing was searched


@pytest.mark.parametrize(("model", "model_admin"), PATIENT_DATA_ADMINS, ids=PATIENT_DATA_IDS)
def test_every_patient_data_search_refuses_the_url_and_works_by_post(
    admin_client, model, model_admin, margaret
):
    prefix = f"admin:{model._meta.app_label}_{model._meta.model_name}"
    changelist = reverse(f"{prefix}_changelist")

    assert admin_client.get(changelist, {"q": "OURS-0001"}).status_code == 400
    posted = admin_client.post(reverse(f"{prefix}_search"), {"q": "OURS-0001"})
    assert posted.status_code == 303
    assert "OURS" not in posted.url
    page = admin_client.get(posted.url)
    assert page.status_code == 200
    assert page.context["cl"].query == "OURS-0001"
    assert page.context["cl"].search_post_url == reverse(f"{prefix}_search")


def test_the_walk_covers_patients_visits_and_the_clinical_record():
    searched = {model for model, _ in PATIENT_DATA_ADMINS}
    assert {Patient, Visit, EpisodeOfCare} <= searched
    assert not searched & {Room, User, Exercise}
    # Every one of them gets the posted search from the scoped base class.
    assert all(isinstance(model_admin, ClinicScopedAdmin) for _, model_admin in PATIENT_DATA_ADMINS)


def test_a_harmless_search_stays_a_get(admin_client, clinic):
    room = RoomFactory(clinic=clinic, name="Gym")
    RoomFactory(clinic=clinic, name="Room B")
    response = admin_client.get(reverse("admin:clinic_room_changelist"), {"q": "gym"})
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [room]
    assert response.context["cl"].search_post_url == ""
    assert 'id="changelist-search" role="search" method="get"' in response.content.decode()


# --- Tokens -----------------------------------------------------------------------------------


def test_another_sessions_token_finds_nothing(admin_client, clinic_admin, margaret, others):
    url = search(admin_client, "Holloway").url
    stranger = Client()
    stranger.force_login(clinic_admin)  # the same person, another session

    response = stranger.get(url)

    assert response.status_code == 303
    assert response.url == reverse(CHANGELIST)
    assert [str(m) for m in get_messages(response.wsgi_request)] == [SEARCH_ENDED_MESSAGE]
    whole = stranger.get(response.url)
    assert set(whole.context["cl"].result_list) == {margaret, others[0]}


def test_an_unknown_token_shows_the_whole_list_with_a_word(admin_client, margaret, others):
    response = admin_client.get(
        reverse(CHANGELIST), {SEARCH_TOKEN_VAR: "no-such-token", "archived": "no"}, follow=True
    )
    assert response.redirect_chain == [(reverse(CHANGELIST) + "?archived=no", 303)]
    assert response.status_code == 200
    assert SEARCH_ENDED_MESSAGE in response.content.decode()
    assert set(response.context["cl"].result_list) == {margaret, others[0]}


def test_a_token_opens_only_the_list_it_was_made_for(admin_client, margaret):
    token = token_of(search(admin_client, "OURS-0001").url)
    response = admin_client.get(reverse("admin:patients_visit_changelist"), {"qt": token})
    assert response.status_code == 303
    assert response.url == reverse("admin:patients_visit_changelist")


def test_an_action_under_an_ended_search_changes_nothing(admin_client, margaret, others):
    """Under a forgotten token, "select all" would take the whole list: nothing is done."""
    response = admin_client.post(
        reverse(CHANGELIST) + "?qt=forgotten",
        {"action": "archive_patients", "select_across": "1", "_selected_action": [margaret.pk]},
    )
    assert response.status_code == 303
    assert not Patient.objects.filter(archived_at__isnull=False).exists()


def test_an_action_on_the_searched_list_takes_the_searched_rows(admin_client, margaret, others):
    url = search(admin_client, "holloway").url
    response = admin_client.post(
        url,
        {"action": "archive_patients", "select_across": "1", "_selected_action": [margaret.pk]},
    )
    assert response.status_code == 302
    assert response.url == url  # back to the searched list
    assert set(Patient.objects.filter(archived_at__isnull=False)) == {margaret}


def test_only_the_latest_searches_are_kept(admin_client, margaret):
    first = search(admin_client, "holl").url
    for _ in range(SEARCHES_KEPT):
        search(admin_client, "marg")
    assert admin_client.get(first).status_code == 303  # forgotten
    assert len(admin_client.session["admin_searches"]) == SEARCHES_KEPT


def test_the_search_text_is_kept_in_the_session_only(admin_client, margaret):
    response = search(admin_client, "Holloway")
    kept = admin_client.session["admin_searches"]
    assert kept == {token_of(response.url): ["patients.patient", "Holloway"]}


# --- Pagination, sorting and filters keep the search ------------------------------------------


@pytest.fixture
def two_per_page(monkeypatch):
    monkeypatch.setattr(admin.site.get_model_admin(Patient), "list_per_page", 2)


def test_pagination_keeps_the_query(admin_client, clinic, two_per_page):
    hollis = [
        PatientFactory(clinic=clinic, first_name=f"Ann{n}", last_name="Hollis", mrn=f"H-{n}")
        for n in range(3)
    ]
    PatientFactory.create_batch(3, clinic=clinic, last_name="Okafor")
    url = search(admin_client, "hollis", o="-1").url
    first = admin_client.get(url)
    html = first.content.decode()
    token = token_of(url)

    page_links = [u for u in urls_in(html) if "p=2" in u]
    assert page_links, "the list has a second page"
    assert all(f"qt={token}" in u for u in page_links)
    second = admin_client.get(reverse(CHANGELIST) + page_links[0].replace("&amp;", "&"))
    shown = list(first.context["cl"].result_list) + list(second.context["cl"].result_list)
    assert sorted(p.pk for p in shown) == sorted(p.pk for p in hollis)
    assert second.context["cl"].query == "hollis"
    filter_links = [u for u in urls_in(second.content.decode()) if "archived=" in u]
    assert filter_links
    assert all(f"qt={token}" in u for u in filter_links)


def test_a_filter_applies_with_the_search(admin_client, clinic, margaret):
    archived = PatientFactory(
        clinic=clinic, first_name="Mara", last_name="Holloway", archived_at=dt.datetime.now(dt.UTC)
    )
    url = search(admin_client, "holloway", archived="yes").url
    assert list(admin_client.get(url).context["cl"].result_list) == [archived]


# --- Query counts -----------------------------------------------------------------------------


def test_the_searched_list_takes_the_same_few_queries_for_1_or_10_matches(
    admin_client, clinic, django_assert_max_num_queries, django_assert_num_queries
):
    PatientFactory(clinic=clinic, last_name="Hollis")
    url = search(admin_client, "hollis").url
    admin_client.get(url)  # warm: content types, the admin's first request
    # The session, the user, their admin memberships, their permissions (2), the clinic
    # filter's clinics, the count (and PostgreSQL's estimate), the rows. Nothing per row, and
    # reading the search from the session costs nothing more.
    with django_assert_max_num_queries(9) as one:
        assert len(admin_client.get(url).context["cl"].result_list) == 1
    PatientFactory.create_batch(9, clinic=clinic, last_name="Hollis")
    with django_assert_num_queries(len(one)):
        assert len(admin_client.get(url).context["cl"].result_list) == 10
    with django_assert_num_queries(len(one)):  # the unsearched list takes as many
        admin_client.get(reverse(CHANGELIST))


# --- Autocomplete -----------------------------------------------------------------------------

AUTOCOMPLETE = "admin:autocomplete"


def autocomplete(client: Client, method: str, field: str = "patient", term: str = "", **extra):
    data = {"app_label": "patients", "model_name": "visit", "field_name": field, "term": term}
    return getattr(client, method)(reverse(AUTOCOMPLETE), {**data, **extra})


def test_autocomplete_by_post_finds_only_the_clinics_patients(admin_client, margaret, others):
    response = autocomplete(admin_client, "post", term="holloway")
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [str(margaret.pk)]


def test_autocomplete_by_post_pages_like_django(admin_client, clinic):
    PatientFactory.create_batch(21, clinic=clinic, last_name="Hollis")
    first = autocomplete(admin_client, "post", term="hollis").json()
    second = autocomplete(admin_client, "post", term="hollis", page="2").json()
    assert (len(first["results"]), first["pagination"]["more"]) == (20, True)
    assert (len(second["results"]), second["pagination"]["more"]) == (1, False)
    assert not {r["id"] for r in first["results"]} & {r["id"] for r in second["results"]}


def test_autocomplete_get_with_a_patient_term_is_a_400_naming_term(admin_client, margaret):
    response = autocomplete(admin_client, "get", term="holloway")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["term"]
    # No typed text, no refusal: select2's first page and Django's own callers still work.
    assert autocomplete(admin_client, "get").status_code == 200
    # Rooms and staff hold no patient data: their GET stays as Django's.
    RoomFactory(clinic=margaret.clinic, name="Gym")
    rooms = autocomplete(admin_client, "get", field="room", term="gym")
    assert rooms.status_code == 200


def test_autocomplete_by_post_needs_the_csrf_token(clinic_admin, margaret):
    client = Client(enforce_csrf_checks=True)
    client.force_login(clinic_admin)
    client.get(reverse("admin:patients_visit_add"))  # sets the CSRF cookie, as the form does
    assert autocomplete(client, "post", term="holloway").status_code == 403
    token = client.cookies["csrftoken"].value
    response = client.post(
        reverse(AUTOCOMPLETE),
        {"app_label": "patients", "model_name": "visit", "field_name": "patient", "term": "holl"},
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [str(margaret.pk)]


def test_autocomplete_by_post_is_refused_outside_the_admin(client, receptionist, margaret):
    client.force_login(receptionist)
    response = autocomplete(client, "post", term="holloway")
    assert response.status_code == 302  # to the admin's sign-in
    anonymous = autocomplete(Client(), "post", term="holloway")
    assert anonymous.status_code == 302


def test_the_visit_form_widgets_post_their_term(admin_client, clinic):
    VisitFactory(clinic=clinic)
    page = admin_client.get(reverse("admin:patients_visit_add"))
    html = page.content.decode()
    widget = page.context["adminform"].form.fields["patient"].widget.widget
    assert isinstance(widget, PostedAutocompleteSelect)
    assert html.count('data-ajax--type="POST"') == 3  # patient, therapist, room
    assert 'data-ajax--type="GET"' not in html
    scripts = re.findall(r'<script src="([^"]+)"', html)
    names = [s.rsplit("/", 1)[-1] for s in scripts]
    assert names.index("admin_autocomplete.js") > names.index("autocomplete.js")
