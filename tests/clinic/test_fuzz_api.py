"""API fuzzing: schemathesis against the project's own schema (/api/schema/), in process.

Every operation of the schema, as a clinic administrator and as a therapist of a seeded clinic,
with schemathesis-generated query strings and bodies: valid ones (positive: they reach the
services) and invalid ones (negative: wrong types, missing fields, out-of-range values, odd
strings). The path ids are the seeded clinic's real rows, so the requests get past the 404 of an
unknown id. Checks: never a 5xx; the Content-Type and the body of every documented answer match
the schema.

Bounded: `FUZZ_EXAMPLES` examples per operation, principal and mode (more on the PostgreSQL pass
of CI, fewer on SQLite; `FUZZ_EXAMPLES=n` overrides), no shrinking, and a wall-clock budget per
run after which the remaining operations get a single example each.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, connection, transaction
from django.test import override_settings
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.python import wsgi as wsgi_transport
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from clinic.capabilities import Role
from patients.models import Patient
from tests.clinic import test_access_matrix as matrix

pytestmark = pytest.mark.django_db

POSTGRES = connection.vendor == "postgresql"
FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES") or (3 if POSTGRES else 2))
BUDGET_SECONDS = float(os.environ.get("FUZZ_BUDGET_SECONDS") or (30 if POSTGRES else 20))
CHECKS = [not_a_server_error, content_type_conformance, response_schema_conformance]
PRINCIPALS = (Role.CLINIC_ADMIN, Role.THERAPIST)


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker) -> Iterator[matrix.World]:
    with (
        django_db_blocker.unblock(),
        override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]),
    ):
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            yield matrix._build_world()
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


@pytest.fixture
def in_process_app(settings) -> Iterator[Any]:
    """Django's WSGI application, serving in this thread on the test's database connection (as
    Django's test client does: no closing of the connection at the end of each request)."""
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, wsgi_transport.HOST, "testserver"]
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture(autouse=True)
def _no_lockout_left_behind():
    """Fuzzing the token endpoint fails sign-ins from one address: leave no counter behind."""
    cache.clear()
    yield
    cache.clear()


def _path_values(operation: Any, world: matrix.World) -> dict[str, str]:
    """The seeded clinic's real ids for the operation's path parameters."""
    op = matrix.Operation(operation.method.lower(), operation.path, operation.label)
    template, real = op.path.strip("/").split("/"), matrix.op_url(op, world).strip("/").split("/")
    return {
        part[1:-1]: value
        for part, value in zip(template, real, strict=True)
        if part.startswith("{")
    }


def _failure(case: Any, response: Any, exc: BaseException) -> str:
    """One line per distinct problem: the operation, the status, each failed check's gist and the
    request that showed it."""
    problems = getattr(exc, "exceptions", None) or [exc]
    gist = "; ".join(
        " ".join(line.strip() for line in str(p).splitlines()[:3] if line.strip())[:300]
        for p in problems
    )
    sent = f"query={case.query!r} body={str(case.body)[:200]}"
    return f"{case.operation.label} -> {response.status_code}: {gist} | {sent}"


def _fuzz(
    operation: Any, *, mode: GenerationMode, examples: int, path: dict, headers: dict
) -> set[str]:
    failures: set[str] = set()

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path, headers=headers))
    def run(case: Any) -> None:
        with transaction.atomic():  # each example starts from the same seeded rows
            response = case.call()
            try:
                case.validate_response(response, checks=CHECKS)
            except (Failure, FailureGroup) as exc:  # a failed check: kept for the report
                failures.add(_failure(case, response, exc))
            transaction.set_rollback(True)

    try:
        run()
    except Unsatisfiable:
        # Nothing to make invalid (no parameters, no body): the positive run covered it.
        assert mode is GenerationMode.NEGATIVE, f"no valid request for {operation.label}"
    return failures


def _patient_data(world: matrix.World) -> set[str]:
    """What would identify a seeded patient in a log line: full names, phones, e-mails."""
    found: set[str] = set()
    for patient in Patient.objects.filter(clinic__in=(world.clinic, world.other)):
        found.add(f"{patient.first_name} {patient.last_name}")
        found |= {value for value in (patient.phone, patient.email) if len(value) > 5}
    return found


@pytest.mark.parametrize("role", PRINCIPALS)
def test_fuzz_api_no_server_error_and_answers_match_the_schema(role, world, in_process_app, caplog):
    """...and, with every logger captured, no seeded patient's name, phone or e-mail is logged
    whatever the requests were."""
    caplog.set_level(logging.INFO)
    token, _ = Token.objects.get_or_create(user=world.users[role])
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", in_process_app)
    headers = {"Authorization": f"Token {token.key}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 60
    started = time.monotonic()
    failures: set[str] = set()
    only = os.environ.get(
        "FUZZ_ONLY", ""
    )  # e.g. FUZZ_ONLY="GET /api/v1/clinics/{clinic_id}/rooms/"
    for operation in [op for op in operations if only in op.label]:
        over_budget = time.monotonic() - started > BUDGET_SECONDS
        examples = 1 if over_budget else FUZZ_EXAMPLES
        path = _path_values(operation, world)
        modes = [GenerationMode.POSITIVE]
        if len(operation.query) or len(operation.body):  # the ids of the path stay real
            modes.append(GenerationMode.NEGATIVE)
        for mode in modes:
            failures |= _fuzz(operation, mode=mode, examples=examples, path=path, headers=headers)
    assert not failures, f"{len(failures)} failures:\n" + "\n".join(sorted(failures))
    assert caplog.records, "the refused requests log their 4xx answers; nothing captured is no test"
    secrets = _patient_data(world)
    assert secrets
    for record in caplog.records:
        text = f"{record.getMessage()} {record.exc_text or ''}"
        assert not [s for s in secrets if s in text], (record.name, text[:300])
