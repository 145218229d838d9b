"""The printed table, the saved results, and the query counts of one size against another."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.measure import Result

COLUMNS = (
    ("operation", "<", 28),
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
        is_baseline = r.baseline == r.name
        ratio = (
            "baseline"
            if is_baseline
            else (f"{r.ratio:.1f}x {_short(r.baseline)}" if r.ratio is not None else "-")
        )
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
        "of them); ratio: median / the baseline's median."
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


def compare_sizes(results: Sequence[Result], size: str, folder: Path) -> list[str]:
    """Query counts of this run against the last saved run of every other size: issue 11 asks
    for the same count at 10k and at 1M visits."""
    lines: list[str] = []
    for other_file in sorted(folder.glob("results-*.json")):
        other = json.loads(other_file.read_text())
        if other.get("size") == size:
            continue
        theirs = {r["name"]: r for r in other.get("results", [])}
        lines.append(
            f"{size} now vs {other['size']} ({other.get('measured_at', '?')}): queries per call "
            "(issue 11: the same at every size) and median ms"
        )
        for r in results:
            if r.name not in theirs or r.baseline == r.name:
                continue
            their = theirs[r.name]
            theirs_text = (
                str(their["queries_max"])
                if their["queries_min"] == their["queries_max"]
                else f"{their['queries_min']}-{their['queries_max']}"
            )
            verdict = "same" if r.queries == theirs_text else "DIFFERENT"
            lines.append(
                f"  {r.name:<28} {r.queries:>5} vs {theirs_text:<5} {verdict:<9}  "
                f"{r.median_ms:7.2f} vs {their['median_ms']:7.2f} ms"
            )
    return lines
