"""The beat schedules of the programs tasks, in django_celery_beat's tables (editable in the
admin; see clinic/beat.py)."""

from django.db import migrations

from clinic.beat import schedules_install, schedules_remove

SCHEDULES = (
    ("Dispatch pending follow-ups", "programs.followup_dispatch_due", 5),
    ("Sweep missing summaries and follow-ups", "programs.summary_sweep", 10),
)


def create(apps, schema_editor):
    schedules_install(apps, SCHEDULES)


def remove(apps, schema_editor):
    schedules_remove(apps, SCHEDULES)


class Migration(migrations.Migration):
    dependencies = [
        ("programs", "0006_followups_and_progress_summaries"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create, remove)]
