from django.db import migrations

from clinic.signed_guards import immutable_when_signed


class Migration(migrations.Migration):
    dependencies = [("patients", "0006_clinical_record_episodes_evaluations")]

    operations = [immutable_when_signed("patients_evaluation")]
