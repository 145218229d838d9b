"""The beat schedule that publishes again the cancellation notices whose task was lost
(patients.notices_dispatch), in django_celery_beat's tables, editable in the admin
(clinic/beat.py)."""

from django.db import migrations

from clinic.beat import schedules_install, schedules_remove

SCHEDULES = (("Send cancellation notices whose task was lost", "patients.notices_dispatch", 10),)


def create(apps, schema_editor):
    schedules_install(apps, SCHEDULES)


def remove(apps, schema_editor):
    schedules_remove(apps, SCHEDULES)


class Migration(migrations.Migration):
    dependencies = [
        ("patients", "0013_patient_messages_episode_ended_and_queued"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create, remove)]
