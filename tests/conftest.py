"""Fixtures shared by the whole suite (see STYLE.md, "Tests")."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterator

import pytest
from django.db.models import Model
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from rest_framework.test import APIClient

from clinic.capabilities import Role
from clinic.models import Clinic, User
from tests.factories import (
    CLINIC_ROW_FACTORIES,
    ClinicFactory,
    MembershipFactory,
    TherapistProfileFactory,
    UserFactory,
    therapist_in,
)

# Property tests run on loaded CI machines: no per-example deadline, same number of examples.
hypothesis_settings.register_profile(
    "project", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
hypothesis_settings.load_profile("project")


@pytest.fixture(autouse=True)
def _static_files_without_manifest(settings, tmp_path_factory) -> None:
    """Production serves collected, hashed static files (`collectstatic` writes the manifest);
    tests render the admin and Swagger pages straight from the apps' static folders instead."""
    static_root = tmp_path_factory.getbasetemp() / "static"
    static_root.mkdir(exist_ok=True)
    settings.STATIC_ROOT = static_root
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture
def one_at_a_time(tmp_path_factory) -> Iterator[None]:
    """Hold a lock shared by this run's pytest-xdist processes (`make test` runs several): the
    tests that use it open tens of connections (64 concurrent bookers, real Celery workers) and
    two of them at once would pass PostgreSQL's max_connections. Requested by `usefixtures`, it
    is set up before the test's own fixtures (the workers it starts) and released after them."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # each process has its own basetemp under the run's one
    with (root / "many-connections.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings) -> None:
    """Hashing every factory user's password with PBKDF2 would cost seconds per test."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def clinic(db) -> Clinic:
    return ClinicFactory(name="Riverside Physio", timezone="America/New_York", country="US")


@pytest.fixture
def other_clinic(db) -> Clinic:
    return ClinicFactory(name="Zentrum Physio", timezone="Europe/Berlin", country="DE")


@pytest.fixture
def receptionist(clinic) -> User:
    return UserFactory(clinic=clinic, role=Role.RECEPTIONIST)


@pytest.fixture
def therapist(clinic) -> User:
    """A licensed physical therapist (discipline PT) of `clinic`."""
    return therapist_in(clinic, discipline="PT")


@pytest.fixture
def clinic_admin(clinic) -> User:
    return UserFactory(clinic=clinic, role=Role.CLINIC_ADMIN)


@pytest.fixture
def outsider(other_clinic) -> User:
    """Holds every role in `other_clinic` and none in `clinic`: the strongest tenancy probe."""
    user = UserFactory()
    for role in Role.values:
        MembershipFactory(user=user, clinic=other_clinic, role=role)
    TherapistProfileFactory(user=user)
    return user


@pytest.fixture
def superuser(db) -> User:
    return UserFactory(is_superuser=True, is_staff=True)


@pytest.fixture
def api_client() -> APIClient:
    """An anonymous DRF client."""
    return APIClient()


@pytest.fixture
def client_for() -> Callable[[User], APIClient]:
    """`client_for(user)`: a DRF client authenticated as `user` (force_authenticate)."""

    def make(user: User) -> APIClient:
        client = APIClient()
        client.force_authenticate(user=user)
        return client

    return make


@pytest.fixture
def make_clinic_rows(db) -> Callable[[Clinic], dict[type[Model], Model]]:
    """`make_clinic_rows(clinic)`: one row of every model in CLINIC_ROW_FACTORIES, in `clinic`."""

    def make(clinic: Clinic) -> dict[type[Model], Model]:
        return {model: factory(clinic=clinic) for model, factory in CLINIC_ROW_FACTORIES.items()}

    return make
