"""Billing units for one patient on one date of service, and the yearly KX threshold (CLINICAL.md
§1 and §3). Pure functions, no database.

How minutes become units is a payer setting (`BillingRule`):

- `medicare_8_minute`, the Medicare 8-minute rule (CMS Pub. 100-04, ch. 5, §20.2): the minutes of
  all timed codes are added up and the total gives the number of timed units,

      0-7 min -> 0, 8-22 -> 1, 23-37 -> 2, 38-52 -> 3, 53-67 -> 4, 68-82 -> 5, +1 per 15 min,

  closed form `(total + 7) // 15`. The units are then distributed among the codes:

  1. each code first gets one unit per full 15 minutes of its own (`minutes // 15`), as CMS
     requires ("a service performed for at least 15 minutes shall be billed for at least one
     unit", 30 minutes at least two, ...);
  2. the units still left over go, one each, to the codes with the most minutes left over
     (`minutes % 15`), the larger remainder first, equal remainders in code order (CMS lets
     the therapist pick either; a fixed order keeps the result reproducible).

  The leftover units never exceed the number of codes with minutes left over, so no code gets
  more than one extra unit and a code with no minutes left over never gets one. CMS's own
  examples, all reproduced in tests/programs/test_billing.py:
      24 min 97112 + 23 min 97110 = 47 min = 3 units: 2 x 97112, 1 x 97110 (9 > 8 left over)
      20 min 97112 + 20 min 97110 = 40 min = 3 units: 2 x 97110, 1 x 97112 (equal: code order)
      33 min 97110 + 7 min 97140 = 40 min = 3 units: 2 x 97110, 1 x 97140 (7 > 3 left over)
      18 min 97110 + 13 min 97140 + 10 min 97116 + 8 min 97035 = 49 min = 3 units:
          1 each of 97110, 97140, 97116; none of 97035
      7 min 97112 + 7 min 97110 + 7 min 97140 = 21 min = 1 unit: 97110 (equal: code order)

- `per_code_8`, the "rule of eights" many commercial payers use: the same table applied to each
  timed code on its own, so 7 + 7 + 7 minutes of three codes bill nothing.

Untimed (supervised, evaluation) codes bill one unit per encounter whatever the minutes; a code
listed twice in one visit is still one unit. Lines of the same code are merged before counting
(10 + 5 minutes of 97110 are 15 minutes of 97110).

Every line carries GP (services under a physical-therapy plan of care); KX is added when the
caller says the patient's yearly therapy threshold is exceeded.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType

from patients.models import BillingRule

PT_MODIFIER = "GP"  # delivered under an outpatient physical-therapy plan of care
THRESHOLD_MODIFIER = "KX"  # the yearly therapy threshold is exceeded and the care is necessary
CODE = re.compile(r"^[0-9]{5}$|^[A-Z][0-9]{4}$")  # CPT (97110) or HCPCS level II (G0283)


class BillingError(ValueError):
    """Service lines that cannot be billed as given."""


@dataclass(frozen=True)
class UnitTable:
    """Minutes to units: `first_unit_at` minutes give the first unit, each further
    `unit_minutes` one more (8 and 15: 8-22 -> 1, 23-37 -> 2, ...)."""

    first_unit_at: int
    unit_minutes: int

    def __post_init__(self) -> None:
        if not 0 < self.first_unit_at <= self.unit_minutes:
            raise ValueError("The first unit needs between 1 minute and a whole unit's minutes.")

    def units(self, minutes: int) -> int:
        if minutes < 0:
            raise BillingError(f"Minutes cannot be negative ({minutes}).")
        if minutes < self.first_unit_at:
            return 0
        return (minutes + self.unit_minutes - self.first_unit_at) // self.unit_minutes


@dataclass(frozen=True)
class RuleVersion:
    """One version of a billing rule. `pooled`: units come from the total timed minutes of the
    day and are then distributed among the codes; otherwise each code counts on its own."""

    rule: BillingRule
    version: str
    source: str
    table: UnitTable
    pooled: bool


FIFTEEN_MINUTE_UNITS = UnitTable(first_unit_at=8, unit_minutes=15)

MEDICARE_8_MINUTE_V1 = RuleVersion(
    rule=BillingRule.MEDICARE_8_MINUTE,
    version="cms-100-04-5-20.2",
    source="CMS Medicare Claims Processing Manual, Pub. 100-04, chapter 5, section 20.2",
    table=FIFTEEN_MINUTE_UNITS,
    pooled=True,
)
PER_CODE_8_V1 = RuleVersion(
    rule=BillingRule.PER_CODE_8,
    version="per-code-8",
    source="CPT 15-minute timed codes, counted per code (payer policy)",
    table=FIFTEEN_MINUTE_UNITS,
    pooled=False,
)

# The version each rule uses today. A payer whose policy changes gets a new RuleVersion here,
# and a caller can pin an older one by passing it to `bill` instead of the rule.
RULES: Mapping[BillingRule, RuleVersion] = MappingProxyType(
    {
        BillingRule.MEDICARE_8_MINUTE: MEDICARE_8_MINUTE_V1,
        BillingRule.PER_CODE_8: PER_CODE_8_V1,
    }
)


def rule_version(rule: BillingRule | str | RuleVersion) -> RuleVersion:
    if isinstance(rule, RuleVersion):
        return rule
    try:
        return RULES[BillingRule(rule)]
    except ValueError:
        known = ", ".join(BillingRule.values)
        raise BillingError(f"Unknown billing rule {rule!r}; known: {known}.") from None


def timed_units(minutes: int, rule: BillingRule | str | RuleVersion = "medicare_8_minute") -> int:
    """Units for `minutes` of timed service by the rule's table (0-7 -> 0, 8-22 -> 1, ...)."""
    return rule_version(rule).table.units(minutes)


@dataclass(frozen=True)
class ServiceLine:
    """A code delivered in the visit, with its minutes; `timed` as the code catalogue says."""

    cpt_code: str
    minutes: int
    timed: bool

    def __post_init__(self) -> None:
        if not isinstance(self.cpt_code, str) or not CODE.match(self.cpt_code):
            raise BillingError(f"{self.cpt_code!r} is not a CPT or HCPCS code.")
        if isinstance(self.minutes, bool) or not isinstance(self.minutes, int):
            raise BillingError(f"{self.cpt_code}: minutes must be a whole number.")
        if self.minutes < 0:
            raise BillingError(f"{self.cpt_code}: minutes cannot be negative ({self.minutes}).")


@dataclass(frozen=True)
class BillingLine:
    """A code as billed: its minutes that day and its units. A timed code whose minutes earn no
    unit is kept with units 0 so that the note shows every minute; claims leave it out."""

    cpt_code: str
    minutes: int
    units: int
    modifiers: tuple[str, ...] = (PT_MODIFIER,)


def _merge(lines: Iterable[ServiceLine]) -> list[ServiceLine]:
    """One line per code, minutes added up, in the order the codes first appear."""
    merged: dict[str, ServiceLine] = {}
    for line in lines:
        seen = merged.get(line.cpt_code)
        if seen is None:
            merged[line.cpt_code] = line
        elif seen.timed != line.timed:
            raise BillingError(f"{line.cpt_code} is listed both as timed and as untimed.")
        else:
            merged[line.cpt_code] = ServiceLine(
                line.cpt_code, seen.minutes + line.minutes, line.timed
            )
    return list(merged.values())


def _distribute(timed: list[ServiceLine], rule: RuleVersion) -> dict[str, int]:
    """Units per code under a pooled rule: see the module docstring for the method."""
    unit = rule.table.unit_minutes
    total_units = rule.table.units(sum(line.minutes for line in timed))
    units = {line.cpt_code: line.minutes // unit for line in timed}
    left = total_units - sum(units.values())
    by_remainder = sorted(
        (line for line in timed if line.minutes % unit),
        key=lambda line: (-(line.minutes % unit), line.cpt_code),
    )
    if not 0 <= left <= len(by_remainder):  # cannot happen while first_unit_at <= unit_minutes
        raise AssertionError(f"{left} leftover units for {len(by_remainder)} codes")
    for line in by_remainder[:left]:
        units[line.cpt_code] += 1
    return units


def bill(
    lines: Iterable[ServiceLine],
    rule: BillingRule | str | RuleVersion,
    *,
    threshold_exceeded: bool = False,
) -> list[BillingLine]:
    """The billing lines of one patient's date of service, one per code, in order of appearance.

    `lines` are all the codes delivered to the patient that day; `rule` is the payer's
    `BillingRule` (or a pinned `RuleVersion`); `threshold_exceeded` adds KX to every line.
    """
    version = rule_version(rule)
    merged = _merge(lines)
    timed = [line for line in merged if line.timed]
    if version.pooled:
        units = _distribute(timed, version)
    else:
        units = {line.cpt_code: version.table.units(line.minutes) for line in timed}
    modifiers = (PT_MODIFIER, THRESHOLD_MODIFIER) if threshold_exceeded else (PT_MODIFIER,)
    return [
        BillingLine(
            cpt_code=line.cpt_code,
            minutes=line.minutes,
            units=units[line.cpt_code] if line.timed else 1,
            modifiers=modifiers,
        )
        for line in merged
    ]


def claim_lines(lines: Iterable[BillingLine]) -> list[BillingLine]:
    """The lines that go on the claim: those with at least one unit."""
    return [line for line in lines if line.units > 0]


# --- The yearly therapy threshold (KX modifier) -----------------------------------------------

# Medicare's yearly threshold for physical therapy and speech-language pathology together,
# per calendar year, as CMS publishes it in each year's physician fee schedule. This is the
# shipped default; an administrators' table will add later years. Add a year only from CMS's
# published figure.
THERAPY_THRESHOLDS: Mapping[int, Decimal] = MappingProxyType(
    {
        2025: Decimal("2410.00"),
    }
)


class ThresholdUnknown(LookupError):
    """No KX threshold is on file for the year asked about."""

    def __init__(self, year: int) -> None:
        super().__init__(
            f"No therapy threshold (KX modifier) is on file for {year}; add CMS's published "
            f"figure for {year} before billing that year's claims."
        )
        self.year = year


def threshold_for(year: int, thresholds: Mapping[int, Decimal] = THERAPY_THRESHOLDS) -> Decimal:
    """The PT and SLP therapy threshold of calendar `year`, in US dollars."""
    try:
        return thresholds[year]
    except KeyError:
        raise ThresholdUnknown(year) from None
