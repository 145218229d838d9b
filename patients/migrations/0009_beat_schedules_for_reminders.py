"""The beat schedules of the patients tasks (visit reminders, no-next-visit nudges), in
django_celery_beat's tables, editable in the admin (clinic/beat.py)."""

from django.db import migrations

from clinic.beat import schedules_install, schedules_remove

SCHEDULES = (
    ("Send visit reminders", "patients.visit_reminders_dispatch", 15),
    ("Nudge patients with no next visit", "patients.no_next_visit_nudges_dispatch", 60),
)


def create(apps, schema_editor):
    schedules_install(apps, SCHEDULES)


def remove(apps, schema_editor):
    schedules_remove(apps, SCHEDULES)


class Migration(migrations.Migration):
    dependencies = [
        ("patients", "0008_patient_messages"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create, remove)]
