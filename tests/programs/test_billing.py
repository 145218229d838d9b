"""Timed billing units (CLINICAL.md §1) and the yearly KX threshold (§3)."""

from decimal import Decimal
from itertools import count

import pytest
from hypothesis import given
from hypothesis import strategies as st

from programs.billing import (
    MEDICARE_8_MINUTE_V1,
    PER_CODE_8_V1,
    RULES,
    THERAPY_THRESHOLDS,
    BillingError,
    BillingLine,
    BillingRule,
    ServiceLine,
    ThresholdUnknown,
    bill,
    claim_lines,
    threshold_for,
    timed_units,
)

MEDICARE = BillingRule.MEDICARE_8_MINUTE
PER_CODE = BillingRule.PER_CODE_8


def timed(code, minutes):
    return ServiceLine(code, minutes, timed=True)


def untimed(code, minutes=0):
    return ServiceLine(code, minutes, timed=False)


def units_by_code(lines):
    return {line.cpt_code: line.units for line in lines}


def table_units(minutes):
    """The CLINICAL.md table read row by row: 0-7 -> 0, then n units for 15n-7 .. 15n+7."""
    if minutes <= 7:
        return 0
    return next(n for n in count(1) if 15 * n - 7 <= minutes <= 15 * n + 7)


# --- The unit table ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minutes", "units"),
    [
        (0, 0),
        (1, 0),
        (7, 0),
        (8, 1),
        (15, 1),
        (22, 1),
        (23, 2),
        (30, 2),
        (37, 2),
        (38, 3),
        (45, 3),
        (52, 3),
        (53, 4),
        (67, 4),
        (68, 5),
        (82, 5),
        (83, 6),
        (97, 6),
        (98, 7),
        (112, 7),
        (113, 8),
        (127, 8),
        (128, 9),
    ],
)
def test_timed_units_table_with_its_boundaries(minutes, units):
    assert table_units(minutes) == units
    assert timed_units(minutes) == units
    # One timed code on its own bills the same under both rules.
    for rule in BillingRule:
        assert units_by_code(bill([timed("97110", minutes)], rule)) == {"97110": units}


@given(st.integers(min_value=8, max_value=1000))
def test_closed_form_matches_the_table(minutes):
    assert (minutes + 7) // 15 == table_units(minutes) == timed_units(minutes)


@given(st.integers(min_value=0, max_value=1000))
def test_units_are_monotonic_in_minutes(minutes):
    assert timed_units(minutes) <= timed_units(minutes + 1) <= timed_units(minutes) + 1


def test_negative_minutes_are_refused():
    with pytest.raises(BillingError, match="negative"):
        timed_units(-1)
    with pytest.raises(BillingError, match="negative"):
        timed("97110", -5)


# --- Medicare: total timed minutes, then distributed -------------------------------------------


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        pytest.param(
            [timed("97112", 24), timed("97110", 23)],
            {"97112": 2, "97110": 1},
            # 47 min = 3 units; one full unit each (24 // 15, 23 // 15), the third to the larger
            # remainder: 97112 has 9 minutes left, 97110 has 8.
            id="cms-1: 24 min 97112 + 23 min 97110 = 47 min -> 2 x 97112, 1 x 97110",
        ),
        pytest.param(
            [timed("97112", 20), timed("97110", 20)],
            {"97112": 1, "97110": 2},
            # 40 min = 3 units; one each, 5 minutes left over each: CMS lets either take the
            # third; the tie goes to the lower code.
            id="cms-2: 20 min 97112 + 20 min 97110 = 40 min -> 2 x 97110, 1 x 97112",
        ),
        pytest.param(
            [timed("97110", 33), timed("97140", 7)],
            {"97110": 2, "97140": 1},
            # 40 min = 3 units; 97110 has two full units and 3 minutes left; 7 > 3.
            id="cms-3: 33 min 97110 + 7 min 97140 = 40 min -> 2 x 97110, 1 x 97140",
        ),
        pytest.param(
            [timed("97110", 18), timed("97140", 13), timed("97116", 10), timed("97035", 8)],
            {"97110": 1, "97140": 1, "97116": 1, "97035": 0},
            # 49 min = 3 units; 97110 a full unit (3 left); the two left go to 13 and 10 minutes;
            # the 8 minutes of ultrasound lose to larger remainders.
            id="cms-4: 18 + 13 + 10 + 8 = 49 min -> 1 each of 97110, 97140, 97116; no 97035",
        ),
        pytest.param(
            [timed("97112", 7), timed("97110", 7), timed("97140", 7)],
            {"97112": 0, "97110": 1, "97140": 0},
            # 21 min = 1 unit, to one code; all equal: the lowest code.
            id="cms-5: 7 + 7 + 7 = 21 min -> 1 unit, to one code",
        ),
        pytest.param(
            [timed("97110", 8)],
            {"97110": 1},
            id="8 min of one code -> 1 unit",
        ),
        pytest.param(
            [timed("97110", 7)],
            {"97110": 0},
            id="7 min of one code -> nothing",
        ),
        pytest.param(
            [timed("97140", 5), timed("97035", 4)],
            {"97140": 1, "97035": 0},
            # Two services under 8 minutes each, 9 together: one unit, to the longer one.
            id="5 min 97140 + 4 min 97035 = 9 min -> 1 x 97140",
        ),
        pytest.param(
            [timed("97140", 4), timed("97035", 3)],
            {"97140": 0, "97035": 0},
            id="4 + 3 = 7 min -> nothing",
        ),
        pytest.param(
            [timed("97110", 40), timed("97140", 8)],
            {"97110": 3, "97140": 0},
            # 48 min = 3 units; 97110 two full units, 10 minutes left beat 97140's 8.
            id="40 min 97110 + 8 min 97140 = 48 min -> 3 x 97110",
        ),
        pytest.param(
            [timed("97140", 15), timed("97035", 8)],
            {"97140": 1, "97035": 1},
            id="15 min 97140 + 8 min 97035 = 23 min -> 1 each",
        ),
        pytest.param(
            [timed("97110", 30), timed("97140", 7)],
            {"97110": 2, "97140": 0},
            # 37 min = 2 units, both earned by 97110's 30 minutes: none left for 97140.
            id="30 min 97110 + 7 min 97140 = 37 min -> 2 x 97110",
        ),
        pytest.param(
            [timed("97110", 10), timed("97140", 10), timed("97110", 5)],
            {"97110": 1, "97140": 1},
            # The two 97110 lines are 15 minutes of 97110: 25 min = 2 units, one each.
            id="97110 listed twice (10 + 5) + 10 min 97140 = 25 min -> 1 each",
        ),
        pytest.param(
            [timed("97110", 23), timed("97530", 23), timed("97140", 23)],
            {"97110": 2, "97140": 2, "97530": 1},
            # 69 min = 5 units; one each, 8 minutes left each: the two lowest codes.
            id="23 + 23 + 23 = 69 min -> 5 units: 2, 2, 1",
        ),
        pytest.param(
            [untimed("97162", 30), timed("97110", 23)],
            {"97162": 1, "97110": 2},
            # The evaluation is untimed: its 30 minutes do not count towards timed units.
            id="evaluation (untimed, 30 min) + 23 min 97110 -> 1 + 2",
        ),
        pytest.param(
            [untimed("97014", 15), timed("97110", 7)],
            {"97014": 1, "97110": 0},
            id="unattended e-stim (untimed, 15 min) + 7 min 97110 -> 1 + 0",
        ),
    ],
)
def test_medicare_units_from_total_then_distributed(lines, expected):
    billed = bill(lines, MEDICARE)
    assert units_by_code(billed) == expected
    timed_total = sum(line.minutes for line in lines if line.timed)
    timed_codes = {line.cpt_code for line in lines if line.timed}
    assert sum(line.units for line in billed if line.cpt_code in timed_codes) == timed_units(
        timed_total
    )


def test_bill_keeps_every_code_with_its_minutes_in_order_of_appearance():
    billed = bill([timed("97140", 7), timed("97110", 33), timed("97140", 0)], MEDICARE)
    assert billed == [
        BillingLine("97140", 7, 1, ("GP",)),
        BillingLine("97110", 33, 2, ("GP",)),
    ]


# --- The rule of eights, per code --------------------------------------------------------------


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (
            [timed("97112", 7), timed("97110", 7), timed("97140", 7)],
            {"97112": 0, "97110": 0, "97140": 0},
        ),
        ([timed("97112", 24), timed("97110", 23)], {"97112": 2, "97110": 2}),
        ([timed("97110", 33), timed("97140", 7)], {"97110": 2, "97140": 0}),
        (
            [timed("97110", 18), timed("97140", 13), timed("97116", 10), timed("97035", 8)],
            {"97110": 1, "97140": 1, "97116": 1, "97035": 1},
        ),
        ([timed("97110", 8), timed("97140", 22)], {"97110": 1, "97140": 1}),
        (
            [timed("97110", 23), timed("97140", 37), timed("97530", 38)],
            {"97110": 2, "97140": 2, "97530": 3},
        ),
        ([timed("97110", 4), timed("97110", 4)], {"97110": 1}),  # one code: 8 minutes together
    ],
)
def test_per_code_rule_of_eights(lines, expected):
    assert units_by_code(bill(lines, PER_CODE)) == expected


# --- Untimed codes -----------------------------------------------------------------------------


@pytest.mark.parametrize("rule", list(BillingRule))
@pytest.mark.parametrize(
    ("lines", "minutes"),
    [
        ([untimed("97161", 20)], 20),
        ([untimed("97163", 60)], 60),
        ([untimed("97012", 0)], 0),
        ([untimed("G0283", 15), untimed("G0283", 15)], 30),  # listed twice: still one unit
    ],
)
def test_untimed_codes_bill_one_unit_per_encounter(rule, lines, minutes):
    assert bill(lines, rule) == [BillingLine(lines[0].cpt_code, minutes, 1, ("GP",))]


# --- Modifiers ---------------------------------------------------------------------------------


def test_every_line_carries_gp():
    billed = bill([untimed("97162", 30), timed("97110", 23)], MEDICARE)
    assert [line.modifiers for line in billed] == [("GP",), ("GP",)]


def test_kx_on_every_line_when_the_threshold_is_exceeded():
    billed = bill([untimed("97164", 20), timed("97110", 38)], PER_CODE, threshold_exceeded=True)
    assert [line.modifiers for line in billed] == [("GP", "KX"), ("GP", "KX")]


# --- Rules, versions, errors -------------------------------------------------------------------


def test_every_billing_rule_has_a_unit_table():
    assert set(RULES) == set(BillingRule)


def test_rules_accept_the_stored_string_and_a_pinned_version():
    lines = [timed("97112", 24), timed("97110", 23)]
    assert bill(lines, "medicare_8_minute") == bill(lines, MEDICARE_8_MINUTE_V1)
    assert bill(lines, "per_code_8") == bill(lines, PER_CODE_8_V1)
    assert RULES[MEDICARE] is MEDICARE_8_MINUTE_V1
    assert RULES[PER_CODE] is PER_CODE_8_V1


@pytest.mark.parametrize(
    ("lines", "rule", "message"),
    [
        ([timed("97110", 10)], "rule_of_eights", "Unknown billing rule 'rule_of_eights'"),
        (
            [timed("97110", 10), untimed("97110", 10)],
            MEDICARE,
            "97110 is listed both as timed and as untimed",
        ),
    ],
)
def test_bill_refuses(lines, rule, message):
    with pytest.raises(BillingError, match=message):
        bill(lines, rule)


@pytest.mark.parametrize(
    ("code", "minutes", "message"),
    [
        ("9711", 10, "is not a CPT or HCPCS code"),
        ("97110-GP", 10, "is not a CPT or HCPCS code"),
        ("", 10, "is not a CPT or HCPCS code"),
        ("97110", 10.5, "minutes must be a whole number"),
        ("97110", True, "minutes must be a whole number"),
        ("97110", -1, "minutes cannot be negative"),
    ],
)
def test_service_line_refuses(code, minutes, message):
    with pytest.raises(BillingError, match=message):
        ServiceLine(code, minutes, timed=True)


def test_claim_lines_leave_out_lines_without_units():
    billed = bill([timed("97110", 33), timed("97140", 3), untimed("97010", 15)], MEDICARE)
    assert [(line.cpt_code, line.units) for line in claim_lines(billed)] == [
        ("97110", 2),
        ("97010", 1),
    ]


def test_bill_of_no_lines_is_empty():
    assert bill([], MEDICARE) == []


# --- Properties --------------------------------------------------------------------------------

CODES = ("97032", "97035", "97110", "97112", "97116", "97140", "97530", "97535")
visit_lines = st.lists(
    st.builds(timed, st.sampled_from(CODES), st.integers(min_value=0, max_value=120)),
    max_size=8,
)


@given(visit_lines)
def test_medicare_distribution_properties(lines):
    billed = bill(lines, MEDICARE)
    total = sum(line.minutes for line in lines)
    assert sum(line.units for line in billed) == timed_units(total)
    for line in billed:
        # every code keeps its full 15-minute units and gets at most one unit more
        assert line.minutes // 15 <= line.units <= line.minutes // 15 + 1
        assert line.units == line.minutes // 15 or line.minutes % 15 > 0


@given(visit_lines)
def test_per_code_units_are_never_negative_and_follow_the_table(lines):
    for line in bill(lines, PER_CODE):
        assert line.units >= 0
        assert line.units == table_units(line.minutes)


@given(visit_lines, st.sampled_from(CODES), st.integers(min_value=1, max_value=60))
def test_more_minutes_never_bill_fewer_units(lines, code, extra):
    for rule in BillingRule:
        before = sum(line.units for line in bill(lines, rule))
        after = sum(line.units for line in bill([*lines, timed(code, extra)], rule))
        assert after >= before


# --- The yearly therapy threshold (KX) ---------------------------------------------------------


def test_threshold_2025_is_2410_dollars():
    assert threshold_for(2025) == Decimal("2410.00")
    assert THERAPY_THRESHOLDS[2025] == Decimal("2410.00")


@pytest.mark.parametrize("year", [1999, 2024, 2026, 2030])
def test_threshold_for_a_year_without_data_is_a_clear_error(year):
    with pytest.raises(ThresholdUnknown, match=f"No therapy threshold .* on file for {year}"):
        threshold_for(year)
    with pytest.raises(LookupError):
        threshold_for(year)


def test_threshold_reads_the_table_it_is_given():
    administrators = {**THERAPY_THRESHOLDS, 2031: Decimal("9999.00")}
    assert threshold_for(2031, administrators) == Decimal("9999.00")
    assert threshold_for(2025, administrators) == Decimal("2410.00")
