"""Outcome measures: validating raw answers, scoring them, and judging change (CLINICAL.md §4).

Pure functions, no database. The record keeps the raw answers and the instrument version
(`OutcomeMeasure.answers`, `.version`); every score is computed here from them.

Instruments and their versions (`INSTRUMENTS`; the version is stored with the answers):
nprs "0-10" (the 11-point scale, LOINC 72514-3), odi "2.1a", rmdq "24-item", psfs "original".
A new version is a new `InstrumentVersion` with its own validation and scoring; old answers keep
scoring by the version they were given in.

Answer shapes (JSON-friendly, one shape per instrument):

    nprs  {"pain": 7}                                   one whole number 0-10
    odi   {"sections": {"pain_intensity": 3, ..., "sex_life": null}}
          all ten section keys are required; a section is 0-5, or null when the patient
          skipped it (a missing key is an error, so "skipped" is always said explicitly)
    rmdq  {"items": [true, false, null, ...]}          exactly 24 entries, item 1 first;
          true = yes, false = no, null = unanswered
    psfs  {"activities": [{"name": "Put on socks", "score": 4}, ...]}   3 to 5 activities

Error field paths name the key, and for lists the item or activity number as printed on the
form, counted from 1: "sections.lifting", "items.5", "activities.2.score".

Numbers are whole numbers only: 3.0 and true are refused where 3 is expected (a form that
sends floats or booleans for a 0-5 answer has a bug worth hearing about).

Decisions:
- ODI: score % = sum / (5 x answered sections) x 100. A skipped section lowers the
  denominator by 5. Fewer than 8 answered sections give no score, with the reason.
  Bands are chosen on the exact value, each upper edge inclusive: <= 20 minimal disability,
  <= 40 moderate, <= 60 severe, <= 80 crippled, above 80 bed-bound. So 20 is minimal,
  20.5 (were it possible) moderate, 40.2 severe. The published bands read 0-20, 21-40, ...
  for whole percentages; the inclusive upper edge is the usual reading for anything between.
- RMDQ: the questionnaire is scored only when all 24 items are answered. Unanswered items
  (null) are accepted as raw answers, so the form can be stored as the patient left it, but
  the score is then None with the reason naming the items. Nothing is imputed.
- PSFS: the mean of the activity scores. Comparing means across visits assumes the same
  activities were rated; the caller keeps the activities with the answers.
- Values are exact: every score is a fraction (16/45 x 100 for ODI with a section skipped,
  13/3 for a PSFS mean). `Score.value` is that fraction as a Decimal, exact when it
  terminates, otherwise to 28 significant digits; `Score.exact` keeps the fraction itself so
  that change and MCID thresholds are compared without any rounding. `Score.display` is
  rounded half up: one decimal for ODI and PSFS, whole points for NPRS and RMDQ.
"""

from __future__ import annotations

import decimal
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from types import MappingProxyType
from typing import Any, Literal

Direction = Literal["lower_is_better", "higher_is_better"]
LOWER_IS_BETTER: Direction = "lower_is_better"
HIGHER_IS_BETTER: Direction = "higher_is_better"

# The precision used to turn a repeating fraction (16/45) into a Decimal.
_CONTEXT = decimal.Context(prec=28, rounding=decimal.ROUND_HALF_EVEN)
# OutcomeMeasure.score is a DecimalField with four decimal places.
STORED_PLACES = 4


class AnswerError(ValueError):
    """Raw answers that break a rule of the instrument: `field` names where, `message` what."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


# --- Scores ----------------------------------------------------------------------------------


def _to_decimal(value: Fraction) -> Decimal:
    return _CONTEXT.divide(Decimal(value.numerator), Decimal(value.denominator))


def _round_half_up(value: Fraction, places: int) -> Decimal:
    """`value` rounded half up (away from zero) to `places` decimals, computed exactly."""
    scale = 10**places
    magnitude = math.floor(abs(value) * scale + Fraction(1, 2))
    rounded = Decimal(magnitude if value >= 0 else -magnitude).scaleb(-places)
    return rounded.quantize(Decimal(1).scaleb(-places))


@dataclass(frozen=True)
class Score:
    """One scored administration. `value` is None when no score can be given; `reason` says why.

    `exact` is the score as a fraction; it is filled from `value` when a Score is built by hand.
    """

    instrument: str
    version: str
    value: Decimal | None
    display: str
    unit: str
    direction: Direction
    band: str | None = None
    reason: str | None = None
    exact: Fraction | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.value is None:
            if self.exact is not None:
                raise ValueError("A score without a value has no exact value either.")
            if not self.reason:
                raise ValueError("A score without a value needs the reason.")
        elif self.exact is None:
            object.__setattr__(self, "exact", Fraction(self.value))

    @property
    def stored_value(self) -> Decimal | None:
        """The value as `OutcomeMeasure.score` keeps it: four decimals, rounded half up."""
        return None if self.exact is None else _round_half_up(self.exact, STORED_PLACES)

    @property
    def text(self) -> str:
        """'35.6 % (moderate disability)', '7 points', or 'no score: <reason>'."""
        if self.value is None:
            return f"no score: {self.reason}"
        shown = f"{self.display} {self.unit}"
        return f"{shown} ({self.band})" if self.band else shown


@dataclass(frozen=True)
class _Computed:
    """What an instrument's scorer returns before the common fields are added."""

    exact: Fraction | None
    band: str | None = None
    reason: str | None = None


# --- Instruments -----------------------------------------------------------------------------


@dataclass(frozen=True)
class InstrumentVersion:
    version: str
    validate: Callable[[Any], None] = field(repr=False)
    compute: Callable[[Any], _Computed] = field(repr=False)


@dataclass(frozen=True)
class Instrument:
    code: str
    name: str
    unit: str  # "points", "%", "mean points"
    direction: Direction
    display_places: int  # decimals shown
    versions: tuple[InstrumentVersion, ...]
    loinc: str | None = None

    @property
    def version_names(self) -> tuple[str, ...]:
        return tuple(v.version for v in self.versions)

    def version(self, version: str) -> InstrumentVersion:
        for candidate in self.versions:
            if candidate.version == version:
                return candidate
        raise AnswerError(
            "version",
            f"unknown version {version!r} of {self.code}; known: {', '.join(self.version_names)}",
        )


def _is_whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _mapping(value: Any, keys: tuple[str, ...], where: str | None = None) -> Mapping[str, Any]:
    """`value` as a mapping holding exactly `keys`; `where` is its path (None: the answers)."""

    def path(key: object) -> str:
        return str(key) if where is None else f"{where}.{key}"

    if not isinstance(value, Mapping):
        raise AnswerError(where or "answers", f"must be an object with {', '.join(keys)}")
    for key in value:
        if key not in keys:
            raise AnswerError(path(key), f"unknown field; expected {', '.join(keys)}")
    for key in keys:
        if key not in value:
            raise AnswerError(path(key), "is required")
    return value


def _whole_in_range(value: Any, where: str, low: int, high: int) -> int:
    if not _is_whole(value):
        raise AnswerError(where, f"must be a whole number from {low} to {high}, not {value!r}")
    if not low <= value <= high:
        raise AnswerError(where, f"{value} is out of range; must be from {low} to {high}")
    return int(value)


# NPRS ----------------------------------------------------------------------------------------

NPRS_MAX = 10


def _nprs_validate(answers: Any) -> None:
    _whole_in_range(_mapping(answers, ("pain",))["pain"], "pain", 0, NPRS_MAX)


def _nprs_compute(answers: Any) -> _Computed:
    return _Computed(exact=Fraction(answers["pain"]))


# ODI -----------------------------------------------------------------------------------------

# Oswestry Disability Index 2.1a (Fairbank and Pynsent 2000): section code -> label, form order.
ODI_SECTIONS: Mapping[str, str] = MappingProxyType(
    {
        "pain_intensity": "Pain intensity",
        "personal_care": "Personal care (washing, dressing, etc.)",
        "lifting": "Lifting",
        "walking": "Walking",
        "sitting": "Sitting",
        "standing": "Standing",
        "sleeping": "Sleeping",
        "sex_life": "Sex life (if applicable)",
        "social_life": "Social life",
        "travelling": "Travelling",
    }
)
ODI_SECTION_MAX = 5
ODI_MIN_ANSWERED = 8
# (inclusive upper edge in %, band): a score belongs to the first band whose edge it does not pass.
ODI_BANDS: tuple[tuple[int, str], ...] = (
    (20, "minimal disability"),
    (40, "moderate disability"),
    (60, "severe disability"),
    (80, "crippled"),
    (100, "bed-bound"),
)


def odi_band(percent: Fraction | Decimal | int) -> str:
    """The ODI band of a score in %: upper edges inclusive (20 -> minimal, 20.5 -> moderate)."""
    exact = Fraction(percent)
    if not 0 <= exact <= 100:
        raise ValueError(f"An ODI score is from 0 to 100 %, not {percent}.")
    return next(band for edge, band in ODI_BANDS if exact <= edge)


def _odi_validate(answers: Any) -> None:
    sections = _mapping(answers, ("sections",))["sections"]
    if not isinstance(sections, Mapping):
        raise AnswerError(
            "sections",
            "must be an object with the ten section codes, each 0-5 or null when skipped",
        )
    for code in sections:
        if code not in ODI_SECTIONS:
            raise AnswerError(
                f"sections.{code}",
                f"unknown section; the ODI sections are {', '.join(ODI_SECTIONS)}",
            )
    for code in ODI_SECTIONS:
        if code not in sections:
            raise AnswerError(f"sections.{code}", "is required: 0-5, or null when skipped")
        if sections[code] is not None:
            _whole_in_range(sections[code], f"sections.{code}", 0, ODI_SECTION_MAX)


def _odi_compute(answers: Any) -> _Computed:
    answered = [v for v in answers["sections"].values() if v is not None]
    if len(answered) < ODI_MIN_ANSWERED:
        return _Computed(
            exact=None,
            reason=(
                f"only {len(answered)} of {len(ODI_SECTIONS)} sections answered; "
                f"at least {ODI_MIN_ANSWERED} are needed"
            ),
        )
    percent = Fraction(sum(answered), ODI_SECTION_MAX * len(answered)) * 100
    return _Computed(exact=percent, band=odi_band(percent))


# RMDQ ----------------------------------------------------------------------------------------

RMDQ_ITEMS = 24


def _rmdq_validate(answers: Any) -> None:
    items = _mapping(answers, ("items",))["items"]
    if not isinstance(items, list):
        raise AnswerError("items", f"must be a list of {RMDQ_ITEMS} answers (true, false or null)")
    if len(items) != RMDQ_ITEMS:
        raise AnswerError(
            "items", f"has {len(items)} answers; the RMDQ has exactly {RMDQ_ITEMS} items"
        )
    for number, item in enumerate(items, start=1):
        if item is not None and not isinstance(item, bool):
            raise AnswerError(
                f"items.{number}", f"must be true (yes), false (no) or null, not {item!r}"
            )


def _rmdq_compute(answers: Any) -> _Computed:
    items = answers["items"]
    unanswered = [str(n) for n, item in enumerate(items, start=1) if item is None]
    if unanswered:
        noun = "item" if len(unanswered) == 1 else "items"
        return _Computed(
            exact=None,
            reason=(
                f"{noun} {', '.join(unanswered)} unanswered; the RMDQ is scored only when "
                f"all {RMDQ_ITEMS} items are answered"
            ),
        )
    return _Computed(exact=Fraction(sum(1 for item in items if item)))


# PSFS ----------------------------------------------------------------------------------------

PSFS_MIN_ACTIVITIES = 3
PSFS_MAX_ACTIVITIES = 5
PSFS_MAX = 10
PSFS_NAME_MAX_LENGTH = 200


def _psfs_validate(answers: Any) -> None:
    activities = _mapping(answers, ("activities",))["activities"]
    if not isinstance(activities, list):
        raise AnswerError("activities", "must be a list of activities, each with name and score")
    if not PSFS_MIN_ACTIVITIES <= len(activities) <= PSFS_MAX_ACTIVITIES:
        raise AnswerError(
            "activities",
            f"has {len(activities)} activities; the PSFS needs "
            f"{PSFS_MIN_ACTIVITIES} to {PSFS_MAX_ACTIVITIES}",
        )
    for number, activity in enumerate(activities, start=1):
        where = f"activities.{number}"
        activity = _mapping(activity, ("name", "score"), where)
        name = activity["name"]
        if not isinstance(name, str) or not name.strip():
            raise AnswerError(f"{where}.name", "each activity needs the name the patient gave it")
        if len(name) > PSFS_NAME_MAX_LENGTH:
            raise AnswerError(f"{where}.name", f"is longer than {PSFS_NAME_MAX_LENGTH} characters")
        _whole_in_range(activity["score"], f"{where}.score", 0, PSFS_MAX)


def _psfs_compute(answers: Any) -> _Computed:
    scores = [activity["score"] for activity in answers["activities"]]
    return _Computed(exact=Fraction(sum(scores), len(scores)))


# Registry ------------------------------------------------------------------------------------

INSTRUMENTS: Mapping[str, Instrument] = MappingProxyType(
    {
        "nprs": Instrument(
            code="nprs",
            name="Numeric Pain Rating Scale",
            unit="points",
            direction=LOWER_IS_BETTER,
            display_places=0,
            versions=(InstrumentVersion("0-10", _nprs_validate, _nprs_compute),),
            loinc="72514-3",
        ),
        "odi": Instrument(
            code="odi",
            name="Oswestry Disability Index",
            unit="%",
            direction=LOWER_IS_BETTER,
            display_places=1,
            versions=(InstrumentVersion("2.1a", _odi_validate, _odi_compute),),
        ),
        "rmdq": Instrument(
            code="rmdq",
            name="Roland-Morris Disability Questionnaire",
            unit="points",
            direction=LOWER_IS_BETTER,
            display_places=0,
            versions=(InstrumentVersion("24-item", _rmdq_validate, _rmdq_compute),),
        ),
        "psfs": Instrument(
            code="psfs",
            name="Patient-Specific Functional Scale",
            unit="mean points",
            direction=HIGHER_IS_BETTER,
            display_places=1,
            versions=(InstrumentVersion("original", _psfs_validate, _psfs_compute),),
        ),
    }
)


def instrument_get(code: str) -> Instrument:
    try:
        return INSTRUMENTS[code]
    except (KeyError, TypeError):
        raise AnswerError(
            "instrument", f"unknown instrument {code!r}; known: {', '.join(INSTRUMENTS)}"
        ) from None


def validate_answers(instrument: str, version: str, answers: Any) -> None:
    """Raise AnswerError (naming the field and the rule) unless `answers` fit the instrument."""
    instrument_get(instrument).version(version).validate(answers)


def score(instrument: str, version: str, answers: Any) -> Score:
    """Validate `answers` and score them; a Score without value says why it has none."""
    found = instrument_get(instrument)
    rules = found.version(version)
    rules.validate(answers)
    computed = rules.compute(answers)
    if computed.exact is None:
        return Score(
            instrument=found.code,
            version=rules.version,
            value=None,
            display="",
            unit=found.unit,
            direction=found.direction,
            reason=computed.reason,
        )
    return Score(
        instrument=found.code,
        version=rules.version,
        value=_to_decimal(computed.exact),
        display=str(_round_half_up(computed.exact, found.display_places)),
        unit=found.unit,
        direction=found.direction,
        band=computed.band,
        exact=computed.exact,
    )


# --- Meaningful change -----------------------------------------------------------------------


@dataclass(frozen=True)
class Mcid:
    """Minimal clinically important difference: improvement is meaningful when it reaches
    `absolute` (in the instrument's unit) OR `relative_percent` of the baseline."""

    absolute: Decimal
    relative_percent: Decimal | None = None
    # The thresholds as exact fractions, made once (a report compares thousands of changes).
    absolute_exact: Fraction = field(init=False, repr=False, compare=False)
    relative_exact: Fraction | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.absolute <= 0:
            raise ValueError("The absolute MCID threshold must be above zero.")
        if self.relative_percent is not None and self.relative_percent <= 0:
            raise ValueError("The relative MCID threshold must be above zero.")
        object.__setattr__(self, "absolute_exact", Fraction(self.absolute))
        relative = self.relative_percent
        object.__setattr__(self, "relative_exact", None if relative is None else Fraction(relative))


# The shipped defaults (CLINICAL.md §4); a clinic or a study may pass its own per call.
DEFAULT_MCID: Mapping[str, Mcid] = MappingProxyType(
    {
        "nprs": Mcid(absolute=Decimal("2"), relative_percent=Decimal("30")),
        "odi": Mcid(absolute=Decimal("10"), relative_percent=Decimal("30")),
        "rmdq": Mcid(absolute=Decimal("5"), relative_percent=Decimal("30")),
        "psfs": Mcid(absolute=Decimal("2"), relative_percent=None),
    }
)

Reached = Literal["absolute", "relative"]


@dataclass(frozen=True)
class Change:
    """Change from `baseline` to `current`.

    `difference` is current minus baseline, as measured. `improvement` is the same change
    signed so that positive is better whatever the instrument's direction (an ODI falling
    from 40 to 28 is an improvement of 12). `relative_percent` is the improvement as a
    percentage of the baseline (None when the baseline is 0). `reached` lists the thresholds
    the improvement reached; worsening reaches none and is never meaningful.
    """

    instrument: str
    direction: Direction
    thresholds: Mcid
    difference: Decimal | None
    improvement: Decimal | None
    relative_percent: Decimal | None
    improved: bool
    meaningful: bool
    reached: tuple[Reached, ...] = ()
    reason: str | None = None


def change(
    instrument: str, baseline: Score, current: Score, thresholds: Mcid | None = None
) -> Change:
    """Whether `current` is better than `baseline`, and meaningfully so (absolute OR relative).

    On a lower-is-better scale a baseline of 0 cannot improve: any later score is the same or
    worse. Scores without a value give a Change that says why nothing could be compared.
    """
    found = instrument_get(instrument)
    for which, given in (("baseline", baseline), ("current", current)):
        if given.instrument != found.code:
            raise ValueError(f"The {which} score is {given.instrument}, not {found.code}.")
    mcid = thresholds if thresholds is not None else DEFAULT_MCID[found.code]
    if baseline.exact is None or current.exact is None:
        missing = "baseline" if baseline.exact is None else "current"
        reason = baseline.reason if baseline.exact is None else current.reason
        return Change(
            instrument=found.code,
            direction=found.direction,
            thresholds=mcid,
            difference=None,
            improvement=None,
            relative_percent=None,
            improved=False,
            meaningful=False,
            reason=f"the {missing} score has no value ({reason})",
        )
    difference = current.exact - baseline.exact
    improvement = -difference if found.direction == LOWER_IS_BETTER else difference
    relative = None if baseline.exact == 0 else improvement / abs(baseline.exact) * 100
    reached: list[Reached] = []
    if improvement > 0:
        if improvement >= mcid.absolute_exact:
            reached.append("absolute")
        if (
            mcid.relative_exact is not None
            and relative is not None
            and relative >= mcid.relative_exact
        ):
            reached.append("relative")
    return Change(
        instrument=found.code,
        direction=found.direction,
        thresholds=mcid,
        difference=_to_decimal(difference),
        improvement=_to_decimal(improvement),
        relative_percent=None if relative is None else _to_decimal(relative),
        improved=improvement > 0,
        meaningful=bool(reached),
        reached=tuple(reached),
    )
