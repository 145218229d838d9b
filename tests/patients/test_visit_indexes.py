"""The indexes a booking writes (issue 11, migration patients/0012): every insert of a visit
updates each index of `patients_visit` and `patients_historicalvisit`, so neither table keeps
one that another index or no read needs. Checked on both databases by introspection."""

from __future__ import annotations

import pytest
from django.db import connection

from patients.models import Visit

pytestmark = pytest.mark.django_db


def plain_indexes(table: str) -> dict[str, tuple[str, ...]]:
    """Name -> columns of the table's ordinary indexes (not unique, not the primary key, no
    expression: what the exclusion constraints and unique keys build is left out)."""
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    return {
        name: tuple(info["columns"])
        for name, info in constraints.items()
        if info["index"]
        and not info["unique"]
        and not info["primary_key"]
        and info["columns"]
        and all(info["columns"])
        and info.get("type") in (None, "btree", "idx")
    }


# The one index kept although another starts with its column: the episode's. Most visits'
# episode repeats, so it is small (deduplicated), and at 1M visits the planner joins the
# compliance report's active episodes through it (66 ms) where without it it scans the table
# (300 ms) rather than read the wider episode_status.
KEPT_PREFIXES = {("episode_id",)}


def test_no_visit_index_is_the_leading_part_of_another():
    indexes = plain_indexes(Visit._meta.db_table)
    assert indexes, "introspection found no index on the visits table"
    redundant = [
        (name, other)
        for name, columns in indexes.items()
        for other, longer in indexes.items()
        if other != name
        and len(longer) > len(columns)
        and longer[: len(columns)] == columns
        and columns not in KEPT_PREFIXES
    ]
    assert redundant == []
    assert set(KEPT_PREFIXES) <= set(indexes.values())


def test_each_key_of_a_visit_is_still_served_by_an_index():
    """Dropping the single-column indexes left every key with an index that starts with it, so
    a lookup or a cascade by clinic, patient, therapist, room or episode stays indexed."""
    leading = {columns[0] for columns in plain_indexes(Visit._meta.db_table).values()}
    keys = {f.column for f in Visit._meta.concrete_fields if f.is_relation}
    assert keys - leading == set()


def test_the_visit_history_is_indexed_by_visit_date_and_author_only():
    history = Visit.history.model
    columns = set(plain_indexes(history._meta.db_table).values())
    assert columns == {("id",), ("history_date",), ("history_user_id",)}
