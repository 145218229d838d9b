"""Tenancy, walked over every clinic-scoped API route.

Every URL under /api/v1/ with a `clinic_id` is found from the URL resolver, so a new endpoint is
covered the day it is routed. For each route a member of another clinic gets 404 (never 403,
never 2xx) and nothing is written, and a row of one clinic cannot be reached through the URL of
another clinic either.

The ids in the URLs are real rows of `clinic`, made from tests/factories.py CLINIC_ROW_FACTORIES.
A route whose model (or parent, e.g. `patient_id`) has no factory there fails with a message
saying so: add the factory, do not skip the route.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.apps import apps
from django.conf import settings
from django.db.models import Model
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.test import APIClient

from clinic.api.permissions import HasClinicCapability
from clinic.capabilities import Role
from clinic.models import Clinic, User
from tests.factories import (
    CLINIC_ROW_FACTORIES,
    URL_KWARG_MODELS,
    MembershipFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

METHODS = ("get", "post", "put", "patch", "delete", "options")
WRITES = ("post", "put", "patch", "delete")


@dataclass(frozen=True)
class Route:
    name: str
    path: str
    kwargs: frozenset[str]
    view: type
    actions: dict[str, str] = field(hash=False, compare=False)

    @property
    def lookup(self) -> str | None:
        """The URL kwarg naming the route's own object, if this is a detail route."""
        kwarg = getattr(self.view, "lookup_url_kwarg", None) or getattr(
            self.view, "lookup_field", None
        )
        return kwarg if kwarg in self.kwargs else None

    @property
    def is_clinic_itself(self) -> bool:
        return self.lookup == "clinic_id"


def _walk(patterns, prefix: str = "", namespace: str = "", kwargs: frozenset[str] = frozenset()):
    for pattern in patterns:
        found = kwargs | frozenset(pattern.pattern.regex.groupindex)
        path = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            ns = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from _walk(pattern.url_patterns, path, ns, found)
        elif isinstance(pattern, URLPattern):
            yield path, namespace, pattern, found


def clinic_routes() -> list[Route]:
    routes = []
    for path, namespace, pattern, kwargs in _walk(get_resolver().url_patterns):
        if not path.startswith("api/v1/") or "clinic_id" not in kwargs:
            continue
        assert pattern.name, f"{path} has no URL name; the tenancy walker reverses by name"
        view = getattr(pattern.callback, "cls", None) or getattr(
            pattern.callback, "view_class", None
        )
        assert view is not None, f"{path}: only class-based views are walked"
        actions = getattr(pattern.callback, "actions", None) or {
            m: m for m in METHODS if hasattr(view, m)
        }
        routes.append(Route(namespace + pattern.name, path, kwargs, view, dict(actions)))
    return routes


CLINIC_ROUTES = clinic_routes()
# Routes that name a row (or a parent row) besides the clinic: their ids can be tried through the
# URL of another clinic.
ROW_ROUTES = [r for r in CLINIC_ROUTES if r.kwargs - {"clinic_id"}]


def route_ids(routes: list[Route]) -> list[str]:
    return [r.name for r in routes]


# --- Building URLs with real ids -------------------------------------------------------------


def _registered(model: type[Model], route: Route, why: str) -> None:
    if model not in CLINIC_ROW_FACTORIES:
        pytest.fail(
            f"Route {route.name} ({route.path}) needs a {model.__name__} of the clinic {why}, "
            f"and {model._meta.label} has no factory in tests/factories.py "
            "CLINIC_ROW_FACTORIES. Register one so the tenancy walker can test this route."
        )


def _model_named(name: str, route: Route) -> type[Model]:
    if name in URL_KWARG_MODELS:  # e.g. episode_id names an EpisodeOfCare
        return URL_KWARG_MODELS[name]
    for model in CLINIC_ROW_FACTORIES:
        if model._meta.model_name == name.replace("_", ""):
            return model
    pytest.fail(
        f"Route {route.name} ({route.path}) has the URL kwarg {name}_id, and no model named "
        f"{name!r} is in tests/factories.py CLINIC_ROW_FACTORIES. Register its factory."
    )


def _follow(obj: Model, lookup_field: str) -> Any:
    """The value a view's `lookup_field` names, following relations as DRF's lookups do:
    `visit__public_id` on a treatment note is its visit's public id."""
    value: Any = obj
    for name in lookup_field.split("__"):
        value = getattr(value, name)
    return value


def url_kwargs(
    route: Route, rows: dict[type[Model], Model], *, url_clinic: Clinic
) -> tuple[dict[str, Any], Model | None]:
    """URL kwargs for `route`: the clinic of the URL, and real rows of `rows` for the other ids.

    Returns the kwargs and the route's own object (None on a list route).
    """
    kwargs: dict[str, Any] = {"clinic_id": url_clinic.public_id}
    obj = None
    lookup = route.lookup
    if lookup and not route.is_clinic_itself:
        model = getattr(route.view, "model", None)
        assert model is not None, f"{route.name}: {route.view.__name__} declares no `model`"
        _registered(model, route, f"for its {lookup}")
        obj = rows[model]
        kwargs[lookup] = _follow(obj, route.view.lookup_field)
    for kwarg in sorted(route.kwargs - kwargs.keys()):
        parent_name = kwarg.removesuffix("_id")
        parent = getattr(obj, parent_name, None) if obj is not None else None
        if parent is None:
            parent_model = _model_named(parent_name, route)
            parent = rows[parent_model]
        kwargs[kwarg] = parent.public_id
    return kwargs, obj


def snapshot(obj: Model | None) -> Any:
    if obj is None:
        return None
    fresh = type(obj)._default_manager.filter(pk=obj.pk).first()
    assert fresh is not None, f"{obj._meta.label} {obj.pk} was deleted"
    return [getattr(fresh, f.attname) for f in obj._meta.concrete_fields]


def table_counts() -> dict[str, int]:
    """Rows in every table of the project's own apps (history tables included) and tokens."""
    base = str(settings.BASE_DIR)
    models = [
        model
        for config in apps.get_app_configs()
        if config.path.startswith(base) or config.label == "authtoken"
        for model in config.get_models()
    ]
    return {m._meta.label: m._default_manager.count() for m in models}


def call(client: APIClient, method: str, url: str):
    if method in ("get", "options"):
        return getattr(client, method)(url)
    return getattr(client, method)(url, {}, format="json")


# --- Fixtures ----------------------------------------------------------------------------------


@pytest.fixture
def rows(clinic, make_clinic_rows) -> dict[type[Model], Model]:
    """One row of every registered model in `clinic`."""
    return make_clinic_rows(clinic)


@pytest.fixture
def insider(clinic) -> User:
    """Every role in `clinic`: proves each URL of the walk reaches something real."""
    user = UserFactory()
    for role in Role.values:
        MembershipFactory(user=user, clinic=clinic, role=role)
    return user


def client_as(user: User | None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user=user)
    return client


# --- The walk ------------------------------------------------------------------------------------


def test_walker_finds_the_clinic_routes():
    names = set(route_ids(CLINIC_ROUTES))
    assert {
        "clinic-detail",
        "room-list",
        "room-detail",
        "staff-list",
        "staff-detail",
        "opening-hours-list",
        "opening-hours-detail",
        "closure-list",
        "closure-detail",
        "working-hours-list",
        "working-hours-detail",
        "time-off-list",
        "time-off-detail",
    } <= names
    assert "clinic-list" not in names  # no clinic_id: tested on its own below


@pytest.mark.parametrize("route", CLINIC_ROUTES, ids=route_ids(CLINIC_ROUTES))
def test_clinic_route_resolves_the_clinic_through_membership(route):
    permissions = getattr(route.view, "permission_classes", [])
    assert any(issubclass(p, HasClinicCapability) for p in permissions), (
        f"{route.name}: {route.view.__name__} must resolve the clinic with HasClinicCapability"
    )


@pytest.mark.parametrize("route", CLINIC_ROUTES, ids=route_ids(CLINIC_ROUTES))
def test_tenancy_outsider_gets_404_on_every_method_of_another_clinics_route(
    route, clinic, rows, insider, outsider
):
    kwargs, obj = url_kwargs(route, rows, url_clinic=clinic)
    url = reverse(route.name, kwargs=kwargs)
    if "get" in route.actions:
        reached = client_as(insider).get(url)
        assert reached.status_code == 200, f"{url} is no real target: {reached.content[:300]}"

    before, before_obj = table_counts(), snapshot(obj)
    client = client_as(outsider)
    for method in METHODS:
        response = call(client, method, url)
        assert response.status_code == 404, (
            f"{method.upper()} {url} as a member of another clinic: {response.status_code} "
            f"{response.content[:300]}"
        )
    assert table_counts() == before
    assert snapshot(obj) == before_obj


@pytest.mark.parametrize("route", ROW_ROUTES, ids=route_ids(ROW_ROUTES))
def test_tenancy_rows_of_another_clinic_are_404_through_the_callers_own_clinic(
    route, clinic, other_clinic, rows, outsider, make_clinic_rows
):
    """The outsider may use other_clinic's URLs, but ids of `clinic`'s rows in them answer
    exactly as ids that exist nowhere: 404 (or 405/400 where the method or body is refused
    before any row is looked up), never 2xx or 403, and nothing is written."""
    make_clinic_rows(other_clinic)  # the outsider's clinic has rows of its own
    kwargs, obj = url_kwargs(route, rows, url_clinic=other_clinic)
    url = reverse(route.name, kwargs=kwargs)
    ghost_kwargs = {k: (v if k == "clinic_id" else uuid.uuid4()) for k, v in kwargs.items()}
    ghost_url = reverse(route.name, kwargs=ghost_kwargs)
    before, before_obj = table_counts(), snapshot(obj)
    client = client_as(outsider)
    # OPTIONS describes the endpoint without reading the row, so it answers alike for any id.
    for method in sorted(set(METHODS) - {"options"}):
        response = call(client, method, url)
        ghost = call(client, method, ghost_url)
        where = f"{method.upper()} {url} (a row of another clinic)"
        assert response.status_code == ghost.status_code, (
            f"{where}: {response.status_code}, but {ghost.status_code} for an id that does not "
            f"exist; the difference tells that the row exists. {response.content[:300]}"
        )
        assert response.status_code in (400, 404, 405), f"{where}: {response.content[:300]}"
        if method in route.actions and method in ("get", "patch", "put", "delete"):
            assert response.status_code == 404, f"{where}: {response.content[:300]}"
    assert table_counts() == before
    assert snapshot(obj) == before_obj


@pytest.mark.parametrize("route", CLINIC_ROUTES, ids=route_ids(CLINIC_ROUTES))
def test_tenancy_user_without_any_membership_gets_404(route, clinic, rows):
    kwargs, _ = url_kwargs(route, rows, url_clinic=clinic)
    url = reverse(route.name, kwargs=kwargs)
    client = client_as(UserFactory())
    before = table_counts()
    for method in METHODS:
        assert call(client, method, url).status_code == 404, f"{method.upper()} {url}"
    assert table_counts() == before


@pytest.mark.parametrize("route", CLINIC_ROUTES, ids=route_ids(CLINIC_ROUTES))
def test_tenancy_former_member_gets_404(route, clinic, rows, insider):
    insider.memberships.update(active=False)
    kwargs, _ = url_kwargs(route, rows, url_clinic=clinic)
    url = reverse(route.name, kwargs=kwargs)
    assert client_as(insider).get(url).status_code == 404


@pytest.mark.parametrize("route", CLINIC_ROUTES, ids=route_ids(CLINIC_ROUTES))
def test_tenancy_unknown_or_malformed_clinic_id_is_404(route, clinic, rows, insider):
    kwargs, _ = url_kwargs(route, rows, url_clinic=clinic)
    client = client_as(insider)
    # a malformed id, the clinic's integer primary key, and a well-formed id of no clinic
    for bad_id in ("not-a-uuid", str(clinic.pk), str(uuid.uuid4())):
        url = reverse(route.name, kwargs={**kwargs, "clinic_id": bad_id})
        assert client.get(url).status_code == 404, url


def test_tenancy_inactive_clinic_is_404_even_for_its_members(clinic, insider):
    Clinic.objects.filter(pk=clinic.pk).update(active=False)
    url = reverse("room-list", kwargs={"clinic_id": clinic.public_id})
    assert client_as(insider).get(url).status_code == 404


def test_tenancy_clinic_list_as_outsider_holds_only_their_clinic(clinic, other_clinic, outsider):
    body = client_as(outsider).get(reverse("clinic-list")).json()
    assert [c["id"] for c in body["results"]] == [str(other_clinic.public_id)]


def test_tenancy_clinic_list_as_user_without_membership_is_empty(clinic, other_clinic):
    body = client_as(UserFactory()).get(reverse("clinic-list")).json()
    assert body["count"] == 0
