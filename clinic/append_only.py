"""Database guards that make a table append-only, for migrations to install.

The services only insert into such a table and the admin is read-only; these triggers make the
database refuse UPDATE and DELETE too (a shell, a bulk update, a future bug), on PostgreSQL and
SQLite alike. A refused change raises an integrity error. TRUNCATE (a table owner's maintenance
statement, and how the test runner empties tables on PostgreSQL) is left to the DBA.
"""

from __future__ import annotations

from django.db import migrations

from clinic.signed_guards import per_vendor_sql

MESSAGE = "this log is append-only"


def _create(table: str) -> dict[str, list[str]]:
    fn = f"{table}_append_only"
    return {
        "postgresql": [
            f"""CREATE OR REPLACE FUNCTION {fn}() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION '{table}: {MESSAGE}' USING ERRCODE = 'integrity_constraint_violation';
END $$ LANGUAGE plpgsql""",
            f"DROP TRIGGER IF EXISTS {fn} ON {table}",
            f"CREATE TRIGGER {fn} BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {fn}()",
        ],
        "sqlite": [
            f"CREATE TRIGGER IF NOT EXISTS {fn}_{op.lower()} BEFORE {op} ON {table} "
            f"FOR EACH ROW BEGIN SELECT RAISE(ABORT, '{table}: {MESSAGE}'); END"
            for op in ("UPDATE", "DELETE")
        ],
    }


def _drop(table: str) -> dict[str, list[str]]:
    fn = f"{table}_append_only"
    return {
        "postgresql": [
            f"DROP TRIGGER IF EXISTS {fn} ON {table}",
            f"DROP FUNCTION IF EXISTS {fn}()",
        ],
        "sqlite": [f"DROP TRIGGER IF EXISTS {fn}_{op}" for op in ("update", "delete")],
    }


def append_only(table: str) -> migrations.RunPython:
    """A migration operation installing the guards that refuse UPDATE and DELETE on `table`."""
    return per_vendor_sql(_create(table), _drop(table))
