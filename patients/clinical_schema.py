"""The shapes of an evaluation's JSON fields, in one place: `subjective`, `objective`, `diagnoses`.

Every key is optional (a draft is filled in over time); unknown keys are refused, so a typo is
heard about instead of silently stored. Errors name the subfield with a dotted path, list items
counted from 1 as on a printed form: `objective.strength.hip_flexion`, `diagnoses.2.icd10_code`.

    subjective {
      "history":       text,
      "pain_location": text,
      "aggravating":   [text, ...],                 e.g. ["sitting > 20 min", "bending"]
      "easing":        [text, ...],
      "red_flags":     {flag: true | false}         flags from RED_FLAGS, answered yes / no
    }
    objective {
      "range_of_motion": {movement: degrees},       a number from 0 to 360, e.g. lumbar_flexion
      "strength":        {muscle_group: grade},     manual muscle test, a whole grade 0 to 5
      "special_tests":   {test: result},            positive | negative | equivocal | not_tested
      "findings":        text                       posture, palpation, gait, neurology
    }
    diagnoses [{"icd10_code": "M54.50", "description": "Low back pain, unspecified"}, ...]

Movement, muscle-group and test names are lower-case slugs (`hip_flexion_left`, `slr_right`)
chosen by the clinic; red flags come from the fixed screen below. ICD-10-CM codes are
normalised (upper case, the dot inserted: m5450 -> M54.50) and checked for their format.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from django.core.exceptions import ValidationError

from patients.models import ICD10_CM

TEXT_MAX = 10_000
ITEM_MAX = 300
LIST_MAX = 30
MAP_MAX = 60
DIAGNOSES_MAX = 12
DESCRIPTION_MAX = 200
SLUG = re.compile(r"^[a-z][a-z0-9_]{0,59}$")

# The red-flag screen for low back pain: each answered yes (true) or no (false).
RED_FLAGS: Mapping[str, str] = MappingProxyType(
    {
        "saddle_anaesthesia": "Saddle anaesthesia",
        "bladder_or_bowel_dysfunction": "New bladder or bowel dysfunction",
        "progressive_neurological_deficit": "Progressive weakness or numbness in the legs",
        "history_of_cancer": "History of cancer",
        "unexplained_weight_loss": "Unexplained weight loss",
        "fever_or_infection": "Fever, recent infection or IV drug use",
        "significant_trauma": "Significant trauma (or minor trauma with osteoporosis)",
        "constant_night_pain": "Constant night pain not eased by rest or position",
        "immunosuppression": "Immunosuppression or long-term corticosteroids",
    }
)
SPECIAL_TEST_RESULTS = ("positive", "negative", "equivocal", "not_tested")
DEGREES = (0, 360)
STRENGTH_GRADES = (0, 5)

Errors = dict[str, str]
Check = Callable[[Any, str, Errors], Any]


def _text(max_length: int = TEXT_MAX) -> Check:
    def check(value: Any, where: str, errors: Errors) -> Any:
        if not isinstance(value, str):
            errors[where] = "must be text"
        elif len(value) > max_length:
            errors[where] = f"is longer than {max_length} characters"
        else:
            return value.strip()
        return None

    return check


def _text_list(value: Any, where: str, errors: Errors) -> Any:
    if not isinstance(value, list):
        errors[where] = "must be a list of short texts"
        return None
    if len(value) > LIST_MAX:
        errors[where] = f"has {len(value)} entries; at most {LIST_MAX}"
        return None
    item = _text(ITEM_MAX)
    return [item(entry, f"{where}.{number}", errors) for number, entry in enumerate(value, 1)]


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _map(
    check_value: Callable[[Any], str | None], *, keys: Mapping[str, str] | None = None
) -> Check:
    """An object of name -> value; names are slugs, or the keys of `keys` when given."""

    def check(value: Any, where: str, errors: Errors) -> Any:
        if not isinstance(value, Mapping):
            errors[where] = "must be an object of name: value"
            return None
        if len(value) > MAP_MAX:
            errors[where] = f"has {len(value)} entries; at most {MAP_MAX}"
            return None
        for name, entry in value.items():
            at = f"{where}.{name}"
            if keys is not None and name not in keys:
                errors[at] = f"unknown item; the screen asks about {', '.join(keys)}"
            elif keys is None and not (isinstance(name, str) and SLUG.match(name)):
                errors[at] = "names are lower-case letters, digits and _ (e.g. hip_flexion_left)"
            elif (problem := check_value(entry)) is not None:
                errors[at] = problem
        return dict(value)

    return check


def _degrees(value: Any) -> str | None:
    low, high = DEGREES
    if _number(value) and low <= value <= high:
        return None
    return f"range of motion is measured in degrees, {low} to {high}; not {value!r}"


def _strength(value: Any) -> str | None:
    low, high = STRENGTH_GRADES
    if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
        return None
    return f"strength is graded {low} to {high} (whole grades); not {value!r}"


def _special_test(value: Any) -> str | None:
    if value in SPECIAL_TEST_RESULTS:
        return None
    return f"the result is one of {', '.join(SPECIAL_TEST_RESULTS)}; not {value!r}"


def _yes_no(value: Any) -> str | None:
    return None if isinstance(value, bool) else f"answer true (yes) or false (no); not {value!r}"


SUBJECTIVE: Mapping[str, Check] = MappingProxyType(
    {
        "history": _text(),
        "pain_location": _text(ITEM_MAX),
        "aggravating": _text_list,
        "easing": _text_list,
        "red_flags": _map(_yes_no, keys=RED_FLAGS),
    }
)
OBJECTIVE: Mapping[str, Check] = MappingProxyType(
    {
        "range_of_motion": _map(_degrees),
        "strength": _map(_strength),
        "special_tests": _map(_special_test),
        "findings": _text(),
    }
)


def _object(value: Any, where: str, fields: Mapping[str, Check]) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValidationError({where: f"must be an object with {', '.join(fields)}"})
    errors: Errors = {}
    cleaned: dict[str, Any] = {}
    for key, entry in value.items():
        if key not in fields:
            errors[f"{where}.{key}"] = f"unknown field; expected {', '.join(fields)}"
            continue
        cleaned[key] = fields[key](entry, f"{where}.{key}", errors)
    if errors:
        raise ValidationError(errors)
    return cleaned


def validate_subjective(value: Any) -> dict[str, Any]:
    """The subjective part, cleaned (texts stripped); ValidationError naming each bad subfield."""
    return _object(value, "subjective", SUBJECTIVE)


def validate_objective(value: Any) -> dict[str, Any]:
    return _object(value, "objective", OBJECTIVE)


def normalise_icd10(code: str) -> str:
    """'m5450 ' -> 'M54.50': upper case, the dot after the category inserted when missing."""
    code = code.strip().upper()
    if len(code) > 3 and "." not in code:
        code = f"{code[:3]}.{code[3:]}"
    return code


def _diagnosis(entry: Any, where: str, errors: Errors) -> dict[str, str] | None:
    if not isinstance(entry, Mapping):
        errors[where] = "must be an object with icd10_code and description"
        return None
    for key in entry:
        if key not in ("icd10_code", "description"):
            errors[f"{where}.{key}"] = "unknown field; expected icd10_code, description"
    given = entry.get("icd10_code")
    code = normalise_icd10(given) if isinstance(given, str) else None
    if code is None or not ICD10_CM.match(code):
        errors[f"{where}.icd10_code"] = (
            f"{given!r} is not an ICD-10-CM code: a letter, two characters, then optionally a "
            "dot and up to four characters (for example M54.50 or M51.26)"
        )
        code = None
    description = entry.get("description")
    if not isinstance(description, str) or not description.strip():
        errors[f"{where}.description"] = "each diagnosis needs its description"
        return None
    if len(description) > DESCRIPTION_MAX:
        errors[f"{where}.description"] = f"is longer than {DESCRIPTION_MAX} characters"
        return None
    if code is None:
        return None
    return {"icd10_code": code, "description": description.strip()}


def validate_diagnoses(value: Any) -> list[dict[str, str]]:
    """[{icd10_code, description}, ...], codes normalised; ValidationError naming each entry."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValidationError({"diagnoses": "must be a list of {icd10_code, description}"})
    if len(value) > DIAGNOSES_MAX:
        raise ValidationError({"diagnoses": f"has {len(value)} entries; at most {DIAGNOSES_MAX}"})
    errors: Errors = {}
    cleaned = [
        _diagnosis(entry, f"diagnoses.{number}", errors) for number, entry in enumerate(value, 1)
    ]
    if errors:
        raise ValidationError(errors)
    return [entry for entry in cleaned if entry is not None]
