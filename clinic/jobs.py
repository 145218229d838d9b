"""What every Celery task of the product shares: the retry policy and a publish that never
fails the caller (DESIGN.md mechanisms 5 and 6).

Tasks take ids, are safe to run twice, and are acknowledged only when they end (acks_late), so
a worker killed mid-task leaves its message to be delivered again. Work that must not be lost
lives in database rows that periodic sweepers look at, so a broker that is down only delays it.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from django.db import InterfaceError, OperationalError, transaction
from kombu.exceptions import OperationalError as BrokerOperationalError

logger = logging.getLogger(__name__)

# Transient: the database or the broker briefly away. Programming errors are not retried.
TRANSIENT_ERRORS = (OperationalError, InterfaceError, BrokerOperationalError, ConnectionError)

TASK_OPTIONS: dict[str, Any] = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": TRANSIENT_ERRORS,
    "retry_backoff": 5,
    "retry_backoff_max": 300,
    "retry_jitter": True,
    "max_retries": 5,
    "soft_time_limit": 60,
    "time_limit": 90,
}

# The periodic jobs that go through a batch: longer limits, same policy.
BATCH_TASK_OPTIONS: dict[str, Any] = {**TASK_OPTIONS, "soft_time_limit": 240, "time_limit": 280}


def publish(task: Any, *ids: int) -> bool:
    """Send `task(*ids)` now; a broker that is down is logged, not raised (the broker
    connection times out in 2 s, and the sweepers catch up). True when it was sent."""
    try:
        task.delay(*ids)
    except Exception:  # any publish failure must not fail the caller
        logger.warning("enqueue_failed task=%s ids=%s", task.name, ids, exc_info=True)
        return False
    return True


def publish_on_commit(task: Any, *ids: int) -> None:
    """`task.delay_on_commit(*ids)`, with the publish error of a broker that is down logged
    rather than raised."""
    transaction.on_commit(partial(publish, task, *ids))
