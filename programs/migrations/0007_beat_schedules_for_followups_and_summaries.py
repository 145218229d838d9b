"""The beat schedules of the programs tasks, in django_celery_beat's tables (editable in the
admin). Idempotent: an existing schedule of the same name is left as an administrator set it."""

from django.db import migrations

SCHEDULES = (
    ("Dispatch pending follow-ups", "programs.followup_dispatch_due", 5),
    ("Sweep missing summaries and follow-ups", "programs.summary_sweep", 10),
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
        ("programs", "0006_followups_and_progress_summaries"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create, remove)]
