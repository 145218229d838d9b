"""The benchmark's own PostgreSQL database: found, created, checked and (when asked) recreated.

Everything here runs before Django is set up, with psycopg alone, so the database can be created
or dropped while no Django connection holds it open.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import psycopg
from psycopg import sql

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/ptpractice_bench"
POSTGRES_SCHEMES = {"postgres", "postgresql", "pgsql", "psql", "postgis"}
META_TABLE = "bench_meta"
SEED_VERSION = 7  # bump when bench/seed.py changes what it seeds: databases are then reseeded


class BenchError(RuntimeError):
    """A problem the benchmark reports in one line and stops on (no traceback)."""


@dataclass(frozen=True)
class Target:
    """Where the benchmark writes: the URL Django will use and the psycopg connection details."""

    url: str
    dbname: str
    conninfo: dict[str, Any]

    def connect(self, dbname: str | None = None, **kwargs: Any) -> psycopg.Connection[Any]:
        return psycopg.connect(**{**self.conninfo, "dbname": dbname or self.dbname}, **kwargs)


def default_url(size: str) -> str:
    """ptpractice_bench for quick runs, ptpractice_bench_<size> for the others, so that a quick
    run does not throw away a full seed that took minutes."""
    return DEFAULT_DATABASE_URL + ("" if size == "quick" else f"_{size}")


def target_from_env(size: str = "quick", *, suffix: str = "") -> Target:
    """BENCH_DATABASE_URL, else DATABASE_URL, else the default bench database of the size.
    Refuses anything but PostgreSQL. `suffix` is appended to the name of a database given in
    the environment (`python -m bench summaries` seeds `<name>_summaries`, never the calendar
    seed); the default names already differ by size."""
    url = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if url and suffix:
        given = urlsplit(url)
        url = given._replace(path=given.path.rstrip("/") + suffix).geturl()
    url = url or default_url(size)
    parts = urlsplit(url)
    if parts.scheme not in POSTGRES_SCHEMES:
        raise BenchError(
            f"The benchmark runs on PostgreSQL only (exclusion constraints, row locks, COPY); "
            f"DATABASE_URL is {parts.scheme or 'not a URL'}://... . Unset it to use "
            f"{default_url(size)}, or point it at a PostgreSQL database of its own."
        )
    dbname = unquote(parts.path.lstrip("/"))
    if not dbname:
        raise BenchError(f"DATABASE_URL names no database: {url}")
    conninfo: dict[str, Any] = {"host": parts.hostname or "127.0.0.1", "port": parts.port or 5432}
    if parts.username:
        conninfo["user"] = unquote(parts.username)
    if parts.password:
        conninfo["password"] = unquote(parts.password)
    conninfo["connect_timeout"] = 5
    return Target(url=url, dbname=dbname, conninfo=conninfo)


def _exists(target: Target) -> bool:
    try:
        with target.connect("postgres", autocommit=True) as conn:
            row = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [target.dbname]
            ).fetchone()
    except psycopg.OperationalError as exc:
        raise BenchError(f"Cannot reach PostgreSQL at {target.conninfo['host']}: {exc}") from exc
    return row is not None


def read_marker(conn: psycopg.Connection[Any]) -> dict[str, Any] | None:
    """The seed marker (size, version, counts) if the database holds a complete bench seed."""
    if conn.execute("SELECT to_regclass(%s)", [META_TABLE]).fetchone() == (None,):
        return None
    row = conn.execute(
        sql.SQL("SELECT value FROM {} WHERE key = 'seed'").format(sql.Identifier(META_TABLE))
    ).fetchone()
    if row is None:
        return None
    value = row[0]
    return value if isinstance(value, dict) else json.loads(value)


def _has_tables(conn: psycopg.Connection[Any]) -> bool:
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_tables WHERE schemaname NOT IN "
        "('pg_catalog', 'information_schema'))"
    ).fetchone()
    return row == (True,)


def prepare_database(
    target: Target, *, size: str, version: int, reseed: bool, force: bool
) -> tuple[dict[str, Any] | None, str]:
    """Make sure the database exists and is the benchmark's. Returns (marker, what happened).

    The marker is returned when the database already holds a complete seed of `size` at
    `version` (the caller reuses it); otherwise the database is empty or freshly created.
    Anything else may be somebody's database and is left alone unless `force`: one with tables
    but no bench marker, or an existing one whose name does not say "bench" (an empty
    development database is still somebody's).
    """
    if not _exists(target):
        _create(target)
        return None, f"created database {target.dbname}"
    with target.connect(autocommit=True) as conn:
        marker = read_marker(conn)
        has_tables = _has_tables(conn)
    if marker is None and not force and (has_tables or "bench" not in target.dbname):
        what = "holds tables but no benchmark marker" if has_tables else "is not a bench database"
        raise BenchError(
            f"Database {target.dbname} {what}: it may be somebody's, and the benchmark would "
            "migrate, seed and later drop it. Set BENCH_DATABASE_URL (or DATABASE_URL) to a "
            "database of its own (by default ptpractice_bench is created), or pass --force."
        )
    same = marker is not None and (marker.get("size"), marker.get("version")) == (size, version)
    if marker is not None and same and not reseed:
        return marker, f"reusing the {size} seed of {marker.get('seeded_at', '?')}"
    if marker is None and not has_tables and not reseed:
        return None, f"database {target.dbname} is empty"
    _drop(target)
    _create(target)
    why = "asked to reseed" if reseed else f"it held {marker.get('size') if marker else 'data'}"
    return None, f"recreated database {target.dbname} ({why})"


def _create(target: Target) -> None:
    with target.connect("postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(target.dbname)))


def _drop(target: Target) -> None:
    with target.connect("postgres", autocommit=True) as conn:
        try:
            conn.execute(sql.SQL("DROP DATABASE {}").format(sql.Identifier(target.dbname)))
        except psycopg.errors.ObjectInUse as exc:
            raise BenchError(
                f"Cannot drop {target.dbname} to reseed it: other sessions are connected "
                "(close them and run again)."
            ) from exc
