"""`python -m bench summaries`: how many progress summaries one worker process writes a second.

The seed is the benchmark's own (bench/seed.py, size `summaries`: the quick practice over five
weeks, about 10,800 completed visits, with the clinical history of bench/clinical.py: episodes
of 6 to 16 visits, each with a plan of care and goals, signed notes with modalities, exercises
and billing lines, the NPRS at every visit and the ODI at every fourth) in a database of its own:
the name of the main bench database with `_summaries` appended, so the calendar seed is never
touched. Summaries written here are deleted before each measurement, so a run can be repeated.

1. In process: `progress_summary_write` for the first `--visits` completed visits (10,000),
   one after the other in this process, as the worker's task calls it. Prints summaries per
   second, and the SQL queries and median time grouped by the visit's number in its episode:
   the count must not grow with the episode's history (issue 7), and must stay within 15
   (issue 11), at 200 summaries a second or more.
2. `--worker` (needs CELERY_BROKER_URL=redis://...): a real `celery -A clinic worker
   --pool=solo` (one process) against this database, consuming a queue of its own
   (CELERY_QUEUE); every id is enqueued as the product enqueues it (the task
   `programs.progress_summary_write`), and the clock runs until every summary exists.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.worker import Worker

SIZE_NAMES = ("summaries", "tiny")
MAX_QUERIES = 15  # issue 11
MIN_PER_SECOND = 200.0  # issue 11, per worker process


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench summaries",
        description="Progress summaries per second on one process, in process and (--worker) "
        "through a real Celery worker, on a seed of its own.",
    )
    parser.add_argument("--size", choices=SIZE_NAMES, default="summaries")
    parser.add_argument("--visits", type=int, default=10_000, help="summaries to write")
    parser.add_argument("--worker", action="store_true", help="also through a real worker")
    parser.add_argument(
        "--timeout", type=float, default=3600.0, help="seconds the worker may take (3600)"
    )
    parser.add_argument("--reseed", action="store_true")
    parser.add_argument("--force", action="store_true")
    parser.add_argument("--check", action="store_true", help="exit 1 when a line FAILs")
    return parser.parse_args(argv)


# --- What is measured ------------------------------------------------------------------------


@dataclass(frozen=True)
class Summarised:
    visit_id: int
    number: int  # the visit's number among its episode's completed visits
    kind: str


@dataclass
class Group:
    number: int
    summaries: int
    queries_min: int
    queries_max: int
    median_ms: float


@dataclass
class InProcess:
    summaries: int
    seconds: float
    groups: list[Group]
    not_written: int
    failures: list[str] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return self.summaries / self.seconds if self.seconds > 0 else 0.0

    @property
    def queries_max(self) -> int:
        return max((g.queries_max for g in self.groups), default=0)


@dataclass
class ThroughWorker:
    summaries: int
    enqueue_seconds: float
    seconds: float  # from the first publish until the last summary exists
    worker_seconds: float  # from the worker's first summary to its last (created_at)
    written: int
    failures: list[str] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return self.written / self.seconds if self.seconds > 0 else 0.0


def completed_visits(limit: int) -> list[Summarised]:
    """The first `limit` completed visits of episodes (by start), numbered in their episode."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, n, kind FROM (SELECT id, kind, starts_at, row_number() OVER "
            "(PARTITION BY episode_id ORDER BY starts_at, id) AS n FROM patients_visit "
            "WHERE status = 'completed' AND episode_id IS NOT NULL) numbered "
            "ORDER BY starts_at, id LIMIT %s",
            [limit],
        )
        return [Summarised(int(i), int(n), str(k)) for i, n, k in cursor.fetchall()]


def _forget(ids: list[int]) -> None:
    from programs.models import ProgressSummary

    ProgressSummary.objects.filter(visit_id__in=ids).delete()


def judge_in_process(result: InProcess) -> None:
    """Within 15 queries, at 200 a second, and a count that does not grow with the visit's
    number in its episode (the largest count of the later visits no larger than that of the
    first five)."""
    failures = []
    if result.not_written:
        failures.append(f"{result.not_written} visits got no summary")
    if result.queries_max > MAX_QUERIES:
        failures.append(f"{result.queries_max} queries > {MAX_QUERIES}")
    early = max((g.queries_max for g in result.groups if g.number <= 5), default=0)
    late = max((g.queries_max for g in result.groups if g.number > 5), default=0)
    if late > early:
        failures.append(f"queries grow with history: {late} after visit 5 > {early} before")
    if result.per_second < MIN_PER_SECOND:
        failures.append(f"{result.per_second:.0f}/s < {MIN_PER_SECOND:g}/s")
    result.failures = failures


def measure_in_process(visits: list[Summarised]) -> InProcess:
    import logging

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from programs.summaries import progress_summary_write

    ids = [v.visit_id for v in visits]
    _forget(ids)
    by_number: dict[int, list[tuple[int, float]]] = defaultdict(list)
    not_written = 0
    logging.disable(logging.INFO)  # one line per summary would be what is measured
    try:
        started = time.perf_counter()
        for visit in visits:
            connection.queries_log.clear()
            with CaptureQueriesContext(connection) as captured:
                call = time.perf_counter()
                summary = progress_summary_write(visit.visit_id)
                elapsed = (time.perf_counter() - call) * 1000
            not_written += summary is None
            by_number[visit.number].append((len(captured.captured_queries), elapsed))
        seconds = time.perf_counter() - started
    finally:
        logging.disable(logging.NOTSET)
    groups = [
        Group(
            number=number,
            summaries=len(calls),
            queries_min=min(q for q, _ in calls),
            queries_max=max(q for q, _ in calls),
            median_ms=statistics.median(ms for _, ms in calls),
        )
        for number, calls in sorted(by_number.items())
    ]
    result = InProcess(len(visits), seconds, groups, not_written)
    judge_in_process(result)
    return result


def measure_worker(
    visits: list[Summarised], *, broker: str, log: Path, timeout: float
) -> ThroughWorker:
    from django.db.models import Max, Min

    from clinic.celery import app
    from programs.models import ProgressSummary
    from programs.tasks import progress_summary_write_task

    ids = [v.visit_id for v in visits]
    _forget(ids)
    queue = f"bench-summaries-{uuid.uuid4().hex[:10]}"
    worker = Worker(broker=broker, queue=queue, log=log, name="bench")
    try:
        worker.wait_ready(timeout=120)
        summaries = ProgressSummary.objects.filter(visit_id__in=ids)
        started = time.perf_counter()
        with app.producer_or_acquire() as producer:
            for visit_id in ids:
                progress_summary_write_task.apply_async((visit_id,), queue=queue, producer=producer)
        enqueued = time.perf_counter() - started
        deadline = started + timeout
        written = 0
        while time.perf_counter() < deadline:
            written = summaries.count()
            if written >= len(ids):
                break
            time.sleep(0.25)
        seconds = time.perf_counter() - started
        span = summaries.aggregate(first=Min("created_at"), last=Max("created_at"))
    finally:
        worker.stop()
        with app.connection_for_write() as conn:  # what a timed-out run left in its queue
            conn.default_channel.queue_purge(queue)
    worker_seconds = (
        (span["last"] - span["first"]).total_seconds() if span["first"] and span["last"] else 0.0
    )
    result = ThroughWorker(len(ids), enqueued, seconds, worker_seconds, written)
    if written < len(ids):
        result.failures.append(f"{len(ids) - written} summaries missing after {timeout:.0f} s")
    if result.per_second < MIN_PER_SECOND:
        result.failures.append(f"{result.per_second:.0f}/s < {MIN_PER_SECOND:g}/s")
    return result


# --- Printing --------------------------------------------------------------------------------


def _verdict(failures: list[str]) -> str:
    return "PASS" if not failures else "FAIL: " + "; ".join(failures)


def in_process_table(result: InProcess) -> str:
    lines = [
        "visit # in episode  summaries  queries  median ms",
        "------------------  ---------  -------  ---------",
    ]
    for g in result.groups:
        queries = (
            str(g.queries_max)
            if g.queries_min == g.queries_max
            else (f"{g.queries_min}-{g.queries_max}")
        )
        lines.append(f"{g.number:>18}  {g.summaries:>9}  {queries:>7}  {g.median_ms:>9.2f}")
    lines.append(
        f"in process: {result.summaries:,} summaries in {result.seconds:.1f} s = "
        f"{result.per_second:.0f}/s, at most {result.queries_max} queries "
        f"(target <={MAX_QUERIES} q, >={MIN_PER_SECOND:g}/s, not growing with the visit's "
        f"number)  {_verdict(result.failures)}"
    )
    return "\n".join(lines)


def worker_line(result: ThroughWorker) -> str:
    worker_rate = result.written / result.worker_seconds if result.worker_seconds > 0 else 0.0
    return (
        f"worker (--pool=solo, one process): {result.written:,} of {result.summaries:,} "
        f"summaries in {result.seconds:.1f} s from the first publish = {result.per_second:.0f}/s "
        f"(enqueueing took {result.enqueue_seconds:.1f} s; first to last summary "
        f"{result.worker_seconds:.1f} s = {worker_rate:.0f}/s) "
        f"(target >={MIN_PER_SECOND:g}/s)  {_verdict(result.failures)}"
    )


# --- The command -----------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    from bench.__main__ import migrate_and_seed, say, setup_django
    from bench.database import SEED_VERSION, BenchError, prepare_database, target_from_env

    args = parse(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")
    broker = os.environ.get("CELERY_BROKER_URL", "")
    if args.worker and not broker.startswith("redis://"):
        print(
            "bench summaries --worker: set CELERY_BROKER_URL=redis://... (a worker in another "
            "process needs a broker both can reach).",
            file=sys.stderr,
        )
        return 2
    try:
        target = target_from_env(args.size, suffix="_summaries")
        os.environ["DATABASE_URL"] = target.url
        marker, note = prepare_database(
            target, size=args.size, version=SEED_VERSION, reseed=args.reseed, force=args.force
        )
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    say(f"Database {target.dbname}: {note}.")
    if not setup_django():
        return 2
    from django.conf import settings

    migrate_and_seed(args.size, marker)
    visits = completed_visits(args.visits)
    if len(visits) < args.visits:
        say(f"The seed has {len(visits):,} completed visits of episodes, not {args.visits:,}.")
    say(f"Writing {len(visits):,} progress summaries in this process...")
    in_process = measure_in_process(visits)
    say(in_process_table(in_process))
    failures = list(in_process.failures)
    data: dict[str, Any] = {"size": args.size, "in_process": asdict(in_process)}
    if args.worker:
        log = Path(settings.VAR_DIR) / "bench" / "summaries-worker.log"
        say(f"\nThe same {len(visits):,} through a real worker (log: {log})...")
        through = measure_worker(visits, broker=broker, log=log, timeout=args.timeout)
        say(worker_line(through))
        failures += through.failures
        data["worker"] = asdict(through)
    path = Path(settings.VAR_DIR) / "bench" / f"summaries-{args.size}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
    say(f"\nResults saved to {path}.")
    return 1 if args.check and failures else 0
