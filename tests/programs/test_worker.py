"""The background jobs with real Celery workers on a real Redis broker (DESIGN.md mechanisms 4-6):

- completing a visit through the API produces, through a worker, its progress summary and a
  booked follow-up;
- a worker killed with SIGKILL in the middle of 200 summaries leaves 200 summaries, none twice,
  once a new worker and the sweeper have run;
- with Redis stopped, bookings and visit completions still succeed, quickly; once Redis is back,
  the sweeper (sent as beat sends it) writes every missing summary.

The workers are `celery -A clinic worker` processes started here against this test database,
consuming a queue of their own (CELERY_QUEUE), so no other worker on the same Redis takes their
messages. PostgreSQL and Redis only: SQLite's test database lives in memory, which another
process cannot open, and the filesystem broker is not what production runs. CI runs this file in
its PostgreSQL + Redis pass.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.db.models import Count

from bench.worker import Worker
from clinic.models import Clinic, User
from patients.models import EpisodeOfCare, Patient, Visit
from programs import care, tasks
from programs.models import FollowUp, ProgressSummary
from tests.factories import (
    EpisodeOfCareFactory,
    PatientFactory,
    VisitFactory,
    open_every_day,
    therapist_in,
    working_every_day,
)
from tests.programs.helpers import THER_EX, item, local_today, use_broker

BROKER = settings.CELERY_BROKER_URL

pytestmark = [
    # Many connections at once: one such test at a time across pytest-xdist processes.
    pytest.mark.usefixtures("one_at_a_time"),
    pytest.mark.broker,
    pytest.mark.postgres,
    pytest.mark.skipif(
        connection.vendor != "postgresql" or not BROKER.startswith("redis://"),
        reason="real workers need a database and a broker other processes can reach: "
        "PostgreSQL and Redis (CI's PostgreSQL + Redis pass runs this file)",
    ),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

WAIT = 60.0  # seconds any one expectation may take on a loaded two-core machine


def wait_until(what: str, check: Callable[[], bool], timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    pytest.fail(f"Timed out after {timeout:.0f}s waiting for {what}.")


# --- Workers and brokers ---------------------------------------------------------------------


def producer(broker: str, queue: str) -> Any:
    """This test process publishes to `broker`, on `queue`, failing at once when it is down."""
    return use_broker(broker, queue=queue, max_retries=0)


@pytest.fixture
def queue() -> str:
    return f"test-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def start_worker(queue, tmp_path) -> Iterator[Callable[..., Worker]]:
    started: list[Worker] = []

    def start(broker: str = BROKER, concurrency: int = 2) -> Worker:
        worker = Worker(
            broker=broker,
            queue=queue,
            log=tmp_path / "worker.log",
            pool="prefork",
            concurrency=concurrency,
            name="test",
            # A killed worker's unacknowledged messages come back after 5 s, not an hour.
            env={"CELERY_VISIBILITY_TIMEOUT": "5"},
        )
        started.append(worker)
        wait_until("the worker to be ready", worker.ready, timeout=WAIT)
        return worker

    yield start
    for worker in started:
        worker.stop()
    if started:  # pytest shows it when the test failed
        print(f"--- worker log ---\n{started[-1].output()}")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RedisServer:
    """A Redis of this test's own, which it can stop and start without touching anyone else's."""

    def __init__(self, directory: Path) -> None:
        self.port = _free_port()
        self.directory = directory
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed"
        self.process = subprocess.Popen(  # noqa: S603
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until("Redis to answer", self.answers, timeout=20)

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None


# --- The practice ----------------------------------------------------------------------------


def _practice() -> tuple[Clinic, User]:
    from tests.factories import ClinicFactory

    clinic = ClinicFactory(timezone="America/New_York", country="US", reminder_lead_hours=0)
    therapist = therapist_in(clinic, discipline="PT")
    open_every_day(clinic)
    working_every_day(clinic, therapist)
    return clinic, therapist


def _planned_episode(clinic: Clinic, therapist: User, patient: Patient | None = None) -> Any:
    episode = EpisodeOfCareFactory(
        patient=patient or PatientFactory(clinic=clinic),
        therapist=therapist,
        started_on=local_today(clinic) - dt.timedelta(days=14),
    )
    care.plan_create(
        episode=episode,
        by=therapist,
        frequency_per_week=2,
        duration_weeks=6,
        starts_on=episode.started_on,
        certified_until=episode.started_on + dt.timedelta(days=60),
    )
    return episode


def _checked_in_visit(episode: EpisodeOfCare, hour: int = 0) -> Visit:
    """A checked-in visit of the episode that started `hour` + 1 hours ago, ready to complete.

    Counted back from now, not from the clinic's midnight: just after midnight in the clinic an
    "early today" visit would still be in the future, and a note cannot be signed before then.
    """
    starts = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0) - dt.timedelta(hours=hour + 1)
    return VisitFactory(
        clinic=episode.clinic,
        patient=episode.patient,
        therapist=episode.therapist,
        episode=episode,
        starts_at=starts,
        ends_at=starts + dt.timedelta(minutes=45),
        status=Visit.Status.CHECKED_IN,
    )


def _completed_visits(count: int) -> list[int]:
    """`count` completed visits of one episode, written straight to the table (no tasks)."""
    clinic, therapist = _practice()
    episode = _planned_episode(clinic, therapist)
    first = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=5)
    visits = [
        Visit(
            clinic=clinic,
            patient=episode.patient,
            therapist=therapist,
            episode=episode,
            starts_at=first + dt.timedelta(minutes=30 * n),
            ends_at=first + dt.timedelta(minutes=30 * n + 25),
            status=Visit.Status.COMPLETED,
        )
        for n in range(count)
    ]
    return [v.pk for v in Visit.objects.bulk_create(visits)]


# --- The tests -------------------------------------------------------------------------------


def test_a_visit_completed_through_the_api_gets_its_summary_and_a_booked_followup(
    start_worker, queue, client_for
):
    clinic, therapist = _practice()
    episode = _planned_episode(clinic, therapist)
    visit = _checked_in_visit(episode)
    start_worker()
    with producer(BROKER, queue):
        response = client_for(therapist).post(
            f"/api/v1/clinics/{clinic.public_id}/visits/{visit.public_id}/note/complete/",
            {"modalities": [item(THER_EX, 23)], "sign": True},
            format="json",
        )
    assert response.status_code == 200, response.content
    wait_until("the summary", ProgressSummary.objects.filter(visit=visit).exists)
    wait_until(
        "the follow-up to be booked",
        FollowUp.objects.filter(after_visit=visit, status=FollowUp.Status.BOOKED).exists,
    )
    summary = ProgressSummary.objects.get(visit=visit)
    assert summary.data["visit"]["number_in_episode"] == 1
    followup = FollowUp.objects.select_related("booked_visit").get(after_visit=visit)
    booked = followup.booked_visit
    assert booked is not None
    assert booked.therapist_id == therapist.pk
    assert booked.status == Visit.Status.BOOKED
    local_day = booked.starts_at.astimezone(clinic.tz).date()
    assert followup.due_from <= local_day <= followup.due_until


def test_a_worker_killed_mid_batch_leaves_every_summary_exactly_once(start_worker, queue):
    visit_ids = _completed_visits(200)
    with producer(BROKER, queue):
        for visit_id in visit_ids:
            tasks.progress_summary_write_task.delay(visit_id)
    first = start_worker()
    wait_until(
        "the first summaries",
        lambda: ProgressSummary.objects.count() >= 20,
    )
    first.kill()
    written_before_kill = ProgressSummary.objects.count()
    assert written_before_kill < 200, "the worker finished before it could be killed"
    start_worker()
    # The queued messages, and after the visibility timeout the killed worker's unacknowledged
    # ones, go to the new worker; the sweeper, sent as beat sends it, writes whatever is left.
    with producer(BROKER, queue):
        tasks.summary_sweep_task.delay()
    wait_until("all 200 summaries", lambda: ProgressSummary.objects.count() == 200)
    time.sleep(6)  # past the visibility timeout: any redelivery has happened by now
    per_visit = ProgressSummary.objects.values("visit").annotate(n=Count("pk"))
    assert sorted(row["visit"] for row in per_visit) == sorted(visit_ids)
    assert all(row["n"] == 1 for row in per_visit)
    assert ProgressSummary.objects.count() == 200


def test_with_redis_stopped_bookings_and_completions_succeed_and_the_sweeper_catches_up(
    tmp_path, start_worker, queue, client_for, caplog
):
    redis = RedisServer(tmp_path)
    redis.start()
    try:
        clinic, therapist = _practice()
        episodes = [_planned_episode(clinic, therapist) for _ in range(3)]
        visits = [_checked_in_visit(episode, hour=n) for n, episode in enumerate(episodes)]
        redis.stop()  # the broker goes away
        client = client_for(therapist)
        with producer(redis.url, queue), caplog.at_level(logging.WARNING, logger="clinic.jobs"):
            for visit in visits:
                started = time.monotonic()
                response = client.post(
                    f"/api/v1/clinics/{clinic.public_id}/visits/{visit.public_id}/note/complete/",
                    {"modalities": [item(THER_EX, 23)], "sign": True},
                    format="json",
                )
                assert response.status_code == 200, response.content
                assert time.monotonic() - started < 5
            started = time.monotonic()
            tomorrow = local_today(clinic) + dt.timedelta(days=1)
            booked = client.post(
                f"/api/v1/clinics/{clinic.public_id}/visits/",
                {
                    "patient": str(PatientFactory(clinic=clinic).public_id),
                    "therapist": str(therapist.public_id),
                    "starts_at": f"{tomorrow.isoformat()}T15:00",
                    "duration_minutes": 45,
                },
                format="json",
            )
            assert booked.status_code == 201, booked.content
            assert time.monotonic() - started < 5
        assert Visit.objects.filter(status=Visit.Status.COMPLETED).count() == 3
        failed = [r for r in caplog.records if r.getMessage().startswith("enqueue_failed")]
        assert len(failed) == 6  # summary and follow-up of each visit: Redis really was down
        assert not ProgressSummary.objects.exists()  # nothing could be sent

        redis.start()  # the broker is back
        start_worker(broker=redis.url)
        with producer(redis.url, queue):
            tasks.summary_sweep_task.delay()
        wait_until("every summary", lambda: ProgressSummary.objects.count() == 3)
        wait_until("every follow-up", lambda: FollowUp.objects.count() == 3)
        assert set(ProgressSummary.objects.values_list("visit_id", flat=True)) == {
            v.pk for v in visits
        }
    finally:
        redis.stop()
