"""Fixtures of the page tests (the scenario is in tests/pages/scenario.py)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from clinic.models import User
from tests.pages.scenario import Practice, make_practice


@pytest.fixture
def practice(db) -> Practice:
    return make_practice()


@pytest.fixture
def login() -> Callable[[User], Client]:
    """`login(user)`: a test client signed in as `user` through the session."""

    def make(user: User) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return make
