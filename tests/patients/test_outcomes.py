"""Outcome measures (CLINICAL.md §4): answers, scores, bands and meaningful change."""

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from patients.outcomes import (
    DEFAULT_MCID,
    INSTRUMENTS,
    ODI_SECTIONS,
    AnswerError,
    Mcid,
    Score,
    change,
    odi_band,
    score,
    validate_answers,
)

SECTIONS = tuple(ODI_SECTIONS)


def odi(*values):
    """ODI answers with the ten sections in form order; None marks a skipped section."""
    assert len(values) == 10
    return {"sections": dict(zip(SECTIONS, values, strict=True))}


def rmdq(yes: int, unanswered: tuple[int, ...] = ()):
    """RMDQ answers with `yes` yes-items first; item numbers in `unanswered` left null."""
    items: list[bool | None] = [n <= yes for n in range(1, 25)]
    for number in unanswered:
        items[number - 1] = None
    return {"items": items}


def psfs(*scores, name="Activity"):
    return {"activities": [{"name": f"{name} {n}", "score": s} for n, s in enumerate(scores, 1)]}


VERSION = {"nprs": "0-10", "odi": "2.1a", "rmdq": "24-item", "psfs": "original"}


def scored(instrument, answers):
    return score(instrument, VERSION[instrument], answers)


# --- The registry ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "unit", "direction", "version"),
    [
        ("nprs", "points", "lower_is_better", "0-10"),
        ("odi", "%", "lower_is_better", "2.1a"),
        ("rmdq", "points", "lower_is_better", "24-item"),
        ("psfs", "mean points", "higher_is_better", "original"),
    ],
)
def test_instrument_registry_units_directions_versions(code, unit, direction, version):
    instrument = INSTRUMENTS[code]
    assert (instrument.unit, instrument.direction, instrument.version_names) == (
        unit,
        direction,
        (version,),
    )
    assert len(version) <= 12  # OutcomeMeasure.version holds 12 characters


def test_instrument_registry_matches_the_model_choices():
    from patients.models import OutcomeMeasure

    assert set(INSTRUMENTS) == set(OutcomeMeasure.Instrument.values)


def test_nprs_carries_its_loinc_code():
    assert INSTRUMENTS["nprs"].loinc == "72514-3"


def test_odi_sections_are_the_ten_of_version_2_1a_in_form_order():
    assert SECTIONS == (
        "pain_intensity",
        "personal_care",
        "lifting",
        "walking",
        "sitting",
        "standing",
        "sleeping",
        "sex_life",
        "social_life",
        "travelling",
    )


@pytest.mark.parametrize(
    ("instrument", "version", "field"),
    [
        ("vas", "1", "instrument"),
        ("ODI", "2.1a", "instrument"),
        ("odi", "2.0", "version"),
        ("odi", "", "version"),
        ("nprs", "2.1a", "version"),
    ],
)
def test_validate_answers_refuses_unknown_instrument_or_version(instrument, version, field):
    with pytest.raises(AnswerError) as caught:
        validate_answers(instrument, version, {"pain": 3})
    assert caught.value.field == field
    with pytest.raises(AnswerError):
        score(instrument, version, {"pain": 3})


def test_answer_error_is_a_value_error_naming_field_and_rule():
    with pytest.raises(ValueError, match=r"^sections\.lifting: 6 is out of range; must be from 0"):
        validate_answers("odi", "2.1a", odi(0, 0, 6, 0, 0, 0, 0, 0, 0, 0))


# --- NPRS --------------------------------------------------------------------------------------


@pytest.mark.parametrize("pain", range(11))
def test_nprs_scores_the_one_answer(pain):
    result = scored("nprs", {"pain": pain})
    assert (result.value, result.display, result.unit, result.band) == (
        Decimal(pain),
        str(pain),
        "points",
        None,
    )


@pytest.mark.parametrize(
    ("answers", "field", "message"),
    [
        ({"pain": 11}, "pain", "11 is out of range; must be from 0 to 10"),
        ({"pain": -1}, "pain", "-1 is out of range; must be from 0 to 10"),
        ({"pain": 7.5}, "pain", "must be a whole number from 0 to 10, not 7.5"),
        ({"pain": 7.0}, "pain", "must be a whole number from 0 to 10, not 7.0"),
        ({"pain": "7"}, "pain", "must be a whole number from 0 to 10, not '7'"),
        ({"pain": True}, "pain", "must be a whole number from 0 to 10, not True"),
        ({"pain": None}, "pain", "must be a whole number from 0 to 10, not None"),
        ({}, "pain", "is required"),
        ({"pain": 3, "worst": 5}, "worst", "unknown field; expected pain"),
        ([7], "answers", "must be an object with pain"),
        (7, "answers", "must be an object with pain"),
    ],
)
def test_nprs_refuses(answers, field, message):
    with pytest.raises(AnswerError) as caught:
        validate_answers("nprs", "0-10", answers)
    assert (caught.value.field, caught.value.message) == (field, message)


# --- ODI ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answers", "value", "display", "band"),
    [
        # CLINICAL.md: 16 over all ten sections = 16 / 50 = 32 %.
        (odi(3, 2, 2, 1, 2, 2, 1, 1, 1, 1), Decimal(32), "32.0", "moderate disability"),
        # The same 16 with one section skipped: 16 / 45 = 35.6 %.
        (
            odi(3, 2, 2, 1, 2, 2, 1, None, 2, 1),
            Decimal(16) / Decimal(45) * 100,
            "35.6",
            "moderate disability",
        ),
        # Two skipped (8 answered, the minimum): 16 / 40 = 40 %, the top of moderate.
        (odi(3, 2, 2, 1, 2, 2, 1, None, None, 3), Decimal(40), "40.0", "moderate disability"),
        (odi(0, 0, 0, 0, 0, 0, 0, 0, 0, 0), Decimal(0), "0.0", "minimal disability"),
        (odi(5, 5, 5, 5, 5, 5, 5, 5, 5, 5), Decimal(100), "100.0", "bed-bound"),
        # Band edges on whole scores: 10/50 = 20 minimal, 11/50 = 22 moderate, ...
        (odi(1, 1, 1, 1, 1, 1, 1, 1, 1, 1), Decimal(20), "20.0", "minimal disability"),
        (odi(2, 1, 1, 1, 1, 1, 1, 1, 1, 1), Decimal(22), "22.0", "moderate disability"),
        (odi(3, 3, 2, 2, 2, 2, 2, 2, 2, 2), Decimal(44), "44.0", "severe disability"),
        (odi(3, 3, 3, 3, 3, 3, 3, 3, 3, 3), Decimal(60), "60.0", "severe disability"),
        (odi(4, 3, 3, 3, 3, 3, 3, 3, 3, 3), Decimal(62), "62.0", "crippled"),
        (odi(4, 4, 4, 4, 4, 4, 4, 4, 4, 4), Decimal(80), "80.0", "crippled"),
        (odi(5, 4, 4, 4, 4, 4, 4, 4, 4, 4), Decimal(82), "82.0", "bed-bound"),
        # Nine answered, 9 / 45 = exactly 20: minimal; 10 / 45 = 22.2: moderate.
        (odi(1, 1, 1, 1, 1, 1, 1, 1, None, 1), Decimal(20), "20.0", "minimal disability"),
        (
            odi(2, 1, 1, 1, 1, 1, 1, 1, None, 1),
            Decimal(10) / Decimal(45) * 100,
            "22.2",
            "moderate disability",
        ),
        # Eight answered, 9 / 40 = 22.5 %: display rounds half up only at the last digit.
        (odi(2, 1, 1, 1, 1, 1, 1, None, None, 1), Decimal("22.5"), "22.5", "moderate disability"),
    ],
)
def test_odi_score_percent_of_answered_sections(answers, value, display, band):
    result = scored("odi", answers)
    assert (result.value, result.display, result.unit, result.band) == (value, display, "%", band)


def test_odi_keeps_the_exact_fraction_and_a_four_decimal_stored_value():
    result = scored("odi", odi(3, 2, 2, 1, 2, 2, 1, None, 2, 1))
    assert result.exact == Fraction(320, 9)
    assert result.stored_value == Decimal("35.5556")
    assert result.text == "35.6 % (moderate disability)"


@pytest.mark.parametrize(
    ("answers", "reason"),
    [
        (
            odi(3, 2, 2, None, 2, 2, 1, None, None, 1),
            "only 7 of 10 sections answered; at least 8 are needed",
        ),
        (
            odi(None, None, None, None, None, None, None, None, None, None),
            "only 0 of 10 sections answered; at least 8 are needed",
        ),
        (
            odi(5, 5, 5, 5, 5, None, None, None, None, None),
            "only 5 of 10 sections answered; at least 8 are needed",
        ),
    ],
)
def test_odi_fewer_than_8_answered_sections_gives_no_score_and_says_why(answers, reason):
    result = scored("odi", answers)
    assert (result.value, result.exact, result.band, result.display) == (None, None, None, "")
    assert result.reason == reason
    assert result.text == f"no score: {reason}"
    assert result.stored_value is None


@pytest.mark.parametrize(
    ("percent", "band"),
    [
        (0, "minimal disability"),
        (20, "minimal disability"),
        (Decimal("20.5"), "moderate disability"),
        (21, "moderate disability"),
        (40, "moderate disability"),
        (Decimal("40.2"), "severe disability"),
        (41, "severe disability"),
        (60, "severe disability"),
        (Decimal("60.1"), "crippled"),
        (80, "crippled"),
        (Decimal("80.5"), "bed-bound"),
        (100, "bed-bound"),
        (Fraction(200, 9), "moderate disability"),  # 22.2 %
    ],
)
def test_odi_band_upper_edges_inclusive(percent, band):
    assert odi_band(percent) == band


@pytest.mark.parametrize("percent", [-1, Decimal("100.1"), 101])
def test_odi_band_refuses_out_of_range(percent):
    with pytest.raises(ValueError, match="from 0 to 100"):
        odi_band(percent)


@pytest.mark.parametrize(
    ("answers", "field", "message"),
    [
        (odi(6, 0, 0, 0, 0, 0, 0, 0, 0, 0), "sections.pain_intensity", "6 is out of range"),
        (odi(0, -1, 0, 0, 0, 0, 0, 0, 0, 0), "sections.personal_care", "-1 is out of range"),
        (odi(0, 0, 2.5, 0, 0, 0, 0, 0, 0, 0), "sections.lifting", "must be a whole number"),
        (odi(0, 0, 0, 3.0, 0, 0, 0, 0, 0, 0), "sections.walking", "must be a whole number"),
        (odi(0, 0, 0, 0, "3", 0, 0, 0, 0, 0), "sections.sitting", "must be a whole number"),
        (odi(0, 0, 0, 0, 0, True, 0, 0, 0, 0), "sections.standing", "must be a whole number"),
        (
            {"sections": {**odi(*[0] * 10)["sections"], "neck_pain": 2}},
            "sections.neck_pain",
            "unknown section; the ODI sections are pain_intensity, personal_care",
        ),
        (
            {"sections": {k: 0 for k in SECTIONS if k != "sex_life"}},
            "sections.sex_life",
            "is required: 0-5, or null when skipped",
        ),
        ({"sections": [0] * 10}, "sections", "must be an object with the ten section codes"),
        ({"sections": None}, "sections", "must be an object with the ten section codes"),
        ({**odi(*[0] * 10), "total": 0}, "total", "unknown field; expected sections"),
        ({}, "sections", "is required"),
        ([0] * 10, "answers", "must be an object with sections"),
    ],
)
def test_odi_refuses(answers, field, message):
    with pytest.raises(AnswerError) as caught:
        validate_answers("odi", "2.1a", answers)
    assert caught.value.field == field
    assert caught.value.message.startswith(message)


@given(
    st.lists(st.one_of(st.none(), st.integers(0, 5)), min_size=10, max_size=10),
)
def test_odi_score_between_0_and_100_or_no_score_below_8_answered(values):
    result = scored("odi", odi(*values))
    answered = [v for v in values if v is not None]
    if len(answered) < 8:
        assert result.value is None
        assert result.reason
    else:
        assert result.exact is not None
        assert 0 <= result.exact <= 100
        assert result.exact == Fraction(sum(answered) * 100, 5 * len(answered))
        assert result.band == odi_band(result.exact)
        assert abs(Decimal(result.display) - result.value) <= Decimal("0.05")


# --- RMDQ --------------------------------------------------------------------------------------


@pytest.mark.parametrize("yes", [0, 1, 12, 23, 24])
def test_rmdq_score_is_the_number_of_yes(yes):
    result = scored("rmdq", rmdq(yes))
    assert (result.value, result.display, result.unit) == (Decimal(yes), str(yes), "points")


@pytest.mark.parametrize(
    ("unanswered", "reason"),
    [
        ((5,), "item 5 unanswered; the RMDQ is scored only when all 24 items are answered"),
        (
            (1, 24),
            "items 1, 24 unanswered; the RMDQ is scored only when all 24 items are answered",
        ),
    ],
)
def test_rmdq_with_unanswered_items_is_kept_but_not_scored(unanswered, reason):
    validate_answers("rmdq", "24-item", rmdq(10, unanswered))  # storable as the patient left it
    result = scored("rmdq", rmdq(10, unanswered))
    assert (result.value, result.reason) == (None, reason)


@pytest.mark.parametrize(
    ("answers", "field", "message"),
    [
        (
            {"items": [True] * 23},
            "items",
            "has 23 answers; the RMDQ has exactly 24 items",
        ),
        (
            {"items": [False] * 25},
            "items",
            "has 25 answers; the RMDQ has exactly 24 items",
        ),
        ({"items": []}, "items", "has 0 answers; the RMDQ has exactly 24 items"),
        (
            {"items": [True] * 3 + [1] + [False] * 20},
            "items.4",
            "must be true (yes), false (no) or null, not 1",
        ),
        (
            {"items": ["yes"] + [False] * 23},
            "items.1",
            "must be true (yes), false (no) or null, not 'yes'",
        ),
        ({"items": "yes"}, "items", "must be a list of 24 answers (true, false or null)"),
        ({"score": 12}, "score", "unknown field; expected items"),
    ],
)
def test_rmdq_refuses(answers, field, message):
    with pytest.raises(AnswerError) as caught:
        validate_answers("rmdq", "24-item", answers)
    assert (caught.value.field, caught.value.message) == (field, message)


# --- PSFS --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scores", "value", "display"),
    [
        ((4, 5, 6), Decimal(5), "5.0"),  # three activities, the minimum
        ((4, 4, 5), Decimal(13) / Decimal(3), "4.3"),  # 4.333...
        ((0, 0, 1), Decimal(1) / Decimal(3), "0.3"),
        ((2, 2, 2, 1), Decimal("1.75"), "1.8"),  # half up at the display digit
        ((3, 5, 7, 9), Decimal(6), "6.0"),
        ((10, 10, 10, 10, 9), Decimal("9.8"), "9.8"),  # five activities, the maximum
        ((0, 0, 0), Decimal(0), "0.0"),
        ((10, 10, 10), Decimal(10), "10.0"),
    ],
)
def test_psfs_score_is_the_mean(scores, value, display):
    result = scored("psfs", psfs(*scores))
    assert (result.value, result.display, result.unit) == (value, display, "mean points")
    assert result.direction == "higher_is_better"
    assert result.exact == Fraction(sum(scores), len(scores))


@pytest.mark.parametrize(
    ("answers", "field", "message"),
    [
        (psfs(4, 5), "activities", "has 2 activities; the PSFS needs 3 to 5"),
        (psfs(4, 5, 6, 7, 8, 9), "activities", "has 6 activities; the PSFS needs 3 to 5"),
        (psfs(4, 11, 6), "activities.2.score", "11 is out of range; must be from 0 to 10"),
        (psfs(4, 5, -1), "activities.3.score", "-1 is out of range; must be from 0 to 10"),
        (psfs(4.5, 5, 6), "activities.1.score", "must be a whole number from 0 to 10, not 4.5"),
        (
            {"activities": [{"name": "", "score": 3}, *psfs(4, 5)["activities"]]},
            "activities.1.name",
            "each activity needs the name the patient gave it",
        ),
        (
            {"activities": [*psfs(4, 5)["activities"], {"name": "   ", "score": 3}]},
            "activities.3.name",
            "each activity needs the name the patient gave it",
        ),
        (
            {"activities": [*psfs(4, 5)["activities"], {"name": None, "score": 3}]},
            "activities.3.name",
            "each activity needs the name the patient gave it",
        ),
        (
            {"activities": [*psfs(4, 5)["activities"], {"score": 3}]},
            "activities.3.name",
            "is required",
        ),
        (
            {"activities": [*psfs(4, 5)["activities"], {"name": "x", "score": 3, "note": ""}]},
            "activities.3.note",
            "unknown field; expected name, score",
        ),
        (
            {"activities": [*psfs(4, 5)["activities"], "Climb stairs"]},
            "activities.3",
            "must be an object with name, score",
        ),
        (
            {"activities": [*psfs(4, 5)["activities"], {"name": "x" * 201, "score": 3}]},
            "activities.3.name",
            "is longer than 200 characters",
        ),
        (
            {"activities": {"a": 1}},
            "activities",
            "must be a list of activities, each with name and score",
        ),
    ],
)
def test_psfs_refuses(answers, field, message):
    with pytest.raises(AnswerError) as caught:
        validate_answers("psfs", "original", answers)
    assert (caught.value.field, caught.value.message) == (field, message)


@given(st.lists(st.integers(0, 10), min_size=3, max_size=5))
def test_psfs_mean_between_lowest_and_highest_activity(scores):
    result = scored("psfs", psfs(*scores))
    assert result.exact is not None
    assert min(scores) <= result.exact <= max(scores)


# --- Meaningful change (MCID) ------------------------------------------------------------------


def nprs(pain):
    return scored("nprs", {"pain": pain})


def rmdq_score(yes):
    return scored("rmdq", rmdq(yes))


def odi_score(total, answered=10):
    """An ODI whose answered sections sum to `total` (spread over the first sections)."""
    values = [min(5, max(0, total - 5 * i)) for i in range(answered)]
    assert sum(values) == total
    return scored("odi", odi(*values, *[None] * (10 - answered)))


def psfs_score(*scores):
    return scored("psfs", psfs(*scores))


@pytest.mark.parametrize(
    ("instrument", "baseline", "current", "improvement", "relative", "reached"),
    [
        # NPRS: 2 points or 30 %.
        ("nprs", nprs(10), nprs(7), "3", "30", ("absolute", "relative")),
        ("nprs", nprs(8), nprs(6), "2", "25", ("absolute",)),  # only the absolute
        ("nprs", nprs(3), nprs(2), "1", "33.33333333333333333333333333", ("relative",)),
        ("nprs", nprs(8), nprs(7), "1", "12.5", ()),  # improved, not meaningfully
        ("nprs", nprs(5), nprs(5), "0", "0", ()),
        ("nprs", nprs(4), nprs(6), "-2", "-50", ()),  # worse by 2: never meaningful
        ("nprs", nprs(0), nprs(0), "0", None, ()),  # a baseline of 0 cannot improve
        ("nprs", nprs(0), nprs(3), "-3", None, ()),
        # ODI: 10 points or 30 %.
        ("odi", odi_score(20), odi_score(15), "10", "25", ("absolute",)),  # 40 % -> 30 %
        ("odi", odi_score(10), odi_score(7), "6", "30", ("relative",)),  # 20 % -> 14 %
        ("odi", odi_score(16), odi_score(12), "8", "25", ()),  # 32 % -> 24 %
        ("odi", odi_score(12), odi_score(16), "-8", "-33.33333333333333333333333333", ()),
        # Nine answered sections: 22.2 % -> 15.6 %, exactly 30 % better (no rounding slip).
        (
            "odi",
            odi_score(10, answered=9),
            odi_score(7, answered=9),
            "6.666666666666666666666666667",
            "30",
            ("relative",),
        ),
        # RMDQ: 5 points or 30 %.
        ("rmdq", rmdq_score(20), rmdq_score(15), "5", "25", ("absolute",)),
        ("rmdq", rmdq_score(10), rmdq_score(7), "3", "30", ("relative",)),
        ("rmdq", rmdq_score(10), rmdq_score(8), "2", "20", ()),
        ("rmdq", rmdq_score(24), rmdq_score(12), "12", "50", ("absolute", "relative")),
        # PSFS: a mean 2 points higher; no relative threshold.
        (
            "psfs",
            psfs_score(3, 3, 3),
            psfs_score(5, 5, 5),
            "2",
            "66.66666666666666666666666667",
            ("absolute",),
        ),
        (
            "psfs",
            psfs_score(1, 1, 1),
            psfs_score(2, 3, 3),
            "1.666666666666666666666666667",
            "166.6666666666666666666666667",
            (),
        ),
        ("psfs", psfs_score(5, 5, 5), psfs_score(3, 3, 3), "-2", "-40", ()),  # worse
        ("psfs", psfs_score(0, 0, 0), psfs_score(2, 2, 2), "2", None, ("absolute",)),
    ],
)
def test_change_meaningful_when_either_threshold_is_reached(
    instrument, baseline, current, improvement, relative, reached
):
    result = change(instrument, baseline, current)
    assert result.improvement == Decimal(improvement)
    assert result.relative_percent == (None if relative is None else Decimal(relative))
    assert result.reached == reached
    assert result.improved is (Decimal(improvement) > 0)
    assert result.meaningful is bool(reached)
    assert result.thresholds == DEFAULT_MCID[instrument]


def test_change_difference_is_signed_as_measured_improvement_in_the_better_direction():
    lower = change("odi", odi_score(20), odi_score(14))  # 40 % -> 28 %
    assert (lower.difference, lower.improvement) == (Decimal(-12), Decimal(12))
    higher = change("psfs", psfs_score(3, 3, 3), psfs_score(6, 6, 6))
    assert (higher.difference, higher.improvement) == (Decimal(3), Decimal(3))


@pytest.mark.parametrize(
    ("thresholds", "meaningful", "reached"),
    [
        (Mcid(absolute=Decimal(3), relative_percent=Decimal(50)), False, ()),
        (Mcid(absolute=Decimal(3), relative_percent=Decimal(25)), True, ("relative",)),
        (Mcid(absolute=Decimal("1.5"), relative_percent=None), True, ("absolute",)),
    ],
)
def test_change_thresholds_are_configurable(thresholds, meaningful, reached):
    result = change("nprs", nprs(8), nprs(6), thresholds)  # 2 points, 25 %
    assert (result.meaningful, result.reached, result.thresholds) == (
        meaningful,
        reached,
        thresholds,
    )


def test_default_mcid_table():
    assert dict(DEFAULT_MCID) == {
        "nprs": Mcid(Decimal(2), Decimal(30)),
        "odi": Mcid(Decimal(10), Decimal(30)),
        "rmdq": Mcid(Decimal(5), Decimal(30)),
        "psfs": Mcid(Decimal(2), None),
    }


@pytest.mark.parametrize(
    ("absolute", "relative"), [(Decimal(0), None), (Decimal(-1), None), (Decimal(2), Decimal(0))]
)
def test_mcid_thresholds_must_be_positive(absolute, relative):
    with pytest.raises(ValueError, match="above zero"):
        Mcid(absolute=absolute, relative_percent=relative)


def test_change_without_a_score_is_neither_improved_nor_meaningful_and_says_why():
    unscored = scored("odi", odi(3, 2, 2, None, 2, 2, 1, None, None, 1))
    result = change("odi", unscored, odi_score(5))
    assert (result.improved, result.meaningful, result.improvement, result.reached) == (
        False,
        False,
        None,
        (),
    )
    assert result.reason == (
        "the baseline score has no value (only 7 of 10 sections answered; at least 8 are needed)"
    )
    assert change("odi", odi_score(5), unscored).reason.startswith("the current score")


def test_change_refuses_scores_of_another_instrument():
    with pytest.raises(ValueError, match="The current score is rmdq, not nprs"):
        change("nprs", nprs(5), rmdq_score(3))
    with pytest.raises(AnswerError):
        change("vas", nprs(5), nprs(3))


def test_score_built_by_hand_gets_its_exact_value():
    by_hand = Score("nprs", "0-10", Decimal(6), "6", "points", "lower_is_better")
    assert by_hand.exact == 6
    assert change("nprs", nprs(9), by_hand).reached == ("absolute", "relative")
    with pytest.raises(ValueError, match="needs the reason"):
        Score("nprs", "0-10", None, "", "points", "lower_is_better")


@given(st.integers(0, 10), st.integers(0, 10))
def test_worsening_or_no_change_is_never_meaningful(before, after):
    result = change("nprs", nprs(before), nprs(after))
    if after >= before:
        assert not result.improved
        assert not result.meaningful
        assert result.reached == ()
    else:
        assert result.improved
        assert result.meaningful is (before - after >= 2 or (before - after) * 10 >= before * 3)
