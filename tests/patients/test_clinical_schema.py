"""The JSON shapes of an evaluation (patients.clinical_schema): pure rules, no database."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from patients.clinical_schema import (
    RED_FLAGS,
    normalise_icd10,
    validate_diagnoses,
    validate_objective,
    validate_subjective,
)

FULL_SUBJECTIVE = {
    "history": "  Pain for three weeks after lifting.  ",
    "pain_location": "Lumbar, central",
    "aggravating": ["sitting", "bending"],
    "easing": ["walking"],
    "red_flags": dict.fromkeys(RED_FLAGS, False),
}
FULL_OBJECTIVE = {
    "range_of_motion": {"lumbar_flexion": 45, "lumbar_extension": 12.5, "hip_flexion_left": 0},
    "strength": {"hip_flexion_left": 5, "hip_abduction_right": 0},
    "special_tests": {
        "slr_left": "positive",
        "slr_right": "negative",
        "slump": "equivocal",
        "prone_instability": "not_tested",
    },
    "findings": "Guarding on flexion.",
}


def errors_of(call, value) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as caught:
        call(value)
    return caught.value.message_dict


def test_full_subjective_and_objective_are_accepted_and_texts_stripped():
    subjective = validate_subjective(FULL_SUBJECTIVE)
    assert subjective["history"] == "Pain for three weeks after lifting."
    assert subjective["red_flags"] == dict.fromkeys(RED_FLAGS, False)
    assert validate_objective(FULL_OBJECTIVE) == FULL_OBJECTIVE


@pytest.mark.parametrize("empty", [None, {}])
def test_empty_parts_are_an_empty_object(empty):
    assert validate_subjective(empty) == {}
    assert validate_objective(empty) == {}


STRENGTH = "objective.strength.hip_flexion"
ROM = "objective.range_of_motion.lumbar_flexion"
SLR = "objective.special_tests.slr_left"
SADDLE = "subjective.red_flags.saddle_anaesthesia"


@pytest.mark.parametrize(
    ("value", "field", "fragment"),
    [
        ({"strength": {"hip_flexion": 6}}, STRENGTH, "strength is graded 0 to 5"),
        ({"strength": {"hip_flexion": -1}}, STRENGTH, "graded 0 to 5"),
        ({"strength": {"hip_flexion": 4.5}}, STRENGTH, "whole grades"),
        ({"strength": {"hip_flexion": True}}, STRENGTH, "graded 0 to 5"),
        ({"range_of_motion": {"lumbar_flexion": 361}}, ROM, "degrees, 0 to 360"),
        ({"range_of_motion": {"lumbar_flexion": -5}}, ROM, "degrees"),
        ({"range_of_motion": {"lumbar_flexion": "45"}}, ROM, "degrees"),
        ({"range_of_motion": {"lumbar_flexion": float("nan")}}, ROM, "degrees"),
        ({"range_of_motion": {"Lumbar": 40}}, "objective.range_of_motion.Lumbar", "lower-case"),
        ({"range_of_motion": [40]}, "objective.range_of_motion", "must be an object"),
        ({"special_tests": {"slr_left": "maybe"}}, SLR, "positive, negative, equivocal"),
        ({"special_tests": {"slr_left": True}}, SLR, "one of"),
        ({"findings": 3}, "objective.findings", "must be text"),
        ({"rom": {"lumbar_flexion": 40}}, "objective.rom", "unknown field"),
    ],
)
def test_objective_errors_name_the_subfield(value, field, fragment):
    errors = errors_of(validate_objective, value)
    assert list(errors) == [field]
    assert fragment in errors[field][0]


@pytest.mark.parametrize(
    ("value", "field", "fragment"),
    [
        ({"red_flags": {"saddle_anaesthesia": "no"}}, SADDLE, "true (yes) or false (no)"),
        ({"red_flags": {"saddle_anaesthesia": 0}}, SADDLE, "true (yes)"),
        ({"red_flags": {"headache": True}}, "subjective.red_flags.headache", "unknown item"),
        ({"aggravating": "sitting"}, "subjective.aggravating", "must be a list"),
        ({"aggravating": ["sitting", 3]}, "subjective.aggravating.2", "must be text"),
        ({"history": "x" * 10_001}, "subjective.history", "longer than 10000"),
        ({"mood": "fine"}, "subjective.mood", "unknown field"),
    ],
)
def test_subjective_errors_name_the_subfield(value, field, fragment):
    errors = errors_of(validate_subjective, value)
    assert list(errors) == [field]
    assert fragment in errors[field][0]


def test_every_bad_subfield_is_named_at_once():
    errors = errors_of(
        validate_objective,
        {"strength": {"a": 9, "b": 3, "c": 7}, "special_tests": {"slr_left": "?"}},
    )
    assert set(errors) == {
        "objective.strength.a",
        "objective.strength.c",
        "objective.special_tests.slr_left",
    }


@pytest.mark.parametrize("value", ["text", ["list"], 3])
def test_a_part_that_is_not_an_object_is_refused(value):
    assert list(errors_of(validate_subjective, value)) == ["subjective"]
    assert list(errors_of(validate_objective, value)) == ["objective"]


@pytest.mark.parametrize(
    ("given", "normalised"),
    [("M54.50", "M54.50"), ("m5450", "M54.50"), (" m51.26 ", "M51.26"), ("M545", "M54.5"),
     ("M48.061", "M48.061"), ("M54", "M54")],
)  # fmt: skip
def test_diagnoses_codes_are_normalised(given, normalised):
    assert normalise_icd10(given) == normalised
    cleaned = validate_diagnoses([{"icd10_code": given, "description": " Low back pain "}])
    assert cleaned == [{"icd10_code": normalised, "description": "Low back pain"}]


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ([{"icd10_code": "XYZ", "description": "x"}], "diagnoses.1.icd10_code"),
        ([{"icd10_code": "5450", "description": "x"}], "diagnoses.1.icd10_code"),
        ([{"icd10_code": 5450, "description": "x"}], "diagnoses.1.icd10_code"),
        ([{"icd10_code": "M54.50"}], "diagnoses.1.description"),
        ([{"icd10_code": "M54.50", "description": "  "}], "diagnoses.1.description"),
        ([{"icd10_code": "M54.50", "description": "x" * 201}], "diagnoses.1.description"),
        ([{"icd10_code": "M54.50", "description": "x", "side": "left"}], "diagnoses.1.side"),
        ([{"icd10_code": "M54.50", "description": "x"}, "M51.26"], "diagnoses.2"),
        ({"icd10_code": "M54.50"}, "diagnoses"),
        ([{"icd10_code": "M54.50", "description": "x"}] * 13, "diagnoses"),
    ],
)
def test_diagnoses_errors_name_the_entry(value, field):
    assert list(errors_of(validate_diagnoses, value)) == [field]


@given(
    st.dictionaries(
        st.from_regex(r"[a-z][a-z0-9_]{0,20}", fullmatch=True),
        st.integers(min_value=-10, max_value=10),
        max_size=8,
    )
)
def test_strength_accepts_exactly_the_grades_0_to_5(grades):
    bad = {f"objective.strength.{name}" for name, grade in grades.items() if not 0 <= grade <= 5}
    if bad:
        assert set(errors_of(validate_objective, {"strength": grades})) == bad
    else:
        assert validate_objective({"strength": grades}) == {"strength": grades}
