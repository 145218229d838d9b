"""Helpers of the plan-of-care and treatment-note tests: catalogue items as the services and the
API take them, and the clinic's today."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from clinic.models import Clinic
from programs.models import Exercise, Modality

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
