"""`python -m bench growth` (bench/growth.py): both sizes measured in one run, taking turns.

The pairing and the verdicts are checked with a stand-in for the two measuring processes that
answers with chosen times; one test starts the two real processes on a tiny seed (PostgreSQL)."""

from __future__ import annotations

import pytest
from django.db import connection

from bench import growth
from bench.measure import Operation, Result, Target, chosen_operations
from bench.operations import OPERATIONS, RAW_SELECT
from bench.seed import SIZES, seed

READ = Target(constant_queries=True, max_growth=1.3)


def result(times: list[float], queries: int = 3, errors: int = 0) -> Result:
    return Result(
        name="op",
        n=len(times),
        median_ms=sorted(times)[len(times) // 2],
        p95_ms=max(times),
        max_ms=max(times),
        queries_min=queries,
        queries_max=queries,
        transaction_statements=0,
        errors=errors,
        error_examples=[],
        expect="ok",
        baseline=None,
        target=READ,
        times=times,
    )


class Pipe:
    """Answers each request with the next of `answers`, and keeps the requests."""

    def __init__(self, size: str, answers: list[Result], log: list[tuple[str, tuple]]) -> None:
        self.size, self.answers, self.log = size, answers, log

    def send(self, request: tuple) -> None:
        self.log.append((self.size, request))

    def recv(self) -> Result:
        return self.answers.pop(0)


def sides(answers: dict[str, list[Result]], log: list) -> dict[str, growth.Side]:
    return {size: growth.Side(size, Pipe(size, answers[size], log), None) for size in answers}


def operation(name: str = "report: compliance", **fields) -> Operation:
    return Operation(name, inputs=lambda b, n: [], run=lambda b, x: "ok", expect="ok", **fields)


@pytest.mark.parametrize(
    ("calls", "rounds", "expected"),
    [(100, 5, [20] * 5), (7, 3, [3, 2, 2]), (2, 5, [1, 1]), (30, 1, [30])],
)
def test_slices_split_the_calls_into_even_rounds(calls, rounds, expected):
    assert growth.slices(calls, rounds) == expected
    assert sum(growth.slices(calls, rounds)) == calls


def test_measure_pairs_takes_turns_and_judges_all_the_calls_together():
    log: list = []
    answers = {
        "quick": [result([10.0, 10.0]), result([10.0, 12.0]), result([10.0, 10.0])],
        "full": [result([12.0, 12.0]), result([12.0, 13.0]), result([16.0, 16.0])],
    }

    (line,) = growth.measure_pairs(
        sides(answers, log),
        [operation(target=READ, max_iterations=6)],
        iterations=100,
        rounds=3,
        warmup=10,
    )

    # Six calls (the operation's own cap) in three rounds of two; the size measured first
    # alternates, and only the first round of each size warms up in full.
    assert log == [
        ("quick", ("report: compliance", 2, 10)),
        ("full", ("report: compliance", 2, 10)),
        ("full", ("report: compliance", 2, 3)),
        ("quick", ("report: compliance", 2, 3)),
        ("quick", ("report: compliance", 2, 3)),
        ("full", ("report: compliance", 2, 3)),
    ]
    assert line.times == {
        "quick": [10.0, 10.0, 10.0, 12.0, 10.0, 10.0],
        "full": [12.0, 12.0, 12.0, 13.0, 16.0, 16.0],
    }
    assert line.median("quick") == 10.0
    assert line.median("full") == 12.5
    assert line.factor == 1.25
    assert line.rounds == [1.2, 13.0 / 12.0, 1.6]  # one round over 1.3x does not decide
    assert line.failures == []
    assert "PASS" in growth.table([line])


def test_growth_fails_on_the_time_the_queries_or_an_error_and_baselines_have_no_verdict():
    slow = growth.Growth("slow", 1.3, times={"quick": [10.0], "full": [13.5]})
    slow.queries = {"quick": {4}, "full": {4}}
    more_queries = growth.Growth("queries", 1.3, times={"quick": [10.0], "full": [10.0]})
    more_queries.queries = {"quick": {4}, "full": {4, 5}}
    failing = growth.Growth("errors", 1.3, times={"quick": [10.0], "full": [10.0]})
    failing.queries = {"quick": {4}, "full": {4}}
    failing.errors = {"quick": 0, "full": 2}
    baseline = growth.Growth(RAW_SELECT, None, times={"quick": [0.2], "full": [0.6]})
    baseline.queries = {"quick": {1}, "full": {1}}

    assert slow.failures == ["full 1.35x quick > 1.3x"]
    assert more_queries.failures == ["queries 4 vs 4-5"]
    assert failing.failures == ["errors 0 and 2"]
    assert baseline.failures == []
    text = growth.table([slow, more_queries, failing, baseline])
    assert "FAIL: full 1.35x quick > 1.3x" in text
    assert "(the machine and the data; no verdict)" in text
    assert baseline.as_dict()["passed"] is True


def test_an_operation_this_code_base_lacks_is_skipped_without_a_call():
    log: list = []
    (line,) = growth.measure_pairs(
        sides({"quick": [], "full": []}, log),
        [operation(target=READ, unavailable=lambda: "no such page")],
        iterations=10,
        rounds=2,
        warmup=1,
    )

    assert log == []
    assert line.skipped == "no such page"
    assert "SKIPPED: no such page" in growth.table([line])


@pytest.mark.postgres
@pytest.mark.usefixtures("one_at_a_time")
@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the benchmark runs on PostgreSQL only"
)
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_real_processes_measure_one_seed_in_turns():
    seed(SIZES["tiny"])
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"
    started = {size: growth._start("tiny", url) for size in growth.SIZES}
    try:
        for side in started.values():
            status, note = side.pipe.recv()
            assert status == "ready", note
        by_name = {op.name: op for op in OPERATIONS}
        lines = growth.measure_pairs(
            started,
            [by_name[RAW_SELECT], by_name["calendar: day_calendar"]],
            iterations=4,
            rounds=2,
            warmup=1,
        )
    finally:
        for side in started.values():
            side.pipe.send(None)
            side.process.join(timeout=30)

    assert [side.process.exitcode for side in started.values()] == [0, 0]
    calendar = lines[1]
    assert calendar.name == "calendar: day_calendar"
    assert [len(calendar.times[size]) for size in growth.SIZES] == [4, 4]
    assert calendar.queries["quick"] == calendar.queries["full"] == {6}
    assert calendar.errors == {"quick": 0, "full": 0}
    assert len(calendar.rounds) == 2


def test_the_words_choose_the_operations_and_the_baselines_come_first():
    chosen = [op.name for op in chosen_operations(OPERATIONS, ["compliance"])]

    assert chosen == ["raw INSERT (psycopg)", RAW_SELECT, "report: compliance"]
    assert len(chosen_operations(OPERATIONS, [])) == len(OPERATIONS)
