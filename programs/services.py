"""Every write to the catalogues, the check of recorded modality parameters, and the gate that
refuses a contraindicated item unless the therapist justifies the override.

The plan-of-care and treatment services (plans, recertification, treatment notes, signing,
addenda, completing a visit with its note) are in programs.care.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import slugify

from clinic.errors import ApplicationError
from clinic.models import User
from clinic.records import record_save
from patients.models import PrecautionKind
from patients.vocabulary import ACUTE_BACK_PAIN
from programs.catalogue_data import CPT_CODES
from programs.contraindications import Finding, refusals, warnings
from programs.models import ContraindicationRule, Exercise, Modality
from programs.parameters import clean_parameters

# Conditions the record derives rather than stores as a precaution row.
DERIVED_CONDITIONS = frozenset({ACUTE_BACK_PAIN})

MODALITY_EDITABLE_FIELDS = (
    "name",
    "kind",
    "description",
    "cpt_code",
    "medicare_code",
    "medicare_bundled",
    "timed",
    "typical_minutes",
    "parameter_spec",
    "active",
)
EXERCISE_EDITABLE_FIELDS = (
    "name",
    "slug",
    "category",
    "body_region",
    "instructions",
    "sets",
    "reps",
    "hold_seconds",
    "minutes",
    "times_per_day",
    "days_per_week",
    "image",
    "active",
)


def _set_fields(
    obj: Modality | Exercise, fields: Mapping[str, Any], allowed: Iterable[str]
) -> None:
    allowed = set(allowed)
    for name, value in fields.items():
        if name not in allowed:
            raise ValidationError({name: "This field cannot be changed."})
        setattr(obj, name, value)


# --- Contraindications ------------------------------------------------------------------------


def contraindication_gate(
    *, findings: Iterable[Finding], override_justification: str | None, field: str = "item"
) -> list[Finding]:
    """Refuse a contraindicated item unless the therapist wrote why it is given anyway.

    Raises ApplicationError (code "contraindicated", the error on `field`, every finding in
    `extra["findings"]`) when a finding refuses and the justification is missing or blank.
    Otherwise returns the warnings to show; the caller keeps the justification with its record.
    """
    findings = list(findings)
    refused = refusals(findings)
    if refused and not (override_justification or "").strip():
        raise ApplicationError(
            "Contraindicated: "
            + " ".join(f.reason for f in refused)
            + " To give it anyway, write a justification for the override.",
            code="contraindicated",
            field=field,
            extra={"findings": [f.as_dict() for f in findings]},
        )
    return warnings(findings)


def known_condition_codes() -> frozenset[str]:
    """The codes a rule may name: every precaution kind's, and the derived flags."""
    return frozenset(PrecautionKind.objects.values_list("code", flat=True)) | DERIVED_CONDITIONS


def contraindication_rule_check(rule: ContraindicationRule) -> None:
    """The rule's condition must be a precaution kind or a derived flag (or blank)."""
    if rule.condition and rule.condition not in known_condition_codes():
        raise ValidationError(
            {
                "condition": f"{rule.condition!r} is neither a precaution kind's code nor "
                f"{', '.join(sorted(DERIVED_CONDITIONS))}."
            }
        )


@transaction.atomic
def contraindication_rule_save(
    *, rule: ContraindicationRule, by: User | None
) -> ContraindicationRule:
    contraindication_rule_check(rule)
    record_save(rule, by=by)
    return rule


# --- Modalities -------------------------------------------------------------------------------


def modality_check(modality: Modality) -> None:
    """A code of CLINICAL.md section 2 carries its own billing facts: timed or untimed, the
    Medicare code, and whether Medicare bundles it. The row must agree with them."""
    code = CPT_CODES.get(modality.cpt_code)
    if code is None:
        return
    errors: dict[str, str] = {}
    if modality.timed != code.timed:
        errors["timed"] = f"{code.code} ({code.service}) is {'' if code.timed else 'un'}timed."
    if modality.medicare_code != code.medicare_code:
        errors["medicare_code"] = (
            f"Medicare bills {code.code} as {code.medicare_code}."
            if code.medicare_code
            else f"Medicare bills {code.code} under its CPT code: leave this blank."
        )
    if modality.medicare_bundled != code.medicare_bundled:
        errors["medicare_bundled"] = (
            f"Medicare {'bundles' if code.medicare_bundled else 'pays'} {code.code}"
            f"{'' if code.medicare_bundled else ' separately'}."
        )
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def modality_save(
    *, modality: Modality, by: User | None, update_fields: list[str] | None = None
) -> Modality:
    """Check and save a modality the admin or a service has filled in."""
    modality_check(modality)
    record_save(modality, by=by, update_fields=update_fields)
    return modality


def modality_create(*, by: User | None, **fields: Any) -> Modality:
    modality = Modality()
    _set_fields(modality, fields, MODALITY_EDITABLE_FIELDS)
    return modality_save(modality=modality, by=by)


def modality_update(*, modality: Modality, by: User | None, **fields: Any) -> Modality:
    _set_fields(modality, fields, MODALITY_EDITABLE_FIELDS)
    return modality_save(modality=modality, by=by, update_fields=list(fields))


def modality_parameters_clean(*, modality: Modality, params: Any) -> dict[str, Any]:
    """The recorded parameters of one delivery of `modality`, checked against its spec.

    Returns them cleaned (whole numbers as int, text stripped, empty optionals dropped); raises
    ValidationError({"parameters": ["frequency_hz: 300 is above the maximum 250 Hz", ...]}).
    """
    cleaned, problems = clean_parameters(modality.parameter_spec, params)
    if problems:
        raise ValidationError({"parameters": list(problems.values())})
    return cleaned


# --- Exercises --------------------------------------------------------------------------------


@transaction.atomic
def exercise_save(
    *, exercise: Exercise, by: User | None, update_fields: list[str] | None = None
) -> Exercise:
    """Save an exercise the admin or a service has filled in; the slug defaults to the name's."""
    if not exercise.slug:
        exercise.slug = slugify(exercise.name)[:120]
        if update_fields is not None:
            update_fields = [*update_fields, "slug"]
    record_save(exercise, by=by, update_fields=update_fields)
    return exercise


def exercise_create(*, by: User | None, **fields: Any) -> Exercise:
    exercise = Exercise()
    _set_fields(exercise, fields, EXERCISE_EDITABLE_FIELDS)
    return exercise_save(exercise=exercise, by=by)


def exercise_update(*, exercise: Exercise, by: User | None, **fields: Any) -> Exercise:
    _set_fields(exercise, fields, EXERCISE_EDITABLE_FIELDS)
    return exercise_save(exercise=exercise, by=by, update_fields=list(fields))
