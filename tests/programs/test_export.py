"""The patient's record export (programs/export.py, GET .../patients/{id}/export/): everything
the practice holds about one patient, in a constant number of queries, for clinic administrators
only, logged in the access log."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clinic.capabilities import Role
from clinic.models import AccessLog
from patients.models import Patient
from programs import care
from programs.export import EXPORT_FORMAT, SECTIONS, patient_export
from programs.models import (
    Exercise,
    HomeProgramEmail,
    HomeSession,
    Modality,
    PlannedExercise,
    PlannedModality,
)
from tests.factories import (
    DiagnosisFactory,
    EpisodeOfCareFactory,
    EpisodeVisitFactory,
    EvaluationAddendumFactory,
    FollowUpFactory,
    GoalFactory,
    HomeProgramFactory,
    HomeProgramLinkFactory,
    OutcomeMeasureFactory,
    PatientFactory,
    PlanOfCareFactory,
    PrecautionFactory,
    ProgressSummaryFactory,
    SignedEvaluationFactory,
    TreatmentNoteAddendumFactory,
    UserFactory,
)
from tests.programs.helpers import THER_EX, exercise, item

pytestmark = pytest.mark.django_db


def record_of(patient: Patient, therapist, *, size: int) -> None:
    """`size` of every kind of row in the patient's record, children included."""
    episode = EpisodeOfCareFactory(patient=patient, therapist=therapist)
    plan = PlanOfCareFactory(episode=episode)
    slug = Exercise.objects.filter(active=True).values_list("slug", flat=True).first()
    for n in range(size):
        DiagnosisFactory(patient=patient, description=f"Diagnosis {n}")
        PrecautionFactory(patient=patient)
        evaluation = SignedEvaluationFactory(episode=episode)
        EvaluationAddendumFactory(evaluation=evaluation, text=f"Evaluation addendum {n}")
        OutcomeMeasureFactory(episode=episode)
        GoalFactory(episode=episode, description=f"Goal {n}")
        PlannedModality.objects.create(plan=plan, modality=Modality.objects.get(name=THER_EX))
        PlannedExercise.objects.create(plan=plan, exercise=Exercise.objects.get(slug=slug), sets=3)
        visit = EpisodeVisitFactory(clinic=patient.clinic, episode=episode)
        note = care.treatment_note_save(
            visit=visit,
            by=therapist,
            notes=f"Treatment {n}",
            modalities=[item(THER_EX, 23)],
            exercises=[exercise(slug, sets=2, reps=10)],
        )
        note = care.treatment_note_sign(note=note, by=therapist, version=note.version)
        TreatmentNoteAddendumFactory(note=note, text=f"Note addendum {n}")
        FollowUpFactory(after_visit=visit)
        ProgressSummaryFactory(visit=visit, text=f"Summary {n}")
        # one programme per episode: each on an episode of its own
        programme = HomeProgramFactory(
            episode=EpisodeOfCareFactory(patient=patient, therapist=therapist)
        )
        version = programme.versions.get()
        HomeProgramLinkFactory(program=programme)
        session = HomeSession.objects.create(
            clinic=patient.clinic,
            program=programme,
            version=version,
            performed_on=programme.episode.started_on,
            recorded_by=therapist,
            pain=2,
            comment=f"Home session {n}",
        )
        session.items.set(version.items.all())
        HomeProgramEmail.objects.create(
            clinic=patient.clinic, version=version, requested_by=therapist
        )


@pytest.fixture
def patient(clinic, therapist) -> Patient:
    patient = PatientFactory(
        clinic=clinic, first_name="Ottilie", last_name="Exportwell", phone="555-0100"
    )
    record_of(patient, therapist, size=2)
    return patient


def test_patient_export_holds_every_section_of_the_record(patient, clinic_admin):
    data = patient_export(patient=patient, by=clinic_admin)

    assert data["format"] == EXPORT_FORMAT
    assert data["patient"]["id"] == str(patient.public_id)
    assert (data["patient"]["last_name"], data["patient"]["phone"]) == ("Exportwell", "555-0100")
    assert "search_name" not in data["patient"]
    for section in SECTIONS:
        assert data[section.name], f"the export's {section.name} is empty"
    counts = {s.name: len(data[s.name]) for s in SECTIONS}
    assert counts == {
        "diagnoses": 2,
        "precautions": 2,
        "episodes_of_care": 3,
        "evaluations": 2,
        "outcome_measures": 2,
        "goals": 2,
        "plans_of_care": 1,
        "visits": 2,
        "treatment_notes": 2,
        "follow_ups": 2,
        "progress_summaries": 2,
        "home_programmes": 2,
        "home_programme_versions": 2,
        "home_programme_links": 2,
        "home_sessions": 2,
        "home_programme_emails": 2,
    }
    evaluation = data["evaluations"][0]
    assert [a["text"] for a in evaluation["addenda"]] == ["Evaluation addendum 0"]
    assert evaluation["episode"] in {e["id"] for e in data["episodes_of_care"]}
    plan = data["plans_of_care"][0]
    assert len(plan["modalities"]) == 2
    assert plan["exercises"][0]["sets"] == 3
    note = next(n for n in data["treatment_notes"] if n["notes"] == "Treatment 1")
    assert note["status"] == "signed"
    assert note["modalities"][0]["modality"]["name"] == THER_EX
    assert note["modalities"][0]["minutes"] == 23
    assert note["exercises"][0]["reps"] == 10
    assert note["billing_lines"][0]["cpt_code"] == "97110"
    assert [a["text"] for a in note["addenda"]] == ["Note addendum 1"]
    assert note["author"]["id"] == str(patient.episodes.first().therapist.public_id)
    version = data["home_programme_versions"][0]
    assert [i["exercise"]["name"] for i in version["items"]] == ["Bird dog", "Bridge"]
    session = next(s for s in data["home_sessions"] if s["comment"] == "Home session 0")
    (done,) = [v for v in data["home_programme_versions"] if v["id"] == session["version"]]
    assert sorted(session["items"]) == sorted(i["id"] for i in done["items"])
    assert data["home_programme_emails"][0]["status"] == "requested"
    json.dumps(data)  # JSON as it stands, no custom encoder needed


def test_patient_export_includes_the_change_history_and_the_reads(
    patient, clinic_admin, client_for, clinic, receptionist
):
    from patients import services

    services.patient_update(patient=patient, by=receptionist, phone="555-0111")
    url = f"/api/v1/clinics/{clinic.public_id}/patients/{patient.public_id}/"
    assert client_for(receptionist).get(url).status_code == 200

    data = patient_export(patient=patient, by=clinic_admin)

    changes = [c for c in data["history"] if c["record"] == "patient"]
    assert [c["change"] for c in changes][-1] == "changed"
    assert changes[-1]["values"]["phone"] == "555-0111"
    assert changes[-1]["by"]["id"] == str(receptionist.public_id)
    assert {c["record"] for c in data["history"]} >= {"patient", "diagnoses", "visits"}
    (read,) = [r for r in data["access_log"] if r["record"] == AccessLog.Record.CHART]
    assert read["by"]["id"] == str(receptionist.public_id)


def test_patient_export_holds_nothing_of_other_patients(patient, clinic, therapist, clinic_admin):
    other = PatientFactory(clinic=clinic, last_name="Notinthisexport")
    record_of(other, therapist, size=1)

    text = json.dumps(patient_export(patient=patient, by=clinic_admin))

    assert "Notinthisexport" not in text
    assert str(other.public_id) not in text
    for row in other.visits.all():
        assert str(row.public_id) not in text


def test_patient_export_query_count_does_not_grow_with_the_record(
    patient, clinic, therapist, clinic_admin, django_assert_num_queries
):
    small = PatientFactory(clinic=clinic)
    record_of(small, therapist, size=1)
    with CaptureQueriesContext(connection) as small_export:
        patient_export(patient=small, by=clinic_admin)
    assert len(small_export) <= 40

    large = PatientFactory(clinic=clinic)
    record_of(large, therapist, size=4)
    with django_assert_num_queries(len(small_export)):
        data = patient_export(patient=large, by=clinic_admin)
    assert len(data["treatment_notes"]) == 4


# --- The API ---------------------------------------------------------------------------------


def export_url(clinic, patient) -> str:
    return f"/api/v1/clinics/{clinic.public_id}/patients/{patient.public_id}/export/"


def test_patient_export_api_answers_the_clinic_admin_and_logs_the_export(
    client_for, clinic, clinic_admin, patient
):
    response = client_for(clinic_admin).get(export_url(clinic, patient))

    assert response.status_code == 200, response.content[:300]
    assert response.json()["patient"]["id"] == str(patient.public_id)
    assert response["Content-Disposition"] == (
        f'attachment; filename="patient-{patient.mrn}-export.json"'
    )
    (row,) = AccessLog.objects.filter(record=AccessLog.Record.EXPORT)
    assert (row.clinic, row.actor, row.patient_public_id) == (
        clinic,
        clinic_admin,
        patient.public_id,
    )
    assert row.path == export_url(clinic, patient)
    assert "Exportwell" not in f"{row.subject} {row.what} {row.path}"


@pytest.mark.parametrize("role", [Role.RECEPTIONIST, Role.THERAPIST])
def test_patient_export_api_refuses_receptionists_and_therapists(client_for, clinic, role, patient):
    user = UserFactory(clinic=clinic, role=role)

    response = client_for(user).get(export_url(clinic, patient))

    assert response.status_code == 403
    assert not AccessLog.objects.filter(record=AccessLog.Record.EXPORT).exists()


def test_patient_export_api_other_clinic_is_404(client_for, clinic, other_clinic, patient):
    their_admin = UserFactory(clinic=other_clinic, role=Role.CLINIC_ADMIN)
    through_theirs = (
        f"/api/v1/clinics/{other_clinic.public_id}/patients/{patient.public_id}/export/"
    )

    assert client_for(their_admin).get(export_url(clinic, patient)).status_code == 404
    assert client_for(their_admin).get(through_theirs).status_code == 404
    assert not AccessLog.objects.exists()


def test_patient_export_api_unknown_or_malformed_patient_is_404(client_for, clinic, clinic_admin):
    client = client_for(clinic_admin)
    base = f"/api/v1/clinics/{clinic.public_id}/patients"

    assert client.get(f"{base}/not-a-uuid/export/").status_code == 404
    assert client.get(f"{base}/00000000-0000-0000-0000-000000000000/export/").status_code == 404
