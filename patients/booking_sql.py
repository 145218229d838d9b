# ruff: noqa: S608 - the SQL is built from the models' table and column names; values are parameters
"""The booking's fast path on PostgreSQL: check and insert in one statement (issue 11).

`visit_book` on PostgreSQL takes the therapist's row lock with one statement, then sends the
statement built here: the four availability tests of `check_availability` (opening hours,
closures, working hours, time off), the overlap test of `check_overlaps`, and, when all pass,
the INSERT of the visit and of its history row (simple_history's "+" record), as data-modifying
CTEs. A booking is then four round trips (BEGIN, lock, this, COMMIT) instead of seven, and the
ORM compiles none of them.

This path only ever says yes. When any test fails it inserts nothing and returns None, and the
caller runs the ORM checks, which say why (the 400 or 409 with its message), or book through
the ORM if they find nothing in the way. So the rules keep one definition for their answers
(patients/visits.py); the conditions below must stay the same as theirs, which
tests/patients/test_booking_sql.py checks by booking the same cases both ways.

The column lists come from the models' metadata, so a field added to Visit is inserted here
too, with the value the ORM would have sent (`pre_save` and `get_db_prep_save`).
"""

from __future__ import annotations

import datetime as dt
import re
from functools import cache
from typing import Any

from django.db import connection
from django.db.models import Field
from django.utils import timezone

from clinic.capabilities import Role
from clinic.models import Closure, Membership, OpeningHours, TimeOff, User, WorkingHours
from patients.models import MAX_VISIT_LENGTH, Visit

HISTORY_OWN_FIELDS = ("history_id", "history_date", "history_change_reason", "history_type")


def _table(model: type) -> str:
    return connection.ops.quote_name(model._meta.db_table)  # type: ignore[attr-defined]


def _col(name: str) -> str:
    return connection.ops.quote_name(name)


@cache
def _visit_fields() -> tuple[Field, ...]:
    """The columns an INSERT of a new visit sends: every concrete field but the id."""
    return tuple(f for f in Visit._meta.concrete_fields if not f.primary_key)


@cache
def _history_columns() -> tuple[str, ...]:
    """The historical model's copies of the visit's columns (id included), in its order."""
    history = Visit.history.model
    return tuple(
        f.column
        for f in history._meta.concrete_fields
        if f.name not in HISTORY_OWN_FIELDS and f.name != "history_user"
    )


@cache
def lock_sql() -> str:
    """The therapist's row lock, answering a row only for an active therapist of the clinic."""
    return (
        f"SELECT u.{_col('id')} FROM {_table(User)} u WHERE u.{_col('id')} = %s AND "
        f"u.{_col('is_active')} AND EXISTS (SELECT 1 FROM {_table(Membership)} m WHERE "
        f"m.{_col('user_id')} = u.{_col('id')} AND m.{_col('clinic_id')} = %s AND "
        f"m.{_col('role')} = %s AND m.{_col('active')}) FOR UPDATE OF u"
    )


@cache
def _book_statement() -> tuple[str, tuple[str, ...]]:
    """The statement with positional placeholders, and the name of the value each one takes
    (`*visit` stands for the visit's columns, in `_visit_fields` order)."""
    visit_columns = ", ".join(_col(f.attname) for f in _visit_fields())
    history_columns = ", ".join(_col(c) for c in _history_columns())
    history_table = _table(Visit.history.model)
    named = f"""\
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
  INSERT INTO {_table(Visit)} ({visit_columns}) SELECT %(*visit)s FROM free RETURNING *
), history AS (
  INSERT INTO {history_table}
    ({history_columns}, history_date, history_change_reason, history_type, history_user_id)
  SELECT {history_columns}, %(now)s, NULL, '+', %(by)s FROM visit
)
SELECT id FROM visit"""
    names = tuple(re.findall(r"%\(([^)]+)\)s", named))
    visit_values = ", ".join("%s" for _ in _visit_fields())
    sql = re.sub(r"%\(([^)]+)\)s", lambda m: visit_values if m[1] == "*visit" else "%s", named)
    return sql, names


def visit_insert_if_free(visit: Visit, *, by: User | None) -> bool:
    """Insert `visit` (new, not saved) with its history row if the clinic is open, the
    therapist works and is not away, and nothing occupies the time; under the therapist's lock
    (the caller holds it). True when inserted (`visit.pk` is then set), False when a test
    failed, and nothing was written. PostgreSQL only."""
    clinic = visit.clinic
    tz = clinic.tz
    local_start, local_end = visit.starts_at.astimezone(tz), visit.ends_at.astimezone(tz)
    day = local_start.date()
    values = {
        "clinic": clinic.pk,
        "therapist": visit.therapist_id,
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
    sql, names = _book_statement()
    params: list[Any] = []
    for name in names:
        if name == "*visit":
            params += [
                f.get_db_prep_save(f.pre_save(visit, True), connection) for f in _visit_fields()
            ]
        else:
            params.append(values[name])
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return False
    visit.pk = row[0]
    visit._state.adding = False
    visit._state.db = connection.alias
    return True


def therapist_lock(*, therapist: User, clinic_id: int) -> bool:
    """Lock the therapist's row; False when they are not an active therapist of the clinic."""
    with connection.cursor() as cursor:
        cursor.execute(lock_sql(), [therapist.pk, clinic_id, Role.THERAPIST.value])
        return cursor.fetchone() is not None
