"""Reports for the administrators of one or several clinics (admin pages, CSV export).

Every report is computed in the database in a fixed number of queries, whatever the number of
clinics, therapists, visits or episodes: counts and sums are `aggregate`/`annotate` grouped by
what the report is per; clinic subtotals are added up from those groups. Each report takes the
clinics (already limited to the ones the reader may report on, see `report_clinics`) and a
period of clinic-local calendar dates, both ends included.

Dates are each clinic's own: a visit belongs to the local day it starts on in its clinic's time
zone (`LocalDate`, computed by the database: PostgreSQL `AT TIME ZONE`, SQLite Django's own
date function), so a month or a period means the same days as on the clinic's calendar.

Definitions (README, "Reports"):
- attendance: *due* visits are all visits of the period except those cancelled in time and those
  cancelled because the clinic closed (patients/closures.py); the no-show rate is no-shows over
  due visits, the late-cancel rate late cancellations (by the patient) over due visits.
- utilisation: booked hours (booked, checked-in and completed visits) over available hours. A
  therapist's available hours at a clinic are their working hours there within the clinic's
  opening hours, minus their time off and the clinic's closures; a room's are the clinic's
  opening hours minus closures.
- visits: completed visits per therapist, and per episode of care.
- outcomes: per episode whose latest ODI or NPRS (as of the period's end) was recorded in the
  period and that has an earlier one: the change from the first (baseline) to that latest
  score, and whether it reached the MCID (patients.outcomes: absolute or relative threshold).
- compliance: today's state of each active episode's clocks (programs.compliance): progress
  report due or overdue, plan of care certification ending, expired or unsigned, payer
  authorization nearly used or used up.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import NotSupportedError, connection
from django.db.models import (
    Count,
    DateField,
    DurationField,
    ExpressionWrapper,
    F,
    Func,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.lookups import In
from django.utils import timezone

from clinic.capabilities import Capability
from clinic.models import Clinic, Closure, OpeningHours, Room, TimeOff, WorkingHours
from patients import outcomes
from patients.models import EpisodeOfCare, Evaluation, OutcomeMeasure, Patient, Visit
from patients.scheduling import Interval, daterange, intersect, subtract, wall_blocks
from programs import compliance, treatment_log
from programs.models import BillingLine, EpisodeTreatmentLog, PlanOfCare, TreatmentNote
from programs.selectors import (
    CERTIFICATION_ENDING_WARN_DAYS,
    _certification,
    _progress_reports,
    _treatment_days,
)

MAX_PERIOD_DAYS = 366
UTC = dt.UTC


# --- Scope and period ------------------------------------------------------------------------


def report_clinics(user: Any) -> QuerySet[Clinic]:
    """The active clinics whose reports `user` may read (Capability.VIEW_REPORTS)."""
    return Clinic.objects.active().visible_to(user, Capability.VIEW_REPORTS).order_by("name")


@dataclass(frozen=True)
class Period:
    """Clinic-local calendar dates, both included."""

    starts_on: dt.date
    ends_on: dt.date

    def __post_init__(self) -> None:
        if self.ends_on < self.starts_on:
            raise ValueError("A period cannot end before it starts.")
        if self.days > MAX_PERIOD_DAYS:
            raise ValueError(f"A period is at most {MAX_PERIOD_DAYS} days.")

    @property
    def days(self) -> int:
        return (self.ends_on - self.starts_on).days + 1

    def utc_window(self) -> dict[str, dt.datetime]:
        """A UTC range that holds every clinic's local days of the period (zones are within a
        day of UTC), so that an index on the start serves the exact local-date filter."""
        return {
            "starts_at__gte": dt.datetime.combine(
                self.starts_on - dt.timedelta(days=1), dt.time(), UTC
            ),
            "starts_at__lt": dt.datetime.combine(
                self.ends_on + dt.timedelta(days=2), dt.time(), UTC
            ),
        }


# --- Local dates in the database -------------------------------------------------------------


class LocalDate(Func):
    """The local calendar date of a timestamp in a time zone given by a column or value:
    `LocalDate("starts_at", "clinic__timezone")`."""

    arity = 2
    output_field = DateField()

    def as_sql(
        self,
        compiler: Any,
        connection: Any,
        function: str | None = None,
        template: str | None = None,
        arg_joiner: str | None = None,
        **extra_context: Any,
    ) -> Any:
        raise NotSupportedError("LocalDate is written for PostgreSQL and SQLite.")

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return super().as_sql(
            compiler, connection, template="((%(expressions)s))::date", arg_joiner=" AT TIME ZONE "
        )

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return super().as_sql(
            compiler, connection, template="django_datetime_cast_date(%(expressions)s, 'UTC')"
        )


class AnyOf(In):
    """`AnyOf(F("episode_id"), ids)`: the column is one of the ids. On PostgreSQL one array
    parameter (`= ANY(%s)`), which the planner reads as "this many rows, through the index";
    an `IN` list of thousands of literals costs more to plan than the rows cost to read. Other
    databases get the plain `IN`."""

    def as_postgresql(self, compiler: Any, connection: Any) -> Any:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        return f"{lhs} = ANY(%s)", (*lhs_params, list(self.rhs))


class LocalMonth(LocalDate):
    """The first day of the local month of a timestamp in a time zone."""

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return Func.as_sql(
            self,
            compiler,
            connection,
            template="(DATE_TRUNC('month', %(expressions)s))::date",
            arg_joiner=" AT TIME ZONE ",
        )

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return Func.as_sql(
            self,
            compiler,
            connection,
            template="django_date_trunc('month', "
            "django_datetime_cast_date(%(expressions)s, 'UTC'), NULL, NULL)",
        )


def visits_in(clinics: Iterable[Clinic], period: Period) -> QuerySet[Visit]:
    """The clinics' visits that start on a local day of the period."""
    return (
        Visit.objects.filter(clinic__in=[c.pk for c in clinics], **period.utc_window())
        .annotate(local_day=LocalDate("starts_at", "clinic__timezone"))
        .filter(local_day__gte=period.starts_on, local_day__lte=period.ends_on)
    )


# --- Results ---------------------------------------------------------------------------------


@dataclass
class Table:
    """One table of a report: `columns` are (key, label); rows are dicts by key."""

    key: str
    title: str
    columns: list[tuple[str, str]]
    rows: list[dict[str, Any]] = field(default_factory=list)

    def values(self) -> list[list[Any]]:
        return [[row.get(key) for key, _ in self.columns] for row in self.rows]


@dataclass
class Report:
    slug: str
    title: str
    period: Period | None
    clinics: list[Clinic]
    tables: list[Table]
    notes: list[str] = field(default_factory=list)

    def table(self, key: str) -> Table | None:
        return next((t for t in self.tables if t.key == key), None)


def person(first: str | None, last: str | None, username: str | None) -> str:
    return f"{first or ''} {last or ''}".strip() or (username or "")


def rate(part: int, whole: int) -> Decimal | None:
    """A share in percent with one decimal, or None without a denominator."""
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"))


def hours(value: dt.timedelta | None) -> Decimal:
    seconds = Decimal(value.total_seconds()) if value else Decimal(0)
    return (seconds / 3600).quantize(Decimal("0.01"))


# --- Attendance: no-shows and late cancellations ---------------------------------------------

S = Visit.Status
ATTENDANCE_COLUMNS = [
    ("due", "Visits due"),
    ("completed", "Completed"),
    ("no_shows", "No-shows"),
    ("no_show_rate", "No-show rate %"),
    ("late_cancels", "Late cancellations"),
    ("late_cancel_rate", "Late-cancel rate %"),
]


def _with_rates(row: dict[str, Any]) -> dict[str, Any]:
    row["no_show_rate"] = rate(row["no_shows"], row["due"])
    row["late_cancel_rate"] = rate(row["late_cancels"], row["due"])
    return row


def attendance_report(*, clinics: list[Clinic], period: Period) -> Report:
    """No-show and late-cancel rates per clinic and month and per therapist and month: one
    query, grouped by clinic, therapist and local month."""
    groups = (
        visits_in(clinics, period)
        .annotate(month=LocalMonth("starts_at", "clinic__timezone"))
        .values(
            "clinic_id",
            "clinic__name",
            "therapist_id",
            "therapist__first_name",
            "therapist__last_name",
            "therapist__username",
            "month",
        )
        .annotate(
            due=Count("id", filter=~Q(status=S.CANCELLED)),
            completed=Count("id", filter=Q(status=S.COMPLETED)),
            no_shows=Count("id", filter=Q(status=S.NO_SHOW)),
            late_cancels=Count("id", filter=Q(status=S.LATE_CANCELLED)),
        )
        .order_by("clinic__name", "month", "therapist__last_name", "therapist__first_name")
    )
    counts = ("due", "completed", "no_shows", "late_cancels")
    by_therapist: list[dict[str, Any]] = []
    by_clinic: dict[tuple[str, dt.date], dict[str, Any]] = {}
    for values in groups:
        group: dict[str, Any] = dict(values)
        month = group["month"]
        row = {
            "clinic": group["clinic__name"],
            "month": f"{month:%Y-%m}",
            "therapist": person(
                group["therapist__first_name"],
                group["therapist__last_name"],
                group["therapist__username"],
            ),
            **{name: group[name] for name in counts},
        }
        by_therapist.append(_with_rates(row))
        total = by_clinic.setdefault(
            (group["clinic__name"], month),
            {
                "clinic": group["clinic__name"],
                "month": f"{month:%Y-%m}",
                **dict.fromkeys(counts, 0),
            },
        )
        for name in counts:
            total[name] += group[name]
    return Report(
        slug="attendance",
        title="No-shows and late cancellations",
        period=period,
        clinics=clinics,
        tables=[
            Table(
                "clinics",
                "Per clinic and month",
                [("clinic", "Clinic"), ("month", "Month"), *ATTENDANCE_COLUMNS],
                [_with_rates(row) for row in by_clinic.values()],
            ),
            Table(
                "therapists",
                "Per therapist and month",
                [
                    ("clinic", "Clinic"),
                    ("month", "Month"),
                    ("therapist", "Therapist"),
                    *ATTENDANCE_COLUMNS,
                ],
                by_therapist,
            ),
        ],
        notes=[
            "Visits due: every visit of the period except those cancelled in time and those "
            "cancelled because the clinic closed. Rates are over the visits due.",
        ],
    )


# --- Utilisation -----------------------------------------------------------------------------

OCCUPYING = list(Visit.OCCUPYING_STATUSES)
DURATION = ExpressionWrapper(F("ends_at") - F("starts_at"), output_field=DurationField())


def _hours_sum(intervals: Iterable[Interval]) -> dt.timedelta:
    return sum((i.end - i.start for i in intervals), dt.timedelta())


def utilisation_report(*, clinics: list[Clinic], period: Period) -> Report:
    """Booked over available hours per therapist and per room. Seven queries: booked hours per
    therapist, per room; opening hours, closures, working hours, time off, rooms."""
    ids = [c.pk for c in clinics]
    by_id = {c.pk: c for c in clinics}
    booked = visits_in(clinics, period).filter(status__in=OCCUPYING)
    therapist_booked = {
        (g["clinic_id"], g["therapist_id"]): g["booked"]
        for g in booked.values("clinic_id", "therapist_id")
        .annotate(booked=Sum(DURATION))
        .order_by()
    }
    room_booked = {
        g["room_id"]: g["booked"]
        for g in booked.filter(room__isnull=False)
        .values("room_id")
        .annotate(booked=Sum(DURATION))
        .order_by()
    }
    opening: dict[tuple[int, int], list[tuple[dt.time, dt.time]]] = defaultdict(list)
    for clinic_id, weekday, opens, closes in OpeningHours.objects.filter(
        clinic_id__in=ids
    ).values_list("clinic_id", "weekday", "opens", "closes"):
        opening[(clinic_id, weekday)].append((opens, closes))
    closed: dict[int, set[dt.date]] = defaultdict(set)
    for clinic_id, starts_on, ends_on in Closure.objects.filter(
        clinic_id__in=ids, starts_on__lte=period.ends_on, ends_on__gte=period.starts_on
    ).values_list("clinic_id", "starts_on", "ends_on"):
        closed[clinic_id].update(
            daterange(max(starts_on, period.starts_on), min(ends_on, period.ends_on))
        )
    working: dict[tuple[int, int], dict[int, list[tuple[dt.time, dt.time]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    names: dict[int, str] = {}
    for (
        clinic_id,
        therapist_id,
        weekday,
        starts,
        ends,
        first,
        last,
        username,
    ) in WorkingHours.objects.filter(clinic_id__in=ids).values_list(
        "clinic_id",
        "therapist_id",
        "weekday",
        "starts",
        "ends",
        "therapist__first_name",
        "therapist__last_name",
        "therapist__username",
    ):
        working[(clinic_id, therapist_id)][weekday].append((starts, ends))
        names[therapist_id] = person(first, last, username)
    window = period.utc_window()
    away: dict[int, list[Interval]] = defaultdict(list)
    for therapist_id, starts_at, ends_at in TimeOff.objects.filter(
        therapist_id__in={t for _, t in working},
        starts_at__lt=window["starts_at__lt"],
        ends_at__gt=window["starts_at__gte"],
    ).values_list("therapist_id", "starts_at", "ends_at"):
        away[therapist_id].append(Interval(starts_at, ends_at))

    def open_on(clinic: Clinic, day: dt.date) -> list[Interval]:
        if day in closed[clinic.pk]:
            return []
        return wall_blocks(day, opening.get((clinic.pk, day.weekday()), []), clinic.tz)

    days = list(daterange(period.starts_on, period.ends_on))
    open_hours = {c.pk: _hours_sum(i for d in days for i in open_on(c, d)) for c in clinics}
    therapist_rows = []
    for (clinic_id, therapist_id), blocks in sorted(
        working.items(), key=lambda item: (by_id[item[0][0]].name, names[item[0][1]])
    ):
        clinic = by_id[clinic_id]
        available = dt.timedelta()
        for day in days:
            shift = intersect(
                open_on(clinic, day), wall_blocks(day, blocks.get(day.weekday(), []), clinic.tz)
            )
            available += _hours_sum(subtract(shift, away.get(therapist_id, [])))
        booked_hours = therapist_booked.get((clinic_id, therapist_id), dt.timedelta())
        therapist_rows.append(
            {
                "clinic": clinic.name,
                "therapist": names[therapist_id],
                "booked_hours": hours(booked_hours),
                "available_hours": hours(available),
                "utilisation": _share(booked_hours, available),
            }
        )
    room_rows = []
    for room in Room.objects.filter(clinic_id__in=ids).order_by("clinic__name", "name"):
        clinic = by_id[room.clinic_id]
        booked_hours = room_booked.get(room.pk, dt.timedelta())
        room_rows.append(
            {
                "clinic": clinic.name,
                "room": room.name,
                "kind": room.get_kind_display(),
                "booked_hours": hours(booked_hours),
                "available_hours": hours(open_hours[clinic.pk]),
                "utilisation": _share(booked_hours, open_hours[clinic.pk]),
            }
        )
    usage = [
        ("booked_hours", "Booked hours"),
        ("available_hours", "Available hours"),
        ("utilisation", "Utilisation %"),
    ]
    return Report(
        slug="utilisation",
        title="Utilisation of therapists and rooms",
        period=period,
        clinics=clinics,
        tables=[
            Table(
                "therapists",
                "Per therapist",
                [("clinic", "Clinic"), ("therapist", "Therapist"), *usage],
                therapist_rows,
            ),
            Table(
                "rooms",
                "Per room",
                [("clinic", "Clinic"), ("room", "Room"), ("kind", "Kind"), *usage],
                room_rows,
            ),
        ],
        notes=[
            "Booked: booked, checked-in and completed visits. Available for a therapist: their "
            "working hours within the clinic's opening hours, minus time off and closures; for "
            "a room: the clinic's opening hours minus closures.",
        ],
    )


def _share(part: dt.timedelta, whole: dt.timedelta) -> Decimal | None:
    if whole <= dt.timedelta():
        return None
    return (Decimal(part.total_seconds()) * 100 / Decimal(whole.total_seconds())).quantize(
        Decimal("0.1")
    )


# --- Visits per therapist and per episode ----------------------------------------------------


def visits_report(*, clinics: list[Clinic], period: Period) -> Report:
    """Completed visits per therapist (with patients, episodes and visits per episode) and per
    episode of care: two queries."""
    completed = visits_in(clinics, period).filter(status=S.COMPLETED)
    per_therapist = (
        completed.values(
            "clinic__name", "therapist__first_name", "therapist__last_name", "therapist__username"
        )
        .annotate(
            visits=Count("id"),
            patients=Count("patient_id", distinct=True),
            episodes=Count("episode_id", distinct=True),
            in_episodes=Count("id", filter=Q(episode__isnull=False)),
        )
        .order_by("clinic__name", "therapist__last_name", "therapist__first_name")
    )
    therapist_rows = [
        {
            "clinic": g["clinic__name"],
            "therapist": person(
                g["therapist__first_name"], g["therapist__last_name"], g["therapist__username"]
            ),
            "visits": g["visits"],
            "patients": g["patients"],
            "episodes": g["episodes"],
            "visits_per_episode": (
                (Decimal(g["in_episodes"]) / g["episodes"]).quantize(Decimal("0.1"))
                if g["episodes"]
                else None
            ),
        }
        for g in per_therapist
    ]
    all_completed = (
        Visit.objects.filter(episode=OuterRef("episode_id"), status=S.COMPLETED)
        .order_by()
        .values("episode_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    per_episode = (
        completed.filter(episode__isnull=False)
        .values(
            "episode_id",
            "episode__public_id",
            "clinic__name",
            "episode__patient__mrn",
            "episode__therapist__first_name",
            "episode__therapist__last_name",
            "episode__therapist__username",
            "episode__status",
            "episode__started_on",
        )
        .annotate(visits=Count("id"), total=Subquery(all_completed))
        .order_by("clinic__name", "episode__started_on", "episode_id")
    )
    statuses = dict(EpisodeOfCare.Status.choices)
    episode_rows = [
        {
            "clinic": g["clinic__name"],
            "episode": str(g["episode__public_id"]),
            "mrn": g["episode__patient__mrn"],
            "therapist": person(
                g["episode__therapist__first_name"],
                g["episode__therapist__last_name"],
                g["episode__therapist__username"],
            ),
            "status": statuses.get(g["episode__status"], g["episode__status"]),
            "started_on": g["episode__started_on"],
            "visits": g["visits"],
            "total": g["total"],
        }
        for g in per_episode
    ]
    return Report(
        slug="visits",
        title="Visits per therapist and per episode",
        period=period,
        clinics=clinics,
        tables=[
            Table(
                "therapists",
                "Completed visits per therapist",
                [
                    ("clinic", "Clinic"),
                    ("therapist", "Therapist"),
                    ("visits", "Visits"),
                    ("patients", "Patients"),
                    ("episodes", "Episodes"),
                    ("visits_per_episode", "Visits per episode"),
                ],
                therapist_rows,
            ),
            Table(
                "episodes",
                "Completed visits per episode of care",
                [
                    ("clinic", "Clinic"),
                    ("mrn", "Patient (MRN)"),
                    ("episode", "Episode"),
                    ("therapist", "Therapist"),
                    ("status", "Status"),
                    ("started_on", "Started"),
                    ("visits", "Visits in the period"),
                    ("total", "Visits in the episode"),
                ],
                episode_rows,
            ),
        ],
    )


# --- Outcomes --------------------------------------------------------------------------------

OUTCOME_INSTRUMENTS = ("odi", "nprs")


def _measures(instrument: str, period: Period) -> QuerySet[OutcomeMeasure]:
    return OutcomeMeasure.objects.filter(
        episode=OuterRef("pk"),
        instrument=instrument,
        entered_in_error=False,
        score__isnull=False,
        recorded_on__lte=period.ends_on,
    )


def _measured_in(period: Period) -> QuerySet[OutcomeMeasure, Any]:
    """The episodes with an ODI or NPRS recorded in the period: exactly those whose latest one
    (up to the period's end) falls in it. Read by the date (index `patients_outcome_recorded`),
    so the report looks at the period's measures and those episodes' series, never every
    episode's whole history."""
    return OutcomeMeasure.objects.filter(
        recorded_on__gte=period.starts_on,
        recorded_on__lte=period.ends_on,
        instrument__in=OUTCOME_INSTRUMENTS,
        entered_in_error=False,
        score__isnull=False,
    ).values("episode_id")


def _mrn() -> Subquery:
    """The episode's patient's MRN, looked up by the patient's id for each episode: a join
    would let PostgreSQL hash every patient the practice ever had."""
    return Subquery(Patient.objects.filter(pk=OuterRef("patient_id")).values("mrn"))


def _score(instrument: str, value: Decimal) -> outcomes.Score:
    found = outcomes.instrument_get(instrument)
    return outcomes.Score(
        instrument=found.code,
        version=found.versions[-1].version,
        value=value,
        display=str(value),
        unit=found.unit,
        direction=found.direction,
    )


def outcomes_report(*, clinics: list[Clinic], period: Period) -> Report:
    """Mean ODI and NPRS improvement per episode, and the share of episodes reaching the MCID,
    per therapist and per clinic: two queries, the episodes with a score recorded in the
    period (`_measured_in`), then those episodes with their baseline and latest scores as
    subqueries, whatever the number of episodes and scores before them."""
    annotations: dict[str, Any] = {}
    for code in OUTCOME_INSTRUMENTS:
        first = _measures(code, period).order_by("recorded_on", "pk")
        last = _measures(code, period).order_by("-recorded_on", "-pk")
        annotations[f"{code}_baseline"] = Subquery(first.values("score")[:1])
        annotations[f"{code}_baseline_pk"] = Subquery(first.values("pk")[:1])
        annotations[f"{code}_latest"] = Subquery(last.values("score")[:1])
        annotations[f"{code}_latest_pk"] = Subquery(last.values("pk")[:1])
        annotations[f"{code}_latest_on"] = Subquery(last.values("recorded_on")[:1])
    # The episodes measured in the period first (an index-only scan by date), then those
    # episodes by their ids: as a subquery, PostgreSQL hashes it against every episode the
    # practice ever had, and the time grows with the years.
    measured = list(_measured_in(period).order_by().distinct().values_list("episode_id", flat=True))
    episodes = (
        EpisodeOfCare.objects.filter(AnyOf(F("pk"), measured), clinic__in=[c.pk for c in clinics])
        .annotate(**annotations, mrn=_mrn())
        .values(
            "pk",
            "public_id",
            "clinic__name",
            "mrn",
            "therapist__first_name",
            "therapist__last_name",
            "therapist__username",
            *annotations,
        )
        .order_by("clinic__name", "therapist__last_name", "therapist__first_name", "pk")
    )
    episode_rows: list[dict[str, Any]] = []
    groups: dict[str, dict[tuple[str, ...], dict[str, list[Any]]]] = {
        "therapists": defaultdict(lambda: defaultdict(list)),
        "clinics": defaultdict(lambda: defaultdict(list)),
    }
    for e in episodes:
        therapist = person(
            e["therapist__first_name"], e["therapist__last_name"], e["therapist__username"]
        )
        row: dict[str, Any] = {
            "clinic": e["clinic__name"],
            "therapist": therapist,
            "mrn": e["mrn"],
            "episode": str(e["public_id"]),
        }
        counted = False
        for code in OUTCOME_INSTRUMENTS:
            latest_on = e[f"{code}_latest_on"]
            if (
                latest_on is None
                or not period.starts_on <= latest_on <= period.ends_on
                or e[f"{code}_baseline_pk"] == e[f"{code}_latest_pk"]
            ):
                continue
            change = outcomes.change(
                code, _score(code, e[f"{code}_baseline"]), _score(code, e[f"{code}_latest"])
            )
            row[f"{code}_baseline"] = e[f"{code}_baseline"].normalize()
            row[f"{code}_latest"] = e[f"{code}_latest"].normalize()
            row[f"{code}_improvement"] = change.improvement
            row[f"{code}_mcid"] = change.meaningful
            for kind, key in (
                ("therapists", (e["clinic__name"], therapist)),
                ("clinics", (e["clinic__name"],)),
            ):
                groups[kind][key][code].append(change)
            counted = True
        if counted:
            episode_rows.append(row)

    def summary(key: tuple[str, ...], by: dict[str, list[Any]]) -> dict[str, Any]:
        row: dict[str, Any] = dict(zip(("clinic", "therapist"), key, strict=False))
        for code in OUTCOME_INSTRUMENTS:
            changes = by.get(code, [])
            row[f"{code}_episodes"] = len(changes)
            row[f"{code}_mean_improvement"] = (
                (sum(c.improvement for c in changes) / len(changes)).quantize(Decimal("0.1"))
                if changes
                else None
            )
            row[f"{code}_mcid_share"] = rate(sum(c.meaningful for c in changes), len(changes))
        return row

    measure_columns = [
        (f"{code}_{name}", f"{code.upper()} {label}")
        for code in OUTCOME_INSTRUMENTS
        for name, label in (
            ("episodes", "episodes"),
            ("mean_improvement", "mean improvement"),
            ("mcid_share", "reaching MCID %"),
        )
    ]
    return Report(
        slug="outcomes",
        title="Outcomes: ODI and NPRS change per episode",
        period=period,
        clinics=clinics,
        tables=[
            Table(
                "clinics",
                "Per clinic",
                [("clinic", "Clinic"), *measure_columns],
                [summary(k, v) for k, v in sorted(groups["clinics"].items())],
            ),
            Table(
                "therapists",
                "Per therapist",
                [("clinic", "Clinic"), ("therapist", "Therapist"), *measure_columns],
                [summary(k, v) for k, v in sorted(groups["therapists"].items())],
            ),
            Table(
                "episodes",
                "Per episode",
                [
                    ("clinic", "Clinic"),
                    ("therapist", "Therapist"),
                    ("mrn", "Patient (MRN)"),
                    ("episode", "Episode"),
                    *[
                        (f"{code}_{name}", f"{code.upper()} {label}")
                        for code in OUTCOME_INSTRUMENTS
                        for name, label in (
                            ("baseline", "baseline"),
                            ("latest", "latest"),
                            ("improvement", "improvement"),
                            ("mcid", "MCID reached"),
                        )
                    ],
                ],
                episode_rows,
            ),
        ],
        notes=[
            "An episode counts when its latest ODI or NPRS (up to the end of the period) was "
            "recorded in the period and an earlier one exists: improvement is from the first "
            "(baseline) to that latest score, positive when better (lower). The MCID is reached "
            "at ODI 10 points or 30 %, NPRS 2 points or 30 % of the baseline.",
        ],
    )


# --- Compliance ------------------------------------------------------------------------------


def compliance_report(
    *, clinics: list[Clinic], period: Period | None = None, today: dt.date | None = None
) -> Report:
    """Today's compliance clocks of every active episode: progress reports due or overdue,
    plans of care ending, expired or unsigned, authorizations nearly used. Four queries:
    episodes, their completed visits and signed units per day (`_treatment_tallies`: on
    PostgreSQL the treatment log, one row per episode), evaluations, active plans.
    `today` overrides every clinic's own today (for tests)."""
    ids = [c.pk for c in clinics]
    by_id = {c.pk: c for c in clinics}
    # The report reads the present: the active episodes (index `patients_episode_active`),
    # then only their own rows through each table's episode index. Joined to a whole history
    # table (every patient, plan and evaluation since the practice began), PostgreSQL hashes
    # that table in full, and the time grows with the years. Only the columns the clocks read;
    # the patient's MRN (a lookup per episode) and the therapist's name as values, no model of
    # either; the clinics are the ones given.
    episodes = list(
        EpisodeOfCare.objects.filter(clinic__in=ids, status=EpisodeOfCare.Status.ACTIVE)
        .only(*COMPLIANCE_EPISODE_FIELDS)
        .annotate(
            mrn=_mrn(),
            therapist_first_name=F("therapist__first_name"),
            therapist_last_name=F("therapist__last_name"),
            therapist_username=F("therapist__username"),
        )
        .order_by("clinic__name", "therapist__last_name", "started_on", "pk")
    )
    for episode in episodes:
        episode.clinic = by_id[episode.clinic_id]
    active = [episode.pk for episode in episodes]
    counted = _treatment_tallies(ids, {episode.pk: episode for episode in episodes})
    # The evaluations and plans by the list of ids (`AnyOf`).
    evaluations: dict[int, list[tuple[str, dt.date, str, str | None]]] = defaultdict(list)
    for episode_id, *facts in Evaluation.objects.filter(AnyOf(F("episode_id"), active)).values_list(
        "episode_id", "kind", "performed_on", "status", "signed_by__therapist_profile__discipline"
    ):
        evaluations[episode_id].append(tuple(facts))  # type: ignore[arg-type]
    plans = {
        plan.episode_id: plan
        for plan in PlanOfCare.objects.filter(
            AnyOf(F("episode_id"), active), status=PlanOfCare.Status.ACTIVE
        )
        .only(*COMPLIANCE_PLAN_FIELDS)
        .order_by()  # one active plan per episode (a constraint): no order needed
    }

    rows: list[dict[str, Any]] = []
    counts: dict[str, dict[str, int]] = {
        c.name: dict.fromkeys(COMPLIANCE_COUNTS, 0) for c in clinics
    }
    for episode in episodes:
        tz = episode.clinic.tz
        day = today or timezone.localdate(timezone=tz)
        base = {
            "clinic": episode.clinic.name,
            "therapist": person(
                episode.therapist_first_name,
                episode.therapist_last_name,
                episode.therapist_username,
            ),
            "mrn": episode.mrn,
            "episode": str(episode.public_id),
        }
        tally = counts[episode.clinic.name]
        episode_counts = counted.get(episode.pk, NOTHING_COUNTED)
        clock = compliance.progress_report_status(
            treatment_dates=_treatment_days(episode_counts.visit_days, evaluations[episode.pk]),
            reports=_progress_reports(evaluations[episode.pk]),
            today=day,
            clock_on=episode.progress_report_clock,
        )
        if clock.status in ("warn", "due"):
            tally["progress_due" if clock.status == "due" else "progress_soon"] += 1
            for message in clock.flags:
                rows.append(
                    {
                        **base,
                        "area": "Progress report",
                        "level": _level(clock.status == "due"),
                        "message": message,
                    }
                )
        plan = plans.get(episode.pk)
        state, flags = _certification(plan, day)
        if state is not None and (
            state.status is None
            or state.status.expired
            or state.status.days_left <= CERTIFICATION_ENDING_WARN_DAYS
            or state.status.signature == "overdue"
        ):
            expired = state.status is None or state.status.expired
            tally["plan_expired" if expired else "plan_ending"] += 1
        for flag in flags:
            rows.append(
                {**base, "area": "Plan of care", "level": flag.level, "message": flag.message}
            )
        authorization = _authorization_status(episode, episode_counts, day)
        if authorization is not None and authorization.status in ("warn", "exhausted"):
            tally["auth_used" if authorization.status == "exhausted" else "auth_nearly"] += 1
            for message in authorization.flags:
                rows.append(
                    {
                        **base,
                        "area": "Authorization",
                        "level": _level(authorization.status == "exhausted"),
                        "message": message,
                    }
                )
    return Report(
        slug="compliance",
        title="Compliance: progress reports, plans of care, authorizations",
        period=None,
        clinics=clinics,
        tables=[
            Table(
                "clinics",
                "Active episodes needing action, per clinic",
                [("clinic", "Clinic"), *COMPLIANCE_COUNTS.items()],
                [{"clinic": name, **tally} for name, tally in counts.items()],
            ),
            Table(
                "flags",
                "What to do",
                [
                    ("clinic", "Clinic"),
                    ("therapist", "Therapist"),
                    ("mrn", "Patient (MRN)"),
                    ("episode", "Episode"),
                    ("area", "Area"),
                    ("level", "Level"),
                    ("message", "Message"),
                ],
                rows,
            ),
        ],
        notes=[
            "The state today, in each clinic's own time zone (the period does not apply): the "
            "same clocks as each episode's compliance page.",
        ],
    )


@dataclass(frozen=True, slots=True)
class ClockCounts:
    """What the compliance clocks count of one active episode: the clinic-local days of its
    completed visits, and the completed visits and signed units on the days its authorization
    covers (every day where it has no start or no end). Units only where the authorization
    approves a number of them (nothing else reads them)."""

    visit_days: Sequence[dt.date] = ()
    authorized_visits: int = 0
    authorized_units: int = 0


NOTHING_COUNTED = ClockCounts()  # an episode without a completed visit or a signed unit


def _treatment_tallies(
    clinic_ids: list[int], episodes: dict[int, EpisodeOfCare]
) -> dict[int, ClockCounts]:
    """Per active episode of the clinics, what its clocks count, as the episode's compliance
    page counts it (the days in the episode's clinic's time zone). `episodes`: the reported
    ones, by id, with their authorization's fields.

    Only the episodes whose clocks count visits: the progress-report clock on, or a payer's
    authorization (an episode with neither shows no flag that visits could raise).

    On PostgreSQL one row per episode from the log its triggers keep
    (programs/treatment_log.py), its days walked by the database; elsewhere counted from the
    visits, the same definition."""
    episode = _counting_episodes(clinic_ids)
    if connection.vendor == "postgresql":
        return _logged_counts(episode, episodes)
    return {
        episode_id: _counts_of(episodes[episode_id], days)
        for episode_id, days in _counted_tallies(clinic_ids, episode, set(episodes)).items()
    }


def _counting_episodes(clinic_ids: list[int]) -> Q:
    """The active episodes of the clinics whose clocks count visits, seen from a model with
    an `episode` relation (Visit, EpisodeTreatmentLog)."""
    return Q(episode__status=EpisodeOfCare.Status.ACTIVE, episode__clinic__in=clinic_ids) & (
        Q(episode__progress_report_clock=True)
        | Q(episode__auth_visits__isnull=False)
        | Q(episode__auth_units__isnull=False)
        | Q(episode__auth_starts_on__isnull=False)
        | Q(episode__auth_ends_on__isnull=False)
    )


def _logged_counts(episode: Q, episodes: dict[int, EpisodeOfCare]) -> dict[int, ClockCounts]:
    """One query: the reported episodes' log rows by the log's key (`AnyOf`), of those whose
    clocks count, each row's days with a visit and its sums over the authorization's days.
    The log holds a row for every episode since the practice began; joined by the episodes'
    clinic and status alone, PostgreSQL read all of it (a sequential scan: 30 ms at 1M visits
    against 2 ms at 10k)."""
    window = (F("episode__auth_starts_on"), F("episode__auth_ends_on"))
    rows = (
        EpisodeTreatmentLog.objects.filter(AnyOf(F("episode_id"), sorted(episodes)))
        .filter(episode)
        .values_list(
            "episode_id",
            treatment_log.LoggedVisitDays("days"),
            treatment_log.LoggedSum("days", treatment_log.VISITS, *window),
            treatment_log.LoggedSum("days", treatment_log.UNITS, *window),
        )
    )
    return {
        episode_id: ClockCounts(
            visit_days=visit_days,
            authorized_visits=visits,
            authorized_units=units if episodes[episode_id].auth_units is not None else 0,
        )
        for episode_id, visit_days, visits, units in rows
    }


def _counts_of(episode: EpisodeOfCare, days: list[tuple[dt.date, int, int]]) -> ClockCounts:
    """`ClockCounts` from an episode's (day, completed visits, signed units), a day perhaps
    more than once."""
    first, last = episode.auth_starts_on, episode.auth_ends_on
    covered = [
        (visits, units)
        for day, visits, units in days
        if (first is None or day >= first) and (last is None or day <= last)
    ]
    units_count = episode.auth_units is not None
    return ClockCounts(
        visit_days=[day for day, visits, _ in days if visits],
        authorized_visits=sum(visits for visits, _ in covered),
        authorized_units=sum(units for _, units in covered) if units_count else 0,
    )


def _counted_tallies(
    clinic_ids: list[int], episode: Q, reported: set[int]
) -> dict[int, list[tuple[dt.date, int, int]]]:
    """One query, counted by the database from the visits and the signed notes' billing lines:
    one row per treatment day, not one per visit with a timestamp to convert here. The visits
    by a join to the active episodes (index `patients_episode_active`, then each one's visits
    by the episode index): as an `IN` subquery beside the join to the episode's clinic,
    PostgreSQL reads every episode the practice ever had."""
    none = Value(0, output_field=IntegerField())
    visits = (
        Visit.objects.filter(episode, status=S.COMPLETED)
        .annotate(day=LocalDate("starts_at", "episode__clinic__timezone"))
        .values("episode_id", "day")
        .annotate(visits=Count("pk"), units=none)
        .values_list("episode_id", "day", "visits", "units")
        .order_by()
    )
    units = (
        BillingLine.objects.filter(
            note__status=TreatmentNote.Status.SIGNED,
            note__visit__episode__status=EpisodeOfCare.Status.ACTIVE,
            note__visit__episode__clinic__in=clinic_ids,
            note__visit__episode__auth_units__isnull=False,
        )
        .annotate(
            episode_id=F("note__visit__episode_id"),
            day=LocalDate("note__visit__starts_at", "note__visit__episode__clinic__timezone"),
        )
        .values("episode_id", "day")
        .annotate(visits=none, units=Sum("units"))
        .values_list("episode_id", "day", "visits", "units")
        .order_by()
    )
    days: dict[int, list[tuple[dt.date, int, int]]] = defaultdict(list)
    for episode_id, day, completed, signed_units in visits.union(units, all=True):
        if episode_id in reported:  # not an episode started since the episodes were read
            days[episode_id].append((day, completed, signed_units or 0))
    return days


COMPLIANCE_EPISODE_FIELDS = (
    "public_id",
    "clinic_id",
    "started_on",
    "progress_report_clock",
    "auth_visits",
    "auth_units",
    "auth_starts_on",
    "auth_ends_on",
)
COMPLIANCE_PLAN_FIELDS = (
    "episode_id",
    "starts_on",
    "first_treatment_on",
    "certified_until",
    "physician_signed_on",
    "verbal_order_on",
)
COMPLIANCE_COUNTS = {
    "progress_due": "Progress report due or overdue",
    "progress_soon": "Progress report due within 2 treatment days",
    "plan_expired": "Plan certification expired or invalid",
    "plan_ending": f"Plan ending within {CERTIFICATION_ENDING_WARN_DAYS} days or unsigned",
    "auth_used": "Authorization used up",
    "auth_nearly": "Authorization nearly used",
}


def _level(critical: bool) -> str:
    return "critical" if critical else "warning"


def _authorization_status(
    episode: EpisodeOfCare, counts: ClockCounts, today: dt.date
) -> compliance.AuthorizationStatus | None:
    """As programs.selectors counts it for one episode: completed visits and signed units on
    the clinic-local days the authorization covers (`counts`)."""
    if (
        episode.auth_visits is None
        and episode.auth_units is None
        and episode.auth_ends_on is None
        and episode.auth_starts_on is None
    ):
        return None
    return compliance.authorization_status(
        visits_approved=episode.auth_visits,
        visits_used=counts.authorized_visits,
        units_approved=episode.auth_units,
        units_used=counts.authorized_units,
        starts_on=episode.auth_starts_on,
        ends_on=episode.auth_ends_on,
        today=today,
    )


# --- The catalogue of reports ----------------------------------------------------------------


@dataclass(frozen=True)
class ReportKind:
    slug: str
    title: str
    description: str
    build: Callable[..., Report]
    uses_period: bool = True


REPORTS: dict[str, ReportKind] = {
    kind.slug: kind
    for kind in (
        ReportKind(
            "attendance",
            "No-shows and late cancellations",
            "Rates per clinic, therapist and month.",
            attendance_report,
        ),
        ReportKind(
            "utilisation",
            "Utilisation",
            "Booked over available hours per therapist and per room.",
            utilisation_report,
        ),
        ReportKind(
            "visits",
            "Visits",
            "Completed visits per therapist and per episode of care.",
            visits_report,
        ),
        ReportKind(
            "outcomes",
            "Outcomes",
            "Mean ODI and NPRS change per episode and the share reaching the MCID, per "
            "therapist and clinic.",
            outcomes_report,
        ),
        ReportKind(
            "compliance",
            "Compliance",
            "Progress reports due, plans of care expiring, authorizations nearly used (today).",
            compliance_report,
            uses_period=False,
        ),
    )
}


def report_build(*, slug: str, clinics: list[Clinic], period: Period) -> Report:
    kind = REPORTS[slug]
    return kind.build(clinics=clinics, period=period)


__all__ = [
    "REPORTS",
    "LocalDate",
    "LocalMonth",
    "Period",
    "Report",
    "Table",
    "attendance_report",
    "compliance_report",
    "outcomes_report",
    "report_build",
    "report_clinics",
    "utilisation_report",
    "visits_report",
]
