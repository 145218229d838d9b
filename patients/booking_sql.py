# ruff: noqa: S608 - the SQL is built from the models' table and column names; values are parameters
"""The booking's fast path on PostgreSQL: one function call locks, checks and inserts (issue 11).

`visit_book` on PostgreSQL calls a PL/pgSQL function built here from the models. It first
takes the therapist's row lock (answering only for an active therapist of the clinic), then the
patient's and the room's (`visits._lock_patient_and_room`), always in that order. Its last
statement, which starts after the locks are held and so sees every booking committed before
it, runs the four availability tests of `check_availability` (opening hours,
closures, working hours, time off) and the overlap test of `check_overlaps`, and when all pass
inserts the visit and its history row (simple_history's "+" record) as data-modifying CTEs.

Outside a transaction the call is a transaction of its own: a booking is one round trip instead
of four (BEGIN, lock, check and insert, COMMIT), and PL/pgSQL keeps both statements' plans for
the session's later calls, so PostgreSQL does not plan them again on every booking.

This path only ever says yes. When a test fails the function inserts nothing, the lock goes with
its transaction, and the caller runs the ORM checks, which say why (the 400 or 409 with its
message), or book through the ORM if they find nothing in the way. So the rules keep one
definition for their answers (patients/visits.py); the conditions below must stay the same as
theirs, which tests/patients/test_booking_sql.py checks by booking the same cases both ways.

The function is (re)created after every `migrate` (`function_install`, on post_migrate), under a
name that carries a hash of its definition: a field added to Visit changes the definition, its
column is inserted with the value the ORM would have sent (`pre_save`, `get_db_prep_save`), and
a process still running the previous code keeps calling the previous function. Where the
function is missing (code deployed without `migrate`), bookings take the ORM path and the log
says to run migrate.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import logging
import re
from functools import cache
from typing import Any

from django.db import connections
from django.db.models import Field
from django.utils import timezone

from clinic.capabilities import Role
from clinic.models import Closure, Membership, OpeningHours, Room, TimeOff, User, WorkingHours
from patients.models import MAX_VISIT_LENGTH, Patient, Visit

logger = logging.getLogger(__name__)

HISTORY_OWN_FIELDS = ("history_id", "history_date", "history_change_reason", "history_type")

# The function's arguments before the visit's columns, with their SQL types.
ARGUMENTS = (
    ("therapist", "bigint"),
    ("clinic", "bigint"),
    ("role", "text"),
    ("patient", "bigint"),
    ("room", "bigint"),
    ("weekday", "integer"),
    ("day", "date"),
    ("start_time", "time"),
    ("end_time", "time"),
    ("starts_at", "timestamptz"),
    ("ends_at", "timestamptz"),
    ("earliest_start", "timestamptz"),
    ("occupying", "text[]"),
    ("now", "timestamptz"),
    ("by", "bigint"),
)
NOT_A_THERAPIST = -1  # what the function answers when the lock finds no active therapist
UNDEFINED_FUNCTION = "42883"  # PostgreSQL's SQLSTATE for a call of a function that is not there


class Booked(enum.Enum):
    """What the one call did."""

    YES = "booked"  # inserted; the visit's pk is set
    IN_THE_WAY = "in the way"  # a test failed, nothing written: the ORM checks say which
    NOT_A_THERAPIST = "not a therapist"  # no active therapist with this id in this clinic
    NO_FUNCTION = "no function"  # not installed in this database (migrate not run)


def _quote(name: str) -> str:
    return connections["default"].ops.quote_name(name)


def _table(model: type) -> str:
    return _quote(model._meta.db_table)  # type: ignore[attr-defined]


@cache
def _visit_fields() -> tuple[Field, ...]:
    """The columns an INSERT of a new visit sends: every concrete field but the id."""
    return tuple(f for f in Visit._meta.concrete_fields if not f.primary_key)


@cache
def _history_columns() -> tuple[str, ...]:
    """The historical model's copies of the visit's columns (id included), in its order."""
    history = Visit.history.model
    return tuple(
        str(f.column)
        for f in history._meta.concrete_fields
        if f.name not in HISTORY_OWN_FIELDS and f.name != "history_user"
    )


def _types(using: str) -> list[str]:
    """The SQL types of the function's arguments, the visit's columns last."""
    connection = connections[using]
    return [sql_type for _, sql_type in ARGUMENTS] + [
        f.db_type(connection) or "text" for f in _visit_fields()
    ]


@cache
def _definition(using: str) -> tuple[str, str]:
    """(function name, CREATE statement) for the models as they are in this code."""
    position = {name: index for index, (name, _) in enumerate(ARGUMENTS, start=1)}
    visit_arguments = [
        f"${len(ARGUMENTS) + index}" for index, _ in enumerate(_visit_fields(), start=1)
    ]
    types = _types(using)
    visit_columns = ", ".join(_quote(f.attname) for f in _visit_fields())
    history_columns = ", ".join(_quote(c) for c in _history_columns())
    named = f"""\
DECLARE
  booked bigint;
BEGIN
  PERFORM 1 FROM {_table(User)} u WHERE u.id = %(therapist)s AND u.is_active
    AND EXISTS (SELECT 1 FROM {_table(Membership)} m WHERE m.user_id = u.id
                AND m.clinic_id = %(clinic)s AND m.role = %(role)s AND m.active)
    FOR UPDATE OF u;
  IF NOT FOUND THEN
    RETURN {NOT_A_THERAPIST};
  END IF;
  PERFORM 1 FROM {_table(Patient)} WHERE id = %(patient)s FOR NO KEY UPDATE;
  IF %(room)s IS NOT NULL THEN
    PERFORM 1 FROM {_table(Room)} WHERE id = %(room)s FOR NO KEY UPDATE;
  END IF;
  WITH free AS (
    SELECT 1 WHERE
    EXISTS (SELECT 1 FROM {_table(OpeningHours)} WHERE clinic_id = %(clinic)s
            AND weekday = %(weekday)s AND opens <= %(start_time)s AND closes >= %(end_time)s)
    AND NOT EXISTS (SELECT 1 FROM {_table(Closure)} WHERE clinic_id = %(clinic)s
            AND starts_on <= %(day)s AND ends_on >= %(day)s)
    AND EXISTS (SELECT 1 FROM {_table(WorkingHours)} WHERE clinic_id = %(clinic)s
            AND therapist_id = %(therapist)s AND weekday = %(weekday)s
            AND starts <= %(start_time)s AND ends >= %(end_time)s)
    AND NOT EXISTS (SELECT 1 FROM {_table(TimeOff)} WHERE therapist_id = %(therapist)s
            AND starts_at < %(ends_at)s AND ends_at > %(starts_at)s)
    AND NOT EXISTS (SELECT 1 FROM {_table(Visit)} WHERE status = ANY(%(occupying)s)
            AND starts_at < %(ends_at)s AND starts_at > %(earliest_start)s
            AND ends_at > %(starts_at)s
            AND (therapist_id = %(therapist)s OR patient_id = %(patient)s
                 OR room_id = %(room)s))
  ), visit AS (
    INSERT INTO {_table(Visit)} ({visit_columns})
    SELECT {", ".join(visit_arguments)} FROM free RETURNING *
  ), history AS (
    INSERT INTO {_table(Visit.history.model)}
      ({history_columns}, history_date, history_change_reason, history_type, history_user_id)
    SELECT {history_columns}, %(now)s, NULL, '+', %(by)s FROM visit
  )
  SELECT id INTO booked FROM visit;
  RETURN booked;
END"""
    body = re.sub(r"%\(([^)]+)\)s", lambda m: f"${position[m[1]]}", named)
    signature = ", ".join(types)
    digest = hashlib.sha256(f"{signature}\n{body}".encode()).hexdigest()[:12]
    name = f"patients_visit_book_{digest}"
    create = (
        f"CREATE OR REPLACE FUNCTION {name}({signature}) RETURNS bigint "
        f"LANGUAGE plpgsql VOLATILE AS $booking$\n{body}\n$booking$"
    )
    return name, create


@cache
def _call(using: str) -> str:
    """The call, each value cast to its argument's type (client-side binding sends literals)."""
    name, _ = _definition(using)
    return f"SELECT {name}(" + ", ".join(f"%s::{cast}" for cast in _types(using)) + ")"


_installed: set[tuple[str, str]] = set()  # (alias, database name) known to hold the function
_warned: set[tuple[str, str]] = set()


def _key(alias: str) -> tuple[str, str]:
    return alias, str(connections[alias].settings_dict["NAME"])


def function_install(*, using: str = "default") -> None:
    """Create this code's booking function in the database `using` (PostgreSQL only)."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    _, create = _definition(using)
    with connection.cursor() as cursor:
        cursor.execute(create)
    _installed.add(_key(using))


def install_after_migrate(*, using: str = "default", **_: Any) -> None:
    """post_migrate receiver (patients.apps)."""
    function_install(using=using)


def _function_ready(using: str) -> bool:
    key = _key(using)
    if key in _installed:
        return True
    connection = connections[using]
    name, _ = _definition(using)
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_proc WHERE proname = %s", [name])
        found = cursor.fetchone() is not None
    if found:
        _installed.add(key)
    elif key not in _warned:
        _warned.add(key)
        logger.warning(
            "The booking function %s is missing from database %s: bookings take the slower "
            "ORM path until `manage.py migrate` runs.",
            name,
            key[1],
        )
    return found


def function_went_missing(exc: Exception, *, using: str = "default") -> bool:
    """Whether `exc` is PostgreSQL saying the booking function does not exist (dropped, or a
    database restored without it after this process saw it). Then this process forgets that it
    is there, warns, and the booking takes the ORM path instead of failing."""
    cause = exc.__cause__
    if getattr(cause, "sqlstate", None) != UNDEFINED_FUNCTION:
        return False
    name, _ = _definition(using)
    if name not in str(cause):
        return False
    key = _key(using)
    _installed.discard(key)
    _warned.add(key)
    logger.warning(
        "The booking function %s went missing from database %s: bookings take the slower ORM "
        "path until `manage.py migrate` runs.",
        name,
        key[1],
    )
    return True


def visit_insert_if_free(visit: Visit, *, by: User | None, using: str = "default") -> Booked:
    """Lock the therapist, then insert `visit` (new, not saved) with its history row if the
    clinic is open, the therapist works and is not away, and nothing occupies the time: one
    statement. Booked.YES sets `visit.pk`; on any other answer nothing was written."""
    connection = connections[using]
    if not _function_ready(using):
        return Booked.NO_FUNCTION
    clinic = visit.clinic
    tz = clinic.tz
    local_start, local_end = visit.starts_at.astimezone(tz), visit.ends_at.astimezone(tz)
    day = local_start.date()
    values = {
        "therapist": visit.therapist_id,
        "clinic": clinic.pk,
        "role": Role.THERAPIST.value,
        "patient": visit.patient_id,
        "room": visit.room_id,
        "weekday": local_start.weekday(),
        "day": day,
        "start_time": local_start.time(),
        "end_time": local_end.time() if local_end.date() == day else dt.time.max,
        "starts_at": visit.starts_at,
        "ends_at": visit.ends_at,
        "earliest_start": visit.starts_at - MAX_VISIT_LENGTH,
        "occupying": list(Visit.OCCUPYING_STATUSES),
        "now": timezone.now(),
        "by": by.pk if by is not None else None,
    }
    params: list[Any] = [values[name] for name, _ in ARGUMENTS]
    params += [f.get_db_prep_save(f.pre_save(visit, True), connection) for f in _visit_fields()]
    with connection.cursor() as cursor:
        cursor.execute(_call(using), params)
        (answer,) = cursor.fetchone()
    if answer is None:
        return Booked.IN_THE_WAY
    if answer == NOT_A_THERAPIST:
        return Booked.NOT_A_THERAPIST
    visit.pk = answer
    visit._state.adding = False
    visit._state.db = using
    return Booked.YES
