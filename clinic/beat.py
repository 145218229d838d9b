"""The periodic jobs' default schedules, written by the apps' migrations into django-celery-beat's
tables, where administrators see and edit them (admin, *Periodic tasks*).

`schedules_install` is idempotent: a schedule of the same name is left as an administrator set
it. Each schedule is `(name, task, every_minutes)`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

Schedule = tuple[str, str, int]


def schedules_install(apps: Any, schedules: Iterable[Schedule]) -> None:
    """For a migration's RunPython: create the periodic tasks that do not exist yet."""
    interval_schedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    periodic_task = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, task, minutes in schedules:
        if periodic_task.objects.filter(name=name).exists():
            continue
        interval, _ = interval_schedule.objects.get_or_create(every=minutes, period="minutes")
        periodic_task.objects.create(name=name, task=task, interval=interval, enabled=True)


def schedules_remove(apps: Any, schedules: Iterable[Schedule]) -> None:
    """The reverse: delete the periodic tasks by name."""
    periodic_task = apps.get_model("django_celery_beat", "PeriodicTask")
    periodic_task.objects.filter(name__in=[name for name, _, _ in schedules]).delete()
