"""No double booking, enforced by PostgreSQL itself: exclusion constraints over half-open time
ranges ('[)', so back-to-back visits are fine) per therapist, per room and per patient, for the
visits that hold their time (booked, checked in, completed).

SQLite has no such constraint; there the booking service runs under IMMEDIATE transactions, which
serialise every booking on the database's write lock.
"""

from django.contrib.postgres.operations import BtreeGistExtension
from django.db import migrations

OCCUPYING = "status IN ('booked', 'checked_in', 'completed')"

CONSTRAINTS = {
    "patients_visit_no_therapist_overlap": ("therapist_id", OCCUPYING),
    "patients_visit_no_room_overlap": ("room_id", f"room_id IS NOT NULL AND {OCCUPYING}"),
    "patients_visit_no_patient_overlap": ("patient_id", OCCUPYING),
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, (column, where) in CONSTRAINTS.items():
        schema_editor.execute(
            f"ALTER TABLE patients_visit ADD CONSTRAINT {name} EXCLUDE USING gist "
            f"({column} WITH =, tstzrange(starts_at, ends_at, '[)') WITH &&) WHERE ({where})"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in CONSTRAINTS:
        schema_editor.execute(f"ALTER TABLE patients_visit DROP CONSTRAINT IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("patients", "0004_visits_and_series")]

    operations = [BtreeGistExtension(), migrations.RunPython(create, drop)]
