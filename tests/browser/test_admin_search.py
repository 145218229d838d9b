"""The admin's searches in a real browser: the patients' search box and the visit form's patient
autocomplete find the patient while no part of the name ever reaches an address."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from clinic.capabilities import Role
from tests.browser.conftest import shoot
from tests.factories import DEFAULT_PASSWORD, ClinicFactory, PatientFactory, UserFactory

pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True)]

NAME_PARTS = ("margaret", "holloway", "hollo", "marg")


def _no_name_in(url: str) -> bool:
    return not any(part in url.lower() for part in NAME_PARTS)


def test_admin_search_and_autocomplete_keep_the_name_out_of_every_address(page, live_server):
    clinic = ClinicFactory(name="Riverside Physio")
    admin_user = UserFactory(clinic=clinic, role=Role.CLINIC_ADMIN)
    margaret = PatientFactory(
        clinic=clinic, mrn="RIV-0042", first_name="Margaret", last_name="Holloway"
    )
    PatientFactory(clinic=clinic, mrn="RIV-0043", first_name="Daniel", last_name="Okafor")
    requested: list[tuple[str, str]] = []
    page.on("request", lambda request: requested.append((request.method, request.url)))

    page.goto("/admin/login/")
    page.get_by_label("Username").fill(admin_user.username)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto("/admin/patients/patient/")

    # The change list's search box.
    page.locator("#searchbar").fill("Margaret Holloway")
    page.get_by_role("button", name="Search").click()
    results = page.locator("#result_list")
    expect(results).to_contain_text(margaret.mrn)
    expect(results).not_to_contain_text("RIV-0043")
    expect(page.locator("#searchbar")).to_have_value("Margaret Holloway")
    assert "qt=" in page.url
    assert _no_name_in(page.url), page.url
    shoot(page, "admin-patient-search")

    # A column's sorting link keeps the search.
    page.locator("#result_list thead th.sortable a").first.click()
    expect(page.locator("#result_list")).to_contain_text(margaret.mrn)
    expect(page.locator("#result_list")).not_to_contain_text("RIV-0043")
    assert _no_name_in(page.url), page.url

    # The visit form's patient autocomplete searches by POST.
    page.goto("/admin/patients/visit/add/")
    page.locator("#id_patient").locator("xpath=..").locator(".select2-selection").click()
    page.locator(".select2-search__field").press_sequentially("Hollo", delay=40)
    expect(page.locator(".select2-results__option", has_text=margaret.mrn)).to_be_visible()
    expect(page.locator(".select2-results__option", has_text="RIV-0043")).to_have_count(0)
    shoot(page, "admin-visit-patient-autocomplete")

    autocompletes = [(m, u) for m, u in requested if "/admin/autocomplete/" in u]
    assert autocompletes, "the widget asked the server"
    assert {m for m, _ in autocompletes} == {"POST"}
    assert all(_no_name_in(url) for _, url in requested), [u for _, u in requested]
