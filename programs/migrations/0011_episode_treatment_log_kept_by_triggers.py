"""Each episode's treatment days, kept by PostgreSQL triggers (programs/treatment_log.py), and
filled from the visits already recorded. On SQLite only the (empty) table is created."""

import django.db.models.deletion
from django.db import migrations, models

from programs import treatment_log


def install_and_fill(apps, schema_editor):
    treatment_log.install(schema_editor)
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("SELECT programs_treatment_log_rebuild(NULL)")


def uninstall(apps, schema_editor):
    treatment_log.uninstall(schema_editor)


class Migration(migrations.Migration):
    dependencies = [
        ("clinic", "0003_clinic_reminder_lead_hours"),
        ("patients", "0014_beat_schedule_for_lost_notices"),
        ("programs", "0010_admin_list_indexes"),
    ]

    operations = [
        migrations.CreateModel(
            name="EpisodeTreatmentLog",
            fields=[
                (
                    "episode",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="treatment_log",
                        serialize=False,
                        to="patients.episodeofcare",
                    ),
                ),
                ("days", models.JSONField(default=list)),
            ],
        ),
        migrations.RunPython(install_and_fill, uninstall),
    ]
