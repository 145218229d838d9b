"""Ship the modality catalogue of CLINICAL.md sections 2 and 5 (programs/catalogue_data.py).

Idempotent: update_or_create by the modality's name and by (modality, condition) for its rules.
Reversing removes nothing an administrator may since have linked to: it is a no-op.
"""

from django.db import migrations

from programs.catalogue_data import MODALITIES


def ship_modalities(apps, schema_editor):
    Modality = apps.get_model("programs", "Modality")
    ContraindicationRule = apps.get_model("programs", "ContraindicationRule")
    for data in MODALITIES:
        code = data.code
        modality, _ = Modality.objects.update_or_create(
            name=data.name,
            defaults={
                "kind": data.kind,
                "description": data.description,
                "cpt_code": code.code,
                "medicare_code": code.medicare_code,
                "medicare_bundled": code.medicare_bundled,
                "timed": code.timed,
                "typical_minutes": data.typical_minutes,
                "parameter_spec": data.parameter_spec,
                "active": True,
            },
        )
        for rule in data.rules:
            ContraindicationRule.objects.update_or_create(
                modality=modality,
                condition=rule.condition,
                defaults={
                    "severity": rule.severity,
                    "reason": rule.reason,
                    "region_scope": rule.region_scope,
                    "regions": [str(r) for r in rule.regions],
                },
            )


class Migration(migrations.Migration):
    dependencies = [
        ("programs", "0001_catalogue_modalities_exercises_contraindications"),
        ("patients", "0002_shipped_precaution_kinds"),
    ]

    operations = [migrations.RunPython(ship_modalities, migrations.RunPython.noop)]
