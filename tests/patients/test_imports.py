"""CSV import of patients: every row is checked first; any bad row means nothing is saved."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clinic.models import Clinic
from patients.imports import patient_import, patient_import_preview
from patients.models import Patient
from patients.services import patient_create
from tests.factories import ClinicFactory, PatientFactory

TOMORROW = (dt.date.today() + dt.timedelta(days=1)).isoformat()
HEADER = "first_name,last_name,date_of_birth,phone,payer_type,consent_sms"


def csv_text(*rows: str, header: str = HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


def valid_rows(count: int) -> list[str]:
    return [
        f"First{n},Last{n},19{50 + n % 50:02d}-0{1 + n % 9}-1{n % 10},860-555-{n:04d},medicare,yes"
        for n in range(count)
    ]


@pytest.fixture
def riverside(db) -> Clinic:
    return ClinicFactory(slug="riverside")


def test_patient_import_saves_every_row_with_generated_mrns(riverside, clinic_admin):
    text = csv_text(
        "Margaret,Holloway,1951-03-14,(860) 555-0111,medicare,yes",
        "Daniel,Okafor,1984-07-02,,commercial,no",
        "Priya,Raman,1992-11-23,860.555.0113,,",
    )

    created = patient_import(clinic=riverside, text=text, by=clinic_admin)

    assert [p.mrn for p in created] == ["RIV-000001", "RIV-000002", "RIV-000003"]
    patients = {p.last_name: p for p in Patient.objects.for_clinic(riverside)}
    assert set(patients) == {"Holloway", "Okafor", "Raman"}
    margaret = patients["Holloway"]
    assert margaret.date_of_birth == dt.date(1951, 3, 14)
    assert (margaret.payer_type, margaret.consent_sms) == ("medicare", True)
    assert patients["Raman"].payer_type == Patient.Payer.OTHER  # blank: the default
    # Searchable like any registered patient, and recorded in the history by the importer.
    assert Patient.objects.for_clinic(riverside).matching("holl 8605550111").get() == margaret
    assert margaret.history.get().history_user == clinic_admin
    # The sequence continues after the import.
    later = patient_create(
        clinic=riverside, by=None, first_name="A", last_name="B", date_of_birth=dt.date(2000, 1, 1)
    )
    assert later.mrn == "RIV-000004"


def test_patient_import_keeps_mrns_given_in_the_file(riverside):
    text = csv_text(
        "Margaret,Holloway,1951-03-14,RIV-000002",
        "Daniel,Okafor,1984-07-02,",
        "Priya,Raman,1992-11-23,",
        header="first_name,last_name,date_of_birth,mrn",
    )
    created = patient_import(clinic=riverside, text=text, by=None)
    assert sorted(p.mrn for p in created) == ["RIV-000001", "RIV-000002", "RIV-000003"]


def test_patient_import_accepts_a_header_with_spaces(riverside):
    text = csv_text("Margaret,Holloway,1951-03-14", header=" first_name , last_name,date_of_birth")
    assert len(patient_import(clinic=riverside, text=text, by=None)) == 1


@pytest.mark.parametrize(
    ("bad_row", "field"),
    [
        (f"Eve,Future,{TOMORROW},,medicare,no", "date_of_birth"),
        ("Eve,Badpayer,1980-01-01,,insurance,no", "payer_type"),
        ("Eve,Baddate,14/03/1951,,medicare,no", "date_of_birth"),
        ("Eve,Badconsent,1980-01-01,,medicare,maybe", "consent_sms"),
        (",Nofirst,1980-01-01,,medicare,no", "first_name"),
    ],
)
def test_patient_import_with_one_bad_row_names_line_and_field_and_saves_nothing(
    riverside, bad_row, field
):
    PatientFactory(clinic=riverside)
    text = csv_text(*valid_rows(3), bad_row, *valid_rows(2))

    preview = patient_import_preview(clinic=riverside, text=text)

    assert not preview.ok
    assert preview.errors == []
    bad = [row for row in preview.rows if row.errors]
    assert [row.line for row in bad] == [5]  # the header is line 1
    assert all(error.startswith(f"{field}: ") for error in bad[0].errors)
    assert preview.error_count == 1
    with pytest.raises(ValidationError, match="nothing was imported"):
        patient_import(clinic=riverside, text=text, by=None)
    assert Patient.objects.count() == 1


def test_patient_import_refuses_an_mrn_twice_in_the_file(riverside):
    text = csv_text(
        "Margaret,Holloway,1951-03-14,X-1",
        "Daniel,Okafor,1984-07-02,X-2",
        "Priya,Raman,1992-11-23,X-1",
        header="first_name,last_name,date_of_birth,mrn",
    )
    preview = patient_import_preview(clinic=riverside, text=text)
    assert [(row.line, row.errors) for row in preview.rows if row.errors] == [
        (4, ["mrn: X-1 is also on line 2."])
    ]
    with pytest.raises(ValidationError):
        patient_import(clinic=riverside, text=text, by=None)
    assert not Patient.objects.exists()


def test_patient_import_refuses_an_mrn_already_taken_in_the_clinic(riverside, other_clinic):
    PatientFactory(clinic=riverside, mrn="X-1")
    PatientFactory(clinic=other_clinic, mrn="X-2")  # another clinic's number is free here
    text = csv_text(
        "Margaret,Holloway,1951-03-14,X-1",
        "Daniel,Okafor,1984-07-02,X-2",
        header="first_name,last_name,date_of_birth,mrn",
    )
    preview = patient_import_preview(clinic=riverside, text=text)
    assert [(row.line, row.errors) for row in preview.rows if row.errors] == [
        (2, ["mrn: another patient of this clinic has the MRN X-1."])
    ]
    with pytest.raises(ValidationError):
        patient_import(clinic=riverside, text=text, by=None)
    assert Patient.objects.count() == 2


def test_patient_import_refuses_an_mrn_longer_than_the_column(riverside):
    text = csv_text(
        f"Margaret,Holloway,1951-03-14,{'X' * 21}", header="first_name,last_name,date_of_birth,mrn"
    )
    preview = patient_import_preview(clinic=riverside, text=text)
    assert [row.line for row in preview.rows if row.errors] == [2]
    assert preview.rows[0].errors[0].startswith("mrn: ")
    with pytest.raises(ValidationError):
        patient_import(clinic=riverside, text=text, by=None)
    assert not Patient.objects.exists()


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("first_name,last_name,phone", "Missing columns: date_of_birth."),
        (
            "first_name,last_name,date_of_birth,favourite_colour",
            "Unknown columns: favourite_colour.",
        ),
        ("first_name,last_name,date_of_birth,search_name", "Unknown columns: search_name."),
        ("first_name,last_name,date_of_birth,clinic", "Unknown columns: clinic."),
    ],
)
def test_patient_import_refuses_a_file_with_wrong_columns(riverside, header, message):
    text = csv_text("Margaret,Holloway,1951-03-14,x", header=header)
    preview = patient_import_preview(clinic=riverside, text=text)
    assert preview.errors == [message]
    assert not preview.ok
    with pytest.raises(ValidationError):
        patient_import(clinic=riverside, text=text, by=None)
    assert not Patient.objects.exists()


def test_patient_import_refuses_a_file_without_rows(riverside):
    preview = patient_import_preview(clinic=riverside, text=csv_text())
    assert preview.errors == ["The file has no rows."]
    with pytest.raises(ValidationError):
        patient_import(clinic=riverside, text="", by=None)


def test_patient_import_lists_every_bad_row(riverside):
    text = csv_text(
        f"Eve,Future,{TOMORROW},,medicare,no",
        *valid_rows(2),
        "Eve,Badpayer,1980-01-01,,insurance,no",
    )
    preview = patient_import_preview(clinic=riverside, text=text)
    assert [(row.line, row.errors[0].split(":")[0]) for row in preview.rows if row.errors] == [
        (2, "date_of_birth"),
        (5, "payer_type"),
    ]
    assert preview.error_count == 2


def test_patient_import_query_count_does_not_grow_with_the_rows(riverside):
    PatientFactory(clinic=riverside)

    def queries_for(rows: int) -> int:
        with CaptureQueriesContext(connection) as queries:
            created = patient_import(clinic=riverside, text=csv_text(*valid_rows(rows)), by=None)
        assert len(created) == rows
        return len(queries)

    small, large = queries_for(5), queries_for(50)
    # Bulk inserts may be split into a batch or two more (SQLite caps parameters per statement).
    assert large - small <= 4, (small, large)
    assert Patient.objects.for_clinic(riverside).count() == 56
