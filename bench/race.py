"""Issue 11's race: many bookers (64 by default, `--bookers`) try to book one free slot at once.

Each booker is a process of its own with its own database connection, as the web server's
workers are: forked once for the whole operation (after Django is set up, with the parent's
connections closed first), so that starting and connecting are not what is measured. For each
call the bookers get the same slot (therapist, treatment room and time) and a patient each
(every one free then), load them, wait on one `multiprocessing.Barrier`, and call `visit_book`
as the clinic's bench booker together. Exactly one must book; every other must get the 409
conflict (nothing else: no deadlock, no error, no second visit); the slowest attempt is checked
against 0.5 s. Per attempt the booker reports its wall time and its connection's SQL statements.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from bench.measure import Bench, Operation, Target
from bench.operations import RAW_INSERT, Booking, _busy, plan_bookings
from clinic.errors import ConflictError
from clinic.models import Clinic, Room, User
from patients.models import Patient
from patients.scheduling import Interval, local_day_bounds
from patients.visits import visit_book

NAME = "race: N bookers, one slot"
RACE_TARGET = Target(max_attempt_ms=500)
ONE_WINNER = "1 booked, the rest conflict"
WAIT = 120.0  # seconds a race may take before it counts as hung


@dataclass(frozen=True)
class Race:
    booking: Booking  # the slot (the patient of the plan is one of `patients`)
    patients: list[Patient]


@dataclass(frozen=True)
class Job:
    """One booker's attempt, as ids (it crosses a process boundary)."""

    clinic_id: int
    patient_id: int
    therapist_id: int
    room_id: int | None
    booker_id: int
    starts_at: dt.datetime
    ends_at: dt.datetime


@dataclass(frozen=True)
class Attempt:
    outcome: str
    ms: float
    queries: int


def _attempt(job: Job, barrier: Any) -> Attempt:
    clinic = Clinic.objects.get(pk=job.clinic_id)
    patient = Patient.objects.get(pk=job.patient_id)
    therapist = User.objects.get(pk=job.therapist_id)
    room = Room.objects.get(pk=job.room_id) if job.room_id else None
    booker = User.objects.get(pk=job.booker_id)
    barrier.wait(timeout=WAIT)
    with CaptureQueriesContext(connection) as captured:
        started = time.perf_counter()
        try:
            visit_book(
                clinic=clinic,
                patient=patient,
                therapist=therapist,
                room=room,
                starts_at=job.starts_at,
                ends_at=job.ends_at,
                by=booker,
            )
            outcome = "booked"
        except ConflictError as exc:
            outcome = "conflict" if exc.code == "double_booking" else f"conflict: {exc.code}"
        elapsed = (time.perf_counter() - started) * 1000
    return Attempt(outcome, elapsed, len(captured.captured_queries))


def _work(jobs: Any, results: Any, barrier: Any) -> None:
    """A booker process: one attempt per job until it gets None."""
    try:
        while (job := jobs.get()) is not None:
            try:
                results.put(_attempt(job, barrier))
            except Exception as exc:  # a result, never a hung race
                results.put(Attempt(f"{type(exc).__name__}: {exc}", 0.0, 0))
    finally:
        connections.close_all()


class BookerPool:
    """`size` booker processes, forked from this one, each with its own connection."""

    def __init__(self, size: int) -> None:
        self.size = size
        context = multiprocessing.get_context("fork")
        connections.close_all()  # a forked child must not share the parent's socket
        self.barrier = context.Barrier(size)
        self.jobs = [context.SimpleQueue() for _ in range(size)]
        self.results = context.SimpleQueue()
        self.processes = [
            context.Process(target=_work, args=(jobs, self.results, self.barrier), daemon=True)
            for jobs in self.jobs
        ]
        for process in self.processes:
            process.start()

    def run(self, jobs: list[Job]) -> list[Attempt]:
        for queue, job in zip(self.jobs, jobs, strict=True):
            queue.put(job)
        return [self.results.get() for _ in jobs]

    def close(self) -> None:
        for queue in self.jobs:
            queue.put(None)
        for process in self.processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
                process.join(timeout=10)


def _free_patients(bench: Bench, booking: Booking, count: int) -> list[Patient]:
    """`count` patients of the clinic (the plan's own first) with nothing at the slot's time."""
    place = booking.place
    ids = list(
        Patient.objects.for_clinic(place.clinic)
        .active()
        .exclude(pk=booking.patient.pk)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    day = booking.starts_at.astimezone(place.clinic.tz).date()
    busy = _busy(ids, *local_day_bounds(day, place.clinic.tz))
    wanted = Interval(booking.starts_at, booking.ends_at)
    free = [p for p in ids if not any(wanted.overlaps(i) for i in busy[p])]
    bench.rng.shuffle(free)
    if len(free) < count - 1:
        raise RuntimeError(f"Only {len(free) + 1} free patients for {count} bookers.")
    chosen = Patient.objects.in_bulk(free[: count - 1])
    return [booking.patient, *(chosen[p] for p in free[: count - 1])]


def _race_inputs(bench: Bench, n: int) -> list[Race]:
    plans = plan_bookings(bench, n, per_clinic_day=1)
    return [Race(plan, _free_patients(bench, plan, bench.bookers)) for plan in plans]


def _pool(bench: Bench) -> BookerPool:
    pool = bench.race_pool
    if not isinstance(pool, BookerPool) or pool.size != bench.bookers:
        pool = BookerPool(bench.bookers)
        bench.race_pool = pool
    return pool


def _race(bench: Bench, race: Race) -> str:
    pool = _pool(bench)
    booking = race.booking
    attempts = pool.run(
        [
            Job(
                clinic_id=booking.place.clinic.pk,
                patient_id=patient.pk,
                therapist_id=booking.therapist.pk,
                room_id=booking.room.pk if booking.room else None,
                booker_id=booking.place.booker.pk,
                starts_at=booking.starts_at,
                ends_at=booking.ends_at,
            )
            for patient in race.patients
        ]
    )
    side = bench.side.setdefault(NAME, {"attempt_ms": [], "queries": []})
    side["attempt_ms"].extend(a.ms for a in attempts)
    side["queries"].append(max(a.queries for a in attempts))
    outcomes = Counter(a.outcome for a in attempts)
    if outcomes == Counter({"booked": 1, "conflict": len(attempts) - 1}):
        return ONE_WINNER
    return ", ".join(f"{count} {outcome}" for outcome, count in outcomes.most_common())


def _race_cleanup(bench: Bench) -> None:
    if isinstance(bench.race_pool, BookerPool):
        bench.race_pool.close()
    bench.race_pool = None
    bench.delete_bench_visits()


RACE = Operation(
    NAME,
    _race_inputs,
    _race,
    expect=ONE_WINNER,
    baseline=RAW_INSERT,
    target=RACE_TARGET,
    cleanup=_race_cleanup,
    max_iterations=5,
)

__all__ = ["NAME", "RACE", "BookerPool"]
