"""The printed table, the saved results, and the query counts of one size against another."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.measure import Result

COLUMNS = (
    ("operation", "<", 32),
    ("n", ">", 4),
    ("median ms", ">", 9),
    ("p95 ms", ">", 8),
    ("queries", ">", 7),
    ("tx", ">", 3),
    ("errors", ">", 6),
    ("ratio", ">", 13),
    ("target", "<", 22),
    ("result", "<", 0),
)


def _row(values: Sequence[str]) -> str:
    cells = [
        f"{value:{align}{width}}" for value, (_, align, width) in zip(values, COLUMNS, strict=True)
    ]
    return "  ".join(cells).rstrip()


def table(results: Sequence[Result]) -> str:
    lines = [_row([name for name, _, _ in COLUMNS])]
    lines.append(_row(["-" * max(width, len(name)) for name, _, width in COLUMNS]))
    for r in results:
        if r.skipped is not None:
            lines.append(
                _row([r.name, "0", *("-" * 7), r.target.describe(), f"SKIPPED: {r.skipped}"])
            )
            continue
        is_baseline = r.baseline == r.name
        ratio = (
            "baseline"
            if is_baseline
            else (f"{r.ratio:.1f}x {_short(r.baseline)}" if r.ratio is not None else "-")
        )
        shows_rate = r.target.min_per_second is not None or r.baseline is None
        if shows_rate and r.per_second is not None:
            ratio = f"{r.per_second:.0f}/s"
            if r.per_call != 1:
                ratio += f" ({r.per_call:g}/call)"
        if r.target.max_attempt_ms is not None and r.attempt_max_ms is not None:
            ratio = f"worst {r.attempt_max_ms:.0f} ms"
        verdict = "PASS" if r.passed else "FAIL: " + "; ".join(r.failures)
        lines.append(
            _row(
                [
                    r.name,
                    str(r.n),
                    f"{r.median_ms:.2f}",
                    f"{r.p95_ms:.2f}",
                    r.queries,
                    "-" if r.baseline == r.name else str(r.transaction_statements),
                    str(r.errors),
                    ratio,
                    "-" if is_baseline else r.target.describe(),
                    "" if is_baseline and r.passed else verdict,
                ]
            )
        )
    lines.append(
        "queries: SQL statements per call, BEGIN/COMMIT/SAVEPOINT/RELEASE included (tx: how many "
        "of them); ratio: median / the baseline's median\n(without a baseline or with a per-second "
        "target: items per second, items per call x 1000 / mean ms, and the items per call of a "
        "batch; for the race: its slowest attempt, queries of the busiest booker)."
    )
    for r in results:
        for example in r.error_examples:
            lines.append(f"  {r.name}: expected {r.expect!r}, got {example}")
    return "\n".join(lines)


def _short(baseline: str | None) -> str:
    if not baseline:
        return ""
    return "INSERT" if "INSERT" in baseline else "SELECT" if "SELECT" in baseline else baseline


def save(path: Path, *, size: str, meta: dict[str, Any], results: Sequence[Result]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"size": size, **meta, "results": [r.as_dict() for r in results]}
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")


# Sizes with the same practice and a different history (bench/seed.py): quick is 10k visits,
# full 1M. Their saved results are compared in both directions, smaller size first.
GROWTH_SIZES = ("quick", "full")


@dataclass
class Comparison:
    """This run's figures against the saved run of the other size (issue 11)."""

    lines: list[str]
    failures: list[str]


def _queries_text(data: dict[str, Any]) -> str:
    if data["queries_min"] == data["queries_max"]:
        return str(data["queries_max"])
    return f"{data['queries_min']}-{data['queries_max']}"


def compare_sizes(results: Sequence[Result], size: str, folder: Path) -> Comparison:
    """Queries and median times of this run against the last saved run of the other size.
    For every operation whose target has `max_growth` (the calendar, the chart, every list):
    PASS when the query count is the same at both sizes, FAIL otherwise. The time's growth is
    printed beside it without a verdict: two runs minutes apart also differ by what the
    machine did in between, so the time is judged by `python -m bench growth`, which measures
    both sizes in one run, taking turns (bench/growth.py). Other sizes (tiny) are listed
    without a verdict: their practice is smaller, not older."""
    comparison = Comparison([], [])
    for other_file in sorted(folder.glob("results-*.json")):
        other = json.loads(other_file.read_text())
        other_size = other.get("size")
        if other_size == size:
            continue
        judged = {size, other_size} == set(GROWTH_SIZES)
        small, large = (other_size, size) if size == "full" else (size, other_size)
        theirs = {r["name"]: r for r in other.get("results", []) if not r.get("skipped")}
        comparison.lines.append(
            f"{size} now vs {other_size} ({other.get('measured_at', '?')}): queries per call and "
            "median ms"
            + (
                " (issue 11: the same queries; the time's growth across two runs, judged "
                "by `make bench-growth`)"
                if judged
                else " (no verdict: a different practice)"
            )
        )
        if judged:
            comparison.lines.extend(_baseline_lines(results, theirs, size, large, small))
        for r in results:
            if r.name not in theirs or r.baseline == r.name or r.skipped is not None:
                continue
            their = theirs[r.name]
            theirs_text = _queries_text(their)
            same = r.queries == theirs_text
            line = (
                f"  {r.name:<32} {r.queries:>5} vs {theirs_text:<5} "
                f"{'same' if same else 'DIFFERENT':<9} "
                f"{r.median_ms:8.2f} vs {their['median_ms']:8.2f} ms"
            )
            growth = r.target.max_growth
            if judged and growth is not None:
                mine, other_ms = r.median_ms, float(their["median_ms"])
                large_ms, small_ms = (mine, other_ms) if size == large else (other_ms, mine)
                factor = large_ms / small_ms if small_ms > 0 else float("inf")
                problems = [] if same else [f"queries {r.queries} vs {theirs_text}"]
                line += f"  {factor:5.2f}x  " + (
                    "queries PASS" if not problems else "FAIL: " + "; ".join(problems)
                )
                if r.answer_rows is not None and their.get("answer_rows"):
                    mine_rows, their_rows = r.answer_rows, float(their["answer_rows"])
                    large_rows, small_rows = (
                        (mine_rows, their_rows) if size == large else (their_rows, mine_rows)
                    )
                    line += (
                        f" (answer {large_rows:,.0f} rows at {large}, {small_rows:,.0f} at "
                        f"{small}: {large_rows / small_rows:.2f}x)"
                    )
                if problems:
                    comparison.failures.append(f"{r.name}: " + "; ".join(problems))
            comparison.lines.append(line)
    return comparison


def _baseline_lines(
    results: Sequence[Result], theirs: dict[str, Any], size: str, large: str, small: str
) -> list[str]:
    """The raw baselines at both sizes, without a verdict: one indexed statement each, nearly
    the same work at 10k and 1M visits, so their ratio shows how far the machine's own speed
    moved between the two runs (a virtual machine's can move by tens of percent), next to the
    growth verdicts, which are judged on the operations' times as measured."""
    lines = []
    for r in results:
        if r.baseline != r.name or r.name not in theirs or r.skipped is not None:
            continue
        mine, other_ms = r.median_ms, float(theirs[r.name]["median_ms"])
        large_ms, small_ms = (mine, other_ms) if size == large else (other_ms, mine)
        factor = large_ms / small_ms if small_ms > 0 else float("inf")
        lines.append(
            f"  {r.name:<32} {large_ms:.2f} ms at {large} vs {small_ms:.2f} at {small}: "
            f"{factor:.2f}x (the machine between the two runs; no verdict)"
        )
    return lines
