"""Pure rules about patients: acute or chronic, search normalisation, flags from diagnoses."""

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from patients.models import ICD10_CM
from patients.rules import diagnosis_flags, is_acute, phone_digits, search_name


@pytest.mark.parametrize(
    ("onset", "on", "acute"),
    [
        (dt.date(2026, 1, 10), dt.date(2026, 1, 10), True),
        (dt.date(2026, 1, 10), dt.date(2026, 4, 9), True),
        (dt.date(2026, 1, 10), dt.date(2026, 4, 10), False),  # three calendar months: chronic
        (dt.date(2025, 11, 30), dt.date(2026, 2, 27), True),
        (dt.date(2025, 11, 30), dt.date(2026, 2, 28), False),  # Feb has no 30th: month end
        (dt.date(2024, 1, 1), dt.date(2026, 1, 1), False),
    ],
)
def test_is_acute_under_three_months(onset, on, acute):
    assert is_acute(onset, on) is acute


@given(st.dates(min_value=dt.date(1950, 1, 1), max_value=dt.date(2090, 1, 1)))
def test_is_acute_on_onset_day_and_chronic_after_100_days(onset):
    assert is_acute(onset, onset)
    assert not is_acute(onset, onset + dt.timedelta(days=93))


@pytest.mark.parametrize(
    ("code", "valid"),
    [
        ("M54.50", True),
        ("M51.26", True),
        ("M48.061", True),
        ("M54.16", True),
        ("S33.5XXA", True),
        ("M54", True),
        ("m54.50", False),
        ("M5.450", False),
        ("U07.1", True),  # emergency-use codes are ICD-10-CM too
        ("M54.50000", False),
        ("54.50", False),
        ("M54.", False),
    ],
)
def test_icd10_format(code, valid):
    assert bool(ICD10_CM.match(code)) is valid


def test_phone_digits_and_search_name_normalise():
    assert phone_digits("+1 (617) 555-0142") == "16175550142"
    assert search_name("Ada", "LOVELACE") == "lovelace ada"


@pytest.mark.parametrize(
    ("code", "onset_days_ago", "expected"),
    [
        ("M51.26", 30, {"lumbar_disc_herniation", "acute_back_pain"}),
        ("M51.26", 400, {"lumbar_disc_herniation"}),
        ("M48.061", 400, {"lumbar_spinal_stenosis"}),
        ("M54.50", 10, {"acute_back_pain"}),
        ("M54.50", 200, set()),
        ("M54.50", None, set()),
        ("I82.401", 5, {"dvt"}),
        ("J45.909", 5, set()),
    ],
)
def test_diagnosis_flags(code, onset_days_ago, expected):
    today = dt.date(2026, 11, 21)
    onset = None if onset_days_ago is None else today - dt.timedelta(days=onset_days_ago)
    flags = diagnosis_flags(icd10_code=code, description="x", onset=onset, on=today)
    assert {f.code for f in flags} == expected
