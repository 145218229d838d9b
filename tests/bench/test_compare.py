"""The comparison of one run with the saved result of the other size (bench.report
.compare_sizes): a verdict on the queries, the time's growth beside it without one (the time is
judged by `python -m bench growth`, tests/bench/test_growth.py), and the answer's length beside
a report's."""

from __future__ import annotations

import json

from bench.measure import Result, Target
from bench.report import compare_sizes

READ = Target(constant_queries=True, max_growth=1.3)


def result(
    name: str, median_ms: float, queries: int = 2, baseline: str | None = None, **fields
) -> Result:
    return Result(
        name=name,
        n=30,
        median_ms=median_ms,
        p95_ms=median_ms,
        max_ms=median_ms,
        queries_min=queries,
        queries_max=queries,
        transaction_statements=0,
        errors=0,
        error_examples=[],
        expect="ok",
        baseline=baseline,
        target=READ,
        **fields,
    )


def test_across_runs_the_queries_are_judged_and_the_growth_and_answers_length_shown(tmp_path):
    saved = [
        result("report: outcomes", 100.0, answer_rows=1400),
        result("calendar: day_calendar", 10.0, queries=6),
        result("report: compliance", 200.0, answer_rows=850),
    ]
    (tmp_path / "results-quick.json").write_text(
        json.dumps({"size": "quick", "results": [r.as_dict() for r in saved]}, default=str)
    )
    now = [
        result("report: outcomes", 125.0, answer_rows=2100),
        result("calendar: day_calendar", 12.0, queries=7),
        result("report: compliance", 300.0, answer_rows=925),
    ]

    comparison = compare_sizes(now, "full", tmp_path)

    lines = {" ".join(line.split()[:2]): line for line in comparison.lines[1:]}
    assert (
        "1.25x  queries PASS (answer 2,100 rows at full, 1,400 at quick: 1.50x)"
        in lines["report: outcomes"]
    )
    assert "FAIL: queries 7 vs 6" in lines["calendar: day_calendar"]
    assert "answer" not in lines["calendar: day_calendar"]
    assert (
        "1.50x  queries PASS (answer 925 rows at full, 850 at quick: 1.09x)"
        in (lines["report: compliance"])
    )
    assert comparison.failures == ["calendar: day_calendar: queries 7 vs 6"]


def test_the_baselines_at_both_sizes_are_shown_without_a_verdict(tmp_path):
    raw = "raw SELECT day (psycopg)"
    saved = [result(raw, 0.40, 1, baseline=raw), result("calendar: day_calendar", 10.0)]
    (tmp_path / "results-quick.json").write_text(
        json.dumps({"size": "quick", "results": [r.as_dict() for r in saved]}, default=str)
    )
    now = [result(raw, 0.50, 1, baseline=raw), result("calendar: day_calendar", 14.0)]

    comparison = compare_sizes(now, "full", tmp_path)

    baseline = [line for line in comparison.lines if raw in line]
    assert baseline == [
        f"  {raw:<32} 0.50 ms at full vs 0.40 at quick: 1.25x "
        "(the machine between the two runs; no verdict)"
    ]
    assert "1.40x  queries PASS" in comparison.lines[-1]
    assert comparison.failures == []
