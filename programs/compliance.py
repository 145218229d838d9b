"""Compliance clocks of Medicare Part B outpatient therapy (CLINICAL.md §3), as pure functions
over plain dates and counts. Each returns a frozen status with `flags`: readable messages for the
therapist's worklist, empty when nothing needs doing.

Whether a clock applies is an episode or payer setting (`EpisodeOfCare.progress_report_clock`,
the payer's authorization); the numbers are versioned rule objects with Medicare's defaults, so
a payer with other limits passes its own.

Day counting, in one place:
- Progress report: treatment days are distinct calendar days with treatment. The first
  reporting period begins on the episode's first day, whatever was done that day (the
  evaluation counts as treatment day 1). A licensed therapist's signed progress report ends
  the period on the report's date, that day included; the next period begins on the next
  treatment day after it (CMS Pub. 100-02, ch. 15, §220.3 D). So a report written on a
  treatment day resets the count to 0 and the next treatment day is day 1 of the new period.
  Reports by an assistant (PTA), and unsigned drafts, do not end a period.
- Certification: "90 calendar days from the first treatment" is counted with the first
  treatment day as day 1, so a first treatment on 1 January allows a plan certified up to and
  including 31 March (first day + 89). The physician's signature is due "in the 30 days
  following the first day of treatment": by the first day + 30. A verbal order to certify,
  given within those 30 days, must be followed by the signature within 14 days of the order:
  the signature is then due by the later of the two dates (§220.1.3 B).
- Authorization: `ends_on` is the last day covered. On that day 0 days are left and the visit
  is still covered; the day after, the authorization is exhausted.

Not encoded here: since 2025 CMS also accepts, for a referred patient, a signed and dated order
plus one transmission of the plan to the referring practitioner within the 30 days in place of
the signature on the plan; and recertification when long-term goals change is a clinical event
that the caller records. Both are for the service that calls `certification_status`.

Events dated after `today` (a signature or a report entered for a later date) are ignored:
each status is the state as of `today`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _in_days(days: int) -> str:
    return "today" if days == 0 else f"in {_plural(days, 'day')}"


# --- Progress reports ------------------------------------------------------------------------


@dataclass(frozen=True)
class ProgressReportRule:
    """A progress report at least every `every` treatment days; warn from the `warn_from`th."""

    every: int = 10
    warn_from: int = 8
    version: str = "CMS Pub. 100-02 ch. 15 §220.3"

    def __post_init__(self) -> None:
        if not 0 < self.warn_from <= self.every:
            raise ValueError("The warning must come on or before the day the report is due.")


MEDICARE_PROGRESS_REPORT = ProgressReportRule()


@dataclass(frozen=True)
class ProgressReport:
    """A progress report as the clock needs it. Only a signed report by a licensed therapist
    (a PT, not a PTA; or the physician/NPP who treats) ends a reporting period. A signed
    re-evaluation with the progress report's content counts too: pass it as one."""

    written_on: dt.date
    by_licensed_therapist: bool
    signed: bool = True

    @property
    def counts(self) -> bool:
        return self.by_licensed_therapist and self.signed


ProgressState = Literal["ok", "warn", "due", "off"]


@dataclass(frozen=True)
class ProgressReportStatus:
    """`treatment_days`: treatment days in the current period (since the last counted report, or
    since the episode's first day). `days_left`: treatment days that may still pass before the
    report is due (0 when due; None when the clock is off). `period_started_on`: the first
    treatment day of the current period (None before the first treatment after a report)."""

    status: ProgressState
    treatment_days: int
    days_left: int | None
    period_started_on: dt.date | None
    last_report_on: dt.date | None
    flags: tuple[str, ...] = ()


def progress_report_status(
    *,
    treatment_dates: Iterable[dt.date],
    reports: Iterable[ProgressReport],
    today: dt.date,
    clock_on: bool = True,
    rule: ProgressReportRule = MEDICARE_PROGRESS_REPORT,
) -> ProgressReportStatus:
    """Where the episode stands against the every-10-treatment-days progress report rule.

    `treatment_dates`: the days the patient was treated in this episode, the evaluation day
    first (duplicates and order do not matter; days after `today` are ignored). Reports dated
    before the episode's first day belong to an earlier episode and are ignored. Statuses, by
    treatment days in the current period: below `warn_from` "ok"; from the 8th "warn"; from
    the 10th "due" (the report is due that day, and the next treatment needs it first);
    "off" when the episode's rules switch the clock off.
    """
    days = sorted({day for day in treatment_dates if day <= today})
    counted = [
        report.written_on
        for report in reports
        if report.counts
        and report.written_on <= today
        and (not days or report.written_on >= days[0])
    ]
    last_report_on = max(counted) if counted else None
    period = [day for day in days if last_report_on is None or day > last_report_on]
    treatment_days = len(period)
    period_started_on = period[0] if period else None
    if not clock_on:
        return ProgressReportStatus(
            status="off",
            treatment_days=treatment_days,
            days_left=None,
            period_started_on=period_started_on,
            last_report_on=last_report_on,
        )

    days_left = max(0, rule.every - treatment_days)
    since = (
        f"the last progress report on {last_report_on:%Y-%m-%d}"
        if last_report_on
        else (f"the start of the episode on {days[0]:%Y-%m-%d}" if days else "")
    )
    status: ProgressState
    flags: tuple[str, ...] = ()
    if treatment_days > rule.every:
        status = "due"
        flags = (
            f"Progress report overdue: {treatment_days} treatment days since {since}, the limit "
            f"is {rule.every}; write it before the next treatment",
        )
    elif treatment_days == rule.every:
        status = "due"
        flags = (
            f"Progress report due now: {treatment_days} treatment days since {since}; "
            f"the next treatment needs a progress report first",
        )
    elif treatment_days >= rule.warn_from:
        status = "warn"
        flags = (
            f"Progress report due in {_plural(days_left, 'treatment day')} "
            f"({treatment_days} of {rule.every} since {since})",
        )
    else:
        status = "ok"
    return ProgressReportStatus(
        status=status,
        treatment_days=treatment_days,
        days_left=days_left,
        period_started_on=period_started_on,
        last_report_on=last_report_on,
        flags=flags,
    )


# --- Plan-of-care certification --------------------------------------------------------------


@dataclass(frozen=True)
class CertificationRule:
    max_days: int = 90  # calendar days, the first treatment day being day 1
    signature_within_days: int = 30  # after the first treatment day
    verbal_order_signature_within_days: int = 14  # after a timely verbal order
    version: str = "CMS Pub. 100-02 ch. 15 §220.1"


MEDICARE_CERTIFICATION = CertificationRule()


class CertificationError(ValueError):
    """Certification dates that break the rule itself (not a reminder: wrong data)."""


SignatureStatus = Literal["missing", "overdue", "signed"]


@dataclass(frozen=True)
class CertificationStatus:
    """`days_left`: calendar days from today to `certified_until` (0 on the last day, negative
    once expired). `signature`: "missing" while awaited and not yet late, "overdue" once late,
    "signed" once signed (`signed_late` when after the due date: a delayed certification).
    `signature_days_left`: days until `signature_due_on` while not signed, else None."""

    certified_until: dt.date
    latest_allowed_until: dt.date
    days_left: int
    expired: bool
    signature: SignatureStatus
    signature_due_on: dt.date
    signature_days_left: int | None
    signed_late: bool
    flags: tuple[str, ...] = ()


def certification_latest_until(
    first_treatment: dt.date, rule: CertificationRule = MEDICARE_CERTIFICATION
) -> dt.date:
    """The last day a plan starting with `first_treatment` can be certified for (day 90)."""
    return first_treatment + dt.timedelta(days=rule.max_days - 1)


def certification_status(
    *,
    first_treatment: dt.date,
    certified_until: dt.date,
    physician_signed_on: dt.date | None,
    verbal_order_on: dt.date | None,
    today: dt.date,
    rule: CertificationRule = MEDICARE_CERTIFICATION,
) -> CertificationStatus:
    """The plan of care's certification as of `today`.

    Raises CertificationError when `certified_until` is before the first treatment or beyond
    90 calendar days from it, or when a signature or verbal order predates the first treatment.
    """
    latest = certification_latest_until(first_treatment, rule)
    if certified_until < first_treatment:
        raise CertificationError(
            f"The plan cannot be certified until {certified_until:%Y-%m-%d}, before the first "
            f"treatment on {first_treatment:%Y-%m-%d}."
        )
    if certified_until > latest:
        raise CertificationError(
            f"A plan is certified for at most {rule.max_days} calendar days from the first "
            f"treatment: until {latest:%Y-%m-%d} at the latest, not {certified_until:%Y-%m-%d}. "
            f"Recertify to extend it."
        )
    for label, day in (
        ("physician's signature", physician_signed_on),
        ("verbal order", verbal_order_on),
    ):
        if day is not None and day < first_treatment:
            raise CertificationError(
                f"The {label} on {day:%Y-%m-%d} predates the first treatment on "
                f"{first_treatment:%Y-%m-%d}, when the plan was established."
            )
    signed_on = (
        physician_signed_on if physician_signed_on and physician_signed_on <= today else None
    )
    verbal_on = verbal_order_on if verbal_order_on and verbal_order_on <= today else None

    flags: list[str] = []
    days_left = (certified_until - today).days
    expired = days_left < 0
    if expired:
        flags.append(
            f"Plan of care certification ended on {certified_until:%Y-%m-%d}: recertify before "
            f"the next treatment"
        )

    timely_until = first_treatment + dt.timedelta(days=rule.signature_within_days)
    due_on = timely_until
    if verbal_on is not None:
        if verbal_on <= timely_until:
            due_on = max(
                timely_until, verbal_on + dt.timedelta(days=rule.verbal_order_signature_within_days)
            )
        elif signed_on is None:
            flags.append(
                f"The verbal order on {verbal_on:%Y-%m-%d} came after the "
                f"{rule.signature_within_days} days for a timely certification "
                f"(by {timely_until:%Y-%m-%d})"
            )

    signature: SignatureStatus
    signature_days_left: int | None = None
    signed_late = False
    if signed_on is not None:
        signature = "signed"
        signed_late = signed_on > due_on
        if signed_late:
            flags.append(
                f"Certification signed on {signed_on:%Y-%m-%d}, "
                f"{_plural((signed_on - due_on).days, 'day')} after it was due "
                f"({due_on:%Y-%m-%d}): a delayed certification; document the reason for the delay"
            )
    else:
        signature_days_left = (due_on - today).days
        after_verbal = f" (verbal order on {verbal_on:%Y-%m-%d})" if due_on != timely_until else ""
        if signature_days_left >= 0:
            signature = "missing"
            when = _in_days(signature_days_left)
            flags.append(
                f"Physician's signature on the plan of care due by {due_on:%Y-%m-%d} "
                f"({when}){after_verbal}"
            )
        else:
            signature = "overdue"
            flags.append(
                f"Physician's signature on the plan of care overdue since {due_on:%Y-%m-%d} "
                f"({_plural(-signature_days_left, 'day')} late){after_verbal}"
            )
    return CertificationStatus(
        certified_until=certified_until,
        latest_allowed_until=latest,
        days_left=days_left,
        expired=expired,
        signature=signature,
        signature_due_on=due_on,
        signature_days_left=signature_days_left,
        signed_late=signed_late,
        flags=tuple(flags),
    )


# --- Payer authorizations --------------------------------------------------------------------


@dataclass(frozen=True)
class AuthorizationRule:
    warn_visits_left: int = 2  # warn at this many visits left, or fewer
    warn_units_below: int = 10  # warn under this many units left
    warn_days_left: int = 7  # warn at this many days left before the last day, or fewer


DEFAULT_AUTHORIZATION = AuthorizationRule()

AuthorizationState = Literal["ok", "warn", "exhausted", "not_started"]


@dataclass(frozen=True)
class AuthorizationStatus:
    """What is left of a payer's authorization; None where the payer set no such limit.
    `days_left` counts calendar days from today to the last covered day (0 on that day)."""

    status: AuthorizationState
    visits_left: int | None
    units_left: int | None
    days_left: int | None
    flags: tuple[str, ...] = ()


def _count(value: int | None, name: str, *, optional: bool) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a whole number of at least 0, not {value!r}.")


def authorization_status(
    *,
    visits_approved: int | None,
    visits_used: int,
    units_approved: int | None,
    units_used: int,
    ends_on: dt.date | None,
    today: dt.date,
    starts_on: dt.date | None = None,
    rule: AuthorizationRule = DEFAULT_AUTHORIZATION,
) -> AuthorizationStatus:
    """Warn at 2 visits left or fewer, under 10 units left, or 7 days or fewer before the last
    day; "exhausted" when no visits or units are left or the last day has passed, and
    "not_started" before `starts_on`. Each reason is a flag."""
    _count(visits_approved, "visits_approved", optional=True)
    _count(visits_used, "visits_used", optional=False)
    _count(units_approved, "units_approved", optional=True)
    _count(units_used, "units_used", optional=False)
    if starts_on is not None and ends_on is not None and ends_on < starts_on:
        raise ValueError("An authorization cannot end before it starts.")

    exhausted: list[str] = []
    warnings: list[str] = []
    visits_left = None if visits_approved is None else visits_approved - visits_used
    if visits_approved is not None and visits_left is not None:
        if visits_left < 0:
            exhausted.append(
                f"{visits_used} of {_plural(visits_approved, 'approved visit')} used "
                f"({-visits_left} over)"
            )
        elif visits_left == 0:
            exhausted.append(f"All {_plural(visits_approved, 'approved visit')} used")
        elif visits_left <= rule.warn_visits_left:
            warnings.append(f"{_plural(visits_left, 'visit')} left of {visits_approved}")
    units_left = None if units_approved is None else units_approved - units_used
    if units_approved is not None and units_left is not None:
        if units_left < 0:
            exhausted.append(
                f"{units_used} of {_plural(units_approved, 'approved unit')} used "
                f"({-units_left} over)"
            )
        elif units_left == 0:
            exhausted.append(f"All {_plural(units_approved, 'approved unit')} used")
        elif units_left < rule.warn_units_below:
            warnings.append(f"{_plural(units_left, 'unit')} left of {units_approved}")
    days_left = None if ends_on is None else (ends_on - today).days
    if ends_on is not None and days_left is not None:
        if days_left < 0:
            exhausted.append(f"Authorization ended on {ends_on:%Y-%m-%d}")
        elif days_left <= rule.warn_days_left:
            when = _in_days(days_left)
            warnings.append(f"Authorization ends on {ends_on:%Y-%m-%d} ({when})")
    not_started = starts_on is not None and today < starts_on
    if not_started and starts_on is not None:
        warnings.insert(0, f"Authorization starts on {starts_on:%Y-%m-%d}; not valid yet")

    status: AuthorizationState
    if exhausted:
        status = "exhausted"
    elif not_started:
        status = "not_started"
    elif warnings:
        status = "warn"
    else:
        status = "ok"
    return AuthorizationStatus(
        status=status,
        visits_left=visits_left,
        units_left=units_left,
        days_left=days_left,
        flags=tuple(exhausted + warnings),
    )
