"""`python -m bench growth`: the growth targets of issue 11, quick and full measured in pairs.

The growth target (the calendar, the chart, every list: the same queries at 10k and 1M visits,
the time at most 1.3x) compares two medians. Measured minutes apart, in two runs, the two
medians also differ by whatever the machine did in between: on a virtual machine the raw
baselines, one indexed statement each, have taken from 0.76x to 1.97x as long in one run as in
the other, and every verdict near 1.3x followed them. Here both seeds are measured in one run,
by two processes (one per database, each as `python -m bench` would set it up), taking turns:
for each operation, `--rounds` rounds, in each a slice of the calls at one size and then the
same at the other (the order alternating between rounds). A slowdown of the machine then falls
on both sizes alike, and the growth is the code's and the data's.

The verdict is on all the calls of each size together: PASS when every call at both sizes ran
the same number of queries and the median at full is at most the target's times the median at
quick. Each round's growth is printed beside it, to show how steady the figure is.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import multiprocessing
import os
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from bench.database import SEED_VERSION, BenchError, prepare_database, target_from_env

SIZES = ("quick", "full")


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench growth",
        description="The growth from the quick seed (10k visits) to the full one (1M) of every "
        "operation with a growth target, both measured in one run, taking turns.",
    )
    parser.add_argument("--iterations", type=int, default=100, help="measured calls per size")
    parser.add_argument("--rounds", type=int, default=5, help="turns per operation (default 5)")
    parser.add_argument("--warmup", type=int, default=10, help="unmeasured calls first")
    parser.add_argument("--only", nargs="*", default=[], help="operations whose name has a word")
    parser.add_argument("--check", action="store_true", help="exit 1 when a line FAILs")
    parser.add_argument("--json", type=Path, help="where to save the results (default: var/bench/)")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.iterations < args.rounds:
        parser.error("--rounds must be at least 1 and --iterations at least --rounds")
    return args


# --- One process per size --------------------------------------------------------------------


def _serve(size: str, url: str, pipe: Connection) -> None:
    """A measuring process bound to one seed: set up as `python -m bench --size <size>` is,
    then measures what it is sent, (operation name, calls, warm-up calls), and sends back the
    `Result` (None ends it). Its first message is ("ready", note) or ("error", message)."""
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")
    os.environ["CELERY_BROKER_URL"] = "memory://localhost//"  # as bench.__main__, no worker
    try:
        target = target_from_env(size)
        marker, note = prepare_database(
            target, size=size, version=SEED_VERSION, reseed=False, force=False
        )
        from bench.__main__ import migrate_and_seed, setup_django

        if not setup_django():
            raise BenchError("Django is not using PostgreSQL")
        migrate_and_seed(size, marker)
        import logging

        from bench.measure import Bench, measure
        from bench.operations import OPERATIONS

        bench = Bench()
        bench.delete_bench_visits()
        logging.disable(logging.INFO)
    except Exception as exc:  # reported by the parent in one line
        pipe.send(("error", f"{size}: {type(exc).__name__}: {exc}"))
        return
    pipe.send(("ready", f"{target.dbname}: {note}"))
    by_name = {op.name: op for op in OPERATIONS}
    while (request := pipe.recv()) is not None:
        name, iterations, warmup = request
        pipe.send(measure(bench, by_name[name], iterations=iterations, warmup=warmup))


@dataclass
class Side:
    """One size's measuring process and the parent's end of its pipe."""

    size: str
    pipe: Connection
    process: Any


def _start(size: str, url: str) -> Side:
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: its own Django
    parent, child = context.Pipe()
    process = context.Process(target=_serve, args=(size, url, child), name=f"bench-{size}")
    process.start()
    child.close()
    return Side(size, parent, process)


def urls() -> dict[str, str]:
    """The two databases: the per-size defaults (ptpractice_bench, ptpractice_bench_full), or,
    with BENCH_DATABASE_URL or DATABASE_URL set, that database for quick and its name with
    `_full` appended for full."""
    return {
        "quick": target_from_env("quick").url,
        "full": target_from_env("full", suffix="_full").url,
    }


# --- Pairs -----------------------------------------------------------------------------------


@dataclass
class Growth:
    """One operation's calls at both sizes, round by round."""

    name: str
    max_growth: float | None  # None: a baseline, shown without a verdict
    times: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in SIZES})
    queries: dict[str, set[int]] = field(default_factory=lambda: {s: set() for s in SIZES})
    errors: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SIZES, 0))
    rounds: list[float] = field(default_factory=list)  # each round's median full / quick
    skipped: str | None = None

    def median(self, size: str) -> float:
        return statistics.median(self.times[size])

    @property
    def factor(self) -> float:
        quick = self.median("quick")
        return self.median("full") / quick if quick > 0 else math.inf

    @property
    def failures(self) -> list[str]:
        if self.skipped is not None or self.max_growth is None:
            return []
        problems = []
        every = self.queries["quick"] | self.queries["full"]
        if len(every) > 1:
            problems.append("queries " + " vs ".join(_counts(self.queries[size]) for size in SIZES))
        if self.errors["quick"] or self.errors["full"]:
            problems.append(f"errors {self.errors['quick']} and {self.errors['full']}")
        if self.factor > self.max_growth:
            problems.append(f"full {self.factor:.2f}x quick > {self.max_growth:g}x")
        return problems

    def as_dict(self) -> dict[str, Any]:
        if self.skipped is not None:
            return {"name": self.name, "skipped": self.skipped}
        return {
            "name": self.name,
            "max_growth": self.max_growth,
            "median_ms": {size: self.median(size) for size in SIZES},
            "queries": {size: sorted(self.queries[size]) for size in SIZES},
            "errors": self.errors,
            "growth": self.factor,
            "rounds": self.rounds,
            "passed": not self.failures,
        }


def _counts(values: set[int]) -> str:
    return "-".join(str(v) for v in sorted({min(values), max(values)})) if values else "-"


def slices(calls: int, rounds: int) -> list[int]:
    """`calls` split into `rounds` slices as even as can be (the first ones a call longer)."""
    rounds = min(rounds, calls)
    return [calls // rounds + (1 if index < calls % rounds else 0) for index in range(rounds)]


def measure_pairs(
    sides: dict[str, Side],
    operations: Sequence[Any],
    *,
    iterations: int,
    rounds: int,
    warmup: int,
    progress: Any = None,
) -> list[Growth]:
    """Each operation at both sizes, round by round, the size measured first alternating.
    The first round of each size warms up with `warmup` calls, later ones with a few."""
    results = []
    for operation in operations:
        if progress:
            progress(operation.name)
        growth = Growth(operation.name, operation.target.max_growth)
        reason = operation.unavailable() if operation.unavailable is not None else None
        if reason:
            growth.skipped = reason
            results.append(growth)
            continue
        calls = min(iterations, operation.max_iterations or iterations)
        for index, count in enumerate(slices(calls, rounds)):
            order = SIZES if index % 2 == 0 else SIZES[::-1]
            medians = {}
            for size in order:
                sides[size].pipe.send(
                    (operation.name, count, warmup if index == 0 else min(3, warmup))
                )
                result = sides[size].pipe.recv()
                growth.times[size] += result.times
                growth.queries[size] |= {result.queries_min, result.queries_max}
                growth.errors[size] += result.errors
                medians[size] = result.median_ms
            growth.rounds.append(
                medians["full"] / medians["quick"] if medians["quick"] > 0 else math.inf
            )
        results.append(growth)
    return results


def table(results: Sequence[Growth]) -> str:
    head = f"{'operation':<32}  {'queries':>7}  {'quick ms':>9}  {'full ms':>8}  {'growth':>6}"
    lines = [head + "  rounds (full / quick)             result", "-" * 108]
    for g in results:
        if g.skipped is not None:
            lines.append(f"{g.name:<32}  SKIPPED: {g.skipped}")
            continue
        queries = "/".join(_counts(g.queries[size]) for size in SIZES)
        if len(g.queries["quick"] | g.queries["full"]) == 1:
            queries = _counts(g.queries["quick"])
        verdict = (
            "(the machine and the data; no verdict)"
            if g.max_growth is None
            else ("PASS" if not g.failures else "FAIL: " + "; ".join(g.failures))
        )
        rounds = " ".join(f"{factor:.2f}" for factor in g.rounds)
        lines.append(
            f"{g.name:<32}  {queries:>7}  {g.median('quick'):9.2f}  {g.median('full'):8.2f}  "
            f"{g.factor:5.2f}x  {rounds:<32}  {verdict}"
        )
    lines.append(
        "growth: the median of every call at full over the median of every call at quick; "
        "rounds: the same, round by round."
    )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    args = parse(argv)
    try:
        where = urls()
    except BenchError as exc:
        print(f"bench growth: {exc}", file=sys.stderr)
        return 2
    if where["quick"] == where["full"]:
        print("bench growth: quick and full would share one database.", file=sys.stderr)
        return 2
    sides = {size: _start(size, url) for size, url in where.items()}
    try:
        for side in sides.values():  # each seeds its database first when it holds no seed
            status, note = side.pipe.recv()
            if status != "ready":
                print(f"bench growth: {note}", file=sys.stderr)
                return 2
            print(f"Database {note}.", flush=True)
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")
        os.environ["DATABASE_URL"] = where["quick"]  # this process only reads the settings
        import django

        django.setup()
        from django.conf import settings

        from bench.measure import chosen_operations
        from bench.operations import OPERATIONS

        chosen = [
            op
            for op in chosen_operations(OPERATIONS, args.only)
            if op.raw or op.target.max_growth is not None
        ]
        print(
            f"Measuring {args.iterations} calls per size and operation (the reports and the "
            f"admin list fewer) in {args.rounds} rounds, quick and full taking turns:",
            flush=True,
        )
        results = measure_pairs(
            sides,
            chosen,
            iterations=args.iterations,
            rounds=args.rounds,
            warmup=args.warmup,
            progress=lambda name: print(f"  {name}", flush=True),
        )
    finally:
        for side in sides.values():
            if side.process.is_alive():
                with contextlib.suppress(BrokenPipeError, OSError):
                    side.pipe.send(None)
            side.process.join(timeout=30)
            if side.process.is_alive():  # still seeding, or stuck: its seed is one transaction
                side.process.terminate()
                side.process.join()
    print()
    print(table(results))
    path = args.json or Path(settings.VAR_DIR) / "bench" / "growth.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    saved = {
        "iterations": args.iterations,
        "rounds": args.rounds,
        "results": [g.as_dict() for g in results],
    }
    path.write_text(json.dumps(saved, indent=2) + "\n")
    print(f"\nResults saved to {path}.")
    failed = [f"{g.name}: " + "; ".join(g.failures) for g in results if g.failures]
    failed += [f"{g.name}: skipped" for g in results if g.skipped and g.max_growth is not None]
    if failed:
        print(f"{len(failed)} line(s) FAIL or SKIPPED: " + "; ".join(failed))
    return 1 if args.check and failed else 0
