from django.db import migrations

from clinic.signed_guards import immutable_when_signed


class Migration(migrations.Migration):
    dependencies = [("programs", "0004_plan_of_care_and_treatment_notes")]

    operations = [
        immutable_when_signed(
            "programs_treatmentnote",
            children=(
                ("programs_deliveredmodality", "note_id"),
                ("programs_deliveredexercise", "note_id"),
                ("programs_billingline", "note_id"),
            ),
        )
    ]
