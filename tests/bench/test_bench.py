"""Smoke test of the benchmark (bench/): seed a tiny practice into the test database, measure
every operation a few times, and check the table is whole, the seed unchanged afterwards, and
the booking and the progress summary within their query budgets; then the race of concurrent
bookers and the progress-summary throughput (in process and through a real worker) at a tiny
size.

PostgreSQL only: the seed uses COPY and the exclusion constraints, the baseline psycopg. CI runs
the suite on PostgreSQL, so these run there; on SQLite they are skipped. The measurements run
with committed data (`transaction=True`): the race's bookers are processes of their own.
"""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db import connection

from bench import summaries
from bench.measure import Result, run_all
from bench.operations import BOOKING_TARGET, OPERATIONS
from bench.race import NAME as RACE
from bench.records import SUMMARY_TARGET
from bench.report import table
from bench.seed import SIZES, seed
from patients.models import EpisodeOfCare, Visit
from programs import treatment_log
from programs.models import BillingLine, EpisodeTreatmentLog, ProgressSummary, TreatmentNote

pytestmark = [
    # Many connections at once: one such test at a time across pytest-xdist processes.
    pytest.mark.usefixtures("one_at_a_time"),
    pytest.mark.postgres,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="the benchmark runs on PostgreSQL only (COPY, exclusion constraints, psycopg)",
    ),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

BOOKING = "book: visit_book service"
SUMMARY = "summary: progress_summary_write"
BOOKERS = 6  # the race's bookers at the tiny size (issue 11's 64 in `make bench`)


def _measure(only: tuple[str, ...] = ()) -> dict[str, Result]:
    report = seed(SIZES["tiny"])
    assert report.rows["patients_visit"] == SIZES["tiny"].visits
    assert report.rows["programs_treatmentnote"] > 0
    results = run_all(OPERATIONS, iterations=3, warmup=1, only=only, bookers=BOOKERS)
    return {result.name: result for result in results}


def test_bench_measures_every_operation_without_errors():
    results = _measure()
    notes = TreatmentNote.objects.count()

    assert set(results) == {operation.name for operation in OPERATIONS}
    for result in results.values():
        if result.skipped is not None:  # a page or report this code base does not have
            assert result.skipped.startswith("no "), result.skipped
            continue
        assert result.errors == 0, (result.name, result.error_examples)
        assert result.n == 3
        assert result.median_ms > 0
        assert result.queries_max >= 1, result.name
        if result.name.startswith("report: "):  # each report says how long its answer was
            assert result.answer_rows is not None
            assert result.answer_rows >= 1, result.name
    assert results[BOOKING].ratio is not None
    assert results[SUMMARY].queries_max <= SUMMARY_TARGET.max_queries, results[SUMMARY].sql
    race = results[RACE]
    assert race.attempt_max_ms is not None
    assert race.attempt_max_ms > 0
    assert "race: N bookers, one slot" in table(list(results.values()))
    # Insured patients' episodes carry an authorization, and the compliance report has signed
    # units of the active ones to count against it.
    authorized = EpisodeOfCare.objects.filter(auth_units__isnull=False)
    assert authorized.exists()
    assert set(authorized.values_list("patient__payer_type", flat=True)) == {"commercial"}
    assert not EpisodeOfCare.objects.filter(
        patient__payer_type="commercial", auth_units__isnull=True
    ).exists()
    assert BillingLine.objects.filter(
        note__status=TreatmentNote.Status.SIGNED,
        note__visit__episode__in=authorized.filter(status=EpisodeOfCare.Status.ACTIVE),
    ).exists()
    # Nothing the measurements booked, completed or summarised is left behind.
    assert Visit.objects.count() == SIZES["tiny"].visits
    assert TreatmentNote.objects.count() == notes
    assert ProgressSummary.objects.count() == 0


def test_the_seed_leaves_the_treatment_log_whole_and_its_triggers_on():
    seed(SIZES["tiny"])
    kept = dict(EpisodeTreatmentLog.objects.values_list("episode_id", "days"))
    assert len(kept) > 0
    treatment_log.rebuild()  # from the visits, as the triggers would have kept it
    assert dict(EpisodeTreatmentLog.objects.values_list("episode_id", "days")) == kept
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tgname, tgenabled FROM pg_trigger WHERE tgname = ANY(%s)",
            [list(treatment_log.TRIGGER_NAMES)],
        )
        states = dict(cursor.fetchall())
    assert states == dict.fromkeys(treatment_log.TRIGGER_NAMES, "O")  # O: on


def test_the_seed_gives_visits_and_notes_the_time_ordered_ids_of_when_they_were_made():
    seed(SIZES["tiny"])
    rows = [
        *Visit.objects.values_list("public_id", "created_at"),
        *TreatmentNote.objects.values_list("public_id", "created_at"),
    ]
    assert len(rows) > 100
    made = [(public_id.version, public_id.int >> 80) for public_id, _ in rows]
    assert made == [(7, int(created.timestamp() * 1000)) for _, created in rows]


def test_bench_booking_through_the_service_within_the_query_budget():
    results = _measure(only=(BOOKING,))

    assert BOOKING_TARGET.max_queries == 8
    assert results[BOOKING].errors == 0
    assert results[BOOKING].queries_max <= BOOKING_TARGET.max_queries, results[BOOKING].sql


def test_bench_summaries_in_process_do_not_grow_with_the_episode():
    seed(SIZES["tiny"])
    visits = summaries.completed_visits(10_000)
    assert len(visits) > 100
    assert max(v.number for v in visits) >= 8  # episodes long enough to show growth

    result = summaries.measure_in_process(visits)

    assert result.summaries == len(visits)
    assert result.not_written == 0
    assert ProgressSummary.objects.count() == len(visits)
    assert result.queries_max <= summaries.MAX_QUERIES
    assert not [f for f in result.failures if "grow" in f or "queries" in f], result.failures
    assert "visit # in episode" in summaries.in_process_table(result)


@pytest.mark.broker
@pytest.mark.skipif(
    not settings.CELERY_BROKER_URL.startswith("redis://"),
    reason="a real worker needs a broker another process can reach (CI's PostgreSQL + Redis "
    "pass runs this)",
)
def test_bench_summaries_through_a_real_worker(tmp_path):
    seed(SIZES["tiny"])
    visits = summaries.completed_visits(20)

    result = summaries.measure_worker(
        visits, broker=settings.CELERY_BROKER_URL, log=tmp_path / "worker.log", timeout=120
    )

    assert result.written == len(visits) == 20
    assert result.per_second > 0
    assert ProgressSummary.objects.filter(visit_id__in=[v.visit_id for v in visits]).count() == 20
