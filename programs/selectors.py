"""Reads of the catalogues, and the contraindication check against a patient's record.

The catalogues are practice-wide: every member of staff reads all of them, so these selectors
take no clinic. The contraindication selectors take a patient, whose clinic scopes the record.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

from django.db.models import Prefetch, Q, QuerySet

from patients.models import Patient
from patients.selectors import patient_flags
from programs.contraindications import Finding, check, rules_from_rows
from programs.models import ContraindicationRule, Exercise, Modality

_RULES_IN_ORDER = ContraindicationRule.objects.order_by("condition", "pk")


def modality_list() -> QuerySet[Modality]:
    return Modality.objects.prefetch_related(
        Prefetch("contraindication_rules", queryset=_RULES_IN_ORDER)
    ).order_by("name")


def modality_get(*, public_id: uuid.UUID | str) -> Modality | None:
    try:
        public_id = uuid.UUID(str(public_id))
    except ValueError:
        return None
    return modality_list().filter(public_id=public_id).first()


def exercise_list() -> QuerySet[Exercise]:
    return Exercise.objects.prefetch_related(
        Prefetch("contraindication_rules", queryset=_RULES_IN_ORDER)
    ).order_by("name")


def exercise_get(*, public_id: uuid.UUID | str) -> Exercise | None:
    try:
        public_id = uuid.UUID(str(public_id))
    except ValueError:
        return None
    return exercise_list().filter(public_id=public_id).first()


def contraindications_for_modality(
    *, patient: Patient, modality: Modality, body_region: str | None, on: dt.date | None = None
) -> list[Finding]:
    """What stands against giving `modality` over `body_region` to `patient` on `on` (today).

    Three queries: the patient's precautions and diagnoses, and the modality's rules (none when
    they were prefetched, as `modality_list` does). `body_region` None means not yet known.
    """
    return check(
        flags=patient_flags(patient=patient, on=on),
        rules=rules_from_rows(modality.contraindication_rules.all()),
        treated_region=body_region,
    )


def contraindications_for_exercise(
    *, patient: Patient, exercise: Exercise, on: dt.date | None = None
) -> list[Finding]:
    """What stands against prescribing `exercise` to `patient`; the region is the exercise's."""
    return check(
        flags=patient_flags(patient=patient, on=on),
        rules=rules_from_rows(exercise.contraindication_rules.all()),
        treated_region=exercise.body_region,
    )


def contraindications_for_items(
    *,
    patient: Patient,
    modalities: Sequence[tuple[Modality, str | None]] = (),
    exercises: Sequence[Exercise] = (),
    on: dt.date | None = None,
) -> tuple[list[list[Finding]], list[list[Finding]]]:
    """The findings of several items at once (a plan of care, a home programme), in three
    queries whatever their number: (findings per modality, findings per exercise), in order."""
    flags = patient_flags(patient=patient, on=on)
    modality_ids = {m.pk for m, _ in modalities}
    exercise_ids = {e.pk for e in exercises}
    by_modality: dict[int, list[ContraindicationRule]] = {pk: [] for pk in modality_ids}
    by_exercise: dict[int, list[ContraindicationRule]] = {pk: [] for pk in exercise_ids}
    if modality_ids or exercise_ids:
        for row in _RULES_IN_ORDER.filter(
            Q(modality_id__in=modality_ids) | Q(exercise_id__in=exercise_ids)
        ):
            if row.modality_id is not None:
                by_modality[row.modality_id].append(row)
            else:
                by_exercise[row.exercise_id].append(row)  # type: ignore[index]
    return (
        [
            check(flags=flags, rules=rules_from_rows(by_modality[m.pk]), treated_region=region)
            for m, region in modalities
        ],
        [
            check(
                flags=flags, rules=rules_from_rows(by_exercise[e.pk]), treated_region=e.body_region
            )
            for e in exercises
        ],
    )
