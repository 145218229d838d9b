"""Helpers of the plan-of-care and treatment-note tests: catalogue items as the services and the
API take them, and the clinic's today."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.utils import timezone
from kombu import pools

from clinic.celery import app
from clinic.models import Clinic
from patients.models import EpisodeOfCare, Visit
from patients.scheduling import localize
from programs.models import Exercise, Modality
from tests.factories import VisitFactory

HOT_PACK = "Hot pack"
TENS = "TENS (unattended)"
ULTRASOUND = "Therapeutic ultrasound"
THER_EX = "Therapeutic exercise"
MANUAL = "Manual therapy"
PARAMETERS: dict[str, dict[str, Any]] = {
    HOT_PACK: {"towel_layers": 3},
    TENS: {
        "mode": "conventional",
        "frequency_hz": 100,
        "pulse_width_us": 150,
        "intensity_ma": 20,
        "electrode_placement": "Paravertebral L3-L5",
    },
    ULTRASOUND: {"frequency_mhz": 1, "intensity_w_cm2": 1.2, "duty_cycle_percent": 100},
    THER_EX: {},
    MANUAL: {"technique": "joint_mobilisation"},
}


def local_today(clinic: Clinic) -> dt.date:
    return timezone.localdate(timezone=clinic.tz)


def modality(name: str) -> Modality:
    return Modality.objects.get(name=name)


def item(name: str, minutes: int | None, region: str = "lumbar", **extra: Any) -> dict[str, Any]:
    """A modality item with its catalogue parameters, by public id as the API sends it."""
    return {
        "modality": str(modality(name).public_id),
        "parameters": dict(PARAMETERS[name]),
        "minutes": minutes,
        "body_region": region,
        **extra,
    }


def exercise(slug: str, **extra: Any) -> dict[str, Any]:
    return {"exercise": str(Exercise.objects.get(slug=slug).public_id), **extra}


def lines(note: Any) -> dict[str, int]:
    """{CPT code: units} of a note's billing lines."""
    return {line.cpt_code: line.units for line in note.billing_lines.all()}


@contextmanager
def use_broker(url: str, *, queue: str | None = None, **transport_options: Any) -> Iterator[None]:
    """Publish from this process to the broker at `url` (and to `queue`), as the product's code
    does, until the block ends. Celery reads CELERY_BROKER_URL from the environment before its
    settings, so that is what is changed; kombu's pools of the previous broker are dropped."""
    conf = app.conf
    saved_env = os.environ.get("CELERY_BROKER_URL")
    saved = (conf.task_default_queue, dict(conf.broker_transport_options or {}))

    def reset() -> None:
        pools.reset()  # kombu's registry would hand back the pools of the last broker
        app._pool = None
        for cached in ("queues", "default_queue", "router"):
            app.amqp.__dict__.pop(cached, None)
        app.amqp._producer_pool = None

    os.environ["CELERY_BROKER_URL"] = url
    if queue is not None:
        conf.task_default_queue = queue
    conf.broker_transport_options = {**saved[1], **transport_options}
    reset()
    try:
        yield
    finally:
        if saved_env is None:
            os.environ.pop("CELERY_BROKER_URL", None)
        else:
            os.environ["CELERY_BROKER_URL"] = saved_env
        conf.task_default_queue, conf.broker_transport_options = saved
        reset()


def episode_visit(
    episode: EpisodeOfCare,
    days_ago: int = 0,
    status: str = Visit.Status.BOOKED,
    at: dt.time = dt.time(10, 0),
) -> Visit:
    """A visit of the episode at `at` local time, `days_ago` days before today (written straight
    to the table; booked by default)."""
    clinic = episode.clinic
    day = local_today(clinic) - dt.timedelta(days=days_ago)
    start = localize(dt.datetime.combine(day, at), clinic.tz).astimezone(dt.UTC)
    return VisitFactory(
        clinic=clinic,
        patient=episode.patient,
        therapist=episode.therapist,
        episode=episode,
        starts_at=start,
        ends_at=start + dt.timedelta(minutes=45),
        status=status,
    )
