# ruff: noqa: S608 - the SQL is fixed text: table names and the two status values, no input
"""Each episode's treatment days, kept by PostgreSQL triggers (issue 11).

The compliance report shows today's clocks of every active episode: the progress report (treatment
days since the last one) and the authorization (visits and units used). Counted from the visits,
it reads every completed visit and billing line of every active episode, and an episode in a
practice with years of history has more of them than one in a practice three weeks old: the
report grew 1.4x from 10k to 1M visits. `EpisodeTreatmentLog` keeps the count per episode, one
row of (day, completed visits, signed units) per clinic-local day, and the report reads one row
per active episode.

Triggers keep it, not the services: every write to a row the count reads, through a service,
the admin, an import or plain SQL, recomputes the episode's row in the same transaction:

- a visit inserted completed, deleted completed, or changing its status, start or episode while
  it counts (completed before or after, or with a signed note);
- a treatment note inserted signed, deleted signed, or changing its status or visit;
- a billing line inserted, deleted or changing its units or note, on a signed note;
- an episode moving to another clinic, and a clinic changing its time zone (the days move).

A refresh first takes the episode's row lock (`FOR NO KEY UPDATE`, which bookings' foreign-key
checks do not wait for), then counts in a statement of its own, which sees every change
committed before the lock was granted: two visits of one episode completed at once both count.
The count is the view `programs_treatment_day` (and per episode, as the log's rows,
`programs_treatment_log_counted`), the same definition as the report's count from the visits on
SQLite (`programs.reports._counted_tallies`); tests/programs/test_treatment_log.py checks the two
agree after each kind of write.

Migration programs/0011 installs all of it and fills the table. A change to the SQL below ships
with a migration that calls `install` and `rebuild` again. Bulk loads that switch triggers off
(the benchmark's seed) call `rebuild` after.
"""

from __future__ import annotations

from typing import Any

from django.contrib.postgres.fields import ArrayField
from django.db import connection
from django.db.models import DateField, Func, IntegerField

COUNTED = "'completed'"  # Visit.Status.COMPLETED
SIGNED = "'signed'"  # TreatmentNote.Status.SIGNED

VIEW = f"""
CREATE OR REPLACE VIEW programs_treatment_day AS
SELECT episode_id, day, SUM(visits)::integer AS visits, SUM(units)::integer AS units
FROM (
    SELECT v.episode_id, (v.starts_at AT TIME ZONE c.timezone)::date AS day,
           1 AS visits, 0 AS units
    FROM patients_visit v
    JOIN patients_episodeofcare e ON e.id = v.episode_id
    JOIN clinic_clinic c ON c.id = e.clinic_id
    WHERE v.status = {COUNTED}
    UNION ALL
    SELECT v.episode_id, (v.starts_at AT TIME ZONE c.timezone)::date, 0, b.units
    FROM programs_billingline b
    JOIN programs_treatmentnote n ON n.id = b.note_id
    JOIN patients_visit v ON v.id = n.visit_id
    JOIN patients_episodeofcare e ON e.id = v.episode_id
    JOIN clinic_clinic c ON c.id = e.clinic_id
    WHERE n.status = {SIGNED}
) counted
GROUP BY episode_id, day;

CREATE OR REPLACE VIEW programs_treatment_log_counted AS
SELECT episode_id, jsonb_agg(jsonb_build_array(day, visits, units) ORDER BY day) AS days
FROM programs_treatment_day
GROUP BY episode_id
"""

FUNCTIONS = f"""
CREATE OR REPLACE FUNCTION programs_treatment_log_refresh(p_episode bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF p_episode IS NULL THEN
        RETURN;
    END IF;
    PERFORM 1 FROM patients_episodeofcare WHERE id = p_episode FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    DELETE FROM programs_episodetreatmentlog WHERE episode_id = p_episode;
    INSERT INTO programs_episodetreatmentlog (episode_id, days)
    SELECT episode_id, days FROM programs_treatment_log_counted WHERE episode_id = p_episode;
END
$$;

CREATE OR REPLACE FUNCTION programs_treatment_log_rebuild(p_clinic bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF p_clinic IS NULL THEN
        DELETE FROM programs_episodetreatmentlog;
        INSERT INTO programs_episodetreatmentlog (episode_id, days)
        SELECT episode_id, days FROM programs_treatment_log_counted;
        RETURN;
    END IF;
    PERFORM 1 FROM patients_episodeofcare WHERE clinic_id = p_clinic FOR NO KEY UPDATE;
    DELETE FROM programs_episodetreatmentlog l
    USING patients_episodeofcare e
    WHERE e.id = l.episode_id AND e.clinic_id = p_clinic;
    INSERT INTO programs_episodetreatmentlog (episode_id, days)
    SELECT l.episode_id, l.days
    FROM programs_treatment_log_counted l
    JOIN patients_episodeofcare e ON e.id = l.episode_id
    WHERE e.clinic_id = p_clinic;
END
$$;

CREATE OR REPLACE FUNCTION programs_treatment_log_visit_counts(p_visit bigint, p_status text)
RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT p_status = {COUNTED} OR EXISTS (
        SELECT 1 FROM programs_treatmentnote n WHERE n.visit_id = p_visit AND n.status = {SIGNED}
    )
$$;

CREATE OR REPLACE FUNCTION programs_treatment_log_on_visit() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM programs_treatment_log_refresh(NEW.episode_id);
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM programs_treatment_log_refresh(OLD.episode_id);
    ELSIF programs_treatment_log_visit_counts(OLD.id, OLD.status)
          OR programs_treatment_log_visit_counts(NEW.id, NEW.status) THEN
        -- Moved to another episode: both, the lower id first (two moves at once take the
        -- locks in the same order). LEAST and GREATEST skip a NULL.
        PERFORM programs_treatment_log_refresh(LEAST(OLD.episode_id, NEW.episode_id));
        IF OLD.episode_id IS DISTINCT FROM NEW.episode_id THEN
            PERFORM programs_treatment_log_refresh(GREATEST(OLD.episode_id, NEW.episode_id));
        END IF;
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION programs_treatment_log_on_note() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM programs_treatment_log_refresh(
            (SELECT episode_id FROM patients_visit WHERE id = OLD.visit_id)
        );
    END IF;
    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND OLD.visit_id IS DISTINCT FROM NEW.visit_id) THEN
        PERFORM programs_treatment_log_refresh(
            (SELECT episode_id FROM patients_visit WHERE id = NEW.visit_id)
        );
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION programs_treatment_log_on_billing_line() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM programs_treatment_log_refresh(v.episode_id)
        FROM programs_treatmentnote n JOIN patients_visit v ON v.id = n.visit_id
        WHERE n.id = OLD.note_id AND n.status = {SIGNED};
    END IF;
    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND OLD.note_id IS DISTINCT FROM NEW.note_id) THEN
        PERFORM programs_treatment_log_refresh(v.episode_id)
        FROM programs_treatmentnote n JOIN patients_visit v ON v.id = n.visit_id
        WHERE n.id = NEW.note_id AND n.status = {SIGNED};
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION programs_treatment_log_on_episode() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM programs_treatment_log_refresh(NEW.id);
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION programs_treatment_log_on_clinic() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM programs_treatment_log_rebuild(NEW.id);
    RETURN NULL;
END
$$;
"""

# (trigger, table, when it fires, condition, function)
TRIGGERS = (
    (
        "programs_treatment_log_visit_insert",
        "patients_visit",
        "AFTER INSERT",
        f"NEW.status = {COUNTED}",  # a new visit has no note yet
        "programs_treatment_log_on_visit",
    ),
    (
        "programs_treatment_log_visit_update",
        "patients_visit",
        "AFTER UPDATE OF status, starts_at, episode_id",
        "OLD.status IS DISTINCT FROM NEW.status OR OLD.starts_at IS DISTINCT FROM NEW.starts_at "
        "OR OLD.episode_id IS DISTINCT FROM NEW.episode_id",
        "programs_treatment_log_on_visit",
    ),
    (
        "programs_treatment_log_visit_delete",
        "patients_visit",
        "AFTER DELETE",
        f"OLD.status = {COUNTED}",  # a visit with a note cannot be deleted (PROTECT)
        "programs_treatment_log_on_visit",
    ),
    (
        "programs_treatment_log_note_insert",
        "programs_treatmentnote",
        "AFTER INSERT",
        f"NEW.status = {SIGNED}",
        "programs_treatment_log_on_note",
    ),
    (
        "programs_treatment_log_note_update",
        "programs_treatmentnote",
        "AFTER UPDATE OF status, visit_id",
        f"(OLD.status = {SIGNED} OR NEW.status = {SIGNED}) AND (OLD.status IS DISTINCT FROM "
        "NEW.status OR OLD.visit_id IS DISTINCT FROM NEW.visit_id)",
        "programs_treatment_log_on_note",
    ),
    (
        "programs_treatment_log_note_delete",
        "programs_treatmentnote",
        "AFTER DELETE",
        f"OLD.status = {SIGNED}",
        "programs_treatment_log_on_note",
    ),
    (
        "programs_treatment_log_line_insert",
        "programs_billingline",
        "AFTER INSERT",
        "",
        "programs_treatment_log_on_billing_line",
    ),
    (
        "programs_treatment_log_line_update",
        "programs_billingline",
        "AFTER UPDATE OF units, note_id",
        "OLD.units IS DISTINCT FROM NEW.units OR OLD.note_id IS DISTINCT FROM NEW.note_id",
        "programs_treatment_log_on_billing_line",
    ),
    (
        "programs_treatment_log_line_delete",
        "programs_billingline",
        "AFTER DELETE",
        "",
        "programs_treatment_log_on_billing_line",
    ),
    (
        "programs_treatment_log_episode_clinic",
        "patients_episodeofcare",
        "AFTER UPDATE OF clinic_id",
        "OLD.clinic_id IS DISTINCT FROM NEW.clinic_id",
        "programs_treatment_log_on_episode",
    ),
    (
        "programs_treatment_log_clinic_timezone",
        "clinic_clinic",
        "AFTER UPDATE OF timezone",
        "OLD.timezone IS DISTINCT FROM NEW.timezone",
        "programs_treatment_log_on_clinic",
    ),
)
TRIGGER_NAMES = tuple(name for name, *_ in TRIGGERS)


def _trigger_sql(name: str, table: str, timing: str, condition: str, function: str) -> str:
    when = f" WHEN ({condition})" if condition else ""
    each = f"FOR EACH ROW{when} EXECUTE FUNCTION {function}()"
    return f"CREATE TRIGGER {name} {timing} ON {table} {each}"


def install(schema_editor: Any) -> None:
    """Create (or replace) the view, the functions and the triggers. PostgreSQL only."""
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(VIEW)
    schema_editor.execute(FUNCTIONS)
    for name, table, *_ in TRIGGERS:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
    for trigger in TRIGGERS:
        schema_editor.execute(_trigger_sql(*trigger))


def uninstall(schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, table, *_ in TRIGGERS:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
    schema_editor.execute(
        "DROP FUNCTION IF EXISTS programs_treatment_log_on_visit(), "
        "programs_treatment_log_on_note(), programs_treatment_log_on_billing_line(), "
        "programs_treatment_log_on_episode(), programs_treatment_log_on_clinic(), "
        "programs_treatment_log_visit_counts(bigint, text), "
        "programs_treatment_log_refresh(bigint), programs_treatment_log_rebuild(bigint)"
    )
    schema_editor.execute("DROP VIEW IF EXISTS programs_treatment_log_counted")
    schema_editor.execute("DROP VIEW IF EXISTS programs_treatment_day")


def rebuild(*, clinic_id: int | None = None) -> None:
    """Recount the log of every episode (or of one clinic's) from the visits. PostgreSQL only:
    after a bulk load with the triggers off, or to repair."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT programs_treatment_log_rebuild(%s)", [clinic_id])


# --- Reading the log in SQL ------------------------------------------------------------------
# The compliance report needs of each episode only its days with a visit and two sums. Read
# that way, PostgreSQL walks the days, and the report builds one list per episode instead of a
# tuple per day (at 1M visits an active episode has three times the days it has at 10k).

VISITS, UNITS = 1, 2  # positions in a day of the log: ["YYYY-MM-DD", visits, units]


class LoggedVisitDays(Func):
    """The days of a log row's `days` with a completed visit, as a list of dates."""

    template = (
        "ARRAY(SELECT (d->>0)::date FROM jsonb_array_elements(%(expressions)s) d "
        "WHERE (d->>1)::integer > 0)"
    )
    output_field = ArrayField(DateField())


class LoggedSum(Func):
    """The sum of the visits (VISITS) or the units (UNITS) of a log row's `days` from the date
    `first` to the date `last`, each of them a bound only where it is not NULL."""

    output_field = IntegerField()

    def __init__(self, days: Any, position: int, first: Any, last: Any) -> None:
        if position not in (VISITS, UNITS):
            raise ValueError(f"position: {position!r} is neither VISITS nor UNITS")
        super().__init__(days, first, last)
        self.position = position

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        (days, p_days), (first, p_first), (last, p_last) = (
            compiler.compile(expression) for expression in self.get_source_expressions()
        )
        sql = (
            f"(SELECT COALESCE(SUM((d->>{self.position})::integer), 0) "
            f"FROM jsonb_array_elements({days}) d "
            f"WHERE ({first} IS NULL OR (d->>0)::date >= {first}) "
            f"AND ({last} IS NULL OR (d->>0)::date <= {last}))"
        )
        return sql, (*p_days, *p_first, *p_first, *p_last, *p_last)
