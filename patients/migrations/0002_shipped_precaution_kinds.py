from django.db import migrations

from patients.vocabulary import SHIPPED_PRECAUTION_KINDS


def add_kinds(apps, schema_editor):
    PrecautionKind = apps.get_model("patients", "PrecautionKind")
    for code, label, needs_region in SHIPPED_PRECAUTION_KINDS:
        PrecautionKind.objects.update_or_create(
            code=code, defaults={"label": label, "needs_region": needs_region}
        )


def remove_kinds(apps, schema_editor):
    PrecautionKind = apps.get_model("patients", "PrecautionKind")
    PrecautionKind.objects.filter(code__in=[c for c, _, _ in SHIPPED_PRECAUTION_KINDS]).delete()


class Migration(migrations.Migration):
    dependencies = [("patients", "0001_patients_diagnoses_precautions")]

    operations = [migrations.RunPython(add_kinds, remove_kinds)]
