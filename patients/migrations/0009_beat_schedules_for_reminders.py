"""The beat schedules of the patients tasks (visit reminders, no-next-visit nudges), in
django_celery_beat's tables, editable in the admin. Idempotent: an existing schedule of the same
name is left as an administrator set it."""

from django.db import migrations

SCHEDULES = (
    ("Send visit reminders", "patients.visit_reminders_dispatch", 15),
    ("Nudge patients with no next visit", "patients.no_next_visit_nudges_dispatch", 60),
)


def create(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, task, minutes in SCHEDULES:
        if PeriodicTask.objects.filter(name=name).exists():
            continue
        interval, _ = IntervalSchedule.objects.get_or_create(every=minutes, period="minutes")
        PeriodicTask.objects.create(name=name, task=task, interval=interval, enabled=True)


def remove(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name__in=[name for name, _, _ in SCHEDULES]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("patients", "0008_patient_messages"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create, remove)]
