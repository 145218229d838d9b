"""Seed a large, realistic calendar fast: COPY straight into the product's tables.

The data respects every rule the product enforces, by construction rather than by checking:

- every clinic has its own IANA zone, opening hours (Saturday mornings at half of them), public
  holidays as closures, rooms, a front desk and a bench booker with an API token;
- every therapist works at one clinic on a 45-minute wall-clock grid (07:30, 08:15, ... local),
  in one of three shifts with a lunch break, has a week or so of time off twice a year, and is
  booked only inside their working hours, never on a closure or a day off;
- visits of one clinic and one slot of the grid get distinct rooms (or none), so no room is
  double-booked; a patient is only ever seen by the therapist whose caseload they are in, so no
  patient is double-booked; a therapist has at most one visit per grid slot. The PostgreSQL
  exclusion constraints (patients/migrations/0005) are live while the rows are copied in, so a
  mistake here fails the seed instead of producing an impossible calendar;
- patients come in episodes of care of 6 to 16 visits (initial evaluation, treatments, a
  progress report every 10th visit, discharge), with a payer's authorization of visits and
  units when the patient has commercial insurance; a quarter of the episodes are booked as a
  recurring series; past visits are mostly completed (some cancelled, late-cancelled or no-show),
  future ones booked (a few cancelled).

Which slots are taken is chosen by selection sampling over every working slot of the span, so the
seed holds exactly `Size.visits` visits spread evenly. The same `Size` always gives the same rows
(a fixed random seed), apart from the dates, which follow today.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.db.models import Model
from django.db.models.fields import NOT_PROVIDED
from django.utils import timezone
from psycopg import sql
from psycopg.types.json import Jsonb
from rest_framework.authtoken.models import Token

from bench.clinical import CLINICAL_MODELS, seed_clinical
from bench.database import META_TABLE, SEED_VERSION
from clinic.capabilities import Role
from clinic.ids import RANDOM_BITS, uuid7_from
from clinic.models import (
    Clinic,
    Closure,
    Membership,
    OpeningHours,
    Room,
    TherapistProfile,
    TimeOff,
    User,
    WorkingHours,
)
from patients.models import BillingRule, EpisodeOfCare, MrnSequence, Patient, Visit, VisitSeries
from patients.rules import phone_digits, search_name
from programs import treatment_log

RAW_TABLE = "bench_raw_visit"
UTC = dt.UTC

GRID_START = dt.time(7, 30)
SLOT = dt.timedelta(minutes=45)
GRID_SLOTS = 15  # 07:30 ... 18:00, the last one ending 18:45
OPENING_WEEKDAYS = (dt.time(7, 30), dt.time(19, 0))
OPENING_SATURDAY = (dt.time(8, 15), dt.time(12, 45))
# Shifts as (first slot, last slot) blocks of the grid; the gap between two blocks is lunch.
SHIFTS: tuple[tuple[tuple[int, int], ...], ...] = (
    ((0, 5), (7, 10)),  # 07:30-12:00, 12:45-15:45
    ((3, 7), (9, 14)),  # 09:45-13:30, 14:15-18:45
    ((1, 6), (8, 12)),  # 08:15-12:45, 13:30-17:15
)
SATURDAY_SHIFT = ((1, 6),)  # 08:15-12:45
TREATMENT_ROOMS = 6
BOOKER_PREFIX = "bench-booker-"
# A commercial payer's authorization for each episode of an insured patient, from its first
# day: episodes run 6-16 visits of 2-3 units, so the longer ones outrun it and the compliance
# report has visits and units to count against it.
AUTHORIZED_VISITS = 12
AUTHORIZED_UNITS = 30
AUTHORIZED_SPAN = dt.timedelta(days=60)
SUPERUSER = "bench-admin"


def words(text: str) -> list[str]:
    return text.split()


CLINICS: tuple[tuple[str, str, str], ...] = (
    ("New York", "America/New_York", "US"),
    ("Chicago", "America/Chicago", "US"),
    ("Denver", "America/Denver", "US"),
    ("Phoenix", "America/Phoenix", "US"),
    ("Los Angeles", "America/Los_Angeles", "US"),
    ("Berlin", "Europe/Berlin", "DE"),
    ("London", "Europe/London", "GB"),
    ("Sydney", "Australia/Sydney", "AU"),
    ("Boston", "America/New_York", "US"),
    ("Houston", "America/Chicago", "US"),
    ("Seattle", "America/Los_Angeles", "US"),
    ("Honolulu", "Pacific/Honolulu", "US"),
    ("Anchorage", "America/Anchorage", "US"),
    ("Toronto", "America/Toronto", "CA"),
    ("Munich", "Europe/Berlin", "DE"),
    ("Vienna", "Europe/Vienna", "AT"),
    ("Dublin", "Europe/Dublin", "IE"),
    ("Auckland", "Pacific/Auckland", "NZ"),
    ("Tokyo", "Asia/Tokyo", "JP"),
    ("Atlanta", "America/New_York", "US"),
)
FIRST_NAMES = words(
    "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara "
    "Richard Susan Joseph Jessica Thomas Sarah Charles Karen Daniel Lisa Matthew Nancy "
    "Anthony Betty Mark Sandra Donald Ashley Steven Kimberly Paul Emily Andrew Donna Joshua "
    "Michelle Kenneth Carol Kevin Amanda Brian Melissa George Deborah Timothy Stephanie Jonas "
    "Lena"
)
LAST_NAMES = words(
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez "
    "Lopez Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson "
    "White Harris Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott "
    "Torres Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter "
    "Roberts Gomez Phillips Evans Turner Diaz Parker Cruz Edwards Collins Reyes Stewart "
    "Morris Morales Murphy Cook Rogers Gutierrez Ortiz Morgan Cooper Peterson Bailey Reed "
    "Kelly Howard Ramos Kim Cox Ward Richardson Watson Brooks Chavez Wood James Bennett Gray "
    "Mendoza Ruiz Hughes Price Alvarez Castillo Sanders Patel Myers Long Ross Foster Holloway "
    "Schneider Fischer Weber Wagner Becker"
)
HOLIDAYS = {  # (month, day) closed, by country; everyone closes on 1 January and 25 December
    "US": ((7, 4),),
    "CA": ((7, 1),),
    "DE": ((5, 1), (10, 3), (12, 26)),
    "AT": ((5, 1), (10, 26), (12, 26)),
    "GB": ((12, 26),),
    "IE": ((3, 17), (12, 26)),
    "AU": ((1, 26), (12, 26)),
    "NZ": ((2, 6), (12, 26)),
    "JP": ((2, 11), (5, 3)),
}


@dataclass(frozen=True)
class Size:
    """How much to seed. `past_days` and `future_days` are counted from today at each clinic."""

    name: str
    visits: int
    clinics: int
    therapists_per_clinic: int
    patients: int
    past_days: int
    future_days: int
    active_episodes: int = 12  # episodes a therapist has running at once (visits go round them)

    @property
    def therapists(self) -> int:
        return self.clinics * self.therapists_per_clinic


# quick and full share the practice's shape (20 clinics of 10 therapists, so every calendar and
# slot search has the same width) and its future (8 days booked ahead: the same episodes
# running and about to start, so today's compliance clocks cover the same work), and differ in
# history: 10k visits cover about three weeks, 1M about five years; both fill roughly 40% of
# the working slots.
SIZES: dict[str, Size] = {
    "tiny": Size("tiny", 600, 2, 4, 120, past_days=12, future_days=7, active_episodes=4),
    # 15 patients per therapist: enough for the 12 episodes each runs at once, as at full (with
    # 10 a therapist ran only 10, and every report over the present read fewer episodes).
    "quick": Size("quick", 10_000, 20, 10, 3_000, past_days=8, future_days=8),
    "full": Size("full", 1_000_000, 20, 10, 100_000, past_days=1_826 - 8, future_days=8),
    # `python -m bench summaries` (bench/summaries.py): the quick practice over five weeks,
    # nearly all of it past, for at least 10,000 completed visits to summarise.
    # Three episodes at a time per therapist, so that episodes run their whole length (6 to 16
    # visits) inside the five weeks.
    "summaries": Size(
        "summaries", 14_000, 20, 10, 2_000, past_days=33, future_days=2, active_episodes=3
    ),
}


@dataclass
class SeedReport:
    size: str
    seconds: float
    rows: dict[str, int]
    capacity: int  # working slots in the span
    first_day: dt.date
    last_day: dt.date
    steps: dict[str, float] = field(default_factory=dict)  # seconds per table or step

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    def as_marker(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "version": SEED_VERSION,
            "seeded_at": timezone.now().isoformat(timespec="seconds"),
            "seconds": round(self.seconds, 1),
            "rows": self.rows,
            "capacity": self.capacity,
            "steps": {name: round(seconds, 1) for name, seconds in self.steps.items()},
            "first_day": self.first_day.isoformat(),
            "last_day": self.last_day.isoformat(),
        }


# --- COPY ------------------------------------------------------------------------------------


class Table:
    """COPY rows of a model into its table. Columns the seed does not fill take the model's
    default (or NULL); a new required column without one stops the seed with its name. With
    `identity`, the primary key is left to the database (an INSERT ... SELECT)."""

    def __init__(
        self, model: type[Model], columns: Sequence[str], *, identity: bool = False
    ) -> None:
        self.model = model
        self.table = model._meta.db_table
        fields = {str(f.column): f for f in model._meta.concrete_fields}
        unknown = set(columns) - set(fields)
        if unknown:
            raise RuntimeError(f"bench/seed.py: {self.table} has no column {sorted(unknown)}")
        self.extra: tuple[Any, ...] = ()
        extra_columns: list[str] = []
        for column, model_field in fields.items():
            if column in columns or (identity and model_field.primary_key):
                continue
            if model_field.db_default is not NOT_PROVIDED and not model_field.has_default():
                continue  # the database fills it
            default = None if model_field.unique else model_field.get_default()
            if default is None and not model_field.null:
                raise RuntimeError(
                    f"bench/seed.py does not fill {self.table}.{column}, which is required and "
                    "has no default: add it to the seed."
                )
            value = model_field.get_db_prep_save(default, connection)
            extra_columns.append(str(column))
            self.extra += (value,)
        self.columns = [*columns, *extra_columns]
        self.rows = 0

    def next_id(self) -> int:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {_quote(self.table)}")  # noqa: S608
            row = cursor.fetchone()
        return int(row[0]) if row else 1

    def copy(self, rows: Iterable[Sequence[Any]]) -> int:
        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(self.table), sql.SQL(", ").join(map(sql.Identifier, self.columns))
        )
        count = 0
        extra = self.extra
        raw = connection.connection
        if raw is None:
            raise RuntimeError("Not connected: COPY runs inside the seed's transaction.")
        with raw.cursor() as cursor, cursor.copy(statement) as copy:
            write = copy.write_row
            for row in rows:
                write((*row, *extra) if extra else row)
                count += 1
        self.rows += count
        if "id" in self.columns:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT setval(pg_get_serial_sequence(%s, 'id'), "  # noqa: S608
                    f"(SELECT COALESCE(MAX(id), 1) FROM {_quote(self.table)}))",
                    [self.table],
                )
        return count


@contextmanager
def bulk_load(*models: type[Model]) -> Iterator[None]:
    """Load big tables the way PostgreSQL likes: without their secondary indexes, unique and
    exclusion constraints and foreign keys while the rows stream in, then rebuild each from its
    own definition (read from the catalogue, so nothing a migration declared is lost). Rebuilding
    validates: a row that breaks a constraint (an overlap, a dangling id) fails the seed.
    The treatment log's triggers are off meanwhile (a recount per row); the seed rebuilds the
    log once at the end (`treatment_log.rebuild`)."""
    saved: list[tuple[str, list[tuple[str, str]], list[tuple[str, str, str]]]] = []
    counting: list[tuple[str, str]] = []
    with connection.cursor() as cursor:
        # Foreign keys are deferred to the commit; a table with checks pending cannot be altered.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for model in models:
            table = model._meta.db_table
            cursor.execute(
                "SELECT conname, pg_get_constraintdef(oid), contype FROM pg_constraint "
                "WHERE conrelid = %s::regclass AND contype IN ('f', 'u', 'x') ORDER BY conname",
                [table],
            )
            constraints = [(name, definition, kind) for name, definition, kind in cursor.fetchall()]
            cursor.execute(
                "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x "
                "JOIN pg_class i ON i.oid = x.indexrelid "
                "WHERE x.indrelid = %s::regclass AND NOT x.indisprimary AND NOT EXISTS "
                "(SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid "
                "AND c.conrelid = x.indrelid) ORDER BY i.relname",
                [table],
            )
            indexes = [(name, definition) for name, definition in cursor.fetchall()]
            for name, _, _ in constraints:
                cursor.execute(f"ALTER TABLE {_quote(table)} DROP CONSTRAINT {_quote(name)}")
            for name, _ in indexes:
                cursor.execute(f"DROP INDEX {_quote(name)}")
            saved.append((table, indexes, constraints))
            cursor.execute(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass AND tgname = ANY(%s)",
                [table, list(treatment_log.TRIGGER_NAMES)],
            )
            for (name,) in cursor.fetchall():
                cursor.execute(f"ALTER TABLE {_quote(table)} DISABLE TRIGGER {_quote(name)}")
                counting.append((table, name))
    yield
    with connection.cursor() as cursor:
        for table, name in counting:
            cursor.execute(f"ALTER TABLE {_quote(table)} ENABLE TRIGGER {_quote(name)}")
        cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
        for table, indexes, constraints in saved:
            for _, definition in indexes:
                cursor.execute(definition)
            # Unique and exclusion constraints first, foreign keys (checked in bulk) last.
            for name, definition, _ in sorted(constraints, key=lambda c: c[2] == "f"):
                cursor.execute(
                    f"ALTER TABLE {_quote(table)} ADD CONSTRAINT {_quote(name)} {definition}"
                )
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


# --- The practice ----------------------------------------------------------------------------


@dataclass
class ClinicPlan:
    index: int
    id: int
    name: str
    tz: ZoneInfo
    country: str
    saturday: bool
    first_day: dt.date
    last_day: dt.date
    therapist_ids: list[int]
    room_ids: list[int]  # treatment rooms, then the gym
    desk_id: int
    patient_ids: list[int]
    # Patients with commercial insurance: their episodes have a payer's authorization.
    insured_ids: set[int] = field(default_factory=set)
    closed: set[dt.date] = field(default_factory=set)
    # weekday -> slot -> therapist positions working then
    working: dict[int, list[list[int]]] = field(default_factory=dict)


@dataclass
class Episode:
    id: int
    patient_id: int
    length: int
    series: bool
    done: int = 0
    series_id: int | None = None
    started_on: dt.date | None = None
    last_end: dt.datetime | None = None


@dataclass
class Caseload:
    """One therapist's patients: a few episodes run at once, visits go round them."""

    patients: list[int]
    active: list[Episode] = field(default_factory=list)
    next_patient: int = 0
    turn: int = 0


class Seeder:
    def __init__(self, size: Size, *, now: dt.datetime | None = None, rng_seed: int = 4) -> None:
        self.size = size
        self.now = now or timezone.now()
        self.rng = random.Random(rng_seed)  # noqa: S311 (repeatable data, not secrets)
        self.rows: dict[str, int] = {}
        self.timings: dict[str, float] = {}
        self.capacity = 0

    def uuid(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def uuid7(self, created: dt.datetime) -> UUID:
        """A time-ordered id as the product gives a visit created then (clinic/ids.py)."""
        return uuid7_from(created, self.rng.getrandbits(RANDOM_BITS))

    @contextmanager
    def _step(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        yield
        self.timings[name] = time.perf_counter() - started

    def _copy(self, table: Table, rows: Iterable[Sequence[Any]]) -> None:
        with self._step(table.table):
            table.copy(rows)
        self.rows[table.table] = table.rows

    # The whole seed, in the caller's transaction.
    def run(self) -> SeedReport:
        started = time.perf_counter()
        clinics = self._clinics()
        self._staff(clinics)
        self._rooms_and_hours(clinics)
        with self._step("patients, copy and rebuild"), bulk_load(Patient):
            self._patients(clinics)
        calendar_tables = bulk_load(Visit, EpisodeOfCare, VisitSeries)
        with self._step("calendar, copy and rebuild"), calendar_tables:
            self._calendar(clinics)
        with self._step("clinical history"), bulk_load(*CLINICAL_MODELS):
            self.rows.update(seed_clinical(self.now))
        with self._step("treatment log"):
            treatment_log.rebuild()
        with self._step(RAW_TABLE):
            self._raw_table()
        with self._step("analyze"), connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        return SeedReport(
            size=self.size.name,
            seconds=time.perf_counter() - started,
            rows=dict(self.rows),
            capacity=self.capacity,
            first_day=min(c.first_day for c in clinics),
            last_day=max(c.last_day for c in clinics),
            steps=dict(self.timings),
        )

    def _clinics(self) -> list[ClinicPlan]:
        table = Table(
            Clinic,
            words(
                "id created_at updated_at public_id name slug timezone country address phone "
                "late_cancel_hours medicare_rules active"
            ),
        )
        base = table.next_id()
        plans: list[ClinicPlan] = []
        rows = []
        for index in range(self.size.clinics):
            city, zone, country = CLINICS[index % len(CLINICS)]
            name = f"Bench {city} Physio" + (f" {index // len(CLINICS) + 1}" if index >= 20 else "")
            tz = ZoneInfo(zone)
            today = self.now.astimezone(tz).date()
            plan = ClinicPlan(
                index=index,
                id=base + index,
                name=name,
                tz=tz,
                country=country,
                saturday=index % 2 == 0,
                first_day=today - dt.timedelta(days=self.size.past_days),
                last_day=today + dt.timedelta(days=self.size.future_days),
                therapist_ids=[],
                room_ids=[],
                desk_id=0,
                patient_ids=[],
            )
            plans.append(plan)
            rows.append(
                (
                    plan.id,
                    self.now,
                    self.now,
                    self.uuid(),
                    name,
                    f"b{index:02d}-{city.lower().replace(' ', '-')}",
                    zone,
                    country,
                    f"{index + 1} Main Street, {city}",
                    f"+1 555 01{index:02d}",
                    24,
                    country == "US",
                    True,
                )
            )
        self._copy(table, rows)
        return plans

    def _staff(self, clinics: list[ClinicPlan]) -> None:
        users = Table(
            User,
            words(
                "id password last_login is_superuser username first_name last_name email "
                "is_staff is_active date_joined public_id"
            ),
        )
        memberships = Table(
            Membership,
            words("id created_at updated_at public_id user_id clinic_id role active"),
        )
        profiles = Table(
            TherapistProfile,
            ["id", "created_at", "updated_at", "user_id", "licence_number", "discipline"],
        )
        tokens = Table(Token, ["key", "user_id", "created"])
        user_rows: list[tuple[Any, ...]] = []
        membership_rows: list[tuple[Any, ...]] = []
        profile_rows: list[tuple[Any, ...]] = []
        token_rows: list[tuple[Any, ...]] = []
        next_user = users.next_id()
        next_membership = memberships.next_id()
        next_profile = profiles.next_id()

        def user(username: str, first: str, last: str, role: str, clinic: ClinicPlan) -> int:
            nonlocal next_user, next_membership
            user_id = next_user
            next_user += 1
            password = "!" + self.rng.getrandbits(160).to_bytes(20, "big").hex()  # unusable
            user_rows.append(
                (
                    user_id,
                    password,
                    None,
                    False,
                    username,
                    first,
                    last,
                    "",
                    False,
                    True,
                    self.now,
                    self.uuid(),
                )
            )
            membership_rows.append(
                (next_membership, self.now, self.now, self.uuid(), user_id, clinic.id, role, True)
            )
            next_membership += 1
            return user_id

        for clinic in clinics:
            tag = f"c{clinic.index:02d}"
            clinic.desk_id = user(f"bench-desk-{tag}", "Front", "Desk", Role.RECEPTIONIST, clinic)
            booker = user(f"{BOOKER_PREFIX}{tag}", "Bench", "Booker", Role.RECEPTIONIST, clinic)
            token_rows.append(
                (self.rng.getrandbits(160).to_bytes(20, "big").hex(), booker, self.now)
            )
            for position in range(self.size.therapists_per_clinic):
                first = FIRST_NAMES[(clinic.index * 7 + position * 3) % len(FIRST_NAMES)]
                last = LAST_NAMES[(clinic.index * 11 + position * 5) % len(LAST_NAMES)]
                therapist = user(
                    f"bench-pt-{tag}-{position:02d}", first, last, Role.THERAPIST, clinic
                )
                clinic.therapist_ids.append(therapist)
                token_rows.append(
                    (self.rng.getrandbits(160).to_bytes(20, "big").hex(), therapist, self.now)
                )
                discipline = (
                    TherapistProfile.Discipline.PTA
                    if position % 5 == 3
                    else TherapistProfile.Discipline.PT
                )
                profile_rows.append(
                    (next_profile, self.now, self.now, therapist, f"BL-{therapist:06d}", discipline)
                )
                next_profile += 1
        # The administrator the admin's change lists are measured as (no membership needed).
        password = "!" + self.rng.getrandbits(160).to_bytes(20, "big").hex()  # unusable
        user_rows.append(
            (
                *(next_user, password, None, True, SUPERUSER, "Bench", "Admin", "", True, True),
                *(self.now, self.uuid()),
            )
        )
        self._copy(users, user_rows)
        self._copy(memberships, membership_rows)
        self._copy(profiles, profile_rows)
        self._copy(tokens, token_rows)

    def _rooms_and_hours(self, clinics: list[ClinicPlan]) -> None:
        rooms = Table(
            Room,
            ["id", "created_at", "updated_at", "public_id", "clinic_id", "name", "kind", "active"],
        )
        opening = Table(
            OpeningHours, ["id", "public_id", "clinic_id", "weekday", "opens", "closes"]
        )
        working = Table(
            WorkingHours,
            ["id", "public_id", "clinic_id", "therapist_id", "weekday", "starts", "ends"],
        )
        closures = Table(
            Closure, ["id", "public_id", "clinic_id", "starts_on", "ends_on", "reason"]
        )
        room_rows: list[tuple[Any, ...]] = []
        opening_rows: list[tuple[Any, ...]] = []
        working_rows: list[tuple[Any, ...]] = []
        closure_rows: list[tuple[Any, ...]] = []
        next_room, next_opening = rooms.next_id(), opening.next_id()
        next_working, next_closure = working.next_id(), closures.next_id()
        for clinic in clinics:
            names = [(f"Room {n + 1}", Room.Kind.TREATMENT) for n in range(TREATMENT_ROOMS)]
            names += [("Gym", Room.Kind.GYM)]
            if clinic.index % 4 == 0:
                names += [("Pool", Room.Kind.POOL)]
            for name, kind in names:
                room_rows.append(
                    (next_room, self.now, self.now, self.uuid(), clinic.id, name, kind, True)
                )
                if kind != Room.Kind.POOL:
                    clinic.room_ids.append(next_room)
                next_room += 1
            for weekday in range(7):
                blocks = [OPENING_WEEKDAYS] if weekday < 5 else []
                if weekday == 5 and clinic.saturday:
                    blocks = [OPENING_SATURDAY]
                for opens, closes in blocks:
                    opening_rows.append(
                        (next_opening, self.uuid(), clinic.id, weekday, opens, closes)
                    )
                    next_opening += 1
                clinic.working[weekday] = [[] for _ in range(GRID_SLOTS)]
            for position, therapist_id in enumerate(clinic.therapist_ids):
                days = range(4) if position % 5 == 4 else range(5)  # some work four days
                shifts = [(weekday, SHIFTS[position % len(SHIFTS)]) for weekday in days]
                if clinic.saturday and position % 4 == 0:
                    shifts.append((5, SATURDAY_SHIFT))
                for weekday, shift in shifts:
                    for first, last in shift:
                        working_rows.append(
                            (
                                next_working,
                                self.uuid(),
                                clinic.id,
                                therapist_id,
                                weekday,
                                _grid_time(first),
                                _grid_time(last + 1),
                            )
                        )
                        next_working += 1
                        for slot in range(first, last + 1):
                            clinic.working[weekday][slot].append(position)
            holidays = ((1, 1), (12, 25), *HOLIDAYS.get(clinic.country, ()))
            for year in range(clinic.first_day.year, clinic.last_day.year + 1):
                for month, day in holidays:
                    closed = dt.date(year, month, day)
                    if clinic.first_day <= closed <= clinic.last_day:
                        clinic.closed.add(closed)
                        closure_rows.append(
                            (next_closure, self.uuid(), clinic.id, closed, closed, "Public holiday")
                        )
                        next_closure += 1
        self._copy(rooms, room_rows)
        self._copy(opening, opening_rows)
        self._copy(working, working_rows)
        self._copy(closures, closure_rows)

    def _patients(self, clinics: list[ClinicPlan]) -> None:
        table = Table(
            Patient,
            words(
                "id created_at updated_at public_id clinic_id mrn first_name last_name "
                "date_of_birth sex phone email address emergency_contact_name "
                "emergency_contact_phone preferred_language referring_physician_name "
                "referring_physician_npi payer_type consent_email consent_sms archived_at "
                "search_name phone_digits"
            ),
        )
        sequences = Table(MrnSequence, ["id", "clinic_id", "last_value"])
        per_clinic = max(self.size.patients // self.size.clinics, self.size.therapists_per_clinic)
        next_id = table.next_id()
        next_sequence = sequences.next_id()
        sexes = [Patient.Sex.FEMALE, Patient.Sex.MALE, Patient.Sex.FEMALE, Patient.Sex.OTHER]
        payers = [Patient.Payer.MEDICARE, Patient.Payer.COMMERCIAL, Patient.Payer.COMMERCIAL]
        payers += [Patient.Payer.SELF_PAY, Patient.Payer.OTHER]
        rng = self.rng
        sequence_rows = []

        def rows() -> Iterator[tuple[Any, ...]]:
            nonlocal next_id, next_sequence
            for clinic in clinics:
                prefix = f"B{clinic.index:02d}"
                for number in range(1, per_clinic + 1):
                    first = FIRST_NAMES[rng.randrange(len(FIRST_NAMES))]
                    last = LAST_NAMES[rng.randrange(len(LAST_NAMES))]
                    phone = (
                        f"+1 (555) {clinic.index:02d}{number // 10000 % 10}-{number % 10000:04d}"
                    )
                    created = self.now - dt.timedelta(days=rng.randrange(1, 2000))
                    archived = created if rng.random() < 0.02 else None
                    payer = payers[number % len(payers)]
                    if archived is None:
                        clinic.patient_ids.append(next_id)
                        if payer == Patient.Payer.COMMERCIAL:
                            clinic.insured_ids.add(next_id)
                    yield (
                        next_id,
                        created,
                        created,
                        self.uuid(),
                        clinic.id,
                        f"{prefix}-{number:06d}",
                        first,
                        last,
                        dt.date(1940, 1, 1) + dt.timedelta(days=rng.randrange(25_000)),
                        sexes[number % len(sexes)],
                        phone,
                        f"patient{next_id}@example.org" if number % 3 else "",
                        f"{number} Elm Street",
                        "",
                        "",
                        "en",
                        "Dr. Referrer" if number % 4 else "",
                        "",
                        payer,
                        number % 2 == 0,
                        number % 3 == 0,
                        archived,
                        search_name(first, last),
                        phone_digits(phone),
                    )
                    next_id += 1
                sequence_rows.append((next_sequence, clinic.id, per_clinic))
                next_sequence += 1

        self._copy(table, rows())
        self._copy(sequences, sequence_rows)

    def _time_off(self, clinic: ClinicPlan) -> tuple[set[tuple[int, dt.date]], list[Any]]:
        """About a week off twice a year per therapist: the days, and the TimeOff rows."""
        off: set[tuple[int, dt.date]] = set()
        blocks = []
        span = (clinic.last_day - clinic.first_day).days + 1
        for position, therapist_id in enumerate(clinic.therapist_ids):
            cursor = self.rng.randrange(-150, 180)
            while cursor < span:
                length = self.rng.choice((3, 5, 7, 9))
                first = clinic.first_day + dt.timedelta(days=max(cursor, 0))
                last = clinic.first_day + dt.timedelta(days=min(cursor + length, span) - 1)
                if last >= first:
                    day = first
                    while day <= last:
                        off.add((position, day))
                        day += dt.timedelta(days=1)
                    blocks.append((therapist_id, first, last))
                cursor += length + self.rng.randrange(150, 210)
        rows = []
        for therapist_id, first, last in blocks:
            starts = dt.datetime.combine(first, dt.time(0), clinic.tz).astimezone(UTC)
            ends = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(0), clinic.tz)
            rows.append((therapist_id, starts, ends.astimezone(UTC)))
        return off, rows

    def _calendar(self, clinics: list[ClinicPlan]) -> None:
        visits = Table(
            Visit,
            words(
                "id created_at updated_at public_id clinic_id patient_id therapist_id room_id "
                "starts_at ends_at kind status series_id episode_id booked_by_id cancel_reason "
                "status_changed_at"
            ),
        )
        episodes = Table(
            EpisodeOfCare,
            words(
                "id created_at updated_at public_id clinic_id patient_id therapist_id started_on "
                "ended_on status billing_rule progress_report_clock auth_reference auth_visits "
                "auth_units auth_starts_on auth_ends_on"
            ),
        )
        series = Table(
            VisitSeries,
            words(
                "id created_at updated_at public_id clinic_id patient_id therapist_id weekdays "
                "local_time duration_minutes first_day occurrences booked_by_id"
            ),
        )
        time_off = Table(
            TimeOff,
            words("id created_at updated_at public_id therapist_id starts_at ends_at reason"),
        )
        off_days: dict[int, set[tuple[int, dt.date]]] = {}
        time_off_rows = []
        next_time_off = time_off.next_id()
        for clinic in clinics:
            off_days[clinic.index], blocks = self._time_off(clinic)
            for therapist_id, starts, ends in blocks:
                time_off_rows.append(
                    (
                        next_time_off,
                        self.now,
                        self.now,
                        self.uuid(),
                        therapist_id,
                        starts,
                        ends,
                        "Annual leave",
                    )
                )
                next_time_off += 1
        self._copy(time_off, time_off_rows)

        # Working slots of the span, per clinic and day, for exact selection sampling.
        def days(clinic: ClinicPlan) -> Iterator[tuple[dt.date, list[list[int]]]]:
            day = clinic.first_day
            off = off_days[clinic.index]
            while day <= clinic.last_day:
                if day not in clinic.closed:
                    grid = clinic.working[day.weekday()]
                    if off:
                        grid = [[p for p in slot if (p, day) not in off] for slot in grid]
                    yield day, grid
                day += dt.timedelta(days=1)

        self.capacity = sum(
            sum(len(slot) for slot in grid) for clinic in clinics for _, grid in days(clinic)
        )
        if self.size.visits > self.capacity:
            raise RuntimeError(
                f"{self.size.visits} visits do not fit in {self.capacity} working slots."
            )
        episode_rows: list[tuple[Any, ...]] = []
        series_rows: list[tuple[Any, ...]] = []
        next_episode, next_series = episodes.next_id(), series.next_id()
        first_visit = visits.next_id()  # not inside the COPY: the connection is busy then
        rng = self.rng
        now = self.now

        def new_episode(caseload: Caseload) -> Episode:
            nonlocal next_episode
            patient = caseload.patients[caseload.next_patient % len(caseload.patients)]
            caseload.next_patient += 1
            episode = Episode(
                id=next_episode,
                patient_id=patient,
                length=rng.randrange(6, 17),
                series=rng.random() < 0.25,
            )
            next_episode += 1
            return episode

        def close(episode: Episode, clinic: ClinicPlan, therapist_id: int) -> None:
            if episode.started_on is None or episode.last_end is None:
                raise RuntimeError("An episode without visits cannot be closed.")
            ended = episode.done >= episode.length and episode.last_end <= now
            ended_on = episode.last_end.astimezone(clinic.tz).date() if ended else None
            created = dt.datetime.combine(episode.started_on, dt.time(7), clinic.tz)
            insured = episode.patient_id in clinic.insured_ids
            episode_rows.append(
                (
                    episode.id,
                    created,
                    created,
                    self.uuid(),
                    clinic.id,
                    episode.patient_id,
                    therapist_id,
                    episode.started_on,
                    ended_on,
                    EpisodeOfCare.Status.DISCHARGED if ended else EpisodeOfCare.Status.ACTIVE,
                    BillingRule.MEDICARE_8_MINUTE
                    if clinic.country == "US"
                    else BillingRule.PER_CODE_8,
                    clinic.country == "US",
                    *(
                        (
                            f"PA-{episode.id}",
                            AUTHORIZED_VISITS,
                            AUTHORIZED_UNITS,
                            episode.started_on,
                            episode.started_on + AUTHORIZED_SPAN,
                        )
                        if insured
                        else ("", None, None, None, None)
                    ),
                )
            )

        def visit_rows() -> Iterator[tuple[Any, ...]]:
            nonlocal next_series
            need = self.size.visits
            remaining = self.capacity
            next_visit = first_visit
            for clinic in clinics:
                caseloads: list[Caseload] = []
                positions = len(clinic.therapist_ids)
                for position in range(positions):
                    patients = clinic.patient_ids[position::positions] or clinic.patient_ids[:1]
                    caseloads.append(Caseload(patients=patients))
                    width = min(self.size.active_episodes, len(patients))
                    caseloads[-1].active = [new_episode(caseloads[-1]) for _ in range(width)]
                for day, grid in days(clinic):
                    base = dt.datetime.combine(day, GRID_START, clinic.tz).astimezone(UTC)
                    for slot, working in enumerate(grid):
                        rank = 0
                        for position in working:
                            take = rng.random() * remaining < need
                            remaining -= 1
                            if not take:
                                continue
                            need -= 1
                            starts = base + slot * SLOT
                            ends = starts + SLOT
                            therapist_id = clinic.therapist_ids[position]
                            caseload = caseloads[position]
                            turn = caseload.turn % len(caseload.active)
                            caseload.turn += 1
                            episode = caseload.active[turn]
                            if episode.done == 0:
                                episode.started_on = day
                            if episode.series and episode.series_id is None:
                                episode.series_id = next_series
                                next_series += 1
                                weekdays = sorted({day.weekday(), (day.weekday() + 3) % 5})
                                series_rows.append(
                                    (
                                        episode.series_id,
                                        starts,
                                        starts,
                                        self.uuid(),
                                        clinic.id,
                                        episode.patient_id,
                                        therapist_id,
                                        Jsonb(weekdays),
                                        starts.astimezone(clinic.tz).time(),
                                        45,
                                        day,
                                        episode.length,
                                        clinic.desk_id,
                                    )
                                )
                            if episode.done == 0:
                                kind = Visit.Kind.INITIAL_EVALUATION
                            elif episode.done == episode.length - 1:
                                kind = Visit.Kind.DISCHARGE
                            elif episode.done % 10 == 9:
                                kind = Visit.Kind.PROGRESS_REPORT
                            else:
                                kind = Visit.Kind.TREATMENT
                            episode.done += 1
                            episode.last_end = ends
                            if ends <= now:
                                roll = rng.random()
                                status = (
                                    Visit.Status.COMPLETED
                                    if roll < 0.84
                                    else Visit.Status.CANCELLED
                                    if roll < 0.91
                                    else Visit.Status.LATE_CANCELLED
                                    if roll < 0.94
                                    else Visit.Status.NO_SHOW
                                )
                            elif starts <= now:
                                status = Visit.Status.CHECKED_IN
                            else:
                                status = (
                                    Visit.Status.CANCELLED
                                    if rng.random() < 0.05
                                    else Visit.Status.BOOKED
                                )
                            created = min(now, starts - dt.timedelta(days=rng.randrange(1, 22)))
                            changed = ends if status == Visit.Status.COMPLETED else created
                            room = clinic.room_ids[rank] if rank < len(clinic.room_ids) else None
                            rank += 1
                            yield (
                                next_visit,
                                created,
                                max(created, changed),
                                self.uuid7(created),
                                clinic.id,
                                episode.patient_id,
                                therapist_id,
                                room,
                                starts,
                                ends,
                                kind,
                                status,
                                episode.series_id,
                                episode.id,
                                clinic.desk_id,
                                "Patient request" if status == Visit.Status.CANCELLED else "",
                                changed,
                            )
                            next_visit += 1
                            if episode.done >= episode.length:
                                close(episode, clinic, therapist_id)
                                caseload.active[turn] = new_episode(caseload)
                for position, caseload in enumerate(caseloads):
                    for episode in caseload.active:
                        if episode.done:
                            close(episode, clinic, clinic.therapist_ids[position])

        self._copy(visits, visit_rows())
        self._copy(series, series_rows)
        self._copy(episodes, episode_rows)

    def _raw_table(self) -> None:
        """The baseline's table: the same exclusion constraint per therapist, over the same rows
        (so its index is as deep as the product's), built after the rows are in."""
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {RAW_TABLE}")
            cursor.execute(
                f"CREATE TABLE {RAW_TABLE} ("
                "id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, "
                "therapist_id bigint NOT NULL, starts_at timestamptz NOT NULL, "
                "ends_at timestamptz NOT NULL)"
            )
            cursor.execute(
                f"INSERT INTO {RAW_TABLE} (therapist_id, starts_at, ends_at) "  # noqa: S608
                "SELECT therapist_id, starts_at, ends_at FROM patients_visit "
                "WHERE status IN ('booked', 'checked_in', 'completed')"
            )
            self.rows[RAW_TABLE] = cursor.rowcount
            cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
            cursor.execute(
                f"ALTER TABLE {RAW_TABLE} ADD CONSTRAINT {RAW_TABLE}_no_overlap EXCLUDE USING gist "
                "(therapist_id WITH =, tstzrange(starts_at, ends_at, '[)') WITH &&)"
            )


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def _grid_time(slot: int) -> dt.time:
    start = dt.datetime.combine(dt.date(2000, 1, 1), GRID_START)
    return (start + slot * SLOT).time()


def write_marker(report: SeedReport) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {META_TABLE} (key text PRIMARY KEY, value jsonb NOT NULL)"
        )
        cursor.execute(
            f"INSERT INTO {META_TABLE} (key, value) VALUES ('seed', %s::jsonb) "  # noqa: S608
            "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            [json.dumps(report.as_marker())],
        )


def seed(size: Size, *, now: dt.datetime | None = None) -> SeedReport:
    """Seed `size` into the current database in one transaction, marker included: a seed that
    fails or is interrupted leaves nothing behind."""
    if connection.vendor != "postgresql":
        raise RuntimeError("The benchmark seeds PostgreSQL only.")
    with transaction.atomic():
        report = Seeder(size, now=now).run()
        write_marker(report)
    return report
