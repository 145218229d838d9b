"""The patient search counts its matches only up to a cap (patients/api/pagination.py)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from patients.api.pagination import SEARCH_COUNT_CAP, CappedCountPaginator
from tests.factories import PatientFactory
from tests.patients.test_api import search

pytestmark = pytest.mark.django_db


@pytest.fixture
def desk(client_for, receptionist):
    return client_for(receptionist)


@pytest.fixture
def cap_of_three(monkeypatch):
    monkeypatch.setattr(CappedCountPaginator, "cap", 3)


def test_search_counts_exactly_below_the_cap(clinic, desk):
    PatientFactory.create_batch(2, clinic=clinic, last_name="Holloway")

    body = search(desk, clinic, "holloway").json()

    assert set(body) == {"count", "count_capped", "next", "previous", "results"}
    assert (body["count"], body["count_capped"]) == (2, False)
    assert len(body["results"]) == 2
    assert SEARCH_COUNT_CAP == 500


def test_search_beyond_the_cap_says_so_and_pages_the_first_matches(clinic, desk, cap_of_three):
    for first in ("Ann", "Ben", "Cal", "Dee", "Eve"):
        PatientFactory(clinic=clinic, first_name=first, last_name="Holloway")
    PatientFactory(clinic=clinic, first_name="Zed", last_name="Okafor")

    with CaptureQueriesContext(connection) as queries:
        body = search(desk, clinic, "holloway", page_size=2).json()

    assert (body["count"], body["count_capped"]) == (3, True)
    assert [row["first_name"] for row in body["results"]] == ["Ann", "Ben"]
    counts = [q["sql"].upper() for q in queries if "COUNT(" in q["sql"].upper()]
    assert len(counts) == 1
    assert "LIMIT 4" in counts[0]  # stops after cap + 1 rows, never counts every match
    second = desk.post(body["next"], {"q": "holloway"}, format="json").json()
    assert [row["first_name"] for row in second["results"]] == ["Cal"]
    assert second["next"] is None


def test_search_takes_the_same_queries_below_and_beyond_the_cap(clinic, desk, cap_of_three):
    PatientFactory.create_batch(2, clinic=clinic, last_name="Holloway")
    with CaptureQueriesContext(connection) as few:
        assert search(desk, clinic, "holloway").json()["count_capped"] is False
    PatientFactory.create_batch(5, clinic=clinic, last_name="Holloway")
    with CaptureQueriesContext(connection) as many:
        assert search(desk, clinic, "holloway").json()["count_capped"] is True
    assert len(few) == len(many)
