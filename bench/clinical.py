# ruff: noqa: S608 - SQL built from this module's constants and the model's column names
"""The clinical history of the seeded calendar: what a chart, a progress summary and the reports
read, written in SQL (`INSERT ... SELECT` over the seeded visits) inside the seed's transaction.

For every episode of care: one active plan of care (twice a week for six to eight weeks,
certified for 90 days and signed by the physician a week in), a short-term and a long-term goal
(the short one met when the episode was discharged). For every completed visit of an episode:

- an initial evaluation, a progress report or a discharge summary (signed by the therapist) when
  the visit is of that kind, and a signed treatment note at every other completed visit, with one
  or two modalities (timed and untimed), two exercises and the billing lines they make;
- the NPRS at every completed visit (pain easing over the episode) and the ODI at every fourth,
  the first included (disability easing likewise), with answers the product can score.

Values come from the visit's id and its number in its episode, not from a random generator, so
the same calendar always gets the same history. The rows go in with the tables' secondary
indexes, unique constraints and foreign keys dropped and rebuilt afterwards (bench.seed.bulk_load),
which validates every reference. Treatment notes take their visit's id, so that their child rows
(modalities, exercises, billing lines) can be written first: the signed-note guard
(clinic.signed_guards) refuses a child row under a note that is already signed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection
from django.db.models import Model
from psycopg import sql

from patients.models import Evaluation, Goal, OutcomeMeasure, Visit
from patients.outcomes import ODI_SECTIONS
from programs.models import (
    BillingLine,
    DeliveredExercise,
    DeliveredModality,
    Exercise,
    Modality,
    PlanOfCare,
    TreatmentNote,
)

CLINICAL_MODELS: tuple[type[Model], ...] = (
    Evaluation,
    PlanOfCare,
    Goal,
    TreatmentNote,
    DeliveredModality,
    DeliveredExercise,
    BillingLine,
    OutcomeMeasure,
)
# Delivered at a treatment visit: one timed modality always, an untimed one at every other visit.
TIMED_CPT = ("97110", "97140", "97112", "97530")
UNTIMED_CPT = ("97010", "97014")
EXERCISES = ("bird-dog", "bridge", "cat-camel", "dead-bug", "pelvic-tilt", "plank", "side-plank")

# The completed visits of episodes, numbered in their episode, with their local date. A CTE
# that every statement below starts from.
COMPLETED = f"""
WITH done AS (
    SELECT v.id, v.clinic_id, v.episode_id, v.patient_id, v.therapist_id, v.kind,
           v.starts_at, v.ends_at, (v.starts_at AT TIME ZONE c.timezone)::date AS day,
           e.billing_rule,
           row_number() OVER (PARTITION BY v.episode_id ORDER BY v.starts_at, v.id) AS n
    FROM patients_visit v
    JOIN clinic_clinic c ON c.id = v.clinic_id
    JOIN patients_episodeofcare e ON e.id = v.episode_id
    WHERE v.status = '{Visit.Status.COMPLETED}' AND v.episode_id IS NOT NULL
)
"""
NOTE_KINDS = (Visit.Kind.TREATMENT,)  # the other kinds of visit get an evaluation
# A version 7 UUID for the time d.ends_at, as the product gives a note signed then
# (clinic/ids.py): a random one with its first 48 bits replaced by the time in milliseconds and
# its version nibble turned from 4 (0100) into 7 (0111).
NOTE_UUID = (
    "encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid()) placing "
    "substring(int8send(floor(extract(epoch FROM d.ends_at) * 1000)::bigint) FROM 3) "
    "FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid"
)


def _columns(table: Any) -> str:
    return ", ".join(connection.ops.quote_name(c) for c in table.columns)


def _defaults(table: Any) -> str:
    """The model's defaults of the columns the statement does not name, as SQL literals (with
    `%` doubled: every statement here has parameters)."""
    raw = connection.connection
    if raw is None:
        raise RuntimeError("Not connected: the clinical seed runs inside the seed's transaction.")
    return "".join(
        ", " + sql.Literal(value).as_string(raw).replace("%", "%%") for value in table.extra
    )


def _insert(model: type[Model], columns: Sequence[str], select: str, params: Sequence[Any]) -> int:
    """INSERT INTO the model's table the SELECT's rows; the columns the SELECT does not give
    get the model's defaults (bench.seed.Table). `params` must not be empty (the `%%`)."""
    if not params:
        raise ValueError("Every statement of the clinical seed takes parameters.")
    from bench.seed import Table

    table = Table(model, columns, identity="id" not in columns)
    statement = (
        f"INSERT INTO {connection.ops.quote_name(table.table)} ({_columns(table)}) "
        f"{select.replace('{defaults}', _defaults(table))}"
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, list(params))
        return int(cursor.rowcount)


def _catalogue() -> tuple[list[int], list[str], list[bool], list[int], list[int]]:
    by_cpt = {
        m.cpt_code: m
        for m in Modality.objects.filter(cpt_code__in=(*TIMED_CPT, *UNTIMED_CPT)).order_by("-pk")
    }
    missing = {*TIMED_CPT, *UNTIMED_CPT} - set(by_cpt)
    exercises = dict(Exercise.objects.filter(slug__in=EXERCISES).values_list("slug", "pk"))
    if missing or len(exercises) != len(EXERCISES):
        raise RuntimeError(
            "bench/clinical.py: the shipped catalogue lacks "
            f"{sorted(missing) + sorted(set(EXERCISES) - set(exercises))}"
        )
    timed = [by_cpt[code].pk for code in TIMED_CPT]
    untimed = [by_cpt[code].pk for code in UNTIMED_CPT]
    modalities = [*timed, *untimed]
    codes = [by_cpt[code].cpt_code for code in (*TIMED_CPT, *UNTIMED_CPT)]
    flags = [by_cpt[code].timed for code in (*TIMED_CPT, *UNTIMED_CPT)]
    return modalities, codes, flags, [len(timed)], [exercises[slug] for slug in EXERCISES]


def seed_clinical(now: Any) -> dict[str, int]:
    """Write the clinical history of every seeded episode (call inside the seed's transaction,
    under bench.seed.bulk_load(*CLINICAL_MODELS)). Returns rows per table."""
    rows: dict[str, int] = {}
    modalities, codes, timed, (timed_count,), exercises = _catalogue()
    # Local arrays: modality ids, their CPT codes and whether timed, indexed from 1.
    catalogue = "(SELECT %s::bigint[] AS m, %s::text[] AS code, %s::boolean[] AS timed) cat"
    catalogue_params = [modalities, codes, timed]

    rows["programs_planofcare"] = _insert(
        PlanOfCare,
        [
            "created_at",
            "updated_at",
            "public_id",
            "clinic_id",
            "episode_id",
            "version",
            "status",
            "frequency_per_week",
            "duration_weeks",
            "starts_on",
            "first_treatment_on",
            "certified_until",
            "physician_name",
            "physician_signed_on",
            "notes",
            "created_by_id",
        ],
        "SELECT %s, %s, gen_random_uuid(), e.clinic_id, e.id, 1, %s, 2, 6 + e.id %% 3, "
        "e.started_on, e.started_on, e.started_on + 89, 'Dr. Referrer', e.started_on + 7, "
        "'Lumbar stabilisation, manual therapy, graded activity.', e.therapist_id{defaults} "
        "FROM patients_episodeofcare e",
        [now, now, PlanOfCare.Status.ACTIVE],
    )
    rows["patients_goal"] = _insert(
        Goal,
        [
            *("created_at", "updated_at", "public_id", "clinic_id", "episode_id", "term"),
            *("description", "target_date", "status"),
        ],
        "SELECT %s, %s, gen_random_uuid(), e.clinic_id, e.id, g.term, g.description, "
        "e.started_on + g.days, CASE WHEN g.term = 'short' AND e.status = 'discharged' "
        "THEN 'met' ELSE 'progressing' END{defaults} "
        "FROM patients_episodeofcare e CROSS JOIN (VALUES "
        "('short', 'Pain at most 3/10 on the NPRS when sitting for 30 minutes', 28), "
        "('long', 'ODI below 20%% and back to full duties at work', 56)) "
        "g(term, description, days)",
        [now, now],
    )
    kinds = {
        Visit.Kind.INITIAL_EVALUATION: Evaluation.Kind.INITIAL,
        Visit.Kind.PROGRESS_REPORT: Evaluation.Kind.PROGRESS_REPORT,
        Visit.Kind.DISCHARGE: Evaluation.Kind.DISCHARGE,
    }
    kind_case = " ".join(f"WHEN '{visit}' THEN '{ev}'" for visit, ev in kinds.items())
    rows["patients_evaluation"] = _insert(
        Evaluation,
        [
            "created_at",
            "updated_at",
            "public_id",
            "clinic_id",
            "episode_id",
            "visit_id",
            "kind",
            "author_id",
            "performed_on",
            "complexity",
            "assessment",
            "plan",
            "status",
            "version",
            "signed_at",
            "signed_by_id",
        ],
        COMPLETED
        + f"SELECT d.ends_at, d.ends_at, gen_random_uuid(), d.clinic_id, d.episode_id, d.id, "
        f"CASE d.kind {kind_case} END, d.therapist_id, d.day, "
        f"CASE WHEN d.kind = '{Visit.Kind.INITIAL_EVALUATION}' THEN 'moderate' ELSE '' END, "
        "'Mechanical low back pain, improving with loading.', 'Continue the plan of care.', "
        "'signed', 2, d.ends_at, d.therapist_id{defaults} FROM done d "
        "WHERE d.kind = ANY(%s)",
        [list(kinds)],
    )
    treatment = "d.kind = ANY(%s)"
    # Children first (the note ids are the visits' ids), then the signed notes.
    rows["programs_deliveredmodality"] = _insert(
        DeliveredModality,
        ["note_id", "modality_id", "parameters", "minutes", "body_region"],
        COMPLETED + "SELECT d.id, cat.m[x.pick], '{}'::jsonb, x.minutes, 'lumbar'{defaults} "
        f"FROM done d CROSS JOIN {catalogue} CROSS JOIN LATERAL (VALUES "
        f"(1 + (d.id %% {timed_count})::int, 15 + (d.id %% 3)::int * 8), "
        f"({timed_count + 1} + (d.id %% 2)::int, 15)) x(pick, minutes) "
        f"WHERE {treatment} AND (x.pick <= {timed_count} OR d.n %% 2 = 0)",
        [*catalogue_params, list(NOTE_KINDS)],
    )
    rows["programs_deliveredexercise"] = _insert(
        DeliveredExercise,
        ["note_id", "exercise_id", "sets", "reps"],
        COMPLETED + "SELECT d.id, (%s::bigint[])[1 + ((d.id + x.k) %% %s)::int], 3, 10{defaults} "
        f"FROM done d CROSS JOIN (VALUES (0), (3)) x(k) WHERE {treatment}",
        [exercises, len(exercises), list(NOTE_KINDS)],
    )
    rows["programs_billingline"] = _insert(
        BillingLine,
        ["note_id", "cpt_code", "minutes", "units", "timed", "modifiers"],
        "SELECT dm.note_id, cat.code[i.pos], dm.minutes, "
        "CASE WHEN cat.timed[i.pos] THEN GREATEST(1, (dm.minutes + 7) / 15) ELSE 1 END, "
        "cat.timed[i.pos], 'GP'{defaults} "
        f"FROM programs_deliveredmodality dm CROSS JOIN {catalogue} "
        "CROSS JOIN LATERAL (SELECT array_position(cat.m, dm.modality_id) AS pos) i",
        catalogue_params,
    )
    rows["programs_treatmentnote"] = _insert(
        TreatmentNote,
        [
            "id",
            "created_at",
            "updated_at",
            "public_id",
            "clinic_id",
            "visit_id",
            "episode_id",
            "author_id",
            "subjective",
            "assessment",
            "notes",
            "billing_rule",
            "status",
            "version",
            "signed_at",
            "signed_by_id",
        ],
        COMPLETED + f"SELECT d.id, d.ends_at, d.ends_at, {NOTE_UUID}, d.clinic_id, d.id, "
        "d.episode_id, d.therapist_id, 'Pain easing; sleeping better.', "
        "'Tolerated loading well.', '', d.billing_rule, 'signed', 2, d.ends_at, "
        f"d.therapist_id{{defaults}} FROM done d WHERE {treatment}",
        [list(NOTE_KINDS)],
    )
    sections = ", ".join(f"'{code}', x.level" for code in ODI_SECTIONS)
    rows["patients_outcomemeasure"] = _insert(
        OutcomeMeasure,
        [
            "created_at",
            "updated_at",
            "public_id",
            "clinic_id",
            "episode_id",
            "visit_id",
            "instrument",
            "version",
            "answers",
            "score",
            "recorded_on",
            "recorded_by_id",
            "entered_in_error",
        ],
        COMPLETED
        + "SELECT d.ends_at, d.ends_at, gen_random_uuid(), d.clinic_id, d.episode_id, d.id, "
        "x.instrument, x.version, x.answers, x.score, d.day, d.therapist_id, false{defaults} "
        "FROM done d CROSS JOIN LATERAL (SELECT GREATEST(1, 7 + (d.episode_id %% 3)::int "
        "- (d.n / 2)::int) AS pain, GREATEST(0, 3 - (d.n / 5)::int) AS level) p "
        "CROSS JOIN LATERAL (SELECT %s::text AS instrument, '0-10'::text AS version, "
        "jsonb_build_object('pain', p.pain) AS answers, p.pain::numeric AS score "
        "UNION ALL SELECT %s, '2.1a', jsonb_build_object('sections', "
        f"jsonb_build_object({sections.replace('x.level', 'p.level')})), p.level * 20.0 "
        "WHERE d.n %% 4 = 1) x",
        [OutcomeMeasure.Instrument.NPRS, OutcomeMeasure.Instrument.ODI],
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('programs_treatmentnote', 'id'), "
            "(SELECT COALESCE(MAX(id), 1) FROM programs_treatmentnote))"
        )
    return rows
