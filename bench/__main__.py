"""`python -m bench [--size quick|full]`: seed (or reuse) the bench database, measure, print.
`python -m bench growth`: the growth from quick to full, both measured in turns (bench.growth).
`python -m bench summaries [--worker]`: the progress-summary throughput (bench.summaries).

Run from the project root. See bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

from bench.database import SEED_VERSION, BenchError, prepare_database, target_from_env

SIZE_NAMES = ("quick", "full", "tiny")


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Seed a large calendar on PostgreSQL and measure booking, conflicting "
        "booking, free-slot search and the day calendar against raw psycopg baselines.",
    )
    parser.add_argument("--size", choices=SIZE_NAMES, default="quick", help="default: quick")
    parser.add_argument("--iterations", type=int, default=100, help="measured calls per operation")
    parser.add_argument("--warmup", type=int, default=10, help="unmeasured calls first")
    parser.add_argument("--only", nargs="*", default=[], help="operations whose name has a word")
    parser.add_argument("--reseed", action="store_true", help="drop the database and seed again")
    parser.add_argument(
        "--force", action="store_true", help="drop a database that holds data not seeded here"
    )
    parser.add_argument("--seed-only", action="store_true", help="seed (or reuse), do not measure")
    parser.add_argument("--sql", action="store_true", help="print the SQL of one call of each")
    parser.add_argument(
        "--check", action="store_true", help="exit 1 when an operation misses its target"
    )
    parser.add_argument("--json", type=Path, help="where to save the results (default: var/bench/)")
    parser.add_argument(
        "--bookers", type=int, default=64, help="concurrent bookers of one slot (default: 64)"
    )
    return parser.parse_args(argv)


def say(message: str = "") -> None:
    print(message, flush=True)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["summaries"]:
        from bench.summaries import main as summaries_main

        return summaries_main(argv[1:])
    if argv[:1] == ["growth"]:
        from bench.growth import main as growth_main

        return growth_main(argv[1:])
    args = parse(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")
    # The completions measured here enqueue their summary and follow-up after commit; those
    # messages go to an in-memory broker and are dropped with the process (the worker's side is
    # `python -m bench summaries --worker`), so no worker anywhere takes a bench visit's id.
    os.environ["CELERY_BROKER_URL"] = "memory://localhost//"
    try:
        target = target_from_env(args.size)
        os.environ["DATABASE_URL"] = target.url
        marker, note = prepare_database(
            target, size=args.size, version=SEED_VERSION, reseed=args.reseed, force=args.force
        )
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    say(f"Database {target.dbname}: {note}.")
    return run(args, marker)


def setup_django() -> bool:
    """django.setup() for a benchmark; False (with a message) unless Django uses PostgreSQL."""
    import warnings

    import django

    # The pages' static files are not collected for a benchmark; whitenoise says so per request.
    warnings.filterwarnings("ignore", message="No directory at")
    django.setup()
    from django.db import connection

    if connection.vendor != "postgresql":
        print("bench: Django is not using PostgreSQL (check .env); refusing.", file=sys.stderr)
        return False
    return True


def migrate_and_seed(size_name: str, marker: dict[str, Any] | None) -> dict[str, Any]:
    """Apply migrations, then seed `size_name` unless `marker` says the seed is there already.
    Returns the seed's marker."""
    from django.core.management import call_command
    from django.db import connection

    started = time.perf_counter()
    call_command("migrate", interactive=False, verbosity=0)
    say(f"Migrations applied in {time.perf_counter() - started:.1f} s.")

    from bench.seed import SIZES, seed

    size = SIZES[size_name]
    if marker is None:
        say(
            f"Seeding {size_name}: {size.visits:,} visits, {size.clinics} clinics, "
            f"{size.therapists} therapists, {size.patients:,} patients, "
            f"{size.past_days + size.future_days + 1} days..."
        )
        report = seed(size)
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute("VACUUM (ANALYZE)")
        vacuum = time.perf_counter() - started
        total = report.seconds + vacuum
        say(
            f"Seeded {report.total_rows:,} rows in {total:.1f} s ({report.total_rows / total:,.0f}"
            f" rows/s; visits {report.rows['patients_visit']:,}, "
            f"{report.rows['patients_visit'] / total:,.0f}/s; "
            f"{report.rows['patients_visit'] / report.capacity:.0%} of the working slots taken; "
            f"vacuum {vacuum:.1f} s)."
        )
        slowest = sorted(report.steps.items(), key=lambda step: -step[1])[:5]
        say("Slowest steps: " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in slowest))
        marker = report.as_marker()
        marker["seconds"] = round(total, 1)
    else:
        say(
            f"Seed reused: {marker['rows'].get('patients_visit', 0):,} visits "
            f"(seeded in {marker.get('seconds', '?')} s)."
        )
    return marker


def run(args: argparse.Namespace, marker: dict[str, Any] | None) -> int:
    if not setup_django():
        return 2
    from django.conf import settings

    marker = migrate_and_seed(args.size, marker)
    if args.seed_only:
        return 0

    from django.utils import timezone

    from bench.measure import run_all
    from bench.operations import OPERATIONS
    from bench.report import compare_sizes, save, table

    say(f"Measuring {args.iterations} calls per operation after {args.warmup} warm-up calls:")
    results = run_all(
        OPERATIONS,
        iterations=args.iterations,
        warmup=args.warmup,
        only=args.only,
        progress=lambda name: say(f"  {name}"),
        bookers=args.bookers,
    )
    say()
    say(table(results))
    if args.sql:
        for result in results:
            say(f"\n{result.name}: {len(result.sql)} statements")
            for statement in result.sql:
                say(f"  {statement[:200]}")
    folder = Path(settings.VAR_DIR) / "bench"
    path = args.json or folder / f"results-{args.size}.json"
    meta = {
        "measured_at": timezone.now().isoformat(timespec="seconds"),
        "iterations": args.iterations,
        "warmup": args.warmup,
        "seed": marker,
    }
    save(path, size=args.size, meta=meta, results=results)
    comparison = compare_sizes(results, args.size, folder)
    say()
    if comparison.lines:
        say("\n".join(comparison.lines))
    else:
        say(
            "Queries at 10k and 1M visits: not compared, no saved result of the other size in "
            f"{folder} (run `make bench BENCH_SIZE={'full' if args.size == 'quick' else 'quick'}`)."
        )
    say("The time's growth from 10k to 1M visits is judged by `make bench-growth`.")
    say(f"\nResults saved to {path}.")
    failed = [r.name for r in results if not r.passed] + comparison.failures
    if failed:
        say(f"{len(failed)} line(s) FAIL or SKIPPED: " + "; ".join(failed))
    return 1 if args.check and failed else 0


if __name__ == "__main__":
    sys.exit(main())
