"""Database guards that make signed clinical records immutable, for migrations to install.

The services refuse to change a signed note; these triggers make the database refuse too, so no
code path (a shell, a bulk update, a future bug) can change what a therapist signed. A refused
change raises an integrity error, which the API answers with 409.

PostgreSQL and SQLite both get triggers; the SQL differs, the rule does not:
- the signed row itself: no UPDATE and no DELETE once its status is 'signed';
- its child rows (modalities delivered, billing lines): no INSERT, UPDATE or DELETE while the
  parent is signed.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations

MESSAGE = "a signed clinical record is immutable; add an addendum instead"


def _pg_row(table: str) -> list[str]:
    fn = f"{table}_refuse_signed"
    return [
        f"""CREATE OR REPLACE FUNCTION {fn}() RETURNS trigger AS $$
BEGIN
  IF OLD.status = 'signed' THEN
    RAISE EXCEPTION '{table}: {MESSAGE}' USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql""",
        f"DROP TRIGGER IF EXISTS {fn} ON {table}",
        f"CREATE TRIGGER {fn} BEFORE UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION {fn}()",
    ]


def _pg_child(table: str, parent: str, fk: str) -> list[str]:
    fn = f"{table}_refuse_signed_parent"
    return [
        f"""CREATE OR REPLACE FUNCTION {fn}() RETURNS trigger AS $$
DECLARE parent_id bigint;
BEGIN
  IF TG_OP = 'DELETE' THEN parent_id := OLD.{fk}; ELSE parent_id := NEW.{fk}; END IF;
  IF EXISTS (SELECT 1 FROM {parent} WHERE id = parent_id AND status = 'signed')
     OR (TG_OP = 'UPDATE' AND EXISTS (
         SELECT 1 FROM {parent} WHERE id = OLD.{fk} AND status = 'signed')) THEN
    RAISE EXCEPTION '{table}: {MESSAGE}' USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql""",
        f"DROP TRIGGER IF EXISTS {fn} ON {table}",
        f"CREATE TRIGGER {fn} BEFORE INSERT OR UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION {fn}()",
    ]


def _sqlite_row(table: str) -> list[str]:
    return [
        f"CREATE TRIGGER IF NOT EXISTS {table}_refuse_signed_{op.lower()} BEFORE {op} ON {table} "
        f"FOR EACH ROW WHEN OLD.status = 'signed' "
        f"BEGIN SELECT RAISE(ABORT, '{table}: {MESSAGE}'); END"
        for op in ("UPDATE", "DELETE")
    ]


def _sqlite_child(table: str, parent: str, fk: str) -> list[str]:
    statements = []
    for op, row in (("INSERT", "NEW"), ("UPDATE", "OLD"), ("DELETE", "OLD")):
        statements.append(
            f"CREATE TRIGGER IF NOT EXISTS {table}_refuse_signed_parent_{op.lower()} "
            f"BEFORE {op} ON {table} FOR EACH ROW "
            f"WHEN (SELECT status FROM {parent} WHERE id = {row}.{fk}) = 'signed' "
            f"BEGIN SELECT RAISE(ABORT, '{table}: {MESSAGE}'); END"
        )
    return statements


def _drop(table: str, child: bool) -> dict[str, list[str]]:
    suffix = "_refuse_signed_parent" if child else "_refuse_signed"
    ops = ("insert", "update", "delete") if child else ("update", "delete")
    return {
        "postgresql": [
            f"DROP TRIGGER IF EXISTS {table}{suffix} ON {table}",
            f"DROP FUNCTION IF EXISTS {table}{suffix}()",
        ],
        "sqlite": [f"DROP TRIGGER IF EXISTS {table}{suffix}_{op}" for op in ops],
    }


def immutable_when_signed(
    table: str, *, children: tuple[tuple[str, str], ...] = ()
) -> migrations.RunPython:
    """A migration operation installing the guards for `table` and its (child table, fk column)
    pairs."""
    create = {
        "postgresql": _pg_row(table)
        + [sql for child, fk in children for sql in _pg_child(child, table, fk)],
        "sqlite": _sqlite_row(table)
        + [sql for child, fk in children for sql in _sqlite_child(child, table, fk)],
    }
    drop: dict[str, list[str]] = {"postgresql": [], "sqlite": []}
    for name, is_child in [(table, False), *[(child, True) for child, _ in children]]:
        for vendor, statements in _drop(name, is_child).items():
            drop[vendor] += statements

    return per_vendor_sql(create, drop)


def per_vendor_sql(
    create: dict[str, list[str]], drop: dict[str, list[str]]
) -> migrations.RunPython:
    """A reversible migration operation running the statements for the database's vendor."""

    def run(statements: dict[str, list[str]]) -> Any:
        def apply(apps: Any, schema_editor: Any) -> None:
            for sql in statements.get(schema_editor.connection.vendor, []):
                schema_editor.execute(sql, params=None)

        return apply

    return migrations.RunPython(run(create), run(drop))
