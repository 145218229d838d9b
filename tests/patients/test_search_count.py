"""The patient search counts its matches only up to a cap (patients/api/pagination.py)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from patients.api.pagination import SEARCH_COUNT_CAP, CappedCountPaginator
from patients.models import Patient
from tests.factories import PatientFactory
from tests.patients.test_api import search

pytestmark = pytest.mark.django_db


@pytest.fixture
def desk(client_for, receptionist):
    return client_for(receptionist)


@pytest.fixture
def cap_of_three(monkeypatch):
    monkeypatch.setattr(CappedCountPaginator, "cap", 3)


def patient_reads(queries) -> list[str]:
    return [q["sql"].upper() for q in queries if "PATIENTS_PATIENT" in q["sql"].upper()]


def test_search_counts_exactly_below_the_cap(clinic, desk):
    PatientFactory.create_batch(2, clinic=clinic, last_name="Holloway")

    body = search(desk, clinic, "holloway").json()

    assert set(body) == {"count", "count_capped", "next", "previous", "results"}
    assert (body["count"], body["count_capped"]) == (2, False)
    assert len(body["results"]) == 2
    assert SEARCH_COUNT_CAP == 500


def test_a_page_and_its_count_are_one_query(clinic, desk):
    PatientFactory.create_batch(5, clinic=clinic, last_name="Holloway")
    PatientFactory(clinic=clinic, last_name="Okafor")

    with CaptureQueriesContext(connection) as queries:
        body = search(desk, clinic, "holloway", page_size=2).json()

    assert (body["count"], len(body["results"]), body["count_capped"]) == (5, 2, False)
    reads = patient_reads(queries)
    assert len(reads) == 1, reads  # no second scan of the matches to count them
    assert "COUNT(*) OVER ()" in reads[0]


def test_search_beyond_the_cap_says_so_and_pages_the_first_matches(clinic, desk, cap_of_three):
    for first in ("Ann", "Ben", "Cal", "Dee", "Eve"):
        PatientFactory(clinic=clinic, first_name=first, last_name="Holloway")
    PatientFactory(clinic=clinic, first_name="Zed", last_name="Okafor")

    body = search(desk, clinic, "holloway", page_size=2).json()

    assert (body["count"], body["count_capped"]) == (3, True)
    assert [row["first_name"] for row in body["results"]] == ["Ann", "Ben"]
    second = desk.post(body["next"], {"q": "holloway"}, format="json").json()
    assert [row["first_name"] for row in second["results"]] == ["Cal"]  # Dee is past the cap
    assert (second["count"], second["count_capped"], second["next"]) == (3, True, None)
    beyond = search(desk, clinic, "holloway", page_size=2, page=3)
    assert beyond.status_code == 404, beyond.content


def test_one_page_holds_the_whole_capped_answer(clinic, desk, cap_of_three):
    for first in ("Ann", "Ben", "Cal", "Dee", "Eve"):
        PatientFactory(clinic=clinic, first_name=first, last_name="Holloway")

    body = search(desk, clinic, "holloway").json()

    assert [row["first_name"] for row in body["results"]] == ["Ann", "Ben", "Cal"]
    assert (body["count"], body["count_capped"], body["next"]) == (3, True, None)


def test_an_empty_answer_is_one_empty_page(clinic, desk):
    PatientFactory(clinic=clinic, last_name="Okafor")

    body = search(desk, clinic, "holloway").json()

    assert (body["count"], body["count_capped"], body["results"]) == (0, False, [])
    assert (body["next"], body["previous"]) == (None, None)


@pytest.mark.parametrize("page", ["2", "0", "-1", "two", "1.5"])
def test_a_page_that_does_not_exist_is_a_404(clinic, desk, page):
    PatientFactory(clinic=clinic, last_name="Holloway")

    response = search(desk, clinic, "holloway", page=page)

    assert response.status_code == 404, response.content
    assert "page" in response.json()["detail"].lower()


def test_search_takes_the_same_queries_whatever_the_matches(clinic, desk, cap_of_three):
    """Below the cap, beyond it, with more pages or none: the same queries."""
    sizes = []
    for add in (0, 2, 1, 5):
        PatientFactory.create_batch(add, clinic=clinic, last_name="Holloway")
        with CaptureQueriesContext(connection) as queries:
            assert search(desk, clinic, "holloway", page_size=2).status_code == 200
        sizes.append(len(queries))
    assert len(set(sizes)) == 1, sizes


def test_a_count_read_before_any_page_stops_after_the_cap(clinic, cap_of_three):
    PatientFactory.create_batch(5, clinic=clinic, last_name="Holloway")
    matches = Patient.objects.for_clinic(clinic).matching("holloway").order_by("pk")

    with CaptureQueriesContext(connection) as queries:
        paginator = CappedCountPaginator(matches, 2)
        assert (paginator.count, paginator.capped) == (3, True)

    assert len(queries) == 1
    assert "LIMIT 4" in queries[0]["sql"].upper()
    assert [p.pk for p in paginator.page(2)] == [p.pk for p in matches[2:3]]
