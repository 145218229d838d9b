"""The clinical-record API: wiring, capabilities (receptionists read no clinical content), status
codes and error bodies, the version protocol (If-Match or `version`; 428 and 409), and query
counts that do not grow with the rows."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from patients.models import (
    EpisodeOfCare,
    Evaluation,
    EvaluationAddendum,
    Goal,
    OutcomeMeasure,
    Patient,
)
from patients.outcomes import ODI_SECTIONS
from tests.factories import (
    DiagnosisFactory,
    EpisodeOfCareFactory,
    EvaluationAddendumFactory,
    EvaluationFactory,
    GoalFactory,
    OutcomeMeasureFactory,
    PatientFactory,
    SignedEvaluationFactory,
    VisitFactory,
    therapist_in,
)

pytestmark = pytest.mark.django_db


def api(clinic, path: str) -> str:
    return f"/api/v1/clinics/{clinic.public_id}/{path}"


def today(clinic) -> dt.date:
    return timezone.localdate(timezone=clinic.tz)


def odi(*values) -> dict:
    return {"sections": dict(zip(ODI_SECTIONS, values, strict=True))}


def assert_field_error(response, status: int, field: str, fragment: str = "") -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"detail", "code", "errors"}
    assert body["code"] == "invalid"
    assert list(body["errors"]) == [field]
    assert body["detail"].startswith(f"{field}: ")
    assert fragment in body["errors"][field][0]
    return body


@pytest.fixture
def pt(client_for, therapist):
    return client_for(therapist)


@pytest.fixture
def desk(client_for, receptionist):
    return client_for(receptionist)


@pytest.fixture
def patient(clinic):
    return PatientFactory(clinic=clinic, payer_type=Patient.Payer.MEDICARE)


@pytest.fixture
def episode(clinic, therapist, patient):
    return EpisodeOfCareFactory(patient=patient, therapist=therapist)


@pytest.fixture
def draft(episode, therapist):
    return EvaluationFactory(episode=episode, author=therapist)


def episode_url(clinic, episode, suffix: str = "") -> str:
    return api(clinic, f"episodes/{episode.public_id}/{suffix}")


def evaluation_url(clinic, evaluation, suffix: str = "") -> str:
    return api(clinic, f"evaluations/{evaluation.public_id}/{suffix}")


# --- Who may read and write ------------------------------------------------------------------


CLINICAL_READS = [
    lambda c, rows: api(c, f"patients/{rows['patient'].public_id}/episodes/"),
    lambda c, rows: api(c, "episodes/"),
    lambda c, rows: episode_url(c, rows["episode"]),
    lambda c, rows: episode_url(c, rows["episode"], "evaluations/"),
    lambda c, rows: evaluation_url(c, rows["draft"]),
    lambda c, rows: evaluation_url(c, rows["signed"], "addenda/"),
    lambda c, rows: episode_url(c, rows["episode"], "goals/"),
    lambda c, rows: api(c, f"goals/{rows['goal'].public_id}/"),
    lambda c, rows: episode_url(c, rows["episode"], "outcomes/"),
    lambda c, rows: episode_url(c, rows["episode"], "outcomes/summary/"),
    lambda c, rows: api(c, f"outcomes/{rows['measure'].public_id}/"),
]


@pytest.fixture
def rows(clinic, patient, episode, draft):
    return {
        "patient": patient,
        "episode": episode,
        "draft": draft,
        "signed": SignedEvaluationFactory(episode=episode, kind="re_evaluation", complexity=""),
        "goal": GoalFactory(episode=episode),
        "measure": OutcomeMeasureFactory(episode=episode),
    }


@pytest.mark.parametrize("url", CLINICAL_READS)
def test_receptionists_may_not_read_clinical_content(clinic, rows, desk, pt, clinic_admin, url):
    target = url(clinic, rows)
    response = desk.get(target)
    assert response.status_code == 403, target
    assert response.json()["code"] == "permission_denied"
    assert pt.get(target).status_code == 200


def test_clinic_admin_reads_but_may_not_sign(clinic, client_for, clinic_admin, draft):
    admin = client_for(clinic_admin)
    assert admin.get(evaluation_url(clinic, draft)).status_code == 200
    response = admin.post(evaluation_url(clinic, draft, "sign/"), {"version": 1}, format="json")
    assert response.status_code == 403
    draft.refresh_from_db()
    assert draft.status == "draft"


def test_receptionist_writes_are_403_and_write_nothing(clinic, desk, patient, episode, draft):
    calls = [
        (api(clinic, f"patients/{patient.public_id}/episodes/"), {"started_on": "2026-01-05"}),
        (episode_url(clinic, episode, "goals/"), {"term": "short", "description": "x"}),
        (episode_url(clinic, episode, "outcomes/"), {"instrument": "nprs", "answers": {"pain": 1}}),
        (evaluation_url(clinic, draft, "sign/"), {"version": 1}),
    ]
    for url, body in calls:
        assert desk.post(url, body, format="json").status_code == 403, url
    assert desk.patch(evaluation_url(clinic, draft), {"version": 1}).status_code == 403
    assert (EpisodeOfCare.objects.count(), Goal.objects.count()) == (1, 0)


# --- Episodes --------------------------------------------------------------------------------


def test_episode_open_defaults_to_the_caller_and_medicare_rules(clinic, pt, therapist, patient):
    diagnosis = DiagnosisFactory(patient=patient)
    response = pt.post(
        api(clinic, f"patients/{patient.public_id}/episodes/"),
        {"started_on": today(clinic).isoformat(), "primary_diagnosis": str(diagnosis.public_id)},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["therapist"]["id"] == str(therapist.public_id)
    assert (body["billing_rule"], body["progress_report_clock"]) == ("medicare_8_minute", True)
    assert body["primary_diagnosis_code"] == "M54.50"
    assert body["status"] == "active"
    episode = EpisodeOfCare.objects.get(public_id=body["id"])
    assert episode.patient == patient


def test_episode_open_with_another_patients_diagnosis_is_400_and_saves_nothing(clinic, pt, patient):
    theirs = DiagnosisFactory(patient=PatientFactory(clinic=clinic))
    response = pt.post(
        api(clinic, f"patients/{patient.public_id}/episodes/"),
        {"started_on": today(clinic).isoformat(), "primary_diagnosis": str(theirs.public_id)},
        format="json",
    )
    assert_field_error(response, 400, "primary_diagnosis")
    assert not EpisodeOfCare.objects.exists()


def test_episode_open_with_a_receptionist_as_therapist_is_400(clinic, pt, patient, receptionist):
    response = pt.post(
        api(clinic, f"patients/{patient.public_id}/episodes/"),
        {"started_on": today(clinic).isoformat(), "therapist": str(receptionist.public_id)},
        format="json",
    )
    assert_field_error(response, 400, "therapist", "No active therapist")
    assert not EpisodeOfCare.objects.exists()


def test_episode_open_with_a_bad_authorization_is_400(clinic, pt, patient):
    response = pt.post(
        api(clinic, f"patients/{patient.public_id}/episodes/"),
        {
            "started_on": today(clinic).isoformat(),
            "auth_starts_on": "2026-03-01",
            "auth_ends_on": "2026-02-01",
        },
        format="json",
    )
    assert_field_error(response, 400, "auth_ends_on", "cannot end before it starts")
    response = pt.post(
        api(clinic, f"patients/{patient.public_id}/episodes/"),
        {"started_on": today(clinic).isoformat(), "auth_visits": -1},
        format="json",
    )
    assert_field_error(response, 400, "auth_visits")
    assert not EpisodeOfCare.objects.exists()


def test_episode_list_filters(clinic, pt, therapist, episode):
    colleague = therapist_in(clinic)
    theirs = EpisodeOfCareFactory(clinic=clinic, therapist=colleague)
    ended = EpisodeOfCareFactory(clinic=clinic, therapist=therapist, status="discharged")

    def ids(params):
        response = pt.get(api(clinic, "episodes/"), params)
        assert response.status_code == 200, response.content
        return {row["id"] for row in response.json()["results"]}

    assert ids({}) == {str(e.public_id) for e in (episode, theirs, ended)}
    assert ids({"therapist": str(therapist.public_id)}) == {
        str(episode.public_id),
        str(ended.public_id),
    }
    assert ids({"status": "active", "therapist": str(therapist.public_id)}) == {
        str(episode.public_id)
    }
    assert ids({"patient": str(theirs.patient.public_id)}) == {str(theirs.public_id)}
    assert ids({"patient": "not-a-uuid"}) == set()
    assert pt.get(api(clinic, "episodes/"), {"status": "paused"}).status_code == 400


def test_episode_patch_discharge_and_close(clinic, pt, episode):
    response = pt.patch(episode_url(clinic, episode), {"auth_visits": 12}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["auth_visits"] == 12
    response = pt.post(
        episode_url(clinic, episode, "discharge/"),
        {"ended_on": today(clinic).isoformat()},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert (response.json()["status"], response.json()["ended_on"]) == (
        "discharged",
        today(clinic).isoformat(),
    )
    assert response.json()["cancelled_visits"] == []
    response = pt.patch(episode_url(clinic, episode), {"auth_visits": 3}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "episode_ended"
    other = EpisodeOfCareFactory(clinic=clinic)
    response = pt.post(episode_url(clinic, other, "close/"), {}, format="json")
    assert response.json()["status"] == "closed"


def test_episode_discharge_lists_the_visits_it_cancelled(clinic, pt, episode):
    starts_at = timezone.now() + dt.timedelta(days=2)
    booked = VisitFactory(
        clinic=clinic,
        patient=episode.patient,
        episode=episode,
        starts_at=starts_at,
        ends_at=starts_at + dt.timedelta(minutes=45),
    )
    response = pt.post(
        episode_url(clinic, episode, "discharge/"),
        {"ended_on": today(clinic).isoformat()},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["cancelled_visits"] == [
        {"id": str(booked.public_id), "starts_at": starts_at.astimezone(clinic.tz).isoformat()}
    ]
    assert response.json()["patient_notified"] is False  # the patient did not agree to e-mail
    booked.refresh_from_db()
    assert booked.status == "cancelled"


@pytest.mark.parametrize(("body", "notified"), [({}, True), ({"notify": False}, False)])
def test_episode_close_tells_a_consenting_patient_unless_asked_not_to(
    clinic, pt, episode, body, notified, django_capture_on_commit_callbacks
):
    Patient.objects.filter(pk=episode.patient_id).update(
        consent_email=True, email="pat@example.org"
    )
    starts_at = timezone.now() + dt.timedelta(days=2)
    VisitFactory(
        clinic=clinic,
        patient=episode.patient,
        episode=episode,
        starts_at=starts_at,
        ends_at=starts_at + dt.timedelta(minutes=45),
    )
    with django_capture_on_commit_callbacks() as queued:
        response = pt.post(episode_url(clinic, episode, "close/"), body, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["patient_notified"] is notified
    assert len(queued) == (1 if notified else 0)


def test_episode_close_refuses_a_notify_that_is_not_a_boolean(clinic, pt, episode):
    response = pt.post(episode_url(clinic, episode, "close/"), {"notify": "perhaps"}, format="json")
    assert_field_error(response, 400, "notify")
    episode.refresh_from_db()
    assert episode.status == "active"


def test_episode_discharge_needs_the_date(clinic, pt, episode):
    response = pt.post(episode_url(clinic, episode, "discharge/"), {}, format="json")
    assert_field_error(response, 400, "ended_on")


# --- Evaluations -----------------------------------------------------------------------------


def test_evaluation_create_returns_the_draft_with_its_etag(clinic, pt, therapist, episode):
    response = pt.post(
        episode_url(clinic, episode, "evaluations/"),
        {
            "kind": "initial",
            "performed_on": episode.started_on.isoformat(),
            "complexity": "moderate",
            "objective": {"strength": {"hip_flexion_left": 4}},
            "diagnoses": [{"icd10_code": "m51.26", "description": "Disc displacement"}],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert response["ETag"] == '"1"'
    assert (body["status"], body["version"], body["cpt_code"]) == ("draft", 1, "97162")
    assert body["author"]["id"] == str(therapist.public_id)
    assert body["diagnoses"] == [{"icd10_code": "M51.26", "description": "Disc displacement"}]
    assert body["addenda"] == []


def test_evaluation_create_with_a_bad_subfield_is_400_naming_it_and_saves_nothing(
    clinic, pt, episode
):
    response = pt.post(
        episode_url(clinic, episode, "evaluations/"),
        {
            "kind": "initial",
            "performed_on": episode.started_on.isoformat(),
            "objective": {"strength": {"hip_flexion": 6}},
        },
        format="json",
    )
    body = assert_field_error(
        response, 400, "objective.strength.hip_flexion", "strength is graded 0 to 5"
    )
    assert body["detail"].startswith("objective.strength.hip_flexion: strength is graded 0 to 5")
    assert not Evaluation.objects.exists()


def test_a_second_initial_evaluation_is_400_on_kind(clinic, pt, episode, draft):
    response = pt.post(
        episode_url(clinic, episode, "evaluations/"),
        {"kind": "initial", "performed_on": episode.started_on.isoformat()},
        format="json",
    )
    assert_field_error(response, 400, "kind", "already has an initial evaluation")
    assert Evaluation.objects.count() == 1


def test_evaluation_create_by_a_clinic_admin_is_400_on_author(
    clinic, client_for, clinic_admin, episode
):
    response = client_for(clinic_admin).post(
        episode_url(clinic, episode, "evaluations/"),
        {"kind": "re_evaluation", "performed_on": episode.started_on.isoformat()},
        format="json",
    )
    assert_field_error(response, 400, "author")


def test_evaluation_patch_without_a_version_is_428(clinic, pt, draft):
    response = pt.patch(evaluation_url(clinic, draft), {"plan": "New"}, format="json")
    assert response.status_code == 428, response.content
    body = response.json()
    assert (body["code"], body["current_version"]) == ("version_required", 1)
    assert "If-Match" in body["detail"]
    draft.refresh_from_db()
    assert (draft.plan, draft.version) == ("Twice a week for four weeks.", 1)


@pytest.mark.parametrize("how", ["if_match", "weak_if_match", "body"])
def test_evaluation_patch_with_the_current_version(clinic, pt, draft, how):
    url = evaluation_url(clinic, draft)
    if how == "body":
        response = pt.patch(url, {"plan": "New", "version": 1}, format="json")
    else:
        tag = '"1"' if how == "if_match" else 'W/"1"'
        response = pt.patch(url, {"plan": "New"}, format="json", HTTP_IF_MATCH=tag)
    assert response.status_code == 200, response.content
    assert response["ETag"] == '"2"'
    assert (response.json()["plan"], response.json()["version"]) == ("New", 2)


def test_evaluation_patch_with_a_stale_version_is_409_naming_the_current_one(clinic, pt, draft):
    url = evaluation_url(clinic, draft)
    assert pt.patch(url, {"plan": "Mine"}, format="json", HTTP_IF_MATCH='"1"').status_code == 200
    response = pt.patch(url, {"plan": "Theirs"}, format="json", HTTP_IF_MATCH='"1"')
    assert response.status_code == 409
    body = response.json()
    assert (body["code"], body["current_version"]) == ("stale_version", 2)
    assert "current version is 2" in body["detail"]
    draft.refresh_from_db()
    assert draft.plan == "Mine"


@pytest.mark.parametrize(
    ("header", "body"), [('"x"', {}), ('"0"', {}), ('"1"', {"version": 2}), (None, {"version": 0})]
)
def test_evaluation_patch_with_a_malformed_or_contradictory_version_is_400(
    clinic, pt, draft, header, body
):
    extra = {"HTTP_IF_MATCH": header} if header else {}
    response = pt.patch(
        evaluation_url(clinic, draft), {"plan": "x", **body}, format="json", **extra
    )
    assert_field_error(response, 400, "version")


def test_evaluation_patch_with_a_bad_subfield_is_400_and_keeps_the_version(clinic, pt, draft):
    response = pt.patch(
        evaluation_url(clinic, draft),
        {"version": 1, "objective": {"range_of_motion": {"lumbar_flexion": 400}}},
        format="json",
    )
    assert_field_error(response, 400, "objective.range_of_motion.lumbar_flexion", "0 to 360")
    draft.refresh_from_db()
    assert draft.version == 1


def test_evaluation_sign_then_every_write_is_409_signed(clinic, pt, therapist, draft):
    response = pt.post(
        evaluation_url(clinic, draft, "sign/"), {}, format="json", HTTP_IF_MATCH='"1"'
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["version"]) == ("signed", 2)
    assert body["signed_by"]["id"] == str(therapist.public_id)
    for headers in ({"HTTP_IF_MATCH": '"2"'}, {}):
        response = pt.patch(evaluation_url(clinic, draft), {"plan": "x"}, format="json", **headers)
        assert response.status_code == 409
        assert response.json()["code"] == "signed"
    response = pt.post(evaluation_url(clinic, draft, "sign/"), {"version": 2}, format="json")
    assert (response.status_code, response.json()["code"]) == (409, "signed")


def test_evaluation_sign_without_a_version_is_428(clinic, pt, draft):
    response = pt.post(evaluation_url(clinic, draft, "sign/"), {}, format="json")
    assert response.status_code == 428
    draft.refresh_from_db()
    assert draft.status == "draft"


def test_a_pta_may_not_sign_a_progress_report_a_pt_may(clinic, client_for, episode, therapist):
    report = EvaluationFactory(episode=episode, kind="progress_report", complexity="")
    pta = client_for(therapist_in(clinic, discipline="PTA"))
    response = pta.post(evaluation_url(clinic, report, "sign/"), {"version": 1}, format="json")
    assert response.status_code == 403
    assert "licensed physical therapist (PT)" in response.json()["detail"]
    report.refresh_from_db()
    assert report.status == "draft"
    response = client_for(therapist).post(
        evaluation_url(clinic, report, "sign/"), {"version": 1}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["status"] == "signed"


def test_signing_an_initial_evaluation_without_complexity_is_400(clinic, pt, episode):
    evaluation = EvaluationFactory(episode=episode, complexity="")
    response = pt.post(evaluation_url(clinic, evaluation, "sign/"), {"version": 1}, format="json")
    assert_field_error(response, 400, "complexity", "97161")


def test_addenda_on_signed_evaluations_only(clinic, pt, therapist, draft, episode):
    signed = SignedEvaluationFactory(episode=episode, kind="re_evaluation", complexity="")
    response = pt.post(
        evaluation_url(clinic, signed, "addenda/"), {"text": "SLR was left."}, format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["author"]["id"] == str(therapist.public_id)
    listed = pt.get(evaluation_url(clinic, signed, "addenda/")).json()["results"]
    assert [a["text"] for a in listed] == ["SLR was left."]
    detail = pt.get(evaluation_url(clinic, signed)).json()
    assert [a["text"] for a in detail["addenda"]] == ["SLR was left."]
    response = pt.post(evaluation_url(clinic, draft, "addenda/"), {"text": "x"}, format="json")
    assert (response.status_code, response.json()["code"]) == (400, "not_signed")
    assert EvaluationAddendum.objects.count() == 1


# --- Goals -----------------------------------------------------------------------------------


def test_goals_create_and_status_with_history(clinic, pt, therapist, episode):
    response = pt.post(
        episode_url(clinic, episode, "goals/"),
        {"term": "short", "description": "Sit 30 minutes", "target_date": None},
        format="json",
    )
    assert response.status_code == 201, response.content
    goal_id = response.json()["id"]
    response = pt.patch(api(clinic, f"goals/{goal_id}/"), {"status": "met"}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "met"
    assert [h["status"] for h in body["status_history"]] == ["progressing", "met"]
    assert body["status_history"][-1]["changed_by"]["id"] == str(therapist.public_id)
    listed = pt.get(episode_url(clinic, episode, "goals/")).json()["results"]
    assert [h["status"] for h in listed[0]["status_history"]] == ["progressing", "met"]


def test_goal_status_must_be_known(clinic, pt, episode):
    goal = GoalFactory(episode=episode)
    response = pt.patch(api(clinic, f"goals/{goal.public_id}/"), {"status": "done"}, format="json")
    assert_field_error(response, 400, "status")


# --- Outcome measures ------------------------------------------------------------------------


def record(pt, clinic, episode, instrument, answers, **extra):
    return pt.post(
        episode_url(clinic, episode, "outcomes/"),
        {"instrument": instrument, "answers": answers, **extra},
        format="json",
    )


def test_outcome_create_stores_answers_and_score(clinic, pt, episode, draft):
    response = record(
        pt,
        clinic,
        episode,
        "odi",
        odi(2, 2, 2, 2, 2, 2, 1, 1, 1, 1),
        evaluation=str(draft.public_id),
        recorded_on=episode.started_on.isoformat(),
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["version"], body["score"], body["display"]) == (
        "2.1a",
        "32.0000",
        "32.0 % (moderate disability)",
    )
    assert body["evaluation"] == str(draft.public_id)
    assert body["answers"]["sections"]["lifting"] == 2


@pytest.mark.parametrize(
    ("instrument", "answers", "field", "fragment"),
    [
        ("odi", odi(2, 2, 6, 2, 2, 2, 1, 1, 1, 1), "answers.sections.lifting", "6 is out of range"),
        ("psfs", {"activities": [{"name": f"a{i}", "score": 5} for i in range(6)]},
         "answers.activities", "has 6 activities"),
        ("nprs", {"pain": 11}, "answers.pain", "11 is out of range"),
    ],
)  # fmt: skip
def test_outcome_create_with_a_bad_answer_is_400_naming_it_and_saves_nothing(
    clinic, pt, episode, instrument, answers, field, fragment
):
    response = record(pt, clinic, episode, instrument, answers)
    assert_field_error(response, 400, field, fragment)
    assert not OutcomeMeasure.objects.exists()


def test_outcome_entered_in_error_and_summary(clinic, pt, episode):
    start = episode.started_on
    wrong = record(pt, clinic, episode, "nprs", {"pain": 2}, recorded_on=start.isoformat())
    record(pt, clinic, episode, "nprs", {"pain": 8}, recorded_on=start.isoformat())
    record(
        pt, clinic, episode, "nprs", {"pain": 5}, recorded_on=(start + dt.timedelta(7)).isoformat()
    )
    response = pt.post(api(clinic, f"outcomes/{wrong.json()['id']}/entered-in-error/"))
    assert response.status_code == 200, response.content
    assert response.json()["entered_in_error"] is True

    summary = pt.get(episode_url(clinic, episode, "outcomes/summary/"))
    assert summary.status_code == 200, summary.content
    (nprs,) = summary.json()
    assert (nprs["instrument"], nprs["count"]) == ("nprs", 2)
    assert (nprs["baseline"]["score"], nprs["latest"]["score"]) == ("8.0000", "5.0000")
    assert nprs["previous"]["score"] == "8.0000"
    assert nprs["change"]["improvement"] == "3.0000"
    assert nprs["change"]["reached"] == ["absolute", "relative"]
    assert nprs["mcid_reached"] is True
    listed = pt.get(episode_url(clinic, episode, "outcomes/"), {"instrument": "nprs"})
    assert [row["entered_in_error"] for row in listed.json()["results"]] == [True, False, False]


def test_outcome_list_refuses_an_unknown_instrument(clinic, pt, episode):
    response = pt.get(episode_url(clinic, episode, "outcomes/"), {"instrument": "vas"})
    assert_field_error(response, 400, "instrument")


# --- Query counts ------------------------------------------------------------------------------


def count_queries(client, url, params=None) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, params or {})
    assert response.status_code == 200, response.content
    return len(queries)


def grow(clinic, episode, therapist, n: int) -> None:
    """`n` more rows of every kind, each with the related rows a serializer could touch."""
    for _ in range(n):
        EpisodeOfCareFactory(
            patient=episode.patient,
            therapist=therapist_in(clinic),
            primary_diagnosis=DiagnosisFactory(patient=episode.patient),
        )
        signed = SignedEvaluationFactory(
            episode=episode, kind="re_evaluation", complexity="", author=therapist_in(clinic)
        )
        EvaluationAddendumFactory(evaluation=signed, author=therapist_in(clinic))
        EvaluationAddendumFactory(evaluation=signed)
        goal = GoalFactory(episode=episode)
        goal.status = "met"
        goal.save()
        OutcomeMeasureFactory(episode=episode, recorded_by=therapist_in(clinic))
        OutcomeMeasureFactory(
            episode=episode,
            instrument="odi",
            version="2.1a",
            answers=odi(1, 1, 1, 1, 1, 1, 1, 1, 1, 1),
            score=20,
        )


LIST_URLS = [
    lambda c, e: api(c, "episodes/"),
    lambda c, e: api(c, f"patients/{e.patient.public_id}/episodes/"),
    lambda c, e: episode_url(c, e, "evaluations/"),
    lambda c, e: evaluation_url(
        c, Evaluation.objects.filter(episode=e, status="signed").first(), "addenda/"
    ),
    lambda c, e: episode_url(c, e, "goals/"),
    lambda c, e: episode_url(c, e, "outcomes/"),
    lambda c, e: episode_url(c, e, "outcomes/summary/"),
]


@pytest.mark.parametrize("url", LIST_URLS)
def test_list_query_counts_do_not_grow_with_rows(
    clinic, pt, episode, therapist, url, django_assert_max_num_queries
):
    grow(clinic, episode, therapist, 1)
    few = count_queries(pt, url(clinic, episode))
    grow(clinic, episode, therapist, 4)
    many = count_queries(pt, url(clinic, episode))
    assert many == few
    with django_assert_max_num_queries(7):
        pt.get(url(clinic, episode))


def test_evaluation_detail_query_count_does_not_grow_with_addenda(clinic, pt, episode):
    signed = SignedEvaluationFactory(episode=episode)
    EvaluationAddendumFactory(evaluation=signed)
    few = count_queries(pt, evaluation_url(clinic, signed))
    for _ in range(5):
        EvaluationAddendumFactory(evaluation=signed, author=therapist_in(clinic))
    assert count_queries(pt, evaluation_url(clinic, signed)) == few
