"""The plans-of-care, treatment-note, compliance and contraindication-check API: wiring,
permissions, status codes and error bodies (the rules are tested on the services)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from clinic.capabilities import Role
from patients.models import EpisodeOfCare, Visit
from programs.models import Exercise, PlanOfCare, TreatmentNote
from tests.factories import PlanOfCareFactory, UserFactory, therapist_in
from tests.programs.helpers import (
    HOT_PACK,
    MANUAL,
    TENS,
    THER_EX,
    exercise,
    item,
    local_today,
    modality,
)

pytestmark = pytest.mark.django_db


def url(name: str, clinic, **kwargs) -> str:
    return reverse(name, kwargs={"clinic_id": clinic.public_id, **kwargs})


def note_url(visit, suffix: str = "") -> str:
    name = "treatment-note" + (f"-{suffix}" if suffix else "")
    return url(name, visit.clinic, visit_id=visit.public_id)


def plan_body(episode: EpisodeOfCare, **fields) -> dict:
    return {
        "frequency_per_week": 2,
        "duration_weeks": 6,
        "starts_on": episode.started_on.isoformat(),
        "certified_until": (episode.started_on + dt.timedelta(days=60)).isoformat(),
        **fields,
    }


@pytest.fixture
def as_therapist(client_for, therapist):
    return client_for(therapist)


@pytest.fixture
def visit(episode, visit_on) -> Visit:
    return visit_on(episode, days_ago=1)


# --- Plans of care ---------------------------------------------------------------------------


def test_api_plan_create_list_detail(as_therapist, clinic, episode):
    plans = url("episode-plan-list", clinic, episode_id=episode.public_id)
    body = plan_body(
        episode,
        modalities=[item(MANUAL, 15)],
        exercises=[exercise("bird-dog", sets=2)],
        physician_name="Dr. Helen Marsh",
    )
    created = as_therapist.post(plans, body, format="json")
    assert created.status_code == 201, created.content
    data = created.json()
    assert (data["version"], data["status"], data["supersedes"]) == (1, "active", None)
    assert data["modalities"][0]["modality"]["cpt_code"] == "97140"
    assert data["exercises"][0]["sets"] == 2
    listed = as_therapist.get(plans).json()
    assert [p["id"] for p in listed["results"]] == [data["id"]]
    detail = as_therapist.get(url("plan-detail", clinic, public_id=data["id"]))
    assert detail.json() == data


def test_api_plan_certified_beyond_90_days_is_400_naming_certified_until(
    as_therapist, clinic, episode
):
    body = plan_body(
        episode, certified_until=(episode.started_on + dt.timedelta(days=95)).isoformat()
    )
    response = as_therapist.post(
        url("episode-plan-list", clinic, episode_id=episode.public_id), body, format="json"
    )
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["certified_until"]


def test_api_plan_unknown_modality_and_bad_parameters_are_400_naming_the_field(
    as_therapist, clinic, episode
):
    plans = url("episode-plan-list", clinic, episode_id=episode.public_id)
    unknown = as_therapist.post(
        plans,
        plan_body(episode, modalities=[{"modality": "5b1f0f3e-8f4e-4a34-9b59-1d7d4b0f3c11"}]),
        format="json",
    )
    assert unknown.status_code == 400
    assert list(unknown.json()["errors"]) == ["modalities[0].modality"]
    tens = item(TENS, 15)
    tens["parameters"]["intensity_ma"] = 150
    bad = as_therapist.post(plans, plan_body(episode, modalities=[tens]), format="json")
    assert bad.status_code == 400
    assert list(bad.json()["errors"]) == ["modalities[0].parameters"]
    assert "intensity_ma: 150 is above the maximum 100 mA" in bad.json()["detail"]


def test_api_plan_contraindicated_item_is_400_with_findings_and_kept_with_justification(
    as_therapist, clinic, episode, add_precaution
):
    add_precaution("pacemaker")
    plans = url("episode-plan-list", clinic, episode_id=episode.public_id)
    refused = as_therapist.post(
        plans, plan_body(episode, modalities=[item(TENS, 15)]), format="json"
    )
    assert refused.status_code == 400
    body = refused.json()
    assert (body["code"], list(body["errors"])) == ("contraindicated", ["modalities[0]"])
    assert body["findings"][0]["condition"] == "pacemaker"
    justified = item(TENS, 15, override_justification="Cleared by cardiology.")
    kept = as_therapist.post(plans, plan_body(episode, modalities=[justified]), format="json")
    assert kept.status_code == 201
    row = kept.json()["modalities"][0]
    assert row["override_justification"] == "Cleared by cardiology."
    assert row["warnings"][0]["condition"] == "pacemaker"


def test_api_plan_recertify_and_physician_patch(as_therapist, clinic, episode, therapist):
    plan = PlanOfCareFactory(episode=episode, created_by=therapist)
    signed_on = (episode.started_on + dt.timedelta(days=4)).isoformat()
    patched = as_therapist.patch(
        url("plan-detail", clinic, public_id=plan.public_id),
        {"physician_signed_on": signed_on},
        format="json",
    )
    assert patched.status_code == 200
    assert patched.json()["physician_signed_on"] == signed_on
    until = (local_today(clinic) + dt.timedelta(days=60)).isoformat()
    recertify = url("plan-recertify", clinic, public_id=plan.public_id)
    new = as_therapist.post(recertify, {"certified_until": until}, format="json")
    assert new.status_code == 201
    assert (new.json()["version"], new.json()["supersedes"]) == (2, str(plan.public_id))
    again = as_therapist.post(recertify, {"certified_until": until}, format="json")
    assert (again.status_code, again.json()["code"]) == (409, "superseded")


def test_api_plan_by_a_pta_is_403(client_for, clinic, episode):
    pta = therapist_in(clinic, discipline="PTA")
    response = client_for(pta).post(
        url("episode-plan-list", clinic, episode_id=episode.public_id),
        plan_body(episode),
        format="json",
    )
    assert response.status_code == 403
    assert not PlanOfCare.objects.exists()


def test_api_plan_list_queries_do_not_grow(
    as_therapist, clinic, episode, django_assert_max_num_queries
):
    plans_url = url("episode-plan-list", clinic, episode_id=episode.public_id)

    def add_plans(versions: range) -> None:
        for version in versions:
            plan = PlanOfCareFactory(episode=episode, status="superseded", version=version)
            plan.modalities.create(modality=modality(MANUAL), minutes=10)
            plan.exercises.create(exercise=Exercise.objects.get(slug="bird-dog"))

    add_plans(range(1, 2))
    with CaptureQueriesContext(connection) as one_plan:
        assert as_therapist.get(plans_url).json()["count"] == 1
    add_plans(range(2, 9))
    with django_assert_max_num_queries(len(one_plan.captured_queries)):
        body = as_therapist.get(plans_url).json()
    assert body["count"] == 8
    assert all(len(p["modalities"]) == 1 for p in body["results"])


# --- Treatment notes -------------------------------------------------------------------------


def test_api_note_put_creates_then_versions_with_if_match(as_therapist, visit):
    body = {"subjective": "Pain 5/10", "modalities": [item(THER_EX, 33), item(MANUAL, 7)]}
    assert as_therapist.get(note_url(visit)).status_code == 404
    created = as_therapist.put(note_url(visit), body, format="json")
    assert created.status_code == 201, created.content
    assert created["ETag"] == '"1"'
    data = created.json()
    assert (data["version"], data["status"], data["total_units"]) == (1, "draft", 2)
    assert {b["cpt_code"]: b["units"] for b in data["billing_lines"]} == {"97110": 2, "97140": 0}

    missing = as_therapist.put(note_url(visit), body, format="json")
    assert (missing.status_code, missing.json()["code"]) == (428, "version_required")
    updated = as_therapist.patch(
        note_url(visit), {"assessment": "Better"}, format="json", HTTP_IF_MATCH='"1"'
    )
    assert updated.status_code == 200
    assert (updated.json()["version"], updated.json()["assessment"]) == (2, "Better")
    assert updated.json()["subjective"] == "Pain 5/10"  # PATCH keeps what it was not given
    stale = as_therapist.patch(note_url(visit), {"notes": "x", "version": 1}, format="json")
    assert (stale.status_code, stale.json()["code"]) == (409, "stale_version")
    assert stale.json()["current_version"] == 2
    replaced = as_therapist.put(note_url(visit), {"version": 2}, format="json")
    assert replaced.status_code == 200
    assert (replaced.json()["subjective"], replaced.json()["modalities"]) == ("", [])


def test_api_note_patch_before_any_note_is_404(as_therapist, visit):
    assert as_therapist.patch(note_url(visit), {"notes": "x"}, format="json").status_code == 404


def test_api_note_errors_name_the_item(as_therapist, visit, add_precaution):
    bad = item(HOT_PACK, 45)
    response = as_therapist.put(note_url(visit), {"modalities": [bad]}, format="json")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["modalities[0].parameters"]
    add_precaution("pacemaker")
    refused = as_therapist.put(note_url(visit), {"modalities": [item(TENS, 15)]}, format="json")
    assert (refused.status_code, refused.json()["code"]) == (400, "contraindicated")
    assert not TreatmentNote.objects.exists()


def test_api_note_sign_then_409_signed_and_addenda(as_therapist, visit):
    as_therapist.put(note_url(visit), {"modalities": [item(THER_EX, 20)]}, format="json")
    signed = as_therapist.post(note_url(visit, "sign"), {}, format="json", HTTP_IF_MATCH='"1"')
    assert signed.status_code == 200, signed.content
    assert (signed.json()["status"], signed.json()["version"]) == ("signed", 2)
    edit = as_therapist.patch(note_url(visit), {"notes": "x", "version": 2}, format="json")
    assert (edit.status_code, edit.json()["code"]) == (409, "signed")
    added = as_therapist.post(note_url(visit, "addenda"), {"text": "Correction."}, format="json")
    assert added.status_code == 201
    listed = as_therapist.get(note_url(visit, "addenda")).json()
    assert [a["text"] for a in listed["results"]] == ["Correction."]
    assert as_therapist.get(note_url(visit)).json()["addenda"][0]["text"] == "Correction."


def test_api_note_sign_without_version_is_428(as_therapist, visit):
    as_therapist.put(note_url(visit), {"notes": "done"}, format="json")
    response = as_therapist.post(note_url(visit, "sign"), {}, format="json")
    assert (response.status_code, response.json()["code"]) == (428, "version_required")


def test_api_complete_saves_signs_and_completes_in_one_step(as_therapist, visit):
    response = as_therapist.post(
        note_url(visit, "complete"),
        {"sign": True, "notes": "Done", "modalities": [item(THER_EX, 25)]},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert (response.json()["note"]["status"], response.json()["visit"]["status"]) == (
        "signed",
        "completed",
    )


def test_api_complete_with_a_refused_note_leaves_the_visit_booked(
    as_therapist, visit, add_precaution
):
    add_precaution("pacemaker")
    response = as_therapist.post(
        note_url(visit, "complete"), {"modalities": [item(TENS, 15)]}, format="json"
    )
    assert response.status_code == 400
    visit.refresh_from_db()
    assert visit.status == Visit.Status.BOOKED
    assert not TreatmentNote.objects.exists()


def test_api_note_get_queries_are_fixed(as_therapist, visit, django_assert_max_num_queries):
    as_therapist.put(
        note_url(visit),
        {
            "modalities": [item(THER_EX, 20), item(MANUAL, 10), item(HOT_PACK, 15)],
            "exercises": [exercise("bird-dog"), exercise("bridge")],
        },
        format="json",
    )
    with django_assert_max_num_queries(12):
        assert as_therapist.get(note_url(visit)).status_code == 200


# --- Permissions -----------------------------------------------------------------------------


def test_api_receptionist_gets_403_on_the_clinical_routes(
    client_for, receptionist, clinic, episode, visit, patient
):
    client = client_for(receptionist)
    plan = PlanOfCareFactory(episode=episode)
    calls = [
        ("get", url("episode-plan-list", clinic, episode_id=episode.public_id)),
        ("post", url("episode-plan-list", clinic, episode_id=episode.public_id)),
        ("get", url("plan-detail", clinic, public_id=plan.public_id)),
        ("patch", url("plan-detail", clinic, public_id=plan.public_id)),
        ("post", url("plan-recertify", clinic, public_id=plan.public_id)),
        ("get", note_url(visit)),
        ("put", note_url(visit)),
        ("patch", note_url(visit)),
        ("post", note_url(visit, "sign")),
        ("get", note_url(visit, "addenda")),
        ("post", note_url(visit, "addenda")),
        ("post", note_url(visit, "complete")),
        ("post", url("contraindication-check", clinic, patient_id=patient.public_id)),
    ]
    for method, target in calls:
        response = getattr(client, method)(target, {}, format="json")
        assert response.status_code == 403, f"{method} {target}: {response.status_code}"
    assert not TreatmentNote.objects.exists()


def test_api_clinic_admin_may_not_sign(client_for, clinic_admin, therapist, visit):
    client_for(therapist).put(note_url(visit), {"notes": "done"}, format="json")
    response = client_for(clinic_admin).post(note_url(visit, "sign"), {"version": 1}, format="json")
    assert response.status_code == 403


def test_api_compliance_full_for_therapists_authorization_only_for_the_front_desk(
    client_for, therapist, receptionist, clinic, episode, visit_on
):
    EpisodeOfCare.objects.filter(pk=episode.pk).update(auth_visits=4, progress_report_clock=True)
    for days_ago in (5, 4):
        visit_on(episode, days_ago=days_ago, status=Visit.Status.COMPLETED)
    target = url("episode-compliance", clinic, episode_id=episode.public_id)

    full = client_for(therapist).get(target).json()
    assert full["clinical"] is True
    assert full["progress_report"]["treatment_days"] == 2
    assert full["authorization"]["visits_left"] == 2
    assert {f["area"] for f in full["flags"]} == {"plan", "authorization"}

    desk = client_for(receptionist).get(target)
    assert desk.status_code == 200
    body = desk.json()
    assert (body["clinical"], body["progress_report"], body["certification"]) == (
        False,
        None,
        None,
    )
    assert body["authorization"]["visits_used"] == 2
    assert [f["area"] for f in body["flags"]] == ["authorization"]


def test_api_compliance_certification_section(as_therapist, clinic, episode):
    today = local_today(clinic)
    plan = PlanOfCareFactory(
        episode=episode,
        starts_on=today - dt.timedelta(days=10),
        certified_until=today + dt.timedelta(days=3),
    )
    body = as_therapist.get(url("episode-compliance", clinic, episode_id=episode.public_id)).json()
    cert = body["certification"]
    assert (cert["plan"], cert["days_left"], cert["signature"]) == (
        str(plan.public_id),
        3,
        "missing",
    )
    assert "ends on" in cert["flags"][0]


# --- The contraindication check --------------------------------------------------------------


def test_api_contraindication_check_modality_and_exercise(
    as_therapist, clinic, patient, add_precaution, add_diagnosis
):
    add_precaution("pacemaker")
    add_diagnosis("M51.26", onset=local_today(clinic) - dt.timedelta(days=300))
    check = url("contraindication-check", clinic, patient_id=patient.public_id)
    tens = item(TENS, 15)
    refused = as_therapist.post(
        check,
        {
            "modality": tens["modality"],
            "body_region": "lumbar",
            "parameters": {**tens["parameters"], "minutes": 15},
        },
        format="json",
    )
    assert refused.status_code == 200, refused.content
    body = refused.json()
    assert (body["refused"], body["item"]["name"]) == (True, TENS)
    assert body["findings"][0]["condition"] == "pacemaker"
    assert body["parameters"]["frequency_hz"] == 100
    fine = as_therapist.post(check, {"modality": item(MANUAL, 10)["modality"]}, format="json")
    assert (fine.json()["refused"], fine.json()["findings"]) == (False, [])
    sit_up = as_therapist.post(check, exercise("sit-up"), format="json").json()
    assert sit_up["refused"] is True
    assert sit_up["body_region"] == "lumbar"


def test_api_contraindication_check_bad_input_is_400(as_therapist, clinic, patient):
    check = url("contraindication-check", clinic, patient_id=patient.public_id)
    tens = item(TENS, 15)
    tens["parameters"]["frequency_hz"] = 999
    out_of_range = as_therapist.post(
        check, {"modality": tens["modality"], "parameters": tens["parameters"]}, format="json"
    )
    assert out_of_range.status_code == 400
    assert list(out_of_range.json()["errors"]) == ["parameters"]
    both = as_therapist.post(
        check, {**exercise("sit-up"), "modality": tens["modality"]}, format="json"
    )
    assert (both.status_code, list(both.json()["errors"])) == (400, ["modality"])
    unknown = as_therapist.post(
        check, {"exercise": "5b1f0f3e-8f4e-4a34-9b59-1d7d4b0f3c11"}, format="json"
    )
    assert (unknown.status_code, list(unknown.json()["errors"])) == (400, ["exercise"])


def test_api_outsiders_ids_in_bodies_never_reach_another_clinics_rows(
    client_for, clinic, other_clinic, episode
):
    """A therapist of another clinic posting to their own clinic's URL with this clinic's
    episode gets 404: the id is looked up in the clinic of the URL."""
    stranger = UserFactory(clinic=other_clinic, role=Role.THERAPIST)
    response = client_for(stranger).post(
        url("episode-plan-list", other_clinic, episode_id=episode.public_id),
        plan_body(episode),
        format="json",
    )
    assert response.status_code == 404
