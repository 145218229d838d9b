"""Patients API: wiring, permissions, status codes, error bodies and query counts."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clinic.capabilities import Role
from patients.models import Diagnosis, Patient, Precaution, PrecautionKind
from patients.vocabulary import SHIPPED_PRECAUTION_KINDS
from tests.factories import (
    DiagnosisFactory,
    MembershipFactory,
    PatientFactory,
    PrecautionFactory,
    UserFactory,
    therapist_in,
)

# Every test here uses the database, some only through request.getfixturevalue(): the mark makes
# pytest-django run them before the transactional tests, whose flush empties the shipped rows.
pytestmark = pytest.mark.django_db

TOMORROW = dt.date.today() + dt.timedelta(days=1)
NEW_PATIENT = {
    "first_name": "Margaret",
    "last_name": "Holloway",
    "date_of_birth": "1951-03-14",
    "sex": "female",
    "phone": "(860) 555-0111",
    "payer_type": "medicare",
}


def patients_url(clinic, patient=None, suffix: str = "") -> str:
    url = f"/api/v1/clinics/{clinic.public_id}/patients/"
    if patient is not None:
        url += f"{getattr(patient, 'public_id', patient)}/"
    return url + suffix


def search(client, clinic, q: str, **params):
    """POST a patient search (names never go in a URL); `params` go in the query (paging)."""
    query = "&".join(f"{k}={v}" for k, v in params.items())
    url = patients_url(clinic, suffix="search/") + (f"?{query}" if query else "")
    return client.post(url, {"q": q}, format="json")


def assert_error(response, status: int, field: str) -> None:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"detail", "code", "errors"}
    assert body["code"] == "invalid"
    assert list(body["errors"]) == [field]
    assert all(isinstance(reason, str) for reason in body["errors"][field])
    assert body["detail"].startswith(f"{field}: ")


@pytest.fixture
def desk(client_for, receptionist):
    return client_for(receptionist)


@pytest.fixture
def pt(client_for, therapist):
    return client_for(therapist)


@pytest.fixture
def patient(clinic):
    return PatientFactory(clinic=clinic, first_name="Margaret", last_name="Holloway")


@pytest.fixture
def other_patient(other_clinic):
    return PatientFactory(clinic=other_clinic)


# --- Registering and finding (the front desk) ----------------------------------------------------


def test_patient_create_as_receptionist_generates_the_mrn(clinic, desk, receptionist):
    response = desk.post(patients_url(clinic), {**NEW_PATIENT, "mrn": "MINE-1"}, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    patient = Patient.objects.for_clinic(clinic).get()
    assert body["id"] == str(patient.public_id)
    assert body["mrn"] == patient.mrn != "MINE-1"
    assert body["precautions"] == []
    assert body["archived"] is False
    assert "diagnoses" not in body
    assert patient.history.get().history_user == receptionist
    assert patient.phone_digits == "8605550111"


def test_patient_create_refuses_a_future_date_of_birth(clinic, desk):
    response = desk.post(
        patients_url(clinic), {**NEW_PATIENT, "date_of_birth": TOMORROW.isoformat()}
    )
    assert_error(response, 400, "date_of_birth")
    assert "future" in response.json()["errors"]["date_of_birth"][0]
    assert not Patient.objects.exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("payer_type", "insurance"),
        ("sex", "x"),
        ("date_of_birth", "14/03/1951"),
        ("email", "not-an-email"),
        ("first_name", ""),
    ],
)
def test_patient_create_refuses_bad_values_naming_the_field(clinic, desk, field, value):
    response = desk.post(patients_url(clinic), {**NEW_PATIENT, field: value})
    assert_error(response, 400, field)
    assert not Patient.objects.exists()


def test_patient_list_searches_and_pages(clinic, desk, patient):
    PatientFactory(clinic=clinic, first_name="Walter", last_name="Hollis")
    PatientFactory(clinic=clinic, first_name="Daniel", last_name="Okafor")

    response = search(desk, clinic, "holl", page_size=1)

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert [row["last_name"] for row in body["results"]] == ["Hollis"]
    assert body["next"] is not None
    assert "precautions" not in body["results"][0]
    second = desk.post(body["next"], {"q": "holl"}, format="json").json()
    assert [row["last_name"] for row in second["results"]] == ["Holloway"]
    assert search(desk, clinic, "okafor daniel").json()["count"] == 1
    assert desk.get(patients_url(clinic)).json()["count"] == 3


def test_patient_list_finds_by_date_of_birth_and_phone(clinic, desk):
    PatientFactory(clinic=clinic, date_of_birth=dt.date(1951, 3, 14), phone="860-555-0111")
    PatientFactory(clinic=clinic, date_of_birth=dt.date(1960, 1, 1), phone="860-555-0222")
    for q in ("03/14/1951", "1951-03-14", "(860) 555-0111"):
        assert search(desk, clinic, q).json()["count"] == 1, q


def test_patient_retrieve_includes_current_precautions(clinic, desk, patient):
    PrecautionFactory(patient=patient, kind=PrecautionKind.objects.get(code="pacemaker"))
    PrecautionFactory(
        patient=patient,
        kind=PrecautionKind.objects.get(code="malignancy"),
        body_region="thoracic",
    )
    PrecautionFactory(
        patient=patient,
        noted_on=dt.date(2024, 1, 1),
        resolved_on=dt.date(2024, 6, 1),
    )
    DiagnosisFactory(patient=patient)

    response = desk.get(patients_url(clinic, patient))

    assert response.status_code == 200
    body = response.json()
    assert body["mrn"] == patient.mrn
    assert sorted((p["kind"], p["body_region"]) for p in body["precautions"]) == [
        ("malignancy", "thoracic"),
        ("pacemaker", ""),
    ]
    assert {p["kind_label"] for p in body["precautions"]} == {
        "Malignancy",
        "Pacemaker or implanted defibrillator",
    }
    assert "diagnoses" not in body


def test_patient_patch_updates_and_keeps_search_in_step(clinic, desk, patient):
    response = desk.patch(patients_url(clinic, patient), {"last_name": "Byron"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["last_name"] == "Byron"
    assert [row["id"] for row in search(desk, clinic, "byron").json()["results"]]
    patient.refresh_from_db()
    assert patient.search_name.startswith("byron")


def test_patient_patch_refuses_a_future_date_of_birth(clinic, desk, patient):
    response = desk.patch(patients_url(clinic, patient), {"date_of_birth": TOMORROW.isoformat()})
    assert_error(response, 400, "date_of_birth")
    patient.refresh_from_db()
    assert patient.date_of_birth != TOMORROW


def test_patient_archive_and_restore(clinic, desk, patient):
    response = desk.post(patients_url(clinic, patient, "archive/"))
    assert response.status_code == 200
    assert response.json()["archived"] is True
    assert desk.get(patients_url(clinic)).json()["count"] == 0
    assert desk.get(patients_url(clinic), {"include_archived": "true"}).json()["count"] == 1

    refused = desk.patch(patients_url(clinic, patient), {"phone": "555"}, format="json")
    assert refused.status_code == 400
    assert refused.json()["code"] == "archived"

    response = desk.post(patients_url(clinic, patient, "restore/"))
    assert response.status_code == 200
    assert response.json()["archived"] is False
    assert desk.get(patients_url(clinic)).json()["count"] == 1


def test_patient_delete_is_not_offered(clinic, desk, patient):
    assert desk.delete(patients_url(clinic, patient)).status_code == 405
    assert Patient.objects.filter(pk=patient.pk).exists()


# --- Diagnoses and precautions: who may read and write ---------------------------------------


def test_receptionist_may_not_read_diagnoses_but_reads_precautions(clinic, desk, patient):
    DiagnosisFactory(patient=patient)
    PrecautionFactory(patient=patient)

    denied = desk.get(patients_url(clinic, patient, "diagnoses/"))
    assert denied.status_code == 403
    assert set(denied.json()) == {"detail", "code"}

    response = desk.get(patients_url(clinic, patient, "precautions/"))
    assert response.status_code == 200
    assert [row["kind"] for row in response.json()["results"]] == ["dvt"]


def test_receptionist_may_not_record_precautions_or_diagnoses(clinic, desk, patient):
    response = desk.post(patients_url(clinic, patient, "precautions/"), {"kind": "pacemaker"})
    assert response.status_code == 403
    response = desk.post(
        patients_url(clinic, patient, "diagnoses/"),
        {"icd10_code": "M54.50", "description": "Low back pain"},
    )
    assert response.status_code == 403
    assert not Precaution.objects.exists()
    assert not Diagnosis.objects.exists()


def test_therapist_records_a_diagnosis_with_a_normalised_code(clinic, pt, patient, therapist):
    response = pt.post(
        patients_url(clinic, patient, "diagnoses/"),
        {
            "icd10_code": "m5126",
            "description": "Other intervertebral disc displacement, lumbar",
            "onset_date": (dt.date.today() - dt.timedelta(days=10)).isoformat(),
            "side": "left",
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["icd10_code"], body["acute"], body["side"]) == ("M51.26", True, "left")
    diagnosis = Diagnosis.objects.get()
    assert (diagnosis.clinic, diagnosis.patient) == (clinic, patient)
    assert diagnosis.history.get().history_user == therapist
    listed = pt.get(patients_url(clinic, patient, "diagnoses/")).json()["results"]
    assert [row["id"] for row in listed] == [str(diagnosis.public_id)]


@pytest.mark.parametrize("code", ["M5.A1", "XYZ", "5M1.26", "M51.2.6", "M51.26789"])
def test_therapist_diagnosis_with_a_malformed_code_is_refused(clinic, pt, patient, code):
    response = pt.post(
        patients_url(clinic, patient, "diagnoses/"),
        {"icd10_code": code, "description": "Back pain"},
    )
    assert_error(response, 400, "icd10_code")
    assert not Diagnosis.objects.exists()


def test_therapist_diagnosis_with_a_future_onset_is_refused(clinic, pt, patient):
    response = pt.post(
        patients_url(clinic, patient, "diagnoses/"),
        {"icd10_code": "M54.50", "description": "Back pain", "onset_date": TOMORROW.isoformat()},
    )
    assert_error(response, 400, "onset_date")


def test_therapist_diagnosis_update_refuses_resolution_before_onset(clinic, pt, patient):
    diagnosis = DiagnosisFactory(patient=patient, onset_date=dt.date(2025, 3, 1))
    url = patients_url(clinic, patient, f"diagnoses/{diagnosis.public_id}/")
    assert_error(pt.patch(url, {"resolved_on": "2025-02-01"}), 400, "resolved_on")
    response = pt.patch(url, {"resolved_on": "2025-04-01"})
    assert response.status_code == 200
    assert response.json()["resolved_on"] == "2025-04-01"


def test_therapist_records_a_precaution(clinic, pt, patient):
    response = pt.post(
        patients_url(clinic, patient, "precautions/"),
        {"kind": "malignancy", "body_region": "thoracic"},
    )
    assert response.status_code == 201, response.content
    assert response.json()["kind_label"] == "Malignancy"
    precaution = Precaution.objects.get()
    assert (precaution.clinic, precaution.body_region) == (clinic, "thoracic")


def test_therapist_precaution_of_an_unknown_kind_is_refused(clinic, pt, patient):
    response = pt.post(patients_url(clinic, patient, "precautions/"), {"kind": "vampirism"})
    assert_error(response, 400, "kind")
    assert not Precaution.objects.exists()


def test_therapist_precaution_needing_a_region_without_one_is_refused(clinic, pt, patient):
    response = pt.post(patients_url(clinic, patient, "precautions/"), {"kind": "malignancy"})
    assert_error(response, 400, "body_region")
    assert not Precaution.objects.exists()


def test_therapist_precaution_with_an_unknown_region_is_refused(clinic, pt, patient):
    response = pt.post(
        patients_url(clinic, patient, "precautions/"),
        {"kind": "malignancy", "body_region": "tail"},
    )
    assert_error(response, 400, "body_region")


def test_therapist_precaution_update_keeps_the_region_rule(clinic, pt, patient):
    precaution = PrecautionFactory(
        patient=patient, kind=PrecautionKind.objects.get(code="open_wound"), body_region="lumbar"
    )
    url = patients_url(clinic, patient, f"precautions/{precaution.public_id}/")
    assert_error(pt.patch(url, {"body_region": ""}), 400, "body_region")
    response = pt.patch(url, {"kind": "dvt", "resolved_on": dt.date.today().isoformat()})
    assert response.status_code == 200
    assert response.json()["kind"] == "open_wound"  # the kind is not changed by an update
    assert pt.get(patients_url(clinic, patient)).json()["precautions"] == []


# --- Transfer -----------------------------------------------------------------------------------


def test_patient_transfer_by_a_receptionist_of_both_clinics(clinic, other_clinic, client_for):
    user = UserFactory(clinic=clinic, role=Role.RECEPTIONIST)
    MembershipFactory(user=user, clinic=other_clinic, role=Role.RECEPTIONIST)
    patient = PatientFactory(clinic=clinic)
    PrecautionFactory(patient=patient)
    client = client_for(user)

    response = client.post(
        patients_url(clinic, patient, "transfer/"), {"to_clinic": str(other_clinic.public_id)}
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"] == str(patient.public_id)
    assert body["mrn"] != patient.mrn
    assert [p["kind"] for p in body["precautions"]] == ["dvt"]
    listed = client.get(patients_url(other_clinic)).json()["results"]
    assert [row["id"] for row in listed] == [str(patient.public_id)]
    assert client.get(patients_url(clinic, patient)).status_code == 404
    assert client.get(patients_url(other_clinic, patient)).status_code == 200


def test_patient_transfer_to_a_clinic_the_caller_is_not_in_is_refused(
    clinic, other_clinic, desk, patient
):
    response = desk.post(
        patients_url(clinic, patient, "transfer/"), {"to_clinic": str(other_clinic.public_id)}
    )
    assert_error(response, 400, "to_clinic")
    patient.refresh_from_db()
    assert patient.clinic == clinic


@pytest.mark.parametrize("to_clinic", ["same", "unknown", "not-a-uuid"])
def test_patient_transfer_refuses_a_bad_target(clinic, desk, patient, to_clinic):
    value = {"same": str(clinic.public_id), "unknown": str(uuid.uuid4())}.get(to_clinic, to_clinic)
    response = desk.post(patients_url(clinic, patient, "transfer/"), {"to_clinic": value})
    assert_error(response, 400, "to_clinic")


def test_patient_transfer_refuses_a_clinic_where_the_membership_is_inactive(
    clinic, other_clinic, client_for, patient
):
    user = UserFactory(clinic=clinic, role=Role.RECEPTIONIST)
    MembershipFactory(user=user, clinic=other_clinic, role=Role.RECEPTIONIST, active=False)
    response = client_for(user).post(
        patients_url(clinic, patient, "transfer/"), {"to_clinic": str(other_clinic.public_id)}
    )
    assert_error(response, 400, "to_clinic")
    patient.refresh_from_db()
    assert patient.clinic == clinic


def test_patient_transfer_by_a_therapist_of_both_clinics(clinic, other_clinic, client_for):
    user = therapist_in(clinic)
    MembershipFactory(user=user, clinic=other_clinic, role=Role.THERAPIST)
    patient = PatientFactory(clinic=clinic)
    response = client_for(user).post(
        patients_url(clinic, patient, "transfer/"), {"to_clinic": str(other_clinic.public_id)}
    )
    assert response.status_code == 200
    patient.refresh_from_db()
    assert patient.clinic == other_clinic


# --- Tenancy: another clinic's patient is not there ----------------------------------------------


@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        ("get", ""),
        ("patch", ""),
        ("post", "archive/"),
        ("post", "restore/"),
        ("post", "transfer/"),
        ("get", "diagnoses/"),
        ("post", "diagnoses/"),
        ("get", "precautions/"),
        ("post", "precautions/"),
    ],
)
def test_another_clinics_patient_is_404(clinic, pt, other_patient, method, suffix):
    response = getattr(pt, method)(
        patients_url(clinic, other_patient, suffix),
        {"icd10_code": "M54.50", "description": "x", "kind": "dvt", "phone": "1"},
    )
    assert response.status_code == 404
    assert set(response.json()) == {"detail", "code"}
    assert not Diagnosis.objects.exists()
    assert not Precaution.objects.exists()
    other_patient.refresh_from_db()
    assert (other_patient.phone, other_patient.archived_at) == ("", None)


def test_another_clinics_diagnosis_is_404(clinic, pt, patient, other_patient):
    theirs = DiagnosisFactory(patient=other_patient)
    url = patients_url(clinic, patient, f"diagnoses/{theirs.public_id}/")
    assert pt.get(url).status_code == 404
    assert pt.patch(url, {"notes": "x"}).status_code == 404


@pytest.mark.parametrize(
    "suffix", ["", "diagnoses/", "precautions/", "diagnoses/nope/", "precautions/nope/"]
)
def test_a_non_uuid_id_is_404(clinic, pt, patient, suffix):
    if suffix.endswith("nope/"):
        url = patients_url(clinic, patient, suffix)
    else:
        url = patients_url(clinic, "not-a-uuid", suffix)
    assert pt.get(url).status_code == 404


def test_a_member_of_another_clinic_gets_404_for_the_whole_clinic(clinic, client_for, outsider):
    patient = PatientFactory(clinic=clinic)
    client = client_for(outsider)
    assert client.get(patients_url(clinic)).status_code == 404
    assert client.get(patients_url(clinic, patient)).status_code == 404
    assert client.post(patients_url(clinic), NEW_PATIENT).status_code == 404


def test_anonymous_gets_401(clinic, api_client, patient):
    assert api_client.get(patients_url(clinic)).status_code == 401
    assert api_client.get(patients_url(clinic, patient)).status_code == 401


# --- Precaution vocabulary ---------------------------------------------------------------------


@pytest.mark.parametrize("who", ["receptionist", "therapist", "clinic_admin", "outsider"])
def test_precaution_kinds_lists_the_shipped_kinds_to_any_staff(request, client_for, who):
    response = client_for(request.getfixturevalue(who)).get("/api/v1/precaution-kinds/")
    assert response.status_code == 200
    body = response.json()
    assert len(body) == 14
    assert {(k["code"], k["label"], k["needs_region"]) for k in body} == set(
        SHIPPED_PRECAUTION_KINDS
    )


def test_precaution_kinds_leaves_out_deactivated_kinds(client_for, receptionist):
    PrecautionKind.objects.filter(code="epilepsy").update(active=False)
    PrecautionKind.objects.create(code="metal_implant", label="Metal implant", needs_region=True)
    codes = [k["code"] for k in client_for(receptionist).get("/api/v1/precaution-kinds/").json()]
    assert "epilepsy" not in codes
    assert "metal_implant" in codes


def test_precaution_kinds_refuses_anonymous_and_non_staff(api_client, client_for, db):
    assert api_client.get("/api/v1/precaution-kinds/").status_code == 401
    assert client_for(UserFactory()).get("/api/v1/precaution-kinds/").status_code == 403


# --- Query counts ------------------------------------------------------------------------------


def count_queries(client, url: str, **params) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, params)
    assert response.status_code == 200
    return len(queries)


def test_patient_list_query_count_does_not_grow_with_rows(
    clinic, desk, django_assert_max_num_queries
):
    PatientFactory.create_batch(3, clinic=clinic)
    few = count_queries(desk, patients_url(clinic))
    PatientFactory.create_batch(9, clinic=clinic)
    many = count_queries(desk, patients_url(clinic))
    assert many == few
    with django_assert_max_num_queries(4):  # clinic, capabilities, count, page
        assert search(desk, clinic, "a").status_code == 200


def test_patient_detail_query_count_does_not_grow_with_precautions(clinic, desk, patient):
    PrecautionFactory(patient=patient)
    few = count_queries(desk, patients_url(clinic, patient))
    for kind in PrecautionKind.objects.filter(needs_region=False).exclude(code="dvt")[:6]:
        PrecautionFactory(patient=patient, kind=kind)
    many = count_queries(desk, patients_url(clinic, patient))
    assert many == few
    assert len(desk.get(patients_url(clinic, patient)).json()["precautions"]) == 7


@pytest.mark.parametrize(
    ("suffix", "factory"), [("diagnoses/", DiagnosisFactory), ("precautions/", PrecautionFactory)]
)
def test_patient_rows_list_query_count_does_not_grow(clinic, pt, patient, suffix, factory):
    factory(patient=patient)
    few = count_queries(pt, patients_url(clinic, patient, suffix))
    factory.create_batch(8, patient=patient)
    many = count_queries(pt, patients_url(clinic, patient, suffix))
    assert many == few


def test_patient_search_in_a_query_string_is_refused(clinic, desk, patient):
    response = desk.get(patients_url(clinic), {"q": patient.last_name})
    assert_error(response, 400, "q")
    assert "search/" in response.json()["errors"]["q"][0]


def test_patient_search_needs_a_query_and_finds_only_this_clinics_patients(
    clinic, other_clinic, desk, patient
):
    assert_error(search(desk, clinic, ""), 400, "q")
    assert_error(search(desk, clinic, "x" * 101), 400, "q")
    stranger = PatientFactory(clinic=other_clinic, last_name=patient.last_name)
    found = search(desk, clinic, patient.last_name).json()["results"]
    assert [row["id"] for row in found] == [str(patient.public_id)]
    assert str(stranger.public_id) not in str(found)


def test_patient_search_is_a_read_for_the_front_desk_and_therapists(
    clinic, patient, receptionist, therapist, outsider, client_for
):
    for user in (receptionist, therapist):
        assert search(client_for(user), clinic, patient.last_name).status_code == 200
    assert search(client_for(outsider), clinic, patient.last_name).status_code == 404
