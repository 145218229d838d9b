"""A real Celery worker of this project in a process group of its own, its log in a file: for
the benchmark's throughput through a worker (bench.summaries) and for the tests that start,
kill and restart workers (tests/programs/test_worker.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def database_url() -> str:
    """The database Django is connected to, as the worker's DATABASE_URL (PostgreSQL)."""
    from django.db import connection

    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host = db["HOST"] or "127.0.0.1"
    return f"postgres://{db['USER']}{password}@{host}:{db['PORT'] or 5432}/{db['NAME']}"


class WorkerExited(RuntimeError):
    """The worker process ended before it was stopped."""


class Worker:
    """`celery -A clinic worker` on `queue` only, against this process's database and `broker`.
    `pool="solo"` is one process; `"prefork"` has `concurrency` children. `env` adds to (or
    overrides) the worker's environment."""

    def __init__(
        self,
        *,
        broker: str,
        queue: str,
        log: Path,
        pool: str = "solo",
        concurrency: int = 1,
        name: str = "worker",
        env: dict[str, str] | None = None,
    ) -> None:
        self.log = log
        environment = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "CELERY_BROKER_URL": broker,
            "CELERY_QUEUE": queue,
            "DJANGO_SETTINGS_MODULE": "clinic.settings",
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        environment.pop("CELERY_TASK_ALWAYS_EAGER", None)
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "clinic",
            "worker",
            f"--pool={pool}",
            *([f"--concurrency={concurrency}"] if pool == "prefork" else []),
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            f"--hostname={name}-{queue}-{uuid.uuid4().hex[:6]}@%h",
        ]
        log.parent.mkdir(parents=True, exist_ok=True)
        self._log_file = log.open("ab")
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            command,
            cwd=ROOT,
            env=environment,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: a signal reaches the pool too
        )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def ready(self) -> bool:
        """True once the worker consumes; WorkerExited if it ended (its log says why)."""
        if self.process.poll() is not None:
            raise WorkerExited(
                f"The worker exited with {self.process.returncode}:\n{self.output()}"
            )
        return " ready." in self.output()

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ready():
                return
            time.sleep(0.2)
        raise RuntimeError(f"The worker was not ready after {timeout:.0f} s.")

    def kill(self) -> None:
        """SIGKILL the worker and its pool processes at once: no warm shutdown, no acks."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self._log_file.close()

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM (a warm shutdown), then SIGKILL if it has not ended after `timeout`."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self._log_file.close()
