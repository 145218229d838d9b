"""Ship the exercise library of CLINICAL.md section 6 (programs/catalogue_data.py).

Idempotent: update_or_create by the exercise's slug and by (exercise, condition) for its rules.
Reversing is a no-op (prescriptions may point at the exercises by then).
"""

from django.db import migrations

from programs.catalogue_data import EXERCISES


def ship_exercises(apps, schema_editor):
    Exercise = apps.get_model("programs", "Exercise")
    ContraindicationRule = apps.get_model("programs", "ContraindicationRule")
    for data in EXERCISES:
        exercise, _ = Exercise.objects.update_or_create(
            slug=data.slug,
            defaults={
                "name": data.name,
                "category": data.category,
                "body_region": str(data.body_region),
                "instructions": data.instructions,
                "sets": data.sets,
                "reps": data.reps,
                "hold_seconds": data.hold_seconds,
                "minutes": data.minutes,
                "times_per_day": data.times_per_day,
                "days_per_week": data.days_per_week,
                "active": True,
            },
        )
        for rule in data.rules:
            ContraindicationRule.objects.update_or_create(
                exercise=exercise,
                condition=rule.condition,
                defaults={
                    "severity": rule.severity,
                    "reason": rule.reason,
                    "region_scope": rule.region_scope,
                    "regions": [str(r) for r in rule.regions],
                },
            )


class Migration(migrations.Migration):
    dependencies = [("programs", "0002_ship_modality_catalogue")]

    operations = [migrations.RunPython(ship_exercises, migrations.RunPython.noop)]
