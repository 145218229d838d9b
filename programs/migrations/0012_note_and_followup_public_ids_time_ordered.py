"""New treatment notes and follow-ups get time-ordered public ids (UUID version 7,
clinic/ids.py), like visits (patients 0015).

A Python default has no SQL: the change is to the migration state only. Left to AlterField,
SQLite would copy the four tables into new ones, and drop the triggers that keep signed notes
unchanged with the old ones. The existing ids stay as they are.
"""

from django.db import migrations, models

import clinic.ids

NEW_ID = {"default": clinic.ids.time_ordered_uuid, "editable": False}


class Migration(migrations.Migration):
    dependencies = [
        ("programs", "0011_episode_treatment_log_kept_by_triggers"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name=model,
                    name="public_id",
                    field=models.UUIDField(**NEW_ID, unique=True),
                )
                for model in ("followup", "treatmentnote")
            ]
            + [
                migrations.AlterField(
                    model_name=model,
                    name="public_id",
                    field=models.UUIDField(**NEW_ID, db_index=True),
                )
                for model in ("historicalfollowup", "historicaltreatmentnote")
            ],
            database_operations=[],
        ),
    ]
