"""Patient, diagnosis and precaution services and the front-desk search, against the database."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db.models import Model

from clinic.errors import ApplicationError
from patients import selectors, services
from patients.models import Diagnosis, Patient, Precaution, PrecautionKind
from tests.factories import ClinicFactory, DiagnosisFactory, PatientFactory, PrecautionFactory

TODAY = dt.date.today()
DOB = dt.date(1980, 5, 17)


def register(clinic, *, by=None, **fields):
    values = {"first_name": "Ada", "last_name": "Lovelace", "date_of_birth": DOB, **fields}
    return services.patient_create(clinic=clinic, by=by, **values)


def error_fields(exc_info: pytest.ExceptionInfo[ValidationError]) -> set[str]:
    return set(exc_info.value.message_dict)


# --- Registering: medical record numbers ---------------------------------------------------------


def test_patient_create_generates_sequential_mrns_prefixed_by_the_clinic_slug(db):
    riverside = ClinicFactory(slug="riverside")
    mrns = [register(riverside, last_name=f"Doe{n}").mrn for n in range(3)]
    assert mrns == ["RIV-000001", "RIV-000002", "RIV-000003"]


def test_patient_create_mrn_sequences_are_independent_per_clinic(db):
    riverside, harbourside = ClinicFactory(slug="riverside"), ClinicFactory(slug="harbourside")
    register(riverside)
    register(riverside)
    assert register(harbourside).mrn == "HAR-000001"
    assert register(riverside).mrn == "RIV-000003"
    assert register(harbourside).mrn == "HAR-000002"


def test_patient_create_skips_generated_mrns_already_taken_by_an_import(db):
    riverside = ClinicFactory(slug="riverside")
    register(riverside, mrn="RIV-000001")
    register(riverside, mrn="RIV-000002", first_name="Bea")
    assert register(riverside, first_name="Cy").mrn == "RIV-000003"
    mrns = Patient.objects.for_clinic(riverside).values_list("mrn", flat=True)
    assert sorted(mrns) == ["RIV-000001", "RIV-000002", "RIV-000003"]


def test_patient_create_refuses_an_mrn_taken_in_the_clinic(clinic):
    register(clinic, mrn="A-100")
    with pytest.raises(ValidationError) as exc_info:
        register(clinic, mrn="A-100", first_name="Other")
    assert error_fields(exc_info) == {"mrn"}
    assert "A-100" in exc_info.value.message_dict["mrn"][0]
    assert Patient.objects.for_clinic(clinic).count() == 1


def test_patient_create_accepts_an_mrn_taken_in_another_clinic(clinic, other_clinic):
    register(clinic, mrn="A-100")
    assert register(other_clinic, mrn="A-100").mrn == "A-100"


def test_patient_create_refuses_an_mrn_longer_than_the_column(clinic):
    with pytest.raises(ValidationError) as exc_info:
        register(clinic, mrn="X" * 21)
    assert error_fields(exc_info) == {"mrn"}
    assert not Patient.objects.exists()


def test_patient_create_refuses_a_future_date_of_birth(clinic):
    with pytest.raises(ValidationError) as exc_info:
        register(clinic, date_of_birth=TODAY + dt.timedelta(days=1))
    assert error_fields(exc_info) == {"date_of_birth"}
    assert exc_info.value.message_dict["date_of_birth"] == ["Cannot be in the future."]
    assert not Patient.objects.exists()


def test_patient_create_accepts_a_date_of_birth_of_today(clinic):
    assert register(clinic, date_of_birth=TODAY).date_of_birth == TODAY


def test_patient_create_derives_the_search_fields(clinic):
    patient = register(clinic, first_name="José", last_name="De la Cruz", phone="+1 (860) 555-0111")
    patient.refresh_from_db()
    assert patient.search_name == "de la cruz josé"
    assert patient.phone_digits == "18605550111"


def test_patient_create_refuses_fields_it_does_not_know(clinic):
    with pytest.raises(TypeError):
        register(clinic, search_name="smuggled")


def test_patient_create_records_who_registered_the_patient(clinic, receptionist):
    patient = register(clinic, by=receptionist)
    assert patient.history.get().history_user == receptionist


# --- __str__ never carries a name ----------------------------------------------------------------


def test_str_of_patient_rows_and_their_history_shows_the_mrn_and_no_name(clinic):
    patient = register(clinic, first_name="Zebedee", last_name="Quenby", mrn="Q-777")
    diagnosis = services.diagnosis_add(
        patient=patient, by=None, icd10_code="M54.50", description="Low back pain"
    )
    precaution = services.precaution_add(
        patient=patient, kind="malignancy", by=None, body_region="thoracic"
    )
    services.patient_update(patient=patient, by=None, phone="555-0100")
    rows: list[Model] = [
        patient,
        diagnosis,
        precaution,
        *patient.history.all(),
        *diagnosis.history.all(),
        *precaution.history.all(),
    ]
    labels = [str(row) for row in rows]
    assert len(labels) == 7  # the patient was saved twice
    assert all("Zebedee" not in label and "Quenby" not in label for label in labels)
    assert str(patient) == "Patient Q-777"
    assert all("Q-777" in str(row) for row in patient.history.all())
    assert str(diagnosis) == "M54.50"


# --- Updating, archiving, restoring --------------------------------------------------------------


def test_patient_update_changes_fields_and_keeps_the_search_fields_in_step(clinic):
    patient = register(clinic)
    services.patient_update(patient=patient, by=None, last_name="Byron", phone="860.555.0199")
    patient.refresh_from_db()
    assert (patient.last_name, patient.search_name) == ("Byron", "byron ada")
    assert patient.phone_digits == "8605550199"
    assert Patient.objects.for_clinic(clinic).matching("byron").get() == patient


def test_patient_update_refuses_a_future_date_of_birth(clinic):
    patient = register(clinic)
    with pytest.raises(ValidationError) as exc_info:
        services.patient_update(
            patient=patient, by=None, date_of_birth=TODAY + dt.timedelta(days=3)
        )
    assert error_fields(exc_info) == {"date_of_birth"}
    patient.refresh_from_db()
    assert patient.date_of_birth == DOB


def test_patient_update_refuses_an_archived_patient(clinic):
    patient = services.patient_archive(patient=register(clinic), by=None)
    with pytest.raises(ApplicationError) as exc_info:
        services.patient_update(patient=patient, by=None, phone="555-0100")
    assert exc_info.value.code == "archived"
    patient.refresh_from_db()
    assert patient.phone == ""


def test_patient_archive_and_restore(clinic, receptionist):
    patient = register(clinic)
    services.patient_archive(patient=patient, by=receptionist)
    patient.refresh_from_db()
    assert patient.is_archived
    assert not Patient.objects.for_clinic(clinic).active().exists()
    archived_at = patient.archived_at
    assert services.patient_archive(patient=patient, by=None).archived_at == archived_at

    services.patient_restore(patient=patient, by=receptionist)
    patient.refresh_from_db()
    assert not patient.is_archived
    assert Patient.objects.for_clinic(clinic).active().get() == patient
    assert patient.history.latest().history_user == receptionist


# --- Transfer ------------------------------------------------------------------------------------


def test_patient_transfer_moves_the_patient_and_conditions_with_a_new_mrn(db):
    riverside, harbourside = ClinicFactory(slug="riverside"), ClinicFactory(slug="harbourside")
    register(harbourside, first_name="Already", last_name="There")  # HAR-000001
    patient = register(riverside)
    diagnosis = services.diagnosis_add(
        patient=patient, by=None, icd10_code="M51.26", description="Disc displacement"
    )
    precaution = services.precaution_add(patient=patient, kind="pacemaker", by=None)
    assert patient.mrn == "RIV-000001"

    moved = services.patient_transfer(patient=patient, to_clinic=harbourside, by=None)

    patient.refresh_from_db()
    diagnosis.refresh_from_db()
    precaution.refresh_from_db()
    assert moved.pk == patient.pk
    assert (patient.clinic, patient.mrn) == (harbourside, "HAR-000002")
    assert diagnosis.clinic == harbourside
    assert precaution.clinic == harbourside
    assert not Patient.objects.for_clinic(riverside).exists()
    assert list(Diagnosis.objects.for_clinic(harbourside)) == [diagnosis]
    assert list(Precaution.objects.for_clinic(harbourside)) == [precaution]
    # The history keeps where the patient was and under which number.
    first = patient.history.earliest()
    assert (first.clinic_id, first.mrn) == (riverside.pk, "RIV-000001")
    assert (patient.history.latest().clinic_id, patient.history.latest().mrn) == (
        harbourside.pk,
        "HAR-000002",
    )
    assert diagnosis.history.earliest().clinic_id == riverside.pk
    assert diagnosis.history.latest().clinic_id == harbourside.pk
    assert precaution.history.earliest().clinic_id == riverside.pk
    assert precaution.history.latest().clinic_id == harbourside.pk


def test_patient_transfer_refuses_the_same_clinic(clinic):
    patient = register(clinic)
    with pytest.raises(ValidationError) as exc_info:
        services.patient_transfer(patient=patient, to_clinic=clinic, by=None)
    assert error_fields(exc_info) == {"to_clinic"}
    patient.refresh_from_db()
    assert patient.history.count() == 1


def test_patient_transfer_refuses_an_inactive_clinic(clinic):
    closed = ClinicFactory(active=False)
    patient = register(clinic)
    with pytest.raises(ValidationError) as exc_info:
        services.patient_transfer(patient=patient, to_clinic=closed, by=None)
    assert error_fields(exc_info) == {"to_clinic"}
    patient.refresh_from_db()
    assert patient.clinic == clinic


# --- Diagnoses -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("m5126", "M51.26"),
        ("M5126", "M51.26"),
        (" m54.50 ", "M54.50"),
        ("m48061", "M48.061"),
        ("S335XXA", "S33.5XXA"),
        ("M54", "M54"),
    ],
)
def test_diagnosis_add_normalises_the_icd10_code(clinic, typed, stored):
    patient = register(clinic)
    diagnosis = services.diagnosis_add(
        patient=patient, by=None, icd10_code=typed, description="Back"
    )
    diagnosis.refresh_from_db()
    assert diagnosis.icd10_code == stored
    assert diagnosis.clinic == clinic


@pytest.mark.parametrize("code", ["XYZ", "M5.126", "51.26", "M51.26789", "M51..2", "", "M"])
def test_diagnosis_add_refuses_a_malformed_icd10_code(clinic, code):
    patient = register(clinic)
    with pytest.raises(ValidationError) as exc_info:
        services.diagnosis_add(patient=patient, by=None, icd10_code=code, description="Back")
    assert error_fields(exc_info) == {"icd10_code"}
    assert not Diagnosis.objects.exists()


def test_diagnosis_add_refuses_a_future_onset(clinic):
    patient = register(clinic)
    with pytest.raises(ValidationError) as exc_info:
        services.diagnosis_add(
            patient=patient,
            by=None,
            icd10_code="M54.50",
            description="Back",
            onset_date=TODAY + dt.timedelta(days=1),
        )
    assert error_fields(exc_info) == {"onset_date"}


def test_diagnosis_update_refuses_resolution_before_onset(clinic):
    diagnosis = DiagnosisFactory(clinic=clinic, onset_date=TODAY - dt.timedelta(days=10))
    with pytest.raises(ValidationError) as exc_info:
        services.diagnosis_update(
            diagnosis=diagnosis, by=None, resolved_on=TODAY - dt.timedelta(days=20)
        )
    assert error_fields(exc_info) == {"resolved_on"}


def test_diagnosis_update_normalises_the_code(clinic):
    diagnosis = DiagnosisFactory(clinic=clinic)
    services.diagnosis_update(diagnosis=diagnosis, by=None, icd10_code="m48061")
    diagnosis.refresh_from_db()
    assert diagnosis.icd10_code == "M48.061"


# --- Precautions ---------------------------------------------------------------------------------


def test_precaution_add_records_a_shipped_kind(clinic, therapist):
    patient = register(clinic)
    precaution = services.precaution_add(patient=patient, kind="pacemaker", by=therapist)
    precaution.refresh_from_db()
    assert (precaution.kind.code, precaution.clinic, precaution.noted_on) == (
        "pacemaker",
        clinic,
        TODAY,
    )
    assert precaution.history.get().history_user == therapist


def test_precaution_add_refuses_an_unknown_kind(clinic):
    patient = register(clinic)
    with pytest.raises(ValidationError) as exc_info:
        services.precaution_add(patient=patient, kind="vampirism", by=None)
    assert error_fields(exc_info) == {"kind"}
    assert "vampirism" in exc_info.value.message_dict["kind"][0]
    assert not Precaution.objects.exists()


def test_precaution_add_refuses_a_deactivated_kind(clinic):
    PrecautionKind.objects.filter(code="epilepsy").update(active=False)
    with pytest.raises(ValidationError) as exc_info:
        services.precaution_add(patient=register(clinic), kind="epilepsy", by=None)
    assert error_fields(exc_info) == {"kind"}


@pytest.mark.parametrize("kind", ["malignancy", "impaired_sensation", "open_wound", "acute_injury"])
def test_precaution_add_refuses_a_region_kind_without_a_body_region(clinic, kind):
    patient = register(clinic)
    with pytest.raises(ValidationError) as exc_info:
        services.precaution_add(patient=patient, kind=kind, by=None)
    assert error_fields(exc_info) == {"body_region"}
    assert not Precaution.objects.exists()


def test_precaution_add_accepts_a_region_kind_with_its_region(clinic):
    precaution = services.precaution_add(
        patient=register(clinic), kind="malignancy", by=None, body_region="thoracic", side="left"
    )
    assert (precaution.body_region, precaution.side) == ("thoracic", "left")


def test_precaution_add_refuses_an_unknown_body_region(clinic):
    with pytest.raises(ValidationError) as exc_info:
        services.precaution_add(
            patient=register(clinic), kind="malignancy", by=None, body_region="tail"
        )
    assert error_fields(exc_info) == {"body_region"}


def test_precaution_add_refuses_resolution_before_it_was_noted(clinic):
    with pytest.raises(ValidationError) as exc_info:
        services.precaution_add(
            patient=register(clinic),
            kind="dvt",
            by=None,
            noted_on=TODAY - dt.timedelta(days=1),
            resolved_on=TODAY - dt.timedelta(days=5),
        )
    assert error_fields(exc_info) == {"resolved_on"}


def test_precaution_add_accepts_a_kind_an_administrator_added(clinic):
    PrecautionKind.objects.create(code="metal_implant", label="Metal implant", needs_region=True)
    patient = register(clinic)
    with pytest.raises(ValidationError) as exc_info:
        services.precaution_add(patient=patient, kind="metal_implant", by=None)
    assert error_fields(exc_info) == {"body_region"}
    precaution = services.precaution_add(
        patient=patient, kind="metal_implant", by=None, body_region="knee"
    )
    assert precaution.kind.label == "Metal implant"


def test_precaution_update_keeps_the_region_rule(clinic):
    precaution = services.precaution_add(
        patient=register(clinic), kind="open_wound", by=None, body_region="lumbar"
    )
    with pytest.raises(ValidationError) as exc_info:
        services.precaution_update(precaution=precaution, by=None, body_region="")
    assert error_fields(exc_info) == {"body_region"}
    precaution.refresh_from_db()
    assert precaution.body_region == "lumbar"


# --- Search --------------------------------------------------------------------------------------


@pytest.fixture
def front_desk(clinic, other_clinic) -> dict[str, Patient]:
    """Patients of `clinic` (one archived) and a look-alike in `other_clinic`."""
    return {
        "margaret": PatientFactory(
            clinic=clinic,
            mrn="RIV-000101",
            first_name="Margaret",
            last_name="Holloway",
            date_of_birth=dt.date(1951, 3, 14),
            phone="(860) 555-0111",
        ),
        "daniel": PatientFactory(
            clinic=clinic,
            mrn="RIV-000102",
            first_name="Daniel",
            last_name="Okafor",
            date_of_birth=dt.date(1984, 7, 2),
            phone="860.555.0112",
        ),
        "margaret_okafor": PatientFactory(
            clinic=clinic,
            mrn="RIV-000103",
            first_name="Margaret",
            last_name="Okafor",
            date_of_birth=dt.date(1990, 1, 1),
            phone="",
        ),
        "walter": PatientFactory(
            clinic=clinic,
            mrn="RIV-000104",
            first_name="Walter",
            last_name="Holloway",
            date_of_birth=dt.date(1946, 1, 5),
            phone="860-555-0199",
            archived_at=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
        ),
        "elsewhere": PatientFactory(
            clinic=other_clinic,
            mrn="RIV-000101",
            first_name="Margaret",
            last_name="Hollowell",
            date_of_birth=dt.date(1951, 3, 14),
            phone="860-555-0111",
        ),
    }


def found(clinic, query: str, **kwargs) -> list[str]:
    return [
        p.mrn
        for p in selectors.patient_search(clinic=clinic, query=query, **kwargs).order_by("mrn")
    ]


@pytest.mark.parametrize(
    ("query", "mrns"),
    [
        ("holl", ["RIV-000101"]),
        ("HOLLOWAY", ["RIV-000101"]),
        ("oka", ["RIV-000102", "RIV-000103"]),
        ("margaret", ["RIV-000101", "RIV-000103"]),
        ("margaret okafor", ["RIV-000103"]),
        ("Okafor Margaret", ["RIV-000103"]),
        ("marg holl", ["RIV-000101"]),
        ("Holloway, Margaret", ["RIV-000101"]),
        ("margaret smith", []),
        ("1951-03-14", ["RIV-000101"]),
        ("03/14/1951", ["RIV-000101"]),
        ("14.03.1951", ["RIV-000101"]),
        ("holloway 1951-03-14", ["RIV-000101"]),
        ("okafor 1984-07-02", ["RIV-000102"]),
        ("RIV-000102", ["RIV-000102"]),
        ("riv-000102", ["RIV-000102"]),
        ("000103", ["RIV-000103"]),
        ("860-555-0111", ["RIV-000101"]),
        ("(860) 555-0111", ["RIV-000101"]),
        ("8605550111", ["RIV-000101"]),
        ("860.555.0112", ["RIV-000102"]),
        ("555 0112", ["RIV-000102"]),
        ("+1 860 555 0111", ["RIV-000101"]),
        ("(860)555-0112", ["RIV-000102"]),
        ("860 - 555 - 0112", ["RIV-000102"]),
        ("0111", ["RIV-000101"]),
        ("", ["RIV-000101", "RIV-000102", "RIV-000103"]),
    ],
)
def test_patient_search_finds_by_name_birth_date_mrn_and_phone(clinic, front_desk, query, mrns):
    assert found(clinic, query) == mrns


def test_patient_search_leaves_archived_patients_out_unless_asked(clinic, front_desk):
    assert found(clinic, "holloway") == ["RIV-000101"]
    assert found(clinic, "holloway", include_archived=True) == ["RIV-000101", "RIV-000104"]
    assert found(clinic, "860-555-0199") == []
    assert found(clinic, "860-555-0199", include_archived=True) == ["RIV-000104"]


@pytest.mark.parametrize("query", ["hollowell", "1951-03-14", "860-555-0111", "riv-000101", ""])
def test_patient_search_never_returns_another_clinics_patients(
    clinic, other_clinic, front_desk, query
):
    elsewhere = front_desk["elsewhere"]
    for include_archived in (False, True):
        results = selectors.patient_search(
            clinic=clinic, query=query, include_archived=include_archived
        )
        assert elsewhere not in results
    assert elsewhere in selectors.patient_search(clinic=other_clinic, query=query)


def test_patient_search_orders_by_last_then_first_name(clinic, front_desk):
    results = selectors.patient_search(clinic=clinic, query="")
    assert [p.mrn for p in results] == ["RIV-000101", "RIV-000102", "RIV-000103"]


def test_patient_get_is_scoped_to_the_clinic(clinic, other_clinic, front_desk):
    margaret = front_desk["margaret"]
    assert selectors.patient_get(clinic=clinic, public_id=margaret.public_id) == margaret
    assert selectors.patient_get(clinic=clinic, public_id=str(margaret.public_id)) == margaret
    assert selectors.patient_get(clinic=other_clinic, public_id=margaret.public_id) is None
    assert selectors.patient_get(clinic=clinic, public_id="not-a-uuid") is None


# --- Flags for the contraindication check --------------------------------------------------------


def test_patient_flags_lists_current_precautions_and_diagnosis_flags(clinic):
    patient = register(clinic)
    services.precaution_add(patient=patient, kind="pacemaker", by=None)
    services.precaution_add(patient=patient, kind="malignancy", by=None, body_region="thoracic")
    services.precaution_add(
        patient=patient,
        kind="epilepsy",
        by=None,
        noted_on=TODAY - dt.timedelta(days=30),
        resolved_on=TODAY - dt.timedelta(days=1),
    )
    services.diagnosis_add(
        patient=patient,
        by=None,
        icd10_code="M51.26",
        description="Disc displacement",
        onset_date=TODAY - dt.timedelta(days=20),
    )
    services.diagnosis_add(
        patient=patient,
        by=None,
        icd10_code="M48.061",
        description="Stenosis",
        onset_date=TODAY - dt.timedelta(days=400),
    )
    services.diagnosis_add(
        patient=patient,
        by=None,
        icd10_code="G40.909",
        description="Epilepsy",
        resolved_on=TODAY - dt.timedelta(days=2),
    )
    PrecautionFactory(clinic=clinic, kind=PrecautionKind.objects.get(code="pregnancy"))

    flags = selectors.patient_flags(patient=patient)

    assert sorted((f.code, f.region) for f in flags) == [
        ("acute_back_pain", "lumbar"),
        ("lumbar_disc_herniation", ""),
        ("lumbar_spinal_stenosis", ""),
        ("malignancy", "thoracic"),
        ("pacemaker", ""),
    ]
    malignancy = next(f for f in flags if f.code == "malignancy")
    assert "Thoracic" in malignancy.label


def test_patient_flags_acute_back_pain_depends_on_the_day(clinic):
    patient = register(clinic)
    DiagnosisFactory(patient=patient, icd10_code="M54.50", onset_date=dt.date(2026, 1, 10))
    assert [f.code for f in selectors.patient_flags(patient=patient, on=dt.date(2026, 4, 9))] == [
        "acute_back_pain"
    ]
    assert selectors.patient_flags(patient=patient, on=dt.date(2026, 4, 10)) == []


@pytest.mark.parametrize("rows", [1, 8])
def test_patient_flags_takes_two_queries_however_many_rows(clinic, django_assert_num_queries, rows):
    patient = PatientFactory(clinic=clinic)
    kinds = list(PrecautionKind.objects.filter(needs_region=False))[:rows]
    for kind in kinds:
        PrecautionFactory(patient=patient, kind=kind)
    for _ in range(rows):
        DiagnosisFactory(patient=patient, icd10_code="M51.26", onset_date=TODAY)
    patient = Patient.objects.get(pk=patient.pk)

    with django_assert_num_queries(2):
        flags = selectors.patient_flags(patient=patient)

    assert len(flags) == len(kinds) + 2 * rows
