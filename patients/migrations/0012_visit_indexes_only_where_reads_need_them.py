"""Drop the visit's single-column indexes that a booking maintains and no read needs (issue 11).

On `patients_visit`, the keys clinic, patient, therapist and room each lead a composite index
(clinic_day, patient, therapist_day, room_day) that serves every lookup the single-column one
did, cascades included. The episode's own index stays: the planner reads it, not the larger
episode_status, for the compliance report's visits of active episodes. On `patients_historicalvisit`, the copies of the
keys and of public_id are never filtered on: the history is read by visit id and by date.

Only the state goes through AlterField: on PostgreSQL, Django's AlterField of a foreign key's
db_index re-creates the constraint (a full validation of the table) and leaves the index in
place. The database side drops the indexes themselves, found by what they index, on PostgreSQL
and SQLite alike; going back creates them again.
"""

import uuid

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

DROPPED = {
    "visit": ["clinic", "patient", "therapist", "room"],
    "historicalvisit": [
        "public_id",
        "clinic",
        "patient",
        "therapist",
        "room",
        "series",
        "episode",
        "booked_by",
    ],
}


def _single_column_indexes(schema_editor, model, column):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, model._meta.db_table)
    return [
        name
        for name, info in constraints.items()
        if info["index"]
        and not info["unique"]
        and not info["primary_key"]
        and info["columns"] == [column]
    ]


def drop(apps, schema_editor):
    quote = schema_editor.quote_name
    for model_name, fields in DROPPED.items():
        model = apps.get_model("patients", model_name)
        for field in fields:
            column = model._meta.get_field(field).column
            for name in _single_column_indexes(schema_editor, model, column):
                schema_editor.execute(f"DROP INDEX {quote(name)}")


def create(apps, schema_editor):
    for model_name, fields in DROPPED.items():
        model = apps.get_model("patients", model_name)
        for field in fields:
            column = model._meta.get_field(field).column
            if not _single_column_indexes(schema_editor, model, column):
                name = schema_editor._create_index_name(model._meta.db_table, [column])
                schema_editor.add_index(model, models.Index(fields=[field], name=name))


class Migration(migrations.Migration):
    dependencies = [
        ("clinic", "0003_clinic_reminder_lead_hours"),
        ("patients", "0011_indexes_behind_the_reports"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="historicalvisit",
                    name="booked_by",
                    field=models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                migrations.AlterField(
                    model_name="historicalvisit",
                    name="clinic",
                    field=models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="clinic.clinic",
                    ),
                ),
                migrations.AlterField(
                    model_name="historicalvisit",
                    name="episode",
                    field=models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="patients.episodeofcare",
                    ),
                ),
                migrations.AlterField(
                    model_name="historicalvisit",
                    name="patient",
                    field=models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="patients.patient",
                    ),
                ),
                migrations.AlterField(
                    model_name="historicalvisit",
                    name="public_id",
                    field=models.UUIDField(default=uuid.uuid4, editable=False),
                ),
                migrations.AlterField(
                    model_name="historicalvisit",
                    name="room",
                    field=models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="clinic.room",
                    ),
                ),
                migrations.AlterField(
                    model_name="historicalvisit",
                    name="series",
                    field=models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="patients.visitseries",
                    ),
                ),
                migrations.AlterField(
                    model_name="historicalvisit",
                    name="therapist",
                    field=models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                migrations.AlterField(
                    model_name="visit",
                    name="clinic",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="visits",
                        to="clinic.clinic",
                    ),
                ),
                migrations.AlterField(
                    model_name="visit",
                    name="patient",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="visits",
                        to="patients.patient",
                    ),
                ),
                migrations.AlterField(
                    model_name="visit",
                    name="room",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="visits",
                        to="clinic.room",
                    ),
                ),
                migrations.AlterField(
                    model_name="visit",
                    name="therapist",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="visits",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            database_operations=[migrations.RunPython(drop, create)],
        ),
    ]
