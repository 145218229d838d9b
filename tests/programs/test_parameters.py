"""Modality parameters: the spec's shape and recorded values against it (pure functions)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from programs.catalogue_data import MODALITIES, TENS_SPEC
from programs.models import Modality
from programs.parameters import clean_parameters, spec_problems, validate_parameters
from programs.services import modality_parameters_clean

ULTRASOUND_SPEC = next(m.parameter_spec for m in MODALITIES if m.kind == "ultrasound")

TENS_OK = {
    "mode": "conventional",
    "frequency_hz": 100,
    "pulse_width_us": 150,
    "intensity_ma": 20.5,
    "minutes": 20,
    "electrode_placement": "Four electrodes around L4-L5, crossed",
}


def tens(**changes):
    params = {**TENS_OK, **changes}
    return {k: v for k, v in params.items() if v is not ...}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (tens(), {}),
        (tens(frequency_hz=300), {"frequency_hz": "frequency_hz: 300 is above the maximum 250 Hz"}),
        (tens(frequency_hz=0.5), {"frequency_hz": "frequency_hz: 0.5 is below the minimum 1 Hz"}),
        (tens(frequency_hz=250), {}),
        (tens(frequency_hz=1), {}),
        (
            tens(pulse_width_us=10),
            {"pulse_width_us": "pulse_width_us: 10 is below the minimum 20 µs"},
        ),
        (
            tens(pulse_width_us=150.5),
            {"pulse_width_us": "pulse_width_us: 150.5 is not a whole number"},
        ),
        (tens(pulse_width_us=150.0), {}),
        (
            tens(intensity_ma=101),
            {"intensity_ma": "intensity_ma: 101 is above the maximum 100 mA"},
        ),
        (tens(intensity_ma=0), {}),
        (tens(minutes=0), {"minutes": "minutes: 0 is below the minimum 1 min"}),
        (tens(minutes=61), {"minutes": "minutes: 61 is above the maximum 60 min"}),
        (tens(minutes="20"), {"minutes": "minutes: must be a whole number"}),
        (tens(minutes=True), {"minutes": "minutes: must be a whole number"}),
        (tens(frequency_hz="100"), {"frequency_hz": "frequency_hz: must be a number"}),
        (tens(frequency_hz=float("nan")), {"frequency_hz": "frequency_hz: must be a number"}),
        (tens(minutes=...), {"minutes": "minutes: is required (Minutes)"}),
        (tens(minutes=None), {"minutes": "minutes: is required (Minutes)"}),
        (
            tens(electrode_placement="   "),
            {"electrode_placement": "electrode_placement: is required"},
        ),
        (
            tens(electrode_placement=12),
            {"electrode_placement": "electrode_placement: must be text"},
        ),
        (
            tens(mode="turbo"),
            {
                "mode": "mode: 'turbo' is not one of conventional, acupuncture_like, burst, "
                "modulated"
            },
        ),
        (
            tens(voltage=12),
            {
                "voltage": "voltage: not a parameter of this modality (expected one of: mode, "
                "frequency_hz, pulse_width_us, intensity_ma, minutes, electrode_placement)"
            },
        ),
    ],
)
def test_validate_parameters_tens(params, expected):
    assert validate_parameters(TENS_SPEC, params) == expected


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"frequency_mhz": 1, "intensity_w_cm2": 1.5, "duty_cycle_percent": 20, "minutes": 8}, {}),
        (
            {"frequency_mhz": 3.0, "intensity_w_cm2": 0.1, "duty_cycle_percent": 100, "minutes": 5},
            {},
        ),
        (
            {"frequency_mhz": 2, "intensity_w_cm2": 1.0, "duty_cycle_percent": 20, "minutes": 5},
            {"frequency_mhz": "frequency_mhz: 2 is not one of 1, 3 MHz"},
        ),
        (
            {"frequency_mhz": "1", "intensity_w_cm2": 1.0, "duty_cycle_percent": 20, "minutes": 5},
            {"frequency_mhz": "frequency_mhz: '1' is not one of 1, 3 MHz"},
        ),
        (
            {"frequency_mhz": 1, "intensity_w_cm2": 3.5, "duty_cycle_percent": 20, "minutes": 5},
            {"intensity_w_cm2": "intensity_w_cm2: 3.5 is above the maximum 3 W/cm²"},
        ),
        (
            {"frequency_mhz": 1, "intensity_w_cm2": 0.05, "duty_cycle_percent": 20, "minutes": 5},
            {"intensity_w_cm2": "intensity_w_cm2: 0.05 is below the minimum 0.1 W/cm²"},
        ),
        (
            {},
            {
                "frequency_mhz": "frequency_mhz: is required (Frequency)",
                "intensity_w_cm2": "intensity_w_cm2: is required (Intensity)",
                "duty_cycle_percent": "duty_cycle_percent: is required (Duty cycle)",
                "minutes": "minutes: is required (Minutes)",
            },
        ),
        ([1, 3], {"parameters": "parameters: must be an object of name: value"}),
    ],
)
def test_validate_parameters_ultrasound(params, expected):
    assert validate_parameters(ULTRASOUND_SPEC, params) == expected


def test_clean_parameters_normalises_values_and_drops_empty_optionals():
    spec = next(m.parameter_spec for m in MODALITIES if m.name == "Therapeutic activities")
    cleaned, problems = clean_parameters(spec, {"minutes": 15.0, "activity": "  "})
    assert problems == {}
    assert cleaned == {"minutes": 15}
    assert isinstance(cleaned["minutes"], int)
    cleaned, _ = clean_parameters(
        ULTRASOUND_SPEC,
        {"frequency_mhz": 3.0, "intensity_w_cm2": 1, "duty_cycle_percent": 50, "minutes": 5},
    )
    assert cleaned["frequency_mhz"] == 3
    assert isinstance(cleaned["frequency_mhz"], int)


@given(
    frequency=st.floats(min_value=1, max_value=250),
    pulse_width=st.integers(min_value=20, max_value=400),
    intensity=st.floats(min_value=0, max_value=100),
    minutes=st.integers(min_value=1, max_value=60),
)
def test_any_tens_setting_within_the_ranges_is_accepted(frequency, pulse_width, intensity, minutes):
    params = tens(
        frequency_hz=frequency, pulse_width_us=pulse_width, intensity_ma=intensity, minutes=minutes
    )
    assert validate_parameters(TENS_SPEC, params) == {}


@given(
    frequency=st.one_of(
        st.floats(max_value=1, exclude_max=True, allow_nan=False, allow_infinity=False),
        st.floats(min_value=250, exclude_min=True, allow_nan=False, allow_infinity=False),
    )
)
def test_any_tens_frequency_outside_1_to_250_hz_is_refused(frequency):
    problems = validate_parameters(TENS_SPEC, tens(frequency_hz=frequency))
    assert set(problems) == {"frequency_hz"}
    assert (
        "minimum 1 Hz" in problems["frequency_hz"] or "maximum 250 Hz" in problems["frequency_hz"]
    )


# --- The spec itself -----------------------------------------------------------------------------

MINUTES = {
    "name": "minutes",
    "label": "Minutes",
    "kind": "integer",
    "min": 1,
    "max": 60,
    "required": True,
}


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ({"minutes": 1}, "must be a list"),
        ([], "add a 'minutes' parameter"),
        ([{**MINUTES, "required": False}], "'minutes' must be a required integer"),
        ([{**MINUTES, "max": 600}], "'minutes' must be a required integer"),
        ([{**MINUTES, "min": 0}], "'minutes' must be a required integer"),
        ([MINUTES, MINUTES], "named twice"),
        ([MINUTES, {"name": "Hz", "label": "x", "kind": "number"}], "name must be lower-case"),
        ([MINUTES, {"name": "x", "label": "", "kind": "number"}], "a label is required"),
        ([MINUTES, {"name": "x", "label": "X", "kind": "float"}], "kind must be one of"),
        (
            [MINUTES, {"name": "x", "label": "X", "kind": "number", "min": 5, "max": 1}],
            "min is above max",
        ),
        (
            [MINUTES, {"name": "x", "label": "X", "kind": "text", "min": 1}],
            "only to number and integer",
        ),
        (
            [MINUTES, {"name": "x", "label": "X", "kind": "integer", "max": 2.5}],
            "max must be an integer",
        ),
        ([MINUTES, {"name": "x", "label": "X", "kind": "choice"}], "non-empty list of choices"),
        (
            [MINUTES, {"name": "x", "label": "X", "kind": "choice", "choices": [1, 1]}],
            "listed twice",
        ),
        (
            [MINUTES, {"name": "x", "label": "X", "kind": "number", "choices": [1]}],
            "only to choice",
        ),
        ([MINUTES, {"name": "x", "label": "X", "kind": "number", "step": 1}], "unknown keys step"),
        ([MINUTES, "frequency"], "must be an object"),
    ],
)
def test_spec_problems(spec, problem):
    problems = spec_problems(spec)
    assert any(problem in p for p in problems), problems


def test_every_shipped_spec_is_well_formed():
    for modality in MODALITIES:
        assert spec_problems(modality.parameter_spec) == [], modality.name


def test_modality_parameters_clean_names_the_field_and_every_rule():
    modality = Modality(name="TENS", parameter_spec=TENS_SPEC)
    assert modality_parameters_clean(modality=modality, params=tens()) == TENS_OK

    with pytest.raises(ValidationError) as raised:
        modality_parameters_clean(
            modality=modality, params=tens(frequency_hz=300, minutes=..., voltage=1)
        )
    reasons = raised.value.message_dict["parameters"]
    assert "frequency_hz: 300 is above the maximum 250 Hz" in reasons
    assert "minutes: is required (Minutes)" in reasons
    assert any(r.startswith("voltage: not a parameter") for r in reasons)
    assert list(raised.value.message_dict) == ["parameters"]
