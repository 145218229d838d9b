"""The access matrix: every API operation x every role x own clinic / other clinic, from the one
capability map.

The operations come from the OpenAPI schema (drf-spectacular, what /api/schema/ serves) and are
checked against the URL resolver, so an endpoint is covered the day it is routed, and one the
schema does not describe fails here. For each operation the EXPECTED answer is derived, never
written down: the clinic-scoped view declares the capability it needs (`required_capability`,
what `HasClinicCapability` asks), and `clinic.capabilities.ROLE_CAPABILITIES` says which roles
carry it. Then, for every role:

    anonymous                        401
    no membership / another clinic   404 (never 403: that would confirm the clinic exists)
    member without the capability    403, and nothing written
    member with it, superuser        allowed: 200 for a read; for a write with an empty body
                                     2xx or a 4xx about the body (400/409/412/428)

Besides the matrix: no list, filter, search (?q=) or ordering under one clinic's URL shows any row
of another clinic; a foreign id in a request body is refused naming the field; the admin's
autocomplete offers only the administrator's clinics; and every staff page either declares its
capability or is on the public allow-list. A route the test cannot classify fails loudly, with
what to declare.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.contrib import admin
from django.db import models as dj_models
from django.db import transaction
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse
from drf_spectacular.generators import SchemaGenerator
from rest_framework.request import Request
from rest_framework.test import APIClient, APIRequestFactory

from clinic.admin_base import searches_patient_data
from clinic.api.permissions import HasClinicCapability
from clinic.capabilities import ROLE_CAPABILITIES, Capability, Role
from clinic.models import Clinic, Room, User
from patients.models import Diagnosis, EpisodeOfCare, Evaluation, OutcomeMeasure, Patient
from programs.models import Exercise, HomeProgram, Modality
from tests.factories import (
    CLINIC_ROW_FACTORIES,
    URL_KWARG_MODELS,
    ClinicFactory,
    DiagnosisFactory,
    EpisodeVisitFactory,
    EvaluationFactory,
    MembershipFactory,
    OutcomeMeasureFactory,
    UserFactory,
    therapist_in,
)

pytestmark = pytest.mark.django_db

HOME_TIMEZONE = "America/Chicago"  # the home clinic: dates in bodies are its today
WRITES = ("post", "put", "patch", "delete")
ALLOWED_WRITE_STATUSES = {200, 201, 202, 204, 400, 409, 412, 428}

ANONYMOUS, NO_MEMBERSHIP, SUPERUSER = "anonymous", "no membership", "superuser"
ROLES = (Role.RECEPTIONIST, Role.THERAPIST, Role.CLINIC_ADMIN)
PRINCIPALS = (*ROLES, SUPERUSER, NO_MEMBERSHIP, ANONYMOUS)


# --- The operations: the schema, checked against the resolver --------------------------------


def _schema() -> dict[str, Any]:
    return SchemaGenerator().get_schema(request=None, public=True)


SCHEMA = _schema()


@dataclass(frozen=True)
class Operation:
    method: str  # lower case
    path: str  # the schema's template, /api/v1/clinics/{clinic_id}/rooms/{public_id}/
    operation_id: str

    @property
    def params(self) -> list[str]:
        return re.findall(r"{(\w+)}", self.path)

    @property
    def url_name(self) -> str:
        return _resolve_template(self.path).view_name

    @property
    def clinic_scoped(self) -> bool:
        return "clinic_id" in self.params

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.path}"


def _resolve_template(path: str):
    return resolve(re.sub(r"{\w+}", str(uuid.UUID(int=1)), path))


def schema_operations() -> list[Operation]:
    found = []
    for path, item in SCHEMA["paths"].items():
        for method, op in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                found.append(Operation(method, path, op["operationId"]))
    return found


OPERATIONS = schema_operations()
CLINIC_OPERATIONS = [op for op in OPERATIONS if op.clinic_scoped]


def op_ids(ops: list[Operation]) -> list[str]:
    return [op.operation_id for op in ops]


def _walk(patterns, prefix: str = "", namespace: str = "") -> Iterator[tuple[str, str, Any]]:
    for pattern in patterns:
        path = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            ns = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from _walk(pattern.url_patterns, path, ns)
        elif isinstance(pattern, URLPattern):
            yield path, namespace + (pattern.name or ""), pattern


def view_class(callback: Any) -> type | None:
    return getattr(callback, "cls", None) or getattr(callback, "view_class", None)


def view_methods(callback: Any) -> set[str]:
    """The HTTP methods a routed view answers (besides OPTIONS/HEAD)."""
    actions = getattr(callback, "actions", None)
    if actions:
        return set(actions) - {"options", "head"}
    cls = view_class(callback)
    return {m for m in ("get", "post", "put", "patch", "delete") if cls and hasattr(cls, m)}


API_PATTERNS = [(p, n, pat) for p, n, pat in _walk(get_resolver().url_patterns) if "api/v1/" in p]


def test_schema_describes_every_api_route_and_method():
    """An API route the schema does not describe would escape this matrix and the fuzzing."""
    described: dict[str, set[str]] = {}
    for op in OPERATIONS:
        described.setdefault(op.url_name, set()).add(op.method)
    missing = []
    for path, name, pattern in API_PATTERNS:
        assert name, f"{path} has no URL name"
        methods = view_methods(pattern.callback)
        if methods - described.get(name, set()):
            missing.append(f"{name} ({path}): {sorted(methods - described.get(name, set()))}")
    assert not missing, "Routed but not in the OpenAPI schema:\n" + "\n".join(missing)
    assert len(CLINIC_OPERATIONS) > 60  # the walk found the real API, not an empty schema


def test_schema_served_at_api_schema_is_the_one_walked(client):
    served = json.loads(client.get("/api/schema/", HTTP_ACCEPT="application/json").content)
    served_ops = {
        (method, path) for path, item in served["paths"].items() for method in item if method
    }
    assert {(op.method, op.path) for op in OPERATIONS} <= served_ops


# --- What each operation needs: the view's own declaration -----------------------------------


def _view_instance(op: Operation) -> tuple[Any, Request]:
    match = _resolve_template(op.path)
    callback = match.func
    cls = view_class(callback)
    assert cls is not None, f"{op}: only class-based views can declare a capability"
    view = cls(**getattr(callback, "initkwargs", {}))
    actions = getattr(callback, "actions", None) or {}
    view.action_map = actions
    view.action = actions.get(op.method)
    view.args, view.kwargs = (), dict(match.kwargs)
    view.format_kwarg = None
    request = Request(APIRequestFactory().generic(op.method.upper(), op.path))
    view.request = request
    return view, request


def declared_capability(op: Operation) -> Capability:
    """The capability the view says this operation needs; fails if it says none."""
    view, request = _view_instance(op)
    permissions = getattr(view, "permission_classes", [])
    if not any(issubclass(p, HasClinicCapability) for p in permissions):
        pytest.fail(f"{op}: {type(view).__name__} must resolve the clinic with HasClinicCapability")
    needed = view.required_capability(request)
    if not isinstance(needed, Capability):
        pytest.fail(
            f"{op}: {type(view).__name__}.required_capability() returned {needed!r}; declare a "
            "clinic.capabilities.Capability (read_capability / write_capability)"
        )
    return needed


# The base class's defaults (VIEW_CLINIC / MANAGE_CLINIC) fit the clinic's own settings. A view on
# patients' or clinical rows that falls back to them would open the rows to every member.
CLINIC_SETTINGS_CAPABILITIES = {Capability.VIEW_CLINIC, Capability.MANAGE_CLINIC}

# Clinical rows a receptionist never reads or writes. A view on one of these models that needs
# less than a clinical capability must be listed below with the reason.
CLINICAL_MODELS = {
    "patients.diagnosis",
    "patients.evaluation",
    "patients.evaluationaddendum",
    "patients.goal",
    "patients.outcomemeasure",
    "programs.planofcare",
    "programs.treatmentnote",
    "programs.treatmentnoteaddendum",
    "programs.progresssummary",
    "patients.episodeofcare",
    "programs.homeprogram",
    "programs.homeprogramlink",
    "programs.homeprogramversion",
    "programs.homesession",
}
CLINICAL_CAPABILITIES = {
    Capability.VIEW_CLINICAL,
    Capability.MANAGE_CLINICAL,
    Capability.SIGN_CLINICAL,
}
LESS_THAN_CLINICAL: dict[str, str] = {
    "episode-compliance": "the front desk reads the payer's authorization, not the clocks",
    "episode-visit-book": "booking a visit within an episode is scheduling",
}


@pytest.mark.parametrize("op", CLINIC_OPERATIONS, ids=op_ids(CLINIC_OPERATIONS))
def test_capability_declared_fits_the_data(op):
    needed = declared_capability(op)
    view, _ = _view_instance(op)
    model = getattr(view, "model", None)
    label = model._meta.label_lower if model is not None else ""
    if not label.startswith("clinic."):
        assert needed not in CLINIC_SETTINGS_CAPABILITIES, (
            f"{op} ({type(view).__name__}, {label or 'no model'}) needs {needed}, the default "
            "for the clinic's own settings; declare what the data needs"
        )
    if label in CLINICAL_MODELS and op.url_name not in LESS_THAN_CLINICAL:
        assert needed in CLINICAL_CAPABILITIES, f"{op} serves {label} but needs only {needed}"
    if op.method in WRITES:
        assert not needed.startswith("view_") or op.url_name in SIDE_EFFECT_FREE_POSTS, (
            f"{op} writes with a read capability ({needed}); list it in SIDE_EFFECT_FREE_POSTS "
            "only if it writes nothing"
        )


# POSTs that compute and write nothing (checked below: the matrix asserts no table changed).
SIDE_EFFECT_FREE_POSTS = {"contraindication-check", "series-preview", "patient-search"}


def test_capability_clinical_models_are_real_models():
    from django.apps import apps

    for label in CLINICAL_MODELS:
        assert apps.get_model(label)
    assert set(LESS_THAN_CLINICAL) <= {op.url_name for op in CLINIC_OPERATIONS}
    assert {op.url_name for op in CLINIC_OPERATIONS} >= SIDE_EFFECT_FREE_POSTS


# --- The world: two clinics, every role, built once for the module ----------------------------


@dataclass
class World:
    clinic: Clinic
    other: Clinic
    third: Clinic  # administered by the clinic admin too: where a patient may be transferred
    rows: dict[Any, Any]  # model -> one row of the clinic (and EPISODE_VISIT)
    other_rows: dict[Any, Any]
    users: dict[str, User | None]
    both: User  # every role in both clinics: a leak through one clinic's URL is a scoping bug
    other_tokens: set[str]  # strings that identify the other clinic's rows
    modality: Modality
    exercise: Exercise


def _tokens_of(clinic: Clinic, *, besides: Clinic) -> set[str]:
    """Public ids of every row of `clinic`, and the names, MRNs and usernames of its patients and
    staff, leaving out what is shared with `besides` (staff of both)."""
    from django.apps import apps

    tokens: set[str] = {str(clinic.public_id)}
    for model in apps.get_models():
        names = {f.name for f in model._meta.concrete_fields}
        if "clinic" in names and "public_id" in names:
            tokens |= {
                str(v)
                for v in model._default_manager.filter(clinic=clinic).values_list(
                    "public_id", flat=True
                )
            }
    staff = User.objects.filter(memberships__clinic=clinic).exclude(memberships__clinic=besides)
    for user in staff.distinct():
        tokens |= {str(user.public_id), user.username}
    for patient in Patient.objects.filter(clinic=clinic):
        tokens |= {patient.mrn, patient.last_name}
    return tokens


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker) -> Iterator[World]:
    with (
        django_db_blocker.unblock(),
        override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]),
    ):
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            yield _build_world()
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


def _rows_of(clinic: Clinic) -> dict[Any, Any]:
    """One row of every registered model; the episode's evaluation, outcome, diagnosis and a
    visit all of one episode, so that a body naming them together is valid."""
    rows = {model: make(clinic=clinic) for model, make in CLINIC_ROW_FACTORIES.items()}
    episode = rows[EpisodeOfCare]
    rows[Evaluation] = EvaluationFactory(episode=episode)
    rows[OutcomeMeasure] = OutcomeMeasureFactory(episode=episode)
    rows[Diagnosis] = DiagnosisFactory(patient=episode.patient)
    rows[EPISODE_VISIT] = EpisodeVisitFactory(clinic=clinic, episode=episode)
    return rows


# The key of the episode's own (completed) visit in a World's rows; rows[Visit] is a booked one.
EPISODE_VISIT = "episode visit"


def _build_world() -> World:
    clinic = ClinicFactory(name="Matrix Home", timezone=HOME_TIMEZONE)
    other = ClinicFactory(name="Matrix Elsewhere", timezone="Europe/Vienna")
    rows, other_rows = _rows_of(clinic), _rows_of(other)
    for n, patient in enumerate(Patient.objects.filter(clinic=other)):
        Patient.objects.filter(pk=patient.pk).update(last_name=f"Leakprobe{n:03d}x")
    users: dict[str, User | None] = {
        Role.RECEPTIONIST: UserFactory(clinic=clinic, role=Role.RECEPTIONIST),
        Role.THERAPIST: therapist_in(clinic, discipline="PT"),
        Role.CLINIC_ADMIN: UserFactory(clinic=clinic, role=Role.CLINIC_ADMIN),
        SUPERUSER: UserFactory(is_superuser=True, is_staff=True),
        NO_MEMBERSHIP: UserFactory(),
        ANONYMOUS: None,
    }
    third = ClinicFactory(name="Matrix Third", timezone="America/Chicago")
    MembershipFactory(user=users[Role.CLINIC_ADMIN], clinic=third, role=Role.CLINIC_ADMIN)
    both = therapist_in(clinic, discipline="PT")
    for place in (clinic, other):
        for role in Role.values:
            if not (place == clinic and role == Role.THERAPIST):
                MembershipFactory(user=both, clinic=place, role=role)
    return World(
        clinic=clinic,
        other=other,
        third=third,
        rows=rows,
        other_rows=other_rows,
        users=users,
        both=both,
        other_tokens=_tokens_of(other, besides=clinic),
        modality=Modality.objects.filter(active=True).first() or Modality.objects.first(),
        exercise=Exercise.objects.filter(active=True).first() or Exercise.objects.first(),
    )


def client_as(user: User | None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user=user)
    return client


# --- URLs with real ids -------------------------------------------------------------------------


def _model_named(name: str) -> type[dj_models.Model] | None:
    if name in URL_KWARG_MODELS:
        return URL_KWARG_MODELS[name]
    for model in CLINIC_ROW_FACTORIES:
        if model._meta.model_name == name.replace("_", ""):
            return model
    return None


def _follow(obj: Any, lookup: str) -> Any:
    for name in lookup.split("__"):
        obj = getattr(obj, name)
    return obj


def op_url(op: Operation, world: World, *, other: bool = False) -> str:
    """The operation's URL with real ids: the clinic's (or the other clinic's) row of the view's
    model, and that row's own parents, so a list under a parent lists something."""
    rows = world.other_rows if other else world.rows
    view, _ = _view_instance(op)
    model = getattr(view, "model", None)
    obj = rows.get(model) if model is not None else None
    if model is not None and model not in (Clinic,) and obj is None and len(op.params) > 1:
        pytest.fail(
            f"{op} ({type(view).__name__}) serves {model._meta.label}, which has no factory in "
            "tests/factories.py CLINIC_ROW_FACTORIES; register one"
        )
    lookup_kwarg = getattr(view, "lookup_url_kwarg", None) or getattr(view, "lookup_field", None)
    values: dict[str, Any] = {}
    for param in op.params:
        if param == "clinic_id":
            values[param] = (world.other if other else world.clinic).public_id
        elif param == lookup_kwarg and obj is not None:
            values[param] = _follow(obj, view.lookup_field)
        elif param == "public_id" and not op.clinic_scoped:
            values[param] = (world.exercise if "exercise" in op.path else world.modality).public_id
        else:
            parent_name = param.removesuffix("_id")
            parent = getattr(obj, parent_name, None) if obj is not None else None
            if parent is None:
                parent_model = _model_named(parent_name)
                if parent_model is None:
                    pytest.fail(
                        f"{op}: the URL kwarg {param} names no model of CLINIC_ROW_FACTORIES; "
                        "register it (or its name in URL_KWARG_MODELS)"
                    )
                parent = rows[parent_model]
            values[param] = parent.public_id
    return re.sub(r"{(\w+)}", lambda m: str(values[m.group(1)]), op.path)


def call(client: APIClient, method: str, url: str, data: Any = None, **extra: Any):
    if method == "get":
        return client.get(url, data or {}, **extra)
    return getattr(client, method)(url, data if data is not None else {}, format="json", **extra)


def table_counts() -> dict[str, int]:
    from django.apps import apps
    from django.conf import settings

    base = str(settings.BASE_DIR)
    return {
        model._meta.label: model._default_manager.count()
        for config in apps.get_app_configs()
        if config.path.startswith(base) or config.label == "authtoken"
        for model in config.get_models()
    }


@transaction.atomic
def _answer(client: APIClient, op: Operation, url: str) -> Any:
    """One request in a savepoint that is rolled back, so the next principal finds the same rows."""
    response = call(client, op.method, url)
    transaction.set_rollback(True)
    return response


# --- The matrix --------------------------------------------------------------------------------


def expected(op: Operation, principal: str, *, other: bool) -> str:
    """'allowed', or the status code the principal must get."""
    if principal == ANONYMOUS:
        return "401"
    if principal == SUPERUSER:
        return "allowed"
    if principal == NO_MEMBERSHIP or other:
        return "404"
    return "allowed" if declared_capability(op) in ROLE_CAPABILITIES[principal] else "403"


def outcome(op: Operation, status: int) -> str:
    if op.method == "get":
        return "allowed" if status == 200 else str(status)
    return "allowed" if status in ALLOWED_WRITE_STATUSES else str(status)


@pytest.mark.parametrize("op", CLINIC_OPERATIONS, ids=op_ids(CLINIC_OPERATIONS))
def test_access_matrix(op, world):
    wrong: list[str] = []
    refused_writes = []
    for principal in PRINCIPALS:
        client = client_as(world.users[principal])
        for other in (False, True):
            if other and principal in (ANONYMOUS, NO_MEMBERSHIP):
                continue  # the same answer whatever the clinic
            url = op_url(op, world, other=other)
            want = expected(op, principal, other=other)
            if want != "allowed":
                refused_writes.append((client, url))
            response = _answer(client, op, url)
            got = outcome(op, response.status_code)
            if got != want:
                where = "another clinic" if other else "own clinic"
                wrong.append(
                    f"{principal:14} {where:14} expected {want}, got {response.status_code}: "
                    f"{response.content[:160]!r}"
                )
    assert not wrong, f"{op} (needs {declared_capability(op)}):\n" + "\n".join(wrong)
    # What is refused writes nothing, not even in a savepoint that would be rolled back.
    if op.method in WRITES or op.url_name in SIDE_EFFECT_FREE_POSTS:
        before = table_counts()
        for client, url in refused_writes:
            call(client, op.method, url)
        assert table_counts() == before, f"{op}: a refused request wrote rows"


# Routes outside /clinics/{clinic_id}/: each with its own rule, stated here.
CATALOGUES = {
    "precaution-kinds",
    "modality-list",
    "modality-detail",
    "exercise-list",
    "exercise-detail",
}


def non_clinic_expected(op: Operation, principal: str) -> set[int]:
    name, method = op.url_name, op.method
    member = principal in ROLES or principal == SUPERUSER
    if name == "auth-token":
        if method == "post":
            return {400}  # anyone may try to sign in; an empty body is refused
        return {401} if principal == ANONYMOUS else {204}
    if principal == ANONYMOUS:
        return {401}
    if name == "me":
        return {200}
    if name == "clinic-list":
        if method == "get":
            return {200}
        return {400} if principal == SUPERUSER else {403}
    if name in CATALOGUES:  # practice-wide: any member of staff reads, the practice writes
        if method == "get":
            return {200} if member else {403}
        return {200, 201, 400} if principal == SUPERUSER else {403}
    pytest.fail(
        f"{op} is outside /clinics/{{clinic_id}}/ and has no rule in non_clinic_expected(); "
        "state who may call it"
    )


NON_CLINIC_OPERATIONS = [op for op in OPERATIONS if not op.clinic_scoped]


@pytest.mark.parametrize("op", NON_CLINIC_OPERATIONS, ids=op_ids(NON_CLINIC_OPERATIONS))
def test_access_matrix_outside_the_clinics(op, world):
    wrong = []
    for principal in PRINCIPALS:
        url = op_url(op, world)
        response = _answer(client_as(world.users[principal]), op, url)
        want = non_clinic_expected(op, principal)
        if response.status_code not in want:
            wrong.append(f"{principal}: expected {sorted(want)}, got {response.status_code}")
    assert not wrong, f"{op}:\n" + "\n".join(wrong)


def test_access_matrix_follows_the_roles_of_the_issue():
    """The derived expectations agree with the roles as the practice defines them: the front desk
    books and registers but reads no clinical note; therapists do clinical work; clinic
    administrators run the clinic but do not sign notes."""

    def want(name: str, method: str, role: str) -> str:
        (op,) = [o for o in CLINIC_OPERATIONS if o.url_name == name and o.method == method]
        return expected(op, role, other=False)

    desk, therapist, boss = Role.RECEPTIONIST, Role.THERAPIST, Role.CLINIC_ADMIN
    assert want("visit-list", "post", desk) == "allowed"
    assert want("patient-list", "post", desk) == "allowed"
    assert want("precaution-list", "get", desk) == "allowed"
    assert want("treatment-note", "get", desk) == "403"
    assert want("evaluation-detail", "get", desk) == "403"
    assert want("diagnosis-list", "get", desk) == "403"
    assert want("treatment-note", "put", therapist) == "allowed"
    assert want("treatment-note-sign", "post", therapist) == "allowed"
    assert want("staff-list", "post", therapist) == "403"
    assert want("staff-list", "post", boss) == "allowed"
    assert want("treatment-note-sign", "post", boss) == "403"
    assert want("evaluation-sign", "post", boss) == "403"


# --- No leaks through lists, filters, search and ordering ---------------------------------------

GET_OPERATIONS = [op for op in CLINIC_OPERATIONS if op.method == "get"]


def _param_probes(op: Operation, world: World) -> list[tuple[str, str]]:
    """(name, value) pairs that aim each query parameter at the other clinic: its rows' ids, its
    patients' names and MRNs, and every ordering."""
    other = world.other_rows
    probes: list[tuple[str, str]] = []
    parameters = SCHEMA["paths"][op.path][op.method].get("parameters", [])
    view, _ = _view_instance(op)
    for param in parameters:
        name, schema = param["name"], param.get("schema", {})
        if param["in"] != "query" or name in ("page",):
            continue
        kind, fmt = schema.get("type"), schema.get("format")
        if name in ("q", "search"):
            patient = other[Patient]
            probes += [(name, patient.last_name), (name, patient.mrn), (name, patient.first_name)]
        elif name == "ordering":
            fields = getattr(view, "ordering_fields", None) or ["id"]
            probes += [(name, f) for f in fields] + [(name, f"-{f}") for f in fields]
        elif name == "page_size":
            probes.append((name, "200"))
        elif fmt == "uuid" or name.endswith("public_id") or name in PARAM_MODELS:
            model = PARAM_MODELS.get(name.removesuffix("__public_id"))
            if model is None:
                pytest.fail(f"{op}: query parameter {name} names no model in PARAM_MODELS")
            probes.append((name, str(_other_row(world, model).public_id)))
        elif fmt == "date":
            probes.append((name, str(dt.date.today())))
        elif fmt == "date-time":
            probes.append((name, dt.datetime.now(dt.UTC).isoformat()))
        elif "enum" in schema or "enum" in schema.get("items", {}):
            probes += [(name, str(v)) for v in schema.get("enum") or schema["items"]["enum"]]
        elif kind == "boolean":
            probes += [(name, "true"), (name, "false")]
        elif kind == "integer":
            probes.append((name, "30"))
        else:
            probes.append((name, other[Patient].last_name))
    return probes


def _other_row(world: World, model: Any) -> Any:
    if model == "therapist":
        return world.other_rows[EpisodeOfCare].therapist
    return world.other_rows[model]


# Query parameters that name a row, and the model of the row.
PARAM_MODELS: dict[str, Any] = {
    "patient": Patient,
    "therapist": "therapist",
    "episode": EpisodeOfCare,
}


def _leaked(world: World, content: bytes) -> set[str]:
    text = content.decode(errors="replace")
    return {
        token
        for token in world.other_tokens
        if token in text and re.search(rf"(?<![\w-]){re.escape(token)}(?![\w-])", text)
    }


def _has_rows(response: Any) -> bool:
    """Whether a JSON answer holds any row (a document, e.g. a PDF handout, is not probed)."""
    if not response.get("Content-Type", "").startswith("application/json"):
        return False
    body = json.loads(response.content or b"null")
    if isinstance(body, dict) and isinstance(body.get("results"), list):
        return bool(body["results"])
    return bool(body)


@pytest.mark.parametrize("op", GET_OPERATIONS, ids=op_ids(GET_OPERATIONS))
def test_no_leak_of_another_clinics_rows_through_lists_filters_search_and_ordering(op, world):
    """A member of BOTH clinics asks through the first clinic's URL, with every query parameter
    aimed at the second clinic's rows: nothing of the second clinic comes back. (The same request
    through the second clinic's URL does show its rows: the probe can see a leak.)"""
    client = client_as(world.both)
    url = op_url(op, world)
    base = client.get(url)
    assert base.status_code == 200, f"{op}: {base.content[:300]!r}"
    leaks = []
    for name, value in [("", ""), *_param_probes(op, world)]:
        response = client.get(url, {name: value} if name else {})
        assert response.status_code < 500, f"{op} ?{name}={value}: {response.status_code}"
        if found := _leaked(world, response.content):
            leaks.append(f"?{name}={value}: {sorted(found)[:5]}")
    assert not leaks, f"{op} shows rows of another clinic:\n" + "\n".join(leaks)
    there = client.get(op_url(op, world, other=True))
    assert there.status_code == 200
    if _has_rows(there):
        assert _leaked(world, there.content), f"{op}: the probe misses the clinic's own rows"


# --- Foreign ids in request bodies ----------------------------------------------------------------


def _home_today() -> str:
    """Today in the home clinic's zone: a date the product checks against the clinic's today
    (`dt.date.today()`, the machine's UTC date, is tomorrow in Chicago after 18:00 there)."""
    return str(dt.datetime.now(ZoneInfo(HOME_TIMEZONE)).date())


def _future(days: int = 9) -> str:
    return str(dt.date.today() + dt.timedelta(days=days))


def _therapist(rows: dict[Any, Any]) -> User:
    return rows[EpisodeOfCare].therapist


def _ids(rows: dict[Any, Any]) -> dict[str, str]:
    """The ids a request body may name, of one clinic's rows."""
    episode = rows[EpisodeOfCare]
    return {
        "patient": str(episode.patient.public_id),
        "episode": str(episode.public_id),
        "therapist": str(episode.therapist.public_id),
        "room": str(rows[Room].public_id),
        "visit": str(rows[EPISODE_VISIT].public_id),
        "evaluation": str(rows[Evaluation].public_id),
        "primary_diagnosis": str(rows[Diagnosis].public_id),
        "user": str(rows[User].public_id),
        "items": str(rows[HomeProgram].versions.get().items.first().public_id),
    }


def _booking(ids: dict[str, str]) -> dict[str, Any]:
    return {
        "patient": ids["patient"],
        "episode": ids["episode"],
        "therapist": ids["therapist"],
        "room": ids["room"],
        "starts_at": f"{_future()}T10:00",
        "duration_minutes": 30,
    }


def _series(ids: dict[str, str]) -> dict[str, Any]:
    return {
        "patient": ids["patient"],
        "episode": ids["episode"],
        "therapist": ids["therapist"],
        "room": ids["room"],
        "weekdays": [1, 3],
        "local_time": "10:00",
        "duration_minutes": 30,
        "first_day": _future(),
        "occurrences": 2,
    }


# (url name, method) -> a body with the URL clinic's own ids, valid but for what the service
# checks. Each id field of it is then swapped for the other clinic's row of the same kind.
# Every id a request body may carry (per the schema) must be covered here, or be practice-wide.
FOREIGN_ID_CASES: dict[tuple[str, str], Any] = {
    ("visit-list", "post"): _booking,
    ("series-book", "post"): _series,
    ("series-preview", "post"): _series,
    ("visit-reschedule", "post"): lambda ids: {
        "starts_at": f"{_future(10)}T11:00",
        "therapist": ids["therapist"],
        "room": ids["room"],
    },
    ("episode-visit-book", "post"): lambda ids: {
        k: v for k, v in _booking(ids).items() if k not in ("patient", "episode")
    },
    ("patient-episode-list", "post"): lambda ids: {
        "therapist": ids["therapist"],
        "primary_diagnosis": ids["primary_diagnosis"],
        "started_on": _home_today(),
    },
    ("episode-detail", "patch"): lambda ids: {
        "therapist": ids["therapist"],
        "primary_diagnosis": ids["primary_diagnosis"],
    },
    ("episode-evaluation-list", "post"): lambda ids: {
        "kind": "re_evaluation",
        "performed_on": _home_today(),
        "visit": ids["visit"],
    },
    ("evaluation-detail", "patch"): lambda ids: {"visit": ids["visit"], "version": 1},
    ("episode-outcome-list", "post"): lambda ids: {
        "instrument": "nprs",
        "answers": {"pain": 3},
        "evaluation": ids["evaluation"],
        "visit": ids["visit"],
    },
    ("working-hours-list", "post"): lambda ids: {
        "therapist": ids["therapist"],
        "weekday": 5,
        "starts": "08:00",
        "ends": "09:00",
    },
    ("time-off-list", "post"): lambda ids: {
        "therapist": ids["therapist"],
        "starts_at": f"{_future(20)}T08:00:00Z",
        "ends_at": f"{_future(20)}T12:00:00Z",
    },
    ("staff-list", "post"): lambda ids: {"user": ids["user"], "role": "receptionist"},
    ("patient-transfer", "post"): lambda ids: {"to_clinic": ids["to_clinic"]},
    ("home-program-sessions", "post"): lambda ids: {
        "version": 1,
        "performed_on": _home_today(),
        "items": [ids["items"]],
        "pain": 2,
    },
}
# Ids of the practice's shared catalogues: the same rows for every clinic.
PRACTICE_WIDE_FIELDS = {"modality", "exercise"}


def _body_id_fields(schema: dict[str, Any], prefix: str = "") -> list[str]:
    components = SCHEMA["components"]["schemas"]
    if "$ref" in schema:
        schema = components[schema["$ref"].split("/")[-1]]
    found = [prefix] if schema.get("format") == "uuid" and prefix else []
    for name, sub in schema.get("properties", {}).items():
        if not sub.get("readOnly"):
            found += _body_id_fields(sub, f"{prefix}.{name}" if prefix else name)
    if "items" in schema:
        found += _body_id_fields(schema["items"], f"{prefix}[]")
    for key in ("allOf", "oneOf", "anyOf"):
        for sub in schema.get(key, []):
            found += _body_id_fields(sub, prefix)
    return found


def _body_schema(op: Operation) -> dict[str, Any] | None:
    body = SCHEMA["paths"][op.path][op.method].get("requestBody", {})
    return body.get("content", {}).get("application/json", {}).get("schema")


ID_FIELDS = {
    (op.url_name, op.method): fields
    for op in CLINIC_OPERATIONS
    if (schema := _body_schema(op)) and (fields := _body_id_fields(schema))
}


def test_every_id_a_request_body_carries_has_a_foreign_id_case():
    uncovered = [
        f"{name} {method.upper()}: {field}"
        for (name, method), fields in ID_FIELDS.items()
        for field in fields
        if field.split(".")[-1] not in PRACTICE_WIDE_FIELDS
        and (name, method) not in FOREIGN_ID_CASES
    ]
    assert not uncovered, (
        "Request bodies carry ids with no case in FOREIGN_ID_CASES (add a valid body):\n"
        + "\n".join(uncovered)
    )
    assert set(FOREIGN_ID_CASES) <= set(ID_FIELDS), "a case for an operation the schema lacks"


FOREIGN_CASES = sorted(
    (name, method, field)
    for (name, method), fields in ID_FIELDS.items()
    for field in fields
    if field.split(".")[-1] not in PRACTICE_WIDE_FIELDS
)


@pytest.mark.parametrize(
    ("name", "method", "field"), FOREIGN_CASES, ids=[f"{n}-{m}-{f}" for n, m, f in FOREIGN_CASES]
)
def test_foreign_id_in_a_request_body_is_refused_naming_the_field(name, method, field, world):
    """A member of both clinics sends, through the first clinic's URL, a body naming one row of
    the second clinic: 400 naming that field, nothing written. The same body with the first
    clinic's own row is not refused on that field, so the refusal is about the clinic."""
    (op,) = [o for o in CLINIC_OPERATIONS if (o.url_name, o.method) == (name, method)]
    # Who may legitimately act in both clinics may grant a role to the other clinic's staff and
    # transfer patients there: those two fields are probed by an administrator of one clinic.
    across = field in ("user", "to_clinic")
    client = client_as(world.users[Role.CLINIC_ADMIN] if across else world.both)
    url = op_url(op, world)
    own = {**_ids(world.rows), "to_clinic": str(world.third.public_id)}
    foreign = {**_ids(world.other_rows), "to_clinic": str(world.other.public_id)}
    key = field.removesuffix("[]")  # "items[]": a list of ids
    body = FOREIGN_ID_CASES[(name, method)](own)
    wrap = (lambda v: [v]) if field.endswith("[]") else (lambda v: v)
    assert body[key] == wrap(own[key]), f"the case's body for {name} does not carry {field}"

    with transaction.atomic():
        mine = call(client, method, url, body)
        transaction.set_rollback(True)
    before = table_counts()
    theirs = call(client, method, url, {**body, key: wrap(foreign[key])})

    assert theirs.status_code == 400, f"{op} with a foreign {field}: {theirs.content[:300]!r}"
    assert key in theirs.json().get("errors", {}), theirs.json()
    assert table_counts() == before
    own_errors = mine.json().get("errors", {}) if mine.status_code == 400 else {}
    assert key not in own_errors, f"{op}: the clinic's own {field} is refused too: {own_errors}"


# --- Admin autocomplete -----------------------------------------------------------------------


def _autocomplete_fields() -> list[tuple[str, str, str, type[dj_models.Model]]]:
    """(app_label, model_name, field_name, remote model) of every autocomplete field of every
    registered admin and of the inlines it shows."""
    found = []
    for model, model_admin in admin.site._registry.items():
        holders = [(model, model_admin)] + [
            (inline.model, inline(model, admin.site)) for inline in model_admin.inlines
        ]
        for holder_model, holder in holders:
            for name in holder.autocomplete_fields:
                remote = holder_model._meta.get_field(name).remote_field.model
                found.append(
                    (holder_model._meta.app_label, holder_model._meta.model_name, name, remote)
                )
    return sorted(set(found), key=lambda f: f[:3])


AUTOCOMPLETE_FIELDS = _autocomplete_fields()


def _rows_of_model(model: type[dj_models.Model], clinic: Clinic, *, besides: Clinic) -> set[int]:
    if model is User:
        staff = User.objects.filter(memberships__clinic=clinic).exclude(memberships__clinic=besides)
        return set(staff.values_list("pk", flat=True))
    return set(model._default_manager.filter(clinic=clinic).values_list("pk", flat=True))


def test_admin_autocomplete_walk_finds_the_fields():
    assert len(AUTOCOMPLETE_FIELDS) >= 5
    assert ("patients", "visit", "patient", Patient) in AUTOCOMPLETE_FIELDS


@pytest.mark.parametrize(
    ("app_label", "model_name", "field_name", "remote"),
    AUTOCOMPLETE_FIELDS,
    ids=[f"{a}.{m}.{f}" for a, m, f, _ in AUTOCOMPLETE_FIELDS],
)
def test_admin_autocomplete_offers_only_the_administrators_clinics(
    app_label, model_name, field_name, remote, world
):
    """Every autocomplete of the admin, searched by an administrator of one clinic with nothing
    and with the other clinic's patients' names and MRNs: only rows of their clinic. Searched
    as the widgets search, by POST (the term in the body, never in the URL)."""
    client = Client()
    client.force_login(world.users[Role.CLINIC_ADMIN])
    theirs = _rows_of_model(remote, world.other, besides=world.clinic)
    mine = _rows_of_model(remote, world.clinic, besides=world.other)
    assert theirs, f"the other clinic has no {remote.__name__}"
    assert mine, f"the clinic has no {remote.__name__}"
    patient = world.other_rows[Patient]
    offered: set[int] = set()
    for term in ("", patient.mrn, patient.last_name, patient.first_name):
        response = client.post(
            "/admin/autocomplete/",
            {
                "app_label": app_label,
                "model_name": model_name,
                "field_name": field_name,
                "term": term,
            },
        )
        assert response.status_code == 200, (term, response.content[:200])
        ids = {int(r["id"]) for r in response.json()["results"]}
        assert not ids & theirs, f"{term!r} offers rows of another clinic: {ids & theirs}"
        offered |= ids
    assert offered & mine, "the autocomplete offers nothing of the administrator's own clinic"
    # The same search in a URL is refused where it can match patient data.
    in_url = client.get(
        "/admin/autocomplete/",
        {
            "app_label": app_label,
            "model_name": model_name,
            "field_name": field_name,
            "term": patient.last_name,
        },
    )
    holds_patients = searches_patient_data(admin.site.get_model_admin(remote))
    assert in_url.status_code == (400 if holds_patients else 200), in_url.content[:200]


# --- Staff pages ----------------------------------------------------------------------------------

# URL names outside the API and the admin that anyone may open, and why.
PUBLIC_PAGES = {
    "home": "redirects to the sign-in page or the user's clinic",
    "healthz": "the load balancer's health check; says nothing about patients",
    "favicon": "a redirect to the static icon",
    "schema": "the OpenAPI document",
    "swagger-ui": "the API's documentation page",
    "pages:login": "signing in",
    "pages:logout": "signing out",
    # The patient's signed, expiring home-programme link: the token in the URL is the credential
    # (checked below: a forged token opens nothing).
    "home-link-page": "the patient's home programme",
    "home-link-thanks": "the patient's home programme, after recording a session",
    "home-link-session": "the patient records a session",
    "home-link-handout": "the patient's printable handout",
}
# Values for page URL kwargs that are not ids of rows.
PAGE_KWARG_VALUES = {"instrument": "nprs", "action": "check-in", "kind": "modality"}
# Page URL kwargs naming rows whose model is not named by the kwarg.
PAGE_KWARG_ROWS: dict[str, Any] = {
    "therapist_id": lambda rows: rows[EpisodeOfCare].therapist,
    "visit_id": lambda rows: rows[EPISODE_VISIT],  # held: its note and panel pages open
    "program_id": lambda rows: rows[HomeProgram],  # the home-programme link and handout pages
}


@dataclass(frozen=True)
class Page:
    name: str
    path: str
    pattern: Any

    @property
    def view(self) -> type:
        cls = view_class(self.pattern.callback)
        assert cls is not None, f"{self.name}: staff pages are class-based views"
        return cls


def page_routes() -> list[Page]:
    pages = []
    for path, name, pattern in _walk(get_resolver().url_patterns):
        if "api/v1/" in path or path.startswith("admin/"):
            continue
        pages.append(Page(name, path, pattern))
    return pages


PAGES = page_routes()
CAPABILITY_PAGES = [p for p in PAGES if p.name not in PUBLIC_PAGES]


def test_every_page_is_public_by_name_or_declares_its_capability():
    assert {p.name for p in PAGES} >= {"home", "healthz", "schema", "swagger-ui"}
    unclassified = []
    for page in CAPABILITY_PAGES:
        cls = view_class(page.pattern.callback)
        if (
            not page.name.startswith("pages:")
            or cls is None
            or not isinstance(getattr(cls, "capability", None), Capability)
            or "clinic_id" not in page.path
        ):
            unclassified.append(f"{page.name or '(no name)'}: {page.path}")
    assert not unclassified, (
        "Pages neither in PUBLIC_PAGES nor in the 'pages' namespace with a `capability` class "
        "attribute and a clinic_id URL kwarg (clinic.pages.ClinicPageMixin):\n"
        + "\n".join(unclassified)
    )


def _page_url(page: Page, world: World, *, other: bool) -> str:
    rows = world.other_rows if other else world.rows
    kwargs: dict[str, Any] = {}
    names = set(re.findall(r"\(\?P<(\w+)>", page.path)) | set(
        re.findall(r"<(?:\w+:)?(\w+)>", page.path)
    )
    for kwarg in names:
        if kwarg == "clinic_id":
            kwargs[kwarg] = (world.other if other else world.clinic).public_id
        elif kwarg in PAGE_KWARG_VALUES:
            kwargs[kwarg] = PAGE_KWARG_VALUES[kwarg]
        elif kwarg in PAGE_KWARG_ROWS:
            kwargs[kwarg] = PAGE_KWARG_ROWS[kwarg](rows).public_id
        elif (model := _model_named(kwarg.removesuffix("_id"))) is not None:
            kwargs[kwarg] = rows[model].public_id
        else:
            pytest.fail(f"{page.name}: no value for the URL kwarg {kwarg}; add it to PAGE_KWARG_*")
    return reverse(page.name, kwargs=kwargs)


def _page_outcome(method: str, response: Any) -> str:
    status = response.status_code
    if status == 302 and "login" in response.get("Location", ""):
        return "login"
    if method == "get":
        return "allowed" if status in (200, 302) else str(status)
    return "allowed" if status in (200, 302, 400, 409, 412, 428) else str(status)


def test_page_matrix(world):
    """Every capability page x every role x own clinic / other clinic, GET and (where the view
    takes it) POST with an empty form: sign-in for the anonymous, 404 for another clinic, 403
    without the page's capability, the page otherwise."""
    assert {p.name for p in CAPABILITY_PAGES} == {
        p.name for p in CAPABILITY_PAGES if p.name.startswith("pages:")
    }
    wrong = []
    for page in CAPABILITY_PAGES:
        capability = page.view.capability
        methods = [m for m in ("get", "post") if hasattr(page.view, m)]
        for principal in PRINCIPALS:
            user = world.users[principal]
            client = Client()
            if user is not None:
                client.force_login(user)
            for other in (False, True):
                url = _page_url(page, world, other=other)
                if principal == ANONYMOUS:
                    want = "login"
                elif principal == SUPERUSER:
                    want = "allowed"
                elif principal == NO_MEMBERSHIP or other:
                    want = "404"
                else:
                    want = "allowed" if capability in ROLE_CAPABILITIES[principal] else "403"
                for method in methods:
                    with transaction.atomic():
                        response = getattr(client, method)(url, {})
                        transaction.set_rollback(True)
                    got = _page_outcome(method, response)
                    if got != want:
                        wrong.append(
                            f"{method.upper()} {url} as {principal}: expected {want}, got "
                            f"{response.status_code}"
                        )
    assert not wrong, "\n".join(wrong)


def test_public_token_pages_open_nothing_with_a_forged_token(world):
    """The public pages whose URL carries the patient's token answer a forged one with a refusal
    (every URL with a token is one of them: the page walk above classifies the rest)."""
    token_pages = [p for p in PAGES if p.name in PUBLIC_PAGES and "<str:token>" in p.path]
    assert {p.name for p in token_pages} == {p.name for p in PAGES if "token" in p.path}
    client = Client()
    for page in token_pages:
        for token in ("forged", "eyJhbGciOi.forged.signature", "1" * 64):
            url = reverse(page.name, kwargs={"token": token})
            for method in [m for m in ("get", "post") if hasattr(page.view, m)]:
                status = getattr(client, method)(url, {}).status_code
                assert status in (400, 403, 404, 410), f"{method.upper()} {url}: {status}"
