# Developer commands. The two that matter: `make run` and `make test` (see README.md).
# Everything runs from the project's own virtualenv in .venv, which any target creates from
# python3 on first use and refreshes when pyproject.toml or the lock file changes.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
CONSTRAINTS := requirements/constraints.txt
PYTEST_ARGS ?=
# `make test` spreads the tests over pytest-xdist processes, one per core and at most four (each
# holds a database connection or two). The tests that open many connections at once (64
# concurrent bookers, real workers, the bench's forked bookers) take a lock first
# (tests/conftest.py, `one_at_a_time`), so they stay under PostgreSQL's 100 connections
# together. TEST_WORKERS=0 runs everything in one process, which reads better when debugging.
TEST_WORKERS ?= auto

.DEFAULT_GOAL := help
.PHONY: help venv run test lint format typecheck migrations-check lock lock-upgrade lock-check clean

help:
	@echo "make run               migrate, load demo data, run web server + Celery worker (Ctrl-C stops)"
	@echo "make test              run the test suite (PYTEST_ARGS='-k name -x' to pass arguments,"
	@echo "                       TEST_WORKERS=0 for one process instead of one per core)"
	@echo "make chromium          install Debian's chromium for the browser tests (as root)"
	@echo "make lint              ruff check and ruff format --check"
	@echo "make format            ruff format and ruff check --fix"
	@echo "make typecheck         mypy"
	@echo "make migrations-check  fail if a model change has no migration"
	@echo "make lock              re-pin requirements/constraints.txt after editing pyproject.toml"
	@echo "make lock-upgrade      re-pin every package to its newest allowed version"
	@echo "make clean             remove .venv and tool caches (keeps var/: database, broker, mail)"
	@echo "make bench             seed PostgreSQL and measure every operation (BENCH_SIZE=quick|full)"
	@echo "make bench-growth      the growth from 10k to 1M visits, both seeds measured in turns"
	@echo "make bench-summaries   progress summaries per second on one worker (BENCH_ARGS=--worker)"

# The virtualenv, with runtime and dev dependencies pinned by the lock file. The stamp is
# touched only after a successful install, so an interrupted install is retried next time.
$(STAMP): pyproject.toml $(CONSTRAINTS)
	@test -x $(PY) || { echo "Creating $(VENV) with $(PYTHON)"; $(PYTHON) -m venv $(VENV); }
	$(PY) -m pip install --quiet --disable-pip-version-check \
		-c $(CONSTRAINTS) -e '.[dev]'
	@touch $@

venv: $(STAMP)

run: $(STAMP)
	$(PY) scripts/run.py

# The browser tests (tests/browser) drive Debian's Chromium, never a downloaded browser. When it
# is missing, root installs it here; anyone else is told how (CI=true then fails those tests).
CHROMIUM ?= /usr/bin/chromium
.PHONY: chromium
chromium:
	@if [ -x "$(CHROMIUM)" ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		echo "make: installing Debian's chromium for the browser tests"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y chromium \
		|| { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; }; \
	else \
		echo "make: $(CHROMIUM) is missing and you are not root; install it with" \
			"'sudo apt-get install -y chromium'. Without it the browser tests skip (fail when CI=true)." >&2; \
	fi

# pytest's exit code 5 means it collected no test: that is a failure here, with a clear message.
test: $(STAMP) chromium
	@$(PY) -m pytest -n $(TEST_WORKERS) --maxprocesses 4 $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests; failing." >&2; fi; \
	exit $$rc

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: $(STAMP)
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

typecheck: $(STAMP)
	$(PY) -m mypy clinic patients programs scripts bench

migrations-check: $(STAMP)
	$(PY) manage.py makemigrations --check --dry-run

# The lock file is written by pip-compile (pip-tools), run from a throwaway virtualenv so that
# the tool never ends up in the project's own environment. `lock` keeps existing pins and adds
# what pyproject.toml newly needs; `lock-upgrade` moves every pin to the newest allowed release.
LOCK_VENV := $(VENV)-lock
PIP_COMPILE = CUSTOM_COMPILE_COMMAND="make lock" $(LOCK_VENV)/bin/pip-compile --quiet \
	--all-extras --strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links \
	--output-file $(CONSTRAINTS) pyproject.toml

$(LOCK_VENV)/bin/pip-compile:
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install --quiet --disable-pip-version-check pip-tools

lock: $(LOCK_VENV)/bin/pip-compile
	$(PIP_COMPILE)

lock-upgrade: $(LOCK_VENV)/bin/pip-compile
	$(PIP_COMPILE) --upgrade

# Every package installed in .venv must be pinned, at the installed version, in the lock file
# (catches a dependency added to pyproject.toml without `make lock`).
lock-check: $(STAMP)
	$(PY) scripts/check_lock.py $(CONSTRAINTS)

clean:
	rm -rf $(VENV) $(LOCK_VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis *.egg-info
	find . -path ./var -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

# The benchmark (bench/README.md): seeds its own PostgreSQL database (BENCH_DATABASE_URL, else
# DATABASE_URL, else ptpractice_bench on 127.0.0.1), reuses the seed on later runs, prints the
# table with PASS/FAIL per target. `make bench BENCH_SIZE=full BENCH_ARGS="--check"` fails when
# a target is missed. `make bench-summaries BENCH_ARGS=--worker` (CELERY_BROKER_URL=redis://...)
# measures summaries per second on one worker process, on a seed of its own.
BENCH_SIZE ?= quick
BENCH_ARGS ?=
.PHONY: bench bench-growth bench-summaries
bench: $(STAMP)
	$(PY) -m bench --size $(BENCH_SIZE) $(BENCH_ARGS)

# Issue 11's growth target (10k to 1M visits: the same queries, at most 1.3x the time), with the
# quick and the full seed measured in one run, taking turns (bench/growth.py); seeds either
# when it is missing (the full one takes minutes).
bench-growth: $(STAMP)
	$(PY) -m bench growth $(BENCH_ARGS)

bench-summaries: $(STAMP)
	$(PY) -m bench summaries $(BENCH_ARGS)
