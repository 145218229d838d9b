"""The contraindication check: one pure function, no database.

A `Rule` says that a condition (a precaution kind's code, or a derived flag such as
`acute_back_pain`) refuses or warns against one modality or exercise, either wherever the
condition is (`any`), only when the treated region is the condition's own region (`over_area`),
or only when the treated region is in a listed set (`regions`). A rule with no condition is a
placement rule: the treated region alone refuses it (electrodes over the anterior neck).

How unknown regions are read, erring towards asking the therapist:
- a condition recorded without a region matches an `over_area` rule (its area may be this one);
- `whole_body` on either side matches every region;
- with no treated region yet (planning), a patient-condition rule scoped to an area cannot be
  decided: it becomes a warning that names the area to avoid; placement rules are skipped.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from patients.rules import PatientFlag
from patients.vocabulary import BodyRegion

if TYPE_CHECKING:
    from programs.models import ContraindicationRule

Severity = Literal["refuse", "warn"]
REFUSE: Severity = "refuse"
WARN: Severity = "warn"

ANY = "any"
OVER_AREA = "over_area"
REGIONS = "regions"
REGION_SCOPES = (ANY, OVER_AREA, REGIONS)

_SEVERITY_ORDER = {REFUSE: 0, WARN: 1}


@dataclass(frozen=True)
class Rule:
    """One contraindication of one item, as the check reads it."""

    condition: str  # "" for a placement rule
    severity: Severity
    reason: str
    region_scope: str = ANY
    regions: frozenset[str] = field(default_factory=frozenset)
    id: int | None = None


@dataclass(frozen=True)
class Finding:
    """Why an item is refused or questioned for this patient; `reason` names the condition."""

    severity: Severity
    condition: str
    reason: str
    region: str = ""
    rule_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def region_label(region: str) -> str:
    try:
        return str(BodyRegion(region).label).lower()
    except ValueError:
        return region


def _regions_text(regions: Iterable[str]) -> str:
    return ", ".join(sorted(region_label(r) for r in regions))


def _decide(rule: Rule, flag_region: str, treated_region: str | None) -> bool | None:
    """Whether the rule applies to a condition at `flag_region`: True, False, or None (unknown)."""
    if rule.region_scope == ANY:
        return True
    if treated_region is None:
        return None
    if treated_region == BodyRegion.WHOLE_BODY:
        return True
    if rule.region_scope == OVER_AREA:
        return not flag_region or flag_region in (treated_region, BodyRegion.WHOLE_BODY)
    return treated_region in rule.regions


def _area_to_avoid(rule: Rule, flags: list[PatientFlag]) -> str:
    if rule.region_scope == REGIONS:
        return _regions_text(rule.regions)
    regions = {f.region for f in flags if f.region}
    return _regions_text(regions) if regions else "the affected area"


def _labels(flags: list[PatientFlag]) -> str:
    return "; ".join(dict.fromkeys(f.label for f in flags))


def check(
    *, flags: Iterable[PatientFlag], rules: Iterable[Rule], treated_region: str | None
) -> list[Finding]:
    """The findings of `rules` for a patient with `flags`, treated at `treated_region`.

    One finding per rule at most (a condition recorded twice, say as a diagnosis and as a
    precaution, is named once with both labels). Refusals come before warnings.
    """
    flags = list(flags)
    findings: list[Finding] = []
    for rule in rules:
        if not rule.condition:
            if treated_region is not None and (
                treated_region in rule.regions or treated_region == BodyRegion.WHOLE_BODY
            ):
                findings.append(
                    Finding(
                        severity=rule.severity,
                        condition="",
                        reason=f"Over the {region_label(treated_region)}: {rule.reason}",
                        region=treated_region,
                        rule_id=rule.id,
                    )
                )
            continue
        matching = [f for f in flags if f.code == rule.condition]
        decided = [f for f in matching if _decide(rule, f.region, treated_region)]
        if decided:
            findings.append(
                Finding(
                    severity=rule.severity,
                    condition=rule.condition,
                    reason=f"{_labels(decided)}: {rule.reason}",
                    region=treated_region or "",
                    rule_id=rule.id,
                )
            )
        elif treated_region is None and matching:
            findings.append(
                Finding(
                    severity=WARN,
                    condition=rule.condition,
                    reason=(
                        f"{_labels(matching)}: {rule.reason} The treated region is not given yet: "
                        f"do not apply over {_area_to_avoid(rule, matching)}."
                    ),
                    rule_id=rule.id,
                )
            )
    return sorted(findings, key=lambda f: (_SEVERITY_ORDER[f.severity], f.condition, f.reason))


def refusals(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity == REFUSE]


def warnings(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity == WARN]


# --- Adapters from the database rows ----------------------------------------------------------


def rule_from_row(row: ContraindicationRule) -> Rule:
    return Rule(
        condition=row.condition,
        severity=row.severity,  # type: ignore[arg-type]
        reason=row.reason,
        region_scope=row.region_scope,
        regions=frozenset(row.regions or ()),
        id=row.pk,
    )


def rules_from_rows(rows: Iterable[ContraindicationRule]) -> list[Rule]:
    return [rule_from_row(row) for row in rows]
