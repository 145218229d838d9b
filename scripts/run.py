"""`make run`: the whole product on one machine, stopped as a whole by Ctrl-C.

Migrates, loads the demo data (`manage.py seed_demo`, which prints the demo logins), then runs
the web server and one Celery worker with embedded beat side by side. Their output goes to this
terminal, prefixed `web |` and `worker |`, and to var/log/web.log and var/log/worker.log.

Ctrl-C (SIGINT), SIGTERM or SIGHUP stops both: each child runs in its own session so that only
this script decides how it stops (the worker gets one SIGTERM, a warm shutdown, instead of the
terminal's SIGINT twice), and after a grace period anything left of either process group is
killed. A second Ctrl-C kills at once. If either child exits on its own, the other is stopped too.

Standard library only; run with the project's virtualenv Python (the Makefile does).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
HOST, PORT = "127.0.0.1", 8000
URL = f"http://{HOST}:{PORT}/"
GRACE_SECONDS = 20

_print_lock = threading.Lock()


def say(line: str = "") -> None:
    # A terminal that went away (or `| tee` killed by the same Ctrl-C) must not stop the shutdown.
    with _print_lock, contextlib.suppress(OSError):
        print(line, flush=True)


def manage(*args: str) -> str:
    """Run a manage.py command in the foreground, echoing its output as it comes; return it.

    Stops the script if the command fails."""
    say(f"$ python manage.py {' '.join(args)}")
    proc = subprocess.Popen(  # noqa: S603 (fixed argv, no shell)
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    )
    output = []
    for line in proc.stdout or ():
        output.append(line)
        say(line.rstrip())
    if proc.wait() != 0:
        say(f"run: `manage.py {' '.join(args)}` failed (exit {proc.returncode}); stopping.")
        sys.exit(proc.returncode)
    return "".join(output)


class Child:
    """A long-running process in its own session, its output copied to the terminal and a log."""

    def __init__(self, name: str, cmd: list[str], log_path: Path) -> None:
        self.name = name
        self.log_path = log_path
        self.ready = threading.Event()
        self._log: IO[str] = log_path.open("a", encoding="utf-8", buffering=1)
        self.proc = subprocess.Popen(  # noqa: S603 (fixed argv, no shell)
            cmd,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            start_new_session=True,
        )
        self._reader = threading.Thread(target=self._pump, daemon=True)
        self._reader.start()

    def _pump(self) -> None:
        for line in self.proc.stdout or ():
            self._log.write(line)
            if self.name == "worker" and " ready." in line:
                self.ready.set()
            say(f"{self.name:>6} | {line.rstrip()}")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def signal_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)

    def group_alive(self) -> bool:
        """Whether any process of the child's group is left (reaping the child first, since a
        zombie still counts as a member)."""
        self.proc.poll()
        try:
            os.killpg(self.proc.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def close(self) -> None:
        self._reader.join(timeout=2)
        self._log.close()


class Supervisor:
    def __init__(self) -> None:
        self.children: list[Child] = []
        self.stopping = threading.Event()
        self.force = threading.Event()

    def on_signal(self, signum: int, _frame: object) -> None:
        if self.stopping.is_set():
            say(f"run: {signal.Signals(signum).name} again: killing everything now.")
            self.force.set()
        else:
            say(f"\nrun: {signal.Signals(signum).name} received, stopping web server and worker...")
        self.stopping.set()

    def stop_all(self) -> None:
        for child in self.children:
            if child.alive():
                # runserver: the whole group (autoreloader parent and its child);
                # celery: the main process only, which shuts down its pool and beat itself.
                if child.name == "web":
                    child.signal_group(signal.SIGTERM)
                else:
                    child.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + GRACE_SECONDS
        while time.monotonic() < deadline and not self.force.is_set():
            if not any(child.group_alive() for child in self.children):
                break
            time.sleep(0.2)
        for child in self.children:
            if child.group_alive():
                say(f"run: {child.name} did not stop in time; killing its processes.")
                child.signal_group(signal.SIGKILL)
        for child in self.children:
            try:
                child.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                child.proc.kill()
                child.proc.wait()
            child.close()


def wait_for_http(url: str, timeout: float, stop: threading.Event) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not stop.is_set():
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (fixed local URL)
                return bool(response.status == 200)
        except urllib.error.HTTPError as exc:
            return exc.code == 200
        except OSError:
            time.sleep(0.3)
    return False


def show_banner(seed_output: str, log_dir: Path, *, worker_ready: bool) -> None:
    say()
    say("=" * 72)
    say(f"  Practice management is running at {URL}")
    say(f"  Pages:     {URL}login/  (front desk and therapists: sign in, then your day)")
    say(f"  Admin:     {URL}admin/")
    say(f"  API docs:  {URL}api/docs/")
    say(f"  Health:    {URL}healthz")
    if not worker_ready:
        say(f"  The worker has not reported ready yet; see {log_dir / 'worker.log'}.")
    say(f"  Logs:      {log_dir / 'web.log'}, {log_dir / 'worker.log'}")
    say("  Demo logins (from manage.py seed_demo):")
    lines = seed_output.strip().splitlines()
    # The login table starts at its header row; the lines before it say what the seed added.
    start = next((i for i, line in enumerate(lines) if line.startswith("username")), 0)
    for line in lines[start:]:
        say(f"    {line}")
    say("  Ctrl-C stops the web server and the worker.")
    say("=" * 72)
    say()


def main() -> int:
    os.chdir(ROOT)
    os.environ.setdefault("DEBUG", "true")
    os.environ["PYTHONUNBUFFERED"] = "1"
    log_dir = Path(os.environ.get("VAR_DIR", ROOT / "var")) / "log"
    log_dir.mkdir(parents=True, exist_ok=True)

    supervisor = Supervisor()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, supervisor.on_signal)

    manage("migrate", "--no-input")
    seed = manage("seed_demo")
    if supervisor.stopping.is_set():
        return 130

    web = Child(
        "web",
        [sys.executable, "manage.py", "runserver", f"{HOST}:{PORT}"],
        log_dir / "web.log",
    )
    supervisor.children.append(web)
    worker = Child(
        "worker",
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "clinic",
            "worker",
            "-B",
            "--concurrency=2",
            "--loglevel=INFO",
        ],
        log_dir / "worker.log",
    )
    supervisor.children.append(worker)

    web_up = False
    banner_shown = False
    started = time.monotonic()
    exit_code = 0
    try:
        while not supervisor.stopping.is_set():
            dead = [child for child in supervisor.children if not child.alive()]
            if dead:
                for child in dead:
                    say(f"run: {child.name} exited with code {child.proc.returncode}; stopping.")
                exit_code = 1
                break
            if not web_up:
                web_up = wait_for_http(f"{URL}healthz", 0.5, supervisor.stopping)
            worker_settled = worker.ready.is_set() or time.monotonic() - started > 60
            if web_up and worker_settled and not banner_shown:
                banner_shown = True
                show_banner(seed, log_dir, worker_ready=worker.ready.is_set())
            supervisor.stopping.wait(0.5)
    finally:
        supervisor.stopping.set()
        supervisor.stop_all()
    say("run: stopped.")
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
