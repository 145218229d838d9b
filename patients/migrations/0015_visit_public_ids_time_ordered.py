"""New visits get time-ordered public ids (UUID version 7, clinic/ids.py), so their unique index
grows at one end instead of at a random page per booking (issue 11).

A Python default has no SQL: the change is to the migration state only. Left to AlterField,
SQLite would copy both tables into new ones, and drop the triggers on them with the old ones.
The existing ids stay as they are.
"""

from django.db import migrations, models

import clinic.ids

NEW_ID = {"default": clinic.ids.time_ordered_uuid, "editable": False}


class Migration(migrations.Migration):
    dependencies = [
        ("patients", "0014_beat_schedule_for_lost_notices"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="historicalvisit",
                    name="public_id",
                    field=models.UUIDField(**NEW_ID),
                ),
                migrations.AlterField(
                    model_name="visit",
                    name="public_id",
                    field=models.UUIDField(**NEW_ID, unique=True),
                ),
            ],
            database_operations=[],
        ),
    ]
