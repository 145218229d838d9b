"""Trigram indexes for the front-desk search on PostgreSQL ('LIKE %term%' on names and phones).

SQLite has no such index type; there the B-tree indexes of 0001 serve prefix searches.
"""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

INDEXES = {
    "patients_search_name_trgm": "search_name",
    "patients_phone_digits_trgm": "phone_digits",
    "patients_mrn_trgm": "mrn",
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, column in INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON patients_patient "
            f"USING gin ({column} gin_trgm_ops)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("patients", "0002_shipped_precaution_kinds")]

    operations = [TrigramExtension(), migrations.RunPython(create, drop)]
