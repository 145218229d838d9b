"""Two therapists save the same draft evaluation at the same moment, each from version 1, in two
real database connections: one wins, the other is refused with 409 (stale version) and nothing of
theirs is written. The first editor is held inside its transaction, after taking the row, while
the second one starts, so the test fails for any implementation that reads the version without
the row lock."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import close_old_connections, connection

from clinic.errors import ConflictError
from patients import clinical
from patients.models import Evaluation
from tests.factories import EvaluationFactory, therapist_in

pytestmark = [
    # Many connections at once: one such test at a time across pytest-xdist processes.
    pytest.mark.usefixtures("one_at_a_time"),
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.skipif(
        connection.vendor == "sqlite",
        reason="SQLite serialises writers at BEGIN IMMEDIATE; its in-memory test database "
        "(shared cache) answers a second writer 'locked' instead of queueing it. The "
        "sequential two-editor test in test_clinical_services covers SQLite.",
    ),
]


def run_in_thread(work: Callable[[], Any], results: dict[str, Any], key: str) -> threading.Thread:
    def target() -> None:
        try:
            results[key] = work()
        except Exception as exc:  # the assertion below says which
            results[key] = exc
        finally:
            close_old_connections()
            connection.close()

    thread = threading.Thread(target=target)
    thread.start()
    return thread


def test_two_concurrent_edits_of_one_version_one_wins_one_gets_409(clinic, monkeypatch):
    draft = EvaluationFactory(clinic=clinic)
    alice, bob = therapist_in(clinic), therapist_in(clinic)
    alice_holds_the_row = threading.Event()
    bob_started = threading.Event()
    check = clinical.evaluation_check

    def slow_check(evaluation: Evaluation) -> None:
        if evaluation.plan == "Alice's plan":
            alice_holds_the_row.set()
            bob_started.wait(timeout=5)
            threading.Event().wait(0.5)  # Bob is now blocked on the row lock
        check(evaluation)

    monkeypatch.setattr(clinical, "evaluation_check", slow_check)
    results: dict[str, Any] = {}

    def edit(who: Any, plan: str) -> Callable[[], Any]:
        def work() -> Evaluation:
            copy = Evaluation.objects.get(pk=draft.pk)  # both opened version 1
            return clinical.evaluation_update(evaluation=copy, version=1, plan=plan, by=who)

        return work

    first = run_in_thread(edit(alice, "Alice's plan"), results, "alice")
    assert alice_holds_the_row.wait(timeout=10)
    second = run_in_thread(edit(bob, "Bob's plan"), results, "bob")
    bob_started.set()
    first.join(timeout=30)
    second.join(timeout=30)

    assert isinstance(results["alice"], Evaluation), results["alice"]
    assert isinstance(results["bob"], ConflictError), results["bob"]
    assert results["bob"].code == "stale_version"
    assert results["bob"].extra == {"current_version": 2}
    draft.refresh_from_db()
    assert (draft.plan, draft.version) == ("Alice's plan", 2)
    assert draft.history.count() == 2  # created, Alice's edit; nothing of Bob's
