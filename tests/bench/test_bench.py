"""Smoke test of the benchmark (bench/): seed a tiny practice into the test database, measure
every operation a few times, and check the table is whole and the booking within its budget.

PostgreSQL only: the seed uses COPY and the exclusion constraints, the baseline psycopg. CI runs
the suite on PostgreSQL, so these run there; on SQLite they are skipped.
"""

from __future__ import annotations

import pytest
from django.db import connection

from bench.measure import Result, run_all
from bench.operations import BOOKING_TARGET, OPERATIONS
from bench.seed import SIZES, seed
from patients.models import Visit

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="the benchmark runs on PostgreSQL only (COPY, exclusion constraints, psycopg)",
    ),
]

BOOKING = "book: visit_book service"


def _measure(only: tuple[str, ...] = ()) -> dict[str, Result]:
    report = seed(SIZES["tiny"])
    assert report.rows["patients_visit"] == SIZES["tiny"].visits
    results = run_all(OPERATIONS, iterations=3, warmup=1, only=only)
    return {result.name: result for result in results}


@pytest.mark.django_db
def test_bench_measures_every_operation_without_errors():
    results = _measure()

    assert set(results) == {operation.name for operation in OPERATIONS}
    for result in results.values():
        assert result.errors == 0, (result.name, result.error_examples)
        assert result.n == 3
        assert result.median_ms > 0
        assert result.queries_max >= 1
    assert results[BOOKING].ratio is not None
    # Nothing the measurements booked is left behind.
    assert Visit.objects.count() == SIZES["tiny"].visits


@pytest.mark.django_db
def test_bench_booking_through_the_service_within_the_query_budget():
    results = _measure(only=(BOOKING,))

    assert BOOKING_TARGET.max_queries == 8
    assert results[BOOKING].errors == 0
    assert results[BOOKING].queries_max <= BOOKING_TARGET.max_queries, results[BOOKING].sql
