"""The front-desk search on PostgreSQL: trigram indexes exist and serve 'contains' matches.

PostgreSQL only; CI runs the suite on PostgreSQL, so these run there.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection

from patients.models import Patient
from patients.selectors import patient_search
from patients.services import derive_search_fields
from tests.factories import ClinicFactory

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="trigram indexes: PostgreSQL"),
]

TRIGRAM_INDEXES = {
    "patients_search_name_trgm": "search_name",
    "patients_phone_digits_trgm": "phone_digits",
    "patients_mrn_trgm": "mrn",
}


@pytest.mark.django_db
def test_trigram_indexes_exist():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'patients_patient'"
        )
        indexes = dict(cursor.fetchall())
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")
        assert cursor.fetchone() is not None
    for name, column in TRIGRAM_INDEXES.items():
        assert name in indexes
        assert "USING gin" in indexes[name]
        assert f"({column} gin_trgm_ops)" in indexes[name]


@pytest.mark.django_db
def test_name_search_uses_the_trigram_index():
    clinic = ClinicFactory()
    other = ClinicFactory()
    patients = []
    for n in range(2000):
        patient = Patient(
            clinic=clinic if n % 4 else other,
            mrn=f"T-{n:06d}",
            first_name=f"First{n}",
            last_name=f"Family{n:04d}",
            date_of_birth=dt.date(1950, 1, 1) + dt.timedelta(days=n * 7),
            phone=f"860-555-{n:04d}",
        )
        derive_search_fields(patient)
        patients.append(patient)
    Patient.objects.bulk_create(patients)
    with connection.cursor() as cursor:
        # Rows inserted since the index was built wait in GIN's pending list, which the planner
        # prices high until (auto)vacuum merges it; merge it now, as production would have.
        for name in TRIGRAM_INDEXES:
            cursor.execute("SELECT gin_clean_pending_list(%s::regclass)", [name])
        cursor.execute("ANALYZE patients_patient")
        cursor.execute("SET LOCAL enable_seqscan = off")

    by_name = patient_search(clinic=clinic, query="ily1234")
    by_phone = patient_search(clinic=clinic, query="555-1234")

    plan = by_name.explain()
    assert "patients_search_name_trgm" in plan, plan
    assert [p.last_name for p in by_name] == ["Family1234"]
    plan = by_phone.explain()
    assert "patients_phone_digits_trgm" in plan, plan
    assert [p.last_name for p in by_phone] == ["Family1234"]
