"""Measuring operations: time, SQL queries and outcome of each call, against a raw baseline.

An `Operation` is an entry in `bench.operations.OPERATIONS`: how to make its inputs (unmeasured),
how to run one call (measured), what outcome to expect, which raw baseline it is compared with
and what its targets are. `measure()` runs each one `warmup + iterations` times and keeps:

- wall time of the call (median, p95), in this process, against this database;
- SQL statements per call, as Django's connection saw them (`CaptureQueriesContext`), including
  BEGIN, COMMIT, SAVEPOINT and RELEASE (each is a round trip), which are also counted apart;
- outcomes that were not the expected one (an exception, a 500, a 201 where a 409 was due) as
  errors, with the first few kept as examples.

Raw baselines run with psycopg directly on the same connection (the same session, driver and
settings), bypassing Django: one statement each, so their query count is 1 by definition.
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import logging
import math
import random
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

from django.db import connection
from django.db.models import QuerySet
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from bench.seed import BOOKER_PREFIX, META_TABLE, RAW_TABLE, SUPERUSER
from clinic.capabilities import Role
from clinic.models import Clinic, Membership, User
from patients.models import Visit

# Django logs these too; each is a round trip, so they count, and are also shown apart.
TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT")


@dataclass(frozen=True)
class Target:
    """What an operation must achieve besides running without errors."""

    max_queries: int | None = None
    max_ratio: float | None = None  # median / the baseline's median
    constant_queries: bool = False  # the same count for every input (clinic, day, data)
    # Items per second of one process: per call x 1000 / mean ms (one item per call unless the
    # operation's `items` counts a batch).
    min_per_second: float | None = None
    max_attempt_ms: float | None = None  # the slowest attempt of a concurrent call
    # Against the saved result of the other size (quick against full): the same queries, and
    # the median at most this many times the smaller size's (bench.report.compare_sizes).
    max_growth: float | None = None

    def describe(self) -> str:
        parts = []
        if self.max_queries is not None:
            parts.append(f"<={self.max_queries} q")
        if self.max_ratio is not None:
            parts.append(f"<={self.max_ratio:g}x")
        if self.constant_queries:
            parts.append("const q")
        if self.min_per_second is not None:
            parts.append(f">={self.min_per_second:g}/s")
        if self.max_attempt_ms is not None:
            parts.append(f"worst<{self.max_attempt_ms:g}ms")
        return ", ".join(parts) or "-"


@dataclass(frozen=True)
class Operation:
    name: str
    inputs: Callable[[Bench, int], Sequence[Any]]  # n inputs, made before the clock starts
    run: Callable[[Bench, Any], str]  # one call; returns its outcome ("201", "booked", ...)
    expect: str
    baseline: str | None = None  # the name of the raw operation it is compared with
    target: Target = Target()
    cleanup: Callable[[Bench], None] | None = None  # after the last call, even on failure
    raw: bool = False  # a psycopg baseline: one statement, not seen by Django
    max_iterations: int | None = None  # a heavy call (a report, 64 bookers) runs at most this often
    # Why the operation cannot be measured in this code base (a page not built yet), or None.
    unavailable: Callable[[], str | None] | None = None
    # How many items one input holds (a batch of visits): per_second counts items, not calls.
    items: Callable[[Any], int] | None = None


@dataclass
class Result:
    name: str
    n: int
    median_ms: float
    p95_ms: float
    max_ms: float
    queries_min: int
    queries_max: int
    transaction_statements: int  # of queries_max: BEGIN, COMMIT, SAVEPOINT, RELEASE...
    errors: int
    error_examples: list[str]
    expect: str
    baseline: str | None
    target: Target
    ratio: float | None = None
    failures: list[str] = field(default_factory=list)
    sql: list[str] = field(default_factory=list)  # the statements of the last call
    per_second: float | None = None  # per_call x 1000 / mean ms: items per second, in sequence
    per_call: float = 1  # items per call (the mean over the measured calls); 1 but for batches
    attempt_max_ms: float | None = None  # concurrent calls: the slowest single attempt
    answer_rows: float | None = None  # a report: the rows of its answer (median over the calls)
    skipped: str | None = None  # not measured, and why
    # Every measured call's time, in order (bench.growth pools them across rounds); not saved.
    times: list[float] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures and self.skipped is None

    @property
    def queries(self) -> str:
        if self.queries_min == self.queries_max:
            return str(self.queries_max)
        return f"{self.queries_min}-{self.queries_max}"

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        del data["times"]
        data["target"] = asdict(self.target)
        data["passed"] = self.passed
        return data


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def skipped_result(operation: Operation, reason: str) -> Result:
    """The line of an operation that could not be measured: printed, and never a PASS."""
    return Result(
        name=operation.name,
        n=0,
        median_ms=0.0,
        p95_ms=0.0,
        max_ms=0.0,
        queries_min=0,
        queries_max=0,
        transaction_statements=0,
        errors=0,
        error_examples=[],
        expect=operation.expect,
        baseline=operation.baseline,
        target=operation.target,
        skipped=reason,
    )


# --- The context every operation gets --------------------------------------------------------


@dataclass
class BenchClinic:
    clinic: Clinic
    booker: User
    client: APIClient
    therapists: list[User]


class Bench:
    """The seeded practice as the operations see it: clinics, their bench bookers (an API token
    each), the days the seed covers, and a random generator fixed for repeatable inputs.

    `bookers` is how many concurrent bookers the one-slot race starts (issue 11: 64). `side`
    is where an operation leaves per-call figures for `measure` beside its time: the race's
    threads their attempts (operation name -> {"attempt_ms": [...], "queries": [...]}), a
    report the length of its answer ({"answer_rows": [...]})."""

    def __init__(self, *, rng_seed: int = 7, bookers: int = 64) -> None:
        self.rng = random.Random(rng_seed)  # noqa: S311 (repeatable inputs, not secrets)
        self.now = timezone.now()
        self.bookers = bookers
        self.side: dict[str, dict[str, list[float]]] = {}
        self._clients: dict[int, APIClient] = {}
        self._sessions: dict[int, Client] = {}
        self.made: dict[str, list[int]] = {}  # rows an operation made, for its cleanup
        self.race_pool: Any = None  # bench.race's threads, while its operation runs
        booker_of = {membership.clinic_id: membership.user for membership in _booker_memberships()}
        if not booker_of:
            raise RuntimeError("No seeded bench clinic (no bench booker): seed first.")
        therapists: dict[int, list[User]] = {}
        for user, clinic_id in _therapists(list(booker_of)):
            therapists.setdefault(clinic_id, []).append(user)
        self.clinics: list[BenchClinic] = []
        for clinic in Clinic.objects.filter(pk__in=list(booker_of)).order_by("pk"):
            client = APIClient(raise_request_exception=False)
            client.credentials(HTTP_AUTHORIZATION=f"Token {booker_of[clinic.pk].auth_token.key}")
            self.clinics.append(
                BenchClinic(clinic, booker_of[clinic.pk], client, therapists.get(clinic.pk, []))
            )
        self.booker_ids = [c.booker.pk for c in self.clinics]
        self.first_day, self.last_day = _seeded_span()

    def client_for(self, user: User) -> APIClient:
        """An API client signed in with the user's token (the seed gives therapists one)."""
        if user.pk not in self._clients:
            client = APIClient(raise_request_exception=False)
            token = Token.objects.get(user=user)
            client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
            self._clients[user.pk] = client
        return self._clients[user.pk]

    def session_client(self, user: User) -> Client:
        """A browser-like client signed in (one session per user, made once): the pages."""
        if user.pk not in self._sessions:
            client = Client(raise_request_exception=False)
            client.force_login(user)
            self._sessions[user.pk] = client
        return self._sessions[user.pk]

    def admin_client(self) -> Client:
        """Signed in to the admin as the seed's superuser."""
        return self.session_client(User.objects.get(username=SUPERUSER))

    def clinic_today(self, bench_clinic: BenchClinic) -> dt.date:
        return self.now.astimezone(bench_clinic.clinic.tz).date()

    def future_days(self, bench_clinic: BenchClinic, count: int) -> list[dt.date]:
        """The next `count` days after today at the clinic."""
        today = self.clinic_today(bench_clinic)
        return [today + dt.timedelta(days=offset) for offset in range(1, count + 1)]

    def seeded_days(self) -> list[dt.date]:
        """Every day the seed covers (past and future)."""
        days = (self.last_day - self.first_day).days + 1
        return [self.first_day + dt.timedelta(days=offset) for offset in range(days)]

    def raw_cursor(self) -> Any:
        """A psycopg cursor on Django's own connection (same session), bypassing Django."""
        connection.ensure_connection()
        if connection.connection is None:
            raise RuntimeError("No database connection.")
        return connection.connection.cursor()

    def delete_bench_visits(self) -> int:
        """Visits (and their history) booked by the bench bookers: never part of the seed."""
        with self.raw_cursor() as cursor:
            cursor.execute(
                "DELETE FROM patients_historicalvisit WHERE booked_by_id = ANY(%s)",
                [self.booker_ids],
            )
            cursor.execute(
                "DELETE FROM patients_visit WHERE booked_by_id = ANY(%s)", [self.booker_ids]
            )
            return int(cursor.rowcount)


def _booker_memberships() -> QuerySet[Membership]:
    return (
        Membership.objects.filter(user__username__startswith=BOOKER_PREFIX, active=True)
        .select_related("user", "user__auth_token")
        .order_by("clinic_id")
    )


def _therapists(clinic_ids: list[int]) -> Iterator[tuple[User, int]]:
    for membership in (
        Membership.objects.filter(clinic_id__in=clinic_ids, role=Role.THERAPIST, active=True)
        .select_related("user")
        .order_by("clinic_id", "user_id")
    ):
        yield membership.user, membership.clinic_id


def _seeded_span() -> tuple[dt.date, dt.date]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT value FROM {META_TABLE} WHERE key = 'seed'")  # noqa: S608
        row = cursor.fetchone()
    value = row[0] if row else None
    if isinstance(value, str):
        value = json.loads(value)
    if value:
        return dt.date.fromisoformat(value["first_day"]), dt.date.fromisoformat(value["last_day"])
    first = Visit.objects.order_by("starts_at").values_list("starts_at", flat=True).first()
    last = Visit.objects.order_by("-starts_at").values_list("starts_at", flat=True).first()
    today = timezone.now().date()
    return (first.date() if first else today), (last.date() if last else today)


# --- Measuring -------------------------------------------------------------------------------


SESSION_WRITE = 'UPDATE "django_session"'


def session_bookkeeping(statements: Sequence[str]) -> int:
    """Statements of the signed-in session's periodic write (its last-seen stamp, at most every
    30 s per session, clinic.security), which land on whichever page request comes then: the
    UPDATE and the BEGIN and COMMIT around it. Not counted as the page's queries (the time
    stays in), so that a page's count says what the page reads."""
    count = 0
    for index, statement in enumerate(statements):
        if statement.startswith(SESSION_WRITE):
            count += 1
            count += index > 0 and statements[index - 1] == "BEGIN"
            count += index + 1 < len(statements) and statements[index + 1] == "COMMIT"
    return count


@contextmanager
def _quiet_request_log() -> Iterator[None]:
    """4xx/5xx responses are outcomes we count; Django would also log each one."""
    logger = logging.getLogger("django.request")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def measure(bench: Bench, operation: Operation, *, iterations: int, warmup: int) -> Result:
    if operation.unavailable is not None:
        reason = operation.unavailable()
        if reason:
            return skipped_result(operation, reason)
    if operation.max_iterations is not None:
        iterations = min(iterations, operation.max_iterations)
        warmup = min(warmup, max(1, operation.max_iterations // 5))
    inputs = list(operation.inputs(bench, warmup + iterations))
    if len(inputs) < warmup + iterations:
        raise RuntimeError(
            f"{operation.name}: only {len(inputs)} inputs for {warmup + iterations} calls"
        )
    times: list[float] = []
    sizes: list[int] = []
    counts: list[int] = []
    control: list[int] = []
    errors = 0
    examples: list[str] = []
    last_sql: list[str] = []
    gc.collect()
    bench.side.pop(operation.name, None)
    try:
        with _quiet_request_log():
            for index, item in enumerate(inputs):
                connection.queries_log.clear()  # a full log (9000) would hide new queries
                with CaptureQueriesContext(connection) as captured:
                    started = time.perf_counter_ns()
                    try:
                        outcome = operation.run(bench, item)
                    except Exception as exc:  # counted and reported, never hidden
                        outcome = f"{type(exc).__name__}: {exc}"
                    elapsed = time.perf_counter_ns() - started
                if index < warmup:
                    bench.side.pop(operation.name, None)  # the warm-up's attempts do not count
                    continue
                statements = [q["sql"] for q in captured.captured_queries]
                times.append(elapsed / 1e6)
                sizes.append(operation.items(item) if operation.items is not None else 1)
                kept = session_bookkeeping(statements)
                counts.append(1 if operation.raw else len(statements) - kept)
                control.append(
                    sum(s.startswith(TRANSACTION_CONTROL) for s in statements) - min(kept, 2)
                )
                last_sql = statements
                if outcome != operation.expect:
                    errors += 1
                    if len(examples) < 3:
                        examples.append(outcome[:300])
    finally:
        if operation.cleanup is not None:
            operation.cleanup(bench)
    side = bench.side.pop(operation.name, {})
    if side.get("queries"):  # the calls ran in other threads: their own connections' counts
        counts = [int(q) for q in side["queries"]]
        control = [0] * len(counts)
    widest = max(range(len(counts)), key=counts.__getitem__)
    return Result(
        name=operation.name,
        n=len(times),
        median_ms=statistics.median(times),
        p95_ms=percentile(times, 0.95),
        max_ms=max(times),
        queries_min=min(counts),
        queries_max=counts[widest],
        transaction_statements=control[widest],
        errors=errors,
        error_examples=examples,
        expect=operation.expect,
        baseline=operation.baseline,
        target=operation.target,
        sql=last_sql,
        per_second=statistics.fmean(sizes) * 1000 / statistics.fmean(times)
        if sum(times) > 0
        else None,
        per_call=statistics.fmean(sizes),
        attempt_max_ms=max(side["attempt_ms"]) if side.get("attempt_ms") else None,
        answer_rows=statistics.median(side["answer_rows"]) if side.get("answer_rows") else None,
        times=times,
    )


def judge(results: list[Result]) -> None:
    """Ratios to the baselines, and which targets each result misses."""
    by_name = {r.name: r for r in results}
    for result in results:
        if result.skipped is not None:
            continue
        base = by_name.get(result.baseline) if result.baseline else None
        if base is not None and base.median_ms > 0:
            result.ratio = result.median_ms / base.median_ms
        target = result.target
        failures = []
        if result.errors:
            failures.append(f"{result.errors} of {result.n} not {result.expect}")
        if target.max_queries is not None and result.queries_max > target.max_queries:
            failures.append(f"{result.queries_max} queries > {target.max_queries}")
        if target.max_ratio is not None:
            if result.ratio is None:
                failures.append("no baseline")
            elif result.ratio > target.max_ratio:
                failures.append(f"{result.ratio:.1f}x > {target.max_ratio:g}x")
        if target.constant_queries and result.queries_min != result.queries_max:
            failures.append(f"queries vary {result.queries}")
        if target.min_per_second is not None and (result.per_second or 0) < target.min_per_second:
            failures.append(f"{result.per_second or 0:.0f}/s < {target.min_per_second:g}/s")
        if target.max_attempt_ms is not None:
            if result.attempt_max_ms is None:
                failures.append("no attempt timed")
            elif result.attempt_max_ms >= target.max_attempt_ms:
                failures.append(
                    f"worst attempt {result.attempt_max_ms:.0f} ms >= {target.max_attempt_ms:g} ms"
                )
        result.failures = failures


def chosen_operations(operations: Sequence[Operation], only: Sequence[str]) -> list[Operation]:
    """The operations whose name contains one of the words `only` (all without any), the raw
    baselines always (the ratios divide by them), baselines first."""
    chosen = [
        op
        for op in operations
        if not only or op.raw or any(word.lower() in op.name.lower() for word in only)
    ]
    return sorted(chosen, key=lambda op: not op.raw)


def run_all(
    operations: Sequence[Operation],
    *,
    iterations: int,
    warmup: int,
    only: Sequence[str] = (),
    progress: Callable[[str], None] | None = None,
    bookers: int = 64,
) -> list[Result]:
    """Measure each operation (baselines first, so ratios have something to divide by)."""
    bench = Bench(bookers=bookers)
    bench.delete_bench_visits()  # whatever an interrupted earlier run left
    chosen = chosen_operations(operations, only)
    results = []
    # The product's INFO lines (one per summary written...) would bury the table; its
    # warnings and errors still show.
    logging.disable(logging.INFO)
    try:
        for operation in chosen:
            if progress:
                progress(operation.name)
            results.append(measure(bench, operation, iterations=iterations, warmup=warmup))
    finally:
        logging.disable(logging.NOTSET)
    judge(results)
    return results


__all__ = [
    "RAW_TABLE",
    "Bench",
    "BenchClinic",
    "Operation",
    "Result",
    "Target",
    "chosen_operations",
    "judge",
    "measure",
    "run_all",
]
