"""The clinical-record admin: scoped, saved through the services, signed evaluations and outcome
measures read-only (a measure may only be marked entered in error), nothing deleted."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.urls import reverse
from django.utils import timezone

from patients.models import (
    BillingRule,
    EpisodeOfCare,
    Evaluation,
    Goal,
    OutcomeMeasure,
    Patient,
)
from patients.outcomes import ODI_SECTIONS
from tests.factories import (
    EpisodeOfCareFactory,
    EvaluationAddendumFactory,
    EvaluationFactory,
    GoalFactory,
    OutcomeMeasureFactory,
    PatientFactory,
    SignedEvaluationFactory,
    VisitFactory,
)

pytestmark = pytest.mark.django_db


def url(model, view: str, *args) -> str:
    return reverse(f"admin:patients_{model._meta.model_name}_{view}", args=args)


@pytest.fixture
def admin_client(client, clinic_admin):
    client.force_login(clinic_admin)
    return client


@pytest.fixture
def episode(clinic, therapist):
    return EpisodeOfCareFactory(clinic=clinic, therapist=therapist)


ADDENDA_INLINE = {
    "addenda-TOTAL_FORMS": 0,
    "addenda-INITIAL_FORMS": 0,
    "addenda-MIN_NUM_FORMS": 0,
    "addenda-MAX_NUM_FORMS": 1000,
}


def draft_form(evaluation: Evaluation, **changes) -> dict:
    data = {
        "performed_on": evaluation.performed_on.isoformat(),
        "visit": "",
        "subjective": json.dumps(evaluation.subjective),
        "objective": json.dumps(evaluation.objective),
        "diagnoses": json.dumps(evaluation.diagnoses),
        "complexity": evaluation.complexity,
        "assessment": evaluation.assessment,
        "plan": evaluation.plan,
        "based_on_version": evaluation.version,
        **ADDENDA_INLINE,
    }
    data.update(changes)
    return data


# --- Scoping and deletes -----------------------------------------------------------------------


def test_changelists_show_only_the_administered_clinics_rows(admin_client, clinic, other_clinic):
    for factory, model in (
        (EpisodeOfCareFactory, EpisodeOfCare),
        (EvaluationFactory, Evaluation),
        (GoalFactory, Goal),
        (OutcomeMeasureFactory, OutcomeMeasure),
    ):
        ours, theirs = factory(clinic=clinic), factory(clinic=other_clinic)
        response = admin_client.get(url(model, "changelist"))
        assert response.status_code == 200
        shown = set(response.context["cl"].result_list)
        assert ours in shown
        assert theirs not in shown
        response = admin_client.get(url(model, "changelist"), {"clinic": other_clinic.pk})
        assert list(response.context["cl"].result_list) == []


@pytest.mark.parametrize(
    "factory", [EpisodeOfCareFactory, EvaluationFactory, GoalFactory, OutcomeMeasureFactory]
)
def test_clinical_rows_are_never_deleted(admin_client, clinic, factory):
    row = factory(clinic=clinic)
    model = type(row)
    assert admin_client.get(url(model, "delete", row.pk)).status_code == 403
    assert admin_client.post(url(model, "delete", row.pk), {"post": "yes"}).status_code == 403
    changelist = admin_client.get(url(model, "changelist"))
    action_form = changelist.context["action_form"]
    actions = {name for name, _ in action_form.fields["action"].choices} if action_form else set()
    assert "delete_selected" not in actions
    assert model.objects.filter(pk=row.pk).exists()


def test_history_pages_open(admin_client, clinic):
    signed = SignedEvaluationFactory(clinic=clinic)
    assert admin_client.get(url(Evaluation, "history", signed.pk)).status_code == 200


# --- Evaluations -------------------------------------------------------------------------------


def test_a_signed_evaluation_is_read_only_with_its_addenda(admin_client, clinic):
    signed = SignedEvaluationFactory(clinic=clinic)
    EvaluationAddendumFactory(evaluation=signed, text="Correction: left side.")
    response = admin_client.get(url(Evaluation, "change", signed.pk))
    assert response.status_code == 200
    assert response.context["has_change_permission"] is False
    assert "Correction: left side." in response.content.decode()
    response = admin_client.post(url(Evaluation, "change", signed.pk), draft_form(signed))
    assert response.status_code == 403
    signed.refresh_from_db()
    assert signed.version == 1


def test_a_draft_is_saved_through_the_service_with_its_version(
    admin_client, clinic, clinic_admin, episode
):
    draft = EvaluationFactory(episode=episode)
    response = admin_client.post(
        url(Evaluation, "change", draft.pk), draft_form(draft, plan="Three times a week.")
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    draft.refresh_from_db()
    assert (draft.plan, draft.version) == ("Three times a week.", 2)
    assert draft.history.first().history_user == clinic_admin


def test_a_draft_saved_by_someone_else_meanwhile_is_refused(admin_client, episode, therapist):
    draft = EvaluationFactory(episode=episode)
    stale = draft_form(draft, plan="Mine")
    Evaluation.objects.filter(pk=draft.pk).update(version=2, plan="Theirs")
    response = admin_client.post(url(Evaluation, "change", draft.pk), stale)
    assert response.status_code == 200
    errors = response.context["adminform"].form.non_field_errors()
    assert "now version 2" in errors[0]
    draft.refresh_from_db()
    assert draft.plan == "Theirs"


def test_a_bad_subfield_is_shown_on_its_field(admin_client, episode):
    draft = EvaluationFactory(episode=episode)
    response = admin_client.post(
        url(Evaluation, "change", draft.pk),
        draft_form(draft, objective=json.dumps({"strength": {"hip_flexion": 6}})),
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["objective"] == [
        "strength.hip_flexion: strength is graded 0 to 5 (whole grades); not 6"
    ]
    draft.refresh_from_db()
    assert draft.version == 1


def test_an_evaluation_is_added_through_the_service(admin_client, episode, therapist, receptionist):
    data = {
        "episode": episode.pk,
        "kind": "re_evaluation",
        "author": receptionist.pk,
        "performed_on": episode.started_on.isoformat(),
        "subjective": "{}",
        "objective": "{}",
        "diagnoses": "[]",
        "complexity": "",
        "assessment": "",
        "plan": "",
        **ADDENDA_INLINE,
    }
    response = admin_client.post(url(Evaluation, "add"), data)
    assert response.status_code == 200
    assert "author" in response.context["adminform"].form.errors
    response = admin_client.post(url(Evaluation, "add"), {**data, "author": therapist.pk})
    assert response.status_code == 302
    created = Evaluation.objects.get()
    assert (created.clinic, created.author, created.version) == (episode.clinic, therapist, 1)


# --- Episodes, goals, outcome measures ---------------------------------------------------------


def test_an_episode_added_in_the_admin_gets_the_payer_defaults(admin_client, clinic, therapist):
    patient = PatientFactory(clinic=clinic, payer_type=Patient.Payer.MEDICARE)
    response = admin_client.post(
        url(EpisodeOfCare, "add"),
        {
            "patient": patient.pk,
            "therapist": therapist.pk,
            "primary_diagnosis": "",
            "started_on": "2026-01-05",
            "billing_rule": "",
            "progress_report_clock": "unknown",
            "auth_reference": "",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    episode = EpisodeOfCare.objects.get()
    assert (episode.clinic, episode.billing_rule, episode.progress_report_clock) == (
        clinic,
        BillingRule.MEDICARE_8_MINUTE,
        True,
    )


def test_an_ended_episode_is_read_only(admin_client, clinic):
    episode = EpisodeOfCareFactory(clinic=clinic, status="discharged")
    response = admin_client.get(url(EpisodeOfCare, "change", episode.pk))
    assert response.context["has_change_permission"] is False


def test_discharge_action(admin_client, episode):
    response = admin_client.post(
        url(EpisodeOfCare, "changelist"),
        {"action": "discharge_today", "_selected_action": [episode.pk]},
    )
    assert response.status_code == 302
    episode.refresh_from_db()
    assert episode.status == "discharged"


def test_the_close_action_says_how_many_visits_it_cancelled_and_patients_it_told(
    admin_client, episode, django_capture_on_commit_callbacks
):
    Patient.objects.filter(pk=episode.patient_id).update(
        consent_email=True, email="pat@example.org"
    )
    starts_at = timezone.now() + dt.timedelta(days=3)
    VisitFactory(
        clinic=episode.clinic,
        patient=episode.patient,
        episode=episode,
        starts_at=starts_at,
        ends_at=starts_at + dt.timedelta(minutes=45),
    )
    with django_capture_on_commit_callbacks() as queued:
        response = admin_client.post(
            url(EpisodeOfCare, "changelist"),
            {"action": "close_today", "_selected_action": [episode.pk]},
            follow=True,
        )
    assert [str(m) for m in response.context["messages"]] == [
        "Ended 1 episode(s); cancelled their 1 booked visit(s) (1 patient(s) told by e-mail)."
    ]
    assert len(queued) == 1  # the e-mail task, published after the commit


def test_a_goals_status_is_changed_through_the_service(admin_client, episode, clinic_admin):
    goal = GoalFactory(episode=episode)
    response = admin_client.post(url(Goal, "change", goal.pk), {"status": "met"})
    assert response.status_code == 302
    goal.refresh_from_db()
    assert goal.status == "met"
    assert goal.history.first().history_user == clinic_admin


def test_an_outcome_measure_may_only_be_marked_entered_in_error(admin_client, episode):
    measure = OutcomeMeasureFactory(episode=episode)
    page = admin_client.get(url(OutcomeMeasure, "change", measure.pk))
    assert list(page.context["adminform"].form.fields) == ["entered_in_error"]
    response = admin_client.post(url(OutcomeMeasure, "change", measure.pk), {"answers": "{}"})
    assert response.status_code == 302
    measure.refresh_from_db()
    assert (measure.answers, measure.entered_in_error) == ({"pain": 6}, False)
    admin_client.post(url(OutcomeMeasure, "change", measure.pk), {"entered_in_error": "on"})
    measure.refresh_from_db()
    assert measure.entered_in_error
    response = admin_client.post(url(OutcomeMeasure, "change", measure.pk), {})
    assert "entered_in_error" in response.context["adminform"].form.errors
    measure.refresh_from_db()
    assert measure.entered_in_error


def test_an_outcome_measure_added_in_the_admin_is_validated_and_scored(admin_client, episode):
    sections = dict.fromkeys(ODI_SECTIONS, 2)
    data = {
        "episode": episode.pk,
        "instrument": "odi",
        "version": "",
        "recorded_on": episode.started_on.isoformat(),
        "evaluation": "",
        "visit": "",
    }
    bad = {**sections, "lifting": 6}
    response = admin_client.post(
        url(OutcomeMeasure, "add"), {**data, "answers": json.dumps({"sections": bad})}
    )
    assert response.status_code == 200
    assert (
        response.context["adminform"]
        .form.errors["answers"][0]
        .startswith("sections.lifting: 6 is out of range")
    )
    assert not OutcomeMeasure.objects.exists()
    response = admin_client.post(
        url(OutcomeMeasure, "add"), {**data, "answers": json.dumps({"sections": sections})}
    )
    assert response.status_code == 302
    measure = OutcomeMeasure.objects.get()
    assert (measure.version, measure.score, measure.clinic) == ("2.1a", 40, episode.clinic)
