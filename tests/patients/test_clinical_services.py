"""The clinical record's services (patients.clinical), against the database: episodes, evaluations
(versions, signing, immutability in the service and in the database), addenda, goals, outcome
measures and the outcome summary."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from clinic.capabilities import Role
from clinic.errors import ApplicationError, ConflictError, VersionRequired
from patients import clinical
from patients.clinical_selectors import goal_status_history, outcome_summary
from patients.models import (
    BillingRule,
    EpisodeOfCare,
    Evaluation,
    EvaluationAddendum,
    Goal,
    OutcomeMeasure,
    Patient,
    Visit,
)
from patients.outcomes import ODI_SECTIONS
from tests.factories import (
    DiagnosisFactory,
    EpisodeOfCareFactory,
    EvaluationFactory,
    GoalFactory,
    MembershipFactory,
    OutcomeMeasureFactory,
    PatientFactory,
    SignedEvaluationFactory,
    VisitFactory,
    therapist_in,
)

pytestmark = pytest.mark.django_db


def today(clinic) -> dt.date:
    return timezone.localdate(timezone=clinic.tz)


def field_errors(exc_info) -> dict[str, list[str]]:
    return exc_info.value.message_dict


@pytest.fixture
def patient(clinic):
    return PatientFactory(clinic=clinic, payer_type=Patient.Payer.COMMERCIAL)


@pytest.fixture
def episode(clinic, therapist):
    return EpisodeOfCareFactory(clinic=clinic, therapist=therapist)


@pytest.fixture
def draft(episode, therapist):
    return EvaluationFactory(episode=episode, author=therapist, complexity="moderate")


@pytest.fixture
def pta(clinic):
    return therapist_in(clinic, discipline="PTA")


def odi(total_of_ten: list[int | None]) -> dict:
    return {"sections": dict(zip(ODI_SECTIONS, total_of_ten, strict=True))}


# --- Episodes of care ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payer", "medicare_rules", "rule", "clock"),
    [
        (Patient.Payer.MEDICARE, True, BillingRule.MEDICARE_8_MINUTE, True),
        (Patient.Payer.MEDICARE, False, BillingRule.PER_CODE_8, False),
        (Patient.Payer.COMMERCIAL, True, BillingRule.PER_CODE_8, False),
        (Patient.Payer.COMMERCIAL, False, BillingRule.PER_CODE_8, False),
        (Patient.Payer.SELF_PAY, True, BillingRule.PER_CODE_8, False),
        (Patient.Payer.OTHER, True, BillingRule.PER_CODE_8, False),
    ],
)
def test_episode_open_defaults_billing_rule_and_clock_from_payer_and_clinic(
    clinic, therapist, payer, medicare_rules, rule, clock
):
    clinic.medicare_rules = medicare_rules
    clinic.save(update_fields=["medicare_rules"])
    patient = PatientFactory(clinic=clinic, payer_type=payer)

    episode = clinical.episode_open(
        patient=patient, therapist=therapist, started_on=today(clinic), by=therapist
    )

    episode.refresh_from_db()
    assert (episode.billing_rule, episode.progress_report_clock) == (rule, clock)
    assert episode.clinic == clinic
    assert episode.status == EpisodeOfCare.Status.ACTIVE
    assert episode.history.get().history_user == therapist


def test_episode_open_takes_explicit_rule_and_clock_over_the_defaults(clinic, therapist):
    patient = PatientFactory(clinic=clinic, payer_type=Patient.Payer.MEDICARE)
    episode = clinical.episode_open(
        patient=patient,
        therapist=therapist,
        started_on=today(clinic),
        billing_rule=BillingRule.PER_CODE_8,
        progress_report_clock=False,
        by=therapist,
    )
    assert (episode.billing_rule, episode.progress_report_clock) == (BillingRule.PER_CODE_8, False)


@pytest.mark.parametrize("who", ["receptionist", "clinic_admin", "outsider", "former", "inactive"])
def test_episode_open_refuses_a_therapist_who_is_not_an_active_therapist_of_the_clinic(
    request, clinic, patient, who
):
    if who == "former":
        user = therapist_in(clinic)
        user.memberships.update(active=False)
    elif who == "inactive":
        user = therapist_in(clinic)
        user.is_active = False
        user.save(update_fields=["is_active"])
    else:
        user = request.getfixturevalue(who)
    with pytest.raises(ValidationError) as caught:
        clinical.episode_open(patient=patient, therapist=user, started_on=today(clinic), by=None)
    assert list(field_errors(caught)) == ["therapist"]
    assert not EpisodeOfCare.objects.exists()


def test_episode_open_refuses_another_patients_diagnosis(clinic, therapist, patient):
    theirs = DiagnosisFactory(patient=PatientFactory(clinic=clinic))
    with pytest.raises(ValidationError) as caught:
        clinical.episode_open(
            patient=patient,
            therapist=therapist,
            started_on=today(clinic),
            primary_diagnosis=theirs,
            by=therapist,
        )
    assert list(field_errors(caught)) == ["primary_diagnosis"]
    mine = DiagnosisFactory(patient=patient)
    episode = clinical.episode_open(
        patient=patient,
        therapist=therapist,
        started_on=today(clinic),
        primary_diagnosis=mine,
        by=therapist,
    )
    assert episode.primary_diagnosis == mine


MARCH_1, FEB_28 = dt.date(2026, 3, 1), dt.date(2026, 2, 28)


@pytest.mark.parametrize(
    ("auth", "field"),
    [
        ({"auth_starts_on": MARCH_1, "auth_ends_on": FEB_28}, "auth_ends_on"),
        ({"auth_visits": -1}, "auth_visits"),
        ({"auth_units": -4}, "auth_units"),
    ],
)
def test_episode_open_validates_the_authorization(clinic, therapist, patient, auth, field):
    with pytest.raises(ValidationError) as caught:
        clinical.episode_open(
            patient=patient, therapist=therapist, started_on=today(clinic), by=therapist, **auth
        )
    assert list(field_errors(caught)) == [field]


def test_episode_open_keeps_a_valid_authorization(clinic, therapist, patient):
    episode = clinical.episode_open(
        patient=patient,
        therapist=therapist,
        started_on=today(clinic),
        auth_reference="AUTH-1",
        auth_visits=12,
        auth_units=0,
        auth_starts_on=today(clinic),
        auth_ends_on=today(clinic),
        by=therapist,
    )
    episode.refresh_from_db()
    assert (episode.auth_reference, episode.auth_visits, episode.auth_units) == ("AUTH-1", 12, 0)


def test_episode_open_refuses_an_archived_patient(clinic, therapist, patient):
    patient.archived_at = timezone.now()
    patient.save(update_fields=["archived_at"])
    with pytest.raises(ApplicationError) as caught:
        clinical.episode_open(
            patient=patient, therapist=therapist, started_on=today(clinic), by=therapist
        )
    assert caught.value.code == "archived"


def test_episode_update_changes_fields_and_keeps_history(episode, therapist, clinic):
    other = therapist_in(clinic)
    clinical.episode_update(episode=episode, therapist=other, auth_visits=8, by=therapist)
    episode.refresh_from_db()
    assert (episode.therapist, episode.auth_visits) == (other, 8)
    latest = episode.history.first()
    assert latest.history_user == therapist
    assert latest.history_type == "~"


def test_episode_update_refuses_a_start_after_the_first_evaluation(episode, draft, therapist):
    with pytest.raises(ValidationError) as caught:
        clinical.episode_update(
            episode=episode, started_on=draft.performed_on + dt.timedelta(days=1), by=therapist
        )
    assert list(field_errors(caught)) == ["started_on"]


@pytest.mark.parametrize("end", [clinical.episode_discharge, clinical.episode_close])
def test_an_ended_episode_is_not_updated(episode, therapist, clinic, end):
    end(episode=episode, ended_on=today(clinic), by=therapist)
    with pytest.raises(ApplicationError) as caught:
        clinical.episode_update(episode=episode, auth_visits=3, by=therapist)
    assert caught.value.code == "episode_ended"
    with pytest.raises(ApplicationError):
        clinical.episode_discharge(episode=episode, ended_on=today(clinic), by=therapist)


def test_episode_discharge_sets_status_and_end(episode, therapist, clinic):
    clinical.episode_discharge(episode=episode, ended_on=today(clinic), by=therapist)
    episode.refresh_from_db()
    assert (episode.status, episode.ended_on) == (EpisodeOfCare.Status.DISCHARGED, today(clinic))


@pytest.mark.parametrize("days", [-30, 1])
def test_episode_discharge_refuses_an_end_before_the_start_or_in_the_future(
    episode, therapist, clinic, days
):
    ended_on = (episode.started_on if days < 0 else today(clinic)) + dt.timedelta(days=days)
    with pytest.raises(ValidationError) as caught:
        clinical.episode_discharge(episode=episode, ended_on=ended_on, by=therapist)
    assert list(field_errors(caught)) == ["ended_on"]
    episode.refresh_from_db()
    assert episode.status == EpisodeOfCare.Status.ACTIVE


@pytest.mark.parametrize("end", [clinical.episode_discharge, clinical.episode_close])
def test_ending_an_episode_cancels_its_visits_still_booked(episode, therapist, clinic, end):
    now = timezone.now()

    def visit(hours: int, status: str = Visit.Status.BOOKED, **kwargs) -> Visit:
        starts_at = now + dt.timedelta(hours=hours)
        return VisitFactory(
            clinic=clinic,
            patient=episode.patient,
            therapist=therapist,
            episode=kwargs.pop("episode", episode),
            starts_at=starts_at,
            ends_at=starts_at + dt.timedelta(minutes=45),
            status=status,
        )

    ahead = [visit(48), visit(24)]
    checked_in = visit(-1, Visit.Status.CHECKED_IN)
    completed = visit(-50, Visit.Status.COMPLETED)
    other_episode = visit(72, episode=EpisodeOfCareFactory(clinic=clinic, patient=episode.patient))
    ended = end(episode=episode, ended_on=today(clinic), by=therapist)
    assert [v.pk for v in ended.cancelled] == [ahead[1].pk, ahead[0].pk]
    statuses = dict(Visit.objects.values_list("pk", "status"))
    assert statuses[ahead[0].pk] == statuses[ahead[1].pk] == Visit.Status.CANCELLED  # never late
    assert statuses[checked_in.pk] == Visit.Status.CHECKED_IN
    assert statuses[completed.pk] == Visit.Status.COMPLETED
    assert statuses[other_episode.pk] == Visit.Status.BOOKED
    reason = Visit.objects.get(pk=ahead[0].pk).cancel_reason
    assert reason == (
        "Episode discharged" if end is clinical.episode_discharge else "Episode closed"
    )
    assert Visit.history.filter(id=ahead[0].pk, status=Visit.Status.CANCELLED).count() == 1


def test_episode_close_ends_today_by_default(episode, therapist, clinic):
    clinical.episode_close(episode=episode, by=therapist)
    episode.refresh_from_db()
    assert (episode.status, episode.ended_on) == (EpisodeOfCare.Status.CLOSED, today(clinic))


# --- Evaluations: creating -------------------------------------------------------------------


def create(episode, author, **fields) -> Evaluation:
    values = {"kind": "initial", "performed_on": episode.started_on, **fields}
    return clinical.evaluation_create(episode=episode, author=author, by=author, **values)


def test_evaluation_create_makes_a_draft_at_version_1(episode, therapist):
    evaluation = create(
        episode,
        therapist,
        complexity="high",
        subjective={"red_flags": {"saddle_anaesthesia": False}},
        objective={"strength": {"hip_flexion_left": 4}},
        diagnoses=[{"icd10_code": "m5450", "description": "Low back pain"}],
    )
    evaluation.refresh_from_db()
    assert (evaluation.status, evaluation.version) == (Evaluation.Status.DRAFT, 1)
    assert evaluation.diagnoses == [{"icd10_code": "M54.50", "description": "Low back pain"}]
    assert evaluation.cpt_code == "97163"
    assert evaluation.history.get().history_user == therapist


@pytest.mark.parametrize(
    ("kind", "complexity", "cpt"),
    [
        ("initial", "low", "97161"),
        ("initial", "moderate", "97162"),
        ("initial", "high", "97163"),
        ("initial", "", None),
        ("re_evaluation", "", "97164"),
        ("progress_report", "", None),
        ("discharge", "", None),
    ],
)
def test_evaluation_cpt_codes(episode, therapist, kind, complexity, cpt):
    assert create(episode, therapist, kind=kind, complexity=complexity).cpt_code == cpt


@pytest.mark.parametrize("first", [EvaluationFactory, SignedEvaluationFactory])
def test_an_episode_has_at_most_one_initial_evaluation(episode, therapist, first):
    first(episode=episode, author=therapist)
    with pytest.raises(ValidationError) as caught:
        create(episode, therapist)
    assert list(field_errors(caught)) == ["kind"]
    assert create(episode, therapist, kind="re_evaluation").kind == "re_evaluation"
    assert Evaluation.objects.filter(episode=episode).count() == 2


def test_only_an_initial_evaluation_has_a_complexity(episode, therapist):
    with pytest.raises(ValidationError) as caught:
        create(episode, therapist, kind="re_evaluation", complexity="low")
    assert list(field_errors(caught)) == ["complexity"]


@pytest.mark.parametrize("who", ["receptionist", "clinic_admin", "outsider"])
def test_evaluation_author_must_be_a_therapist_of_the_clinic(request, episode, who):
    with pytest.raises(ValidationError) as caught:
        create(episode, request.getfixturevalue(who))
    assert list(field_errors(caught)) == ["author"]


def test_evaluation_create_names_bad_json_subfields_and_saves_nothing(episode, therapist):
    with pytest.raises(ValidationError) as caught:
        create(
            episode,
            therapist,
            objective={"strength": {"hip_flexion": 6}, "range_of_motion": {"lumbar_flexion": 400}},
            subjective={"red_flags": {"saddle_anaesthesia": "no"}},
            diagnoses=[{"icd10_code": "54.50", "description": "Low back pain"}],
        )
    errors = field_errors(caught)
    assert errors["objective.strength.hip_flexion"] == [
        "strength is graded 0 to 5 (whole grades); not 6"
    ]
    assert set(errors) == {
        "objective.strength.hip_flexion",
        "objective.range_of_motion.lumbar_flexion",
        "subjective.red_flags.saddle_anaesthesia",
        "diagnoses.1.icd10_code",
    }
    assert not Evaluation.objects.exists()


@pytest.mark.parametrize("days", [-1, "future"])
def test_evaluation_date_lies_within_the_episode(episode, therapist, clinic, days):
    performed_on = (
        today(clinic) + dt.timedelta(days=1)
        if days == "future"
        else episode.started_on + dt.timedelta(days=days)
    )
    with pytest.raises(ValidationError) as caught:
        create(episode, therapist, performed_on=performed_on)
    assert list(field_errors(caught)) == ["performed_on"]


def test_evaluation_visit_must_be_the_patients_and_held(episode, therapist, clinic):
    theirs = VisitFactory(clinic=clinic)
    with pytest.raises(ValidationError) as caught:
        create(episode, therapist, visit=theirs)
    assert list(field_errors(caught)) == ["visit"]
    cancelled = VisitFactory(clinic=clinic, patient=episode.patient, status="cancelled")
    with pytest.raises(ValidationError):
        create(episode, therapist, visit=cancelled)
    mine = VisitFactory(clinic=clinic, patient=episode.patient, therapist=therapist)
    assert create(episode, therapist, visit=mine).visit == mine


def test_only_a_discharge_summary_is_added_to_a_discharged_episode(episode, therapist, clinic):
    clinical.episode_discharge(episode=episode, ended_on=today(clinic), by=therapist)
    with pytest.raises(ApplicationError) as caught:
        create(episode, therapist, kind="progress_report")
    assert caught.value.code == "episode_ended"
    summary = create(episode, therapist, kind="discharge", performed_on=today(clinic))
    assert summary.kind == "discharge"


# --- Evaluations: versions -------------------------------------------------------------------


def test_evaluation_update_with_the_current_version_bumps_it(draft, therapist):
    updated = clinical.evaluation_update(
        evaluation=draft, version=1, assessment="Better.", by=therapist
    )
    assert updated.version == 2
    draft.refresh_from_db()
    assert (draft.assessment, draft.version) == ("Better.", 2)
    assert draft.history.first().history_user == therapist


def test_evaluation_update_with_a_stale_version_is_409_naming_the_current_one(draft, therapist):
    clinical.evaluation_update(evaluation=draft, version=1, plan="Plan A", by=therapist)
    with pytest.raises(ConflictError) as caught:
        clinical.evaluation_update(evaluation=draft, version=1, plan="Plan B", by=therapist)
    assert caught.value.code == "stale_version"
    assert caught.value.status_code == 409
    assert caught.value.extra == {"current_version": 2}
    assert "current version is 2" in caught.value.message
    draft.refresh_from_db()
    assert (draft.plan, draft.version) == ("Plan A", 2)


def test_evaluation_update_without_a_version_is_428(draft, therapist):
    with pytest.raises(VersionRequired) as caught:
        clinical.evaluation_update(evaluation=draft, version=None, plan="x", by=therapist)
    assert (caught.value.status_code, caught.value.code) == (428, "version_required")
    assert caught.value.extra == {"current_version": 1}


def test_two_editors_of_the_same_version_one_wins_one_is_refused(draft, clinic):
    """Both opened version 1; each holds their own copy of the row."""
    alice, bob = therapist_in(clinic), therapist_in(clinic)
    alices_copy = Evaluation.objects.get(pk=draft.pk)
    bobs_copy = Evaluation.objects.get(pk=draft.pk)

    clinical.evaluation_update(evaluation=alices_copy, version=1, plan="Alice's", by=alice)
    with pytest.raises(ConflictError) as caught:
        clinical.evaluation_update(evaluation=bobs_copy, version=1, plan="Bob's", by=bob)

    assert caught.value.code == "stale_version"
    draft.refresh_from_db()
    assert (draft.plan, draft.version) == ("Alice's", 2)
    assert [h.history_user for h in draft.history.all()][:1] == [alice]


def test_evaluation_update_validates_like_create_and_keeps_the_version(draft, therapist):
    with pytest.raises(ValidationError) as caught:
        clinical.evaluation_update(
            evaluation=draft,
            version=1,
            objective={"special_tests": {"slr_left": "maybe"}},
            by=therapist,
        )
    assert list(field_errors(caught)) == ["objective.special_tests.slr_left"]
    draft.refresh_from_db()
    assert draft.version == 1


def test_evaluation_update_without_changes_keeps_the_version(draft, therapist):
    assert clinical.evaluation_update(evaluation=draft, version=1, by=therapist).version == 1
    draft.refresh_from_db()
    assert (draft.version, draft.history.count()) == (1, 1)


def test_evaluation_update_refuses_unknown_fields(draft, therapist):
    with pytest.raises(TypeError):
        clinical.evaluation_update(evaluation=draft, version=1, status="signed", by=therapist)


# --- Evaluations: signing and immutability ---------------------------------------------------


def test_evaluation_sign_by_a_pt(draft, therapist):
    signed = clinical.evaluation_sign(evaluation=draft, by=therapist, version=1)
    draft.refresh_from_db()
    assert draft.status == Evaluation.Status.SIGNED
    assert draft.signed_by == therapist
    assert draft.signed_at is not None
    assert draft.version == signed.version == 2


@pytest.mark.parametrize(
    ("kind", "discipline", "allowed"),
    [
        ("progress_report", "PT", True),
        ("progress_report", "PTA", False),
        ("initial", "PT", True),
        ("initial", "PTA", True),
        ("re_evaluation", "PTA", True),
        ("discharge", "PTA", True),
    ],
)
def test_who_may_sign_by_kind_and_discipline(clinic, episode, kind, discipline, allowed):
    signer = therapist_in(clinic, discipline=discipline)
    evaluation = EvaluationFactory(
        episode=episode, kind=kind, complexity="low" if kind == "initial" else ""
    )
    if allowed:
        clinical.evaluation_sign(evaluation=evaluation, by=signer, version=1)
        evaluation.refresh_from_db()
        assert evaluation.signed_by == signer
    else:
        with pytest.raises(PermissionDenied, match="licensed physical therapist"):
            clinical.evaluation_sign(evaluation=evaluation, by=signer, version=1)
        evaluation.refresh_from_db()
        assert evaluation.status == Evaluation.Status.DRAFT


def test_a_therapist_without_a_profile_cannot_sign_a_progress_report(clinic, episode):
    signer = MembershipFactory(clinic=clinic, role=Role.THERAPIST).user
    report = EvaluationFactory(episode=episode, kind="progress_report", complexity="")
    with pytest.raises(PermissionDenied):
        clinical.evaluation_sign(evaluation=report, by=signer, version=1)


@pytest.mark.parametrize("who", ["receptionist", "clinic_admin", "outsider", "superuser"])
def test_only_a_therapist_of_the_clinic_signs(request, draft, who):
    with pytest.raises(PermissionDenied):
        clinical.evaluation_sign(evaluation=draft, by=request.getfixturevalue(who), version=1)
    draft.refresh_from_db()
    assert draft.status == Evaluation.Status.DRAFT


def test_an_initial_evaluation_needs_its_complexity_before_signing(episode, therapist):
    evaluation = EvaluationFactory(episode=episode, complexity="")
    with pytest.raises(ValidationError) as caught:
        clinical.evaluation_sign(evaluation=evaluation, by=therapist, version=1)
    assert list(field_errors(caught)) == ["complexity"]
    assert "97161" in field_errors(caught)["complexity"][0]


def test_signing_needs_the_current_version(draft, therapist):
    with pytest.raises(VersionRequired):
        clinical.evaluation_sign(evaluation=draft, by=therapist, version=None)
    with pytest.raises(ConflictError) as caught:
        clinical.evaluation_sign(evaluation=draft, by=therapist, version=7)
    assert caught.value.code == "stale_version"


def test_a_signed_evaluation_is_refused_by_every_service_with_409(draft, therapist):
    clinical.evaluation_sign(evaluation=draft, by=therapist, version=1)
    for version in (1, 2, None):
        with pytest.raises(ConflictError) as caught:
            clinical.evaluation_update(evaluation=draft, version=version, plan="x", by=therapist)
        assert (caught.value.code, caught.value.status_code) == ("signed", 409)
        with pytest.raises(ConflictError):
            clinical.evaluation_sign(evaluation=draft, by=therapist, version=version)
    draft.refresh_from_db()
    assert draft.version == 2


def test_the_database_refuses_to_change_a_signed_evaluation(clinic):
    """The triggers of migration 0007, on SQLite and on PostgreSQL alike."""
    signed = SignedEvaluationFactory(clinic=clinic)
    rows = Evaluation.objects.filter(pk=signed.pk)
    for change in (
        lambda: rows.update(assessment="Rewritten."),
        lambda: rows.update(status=Evaluation.Status.DRAFT),
        lambda: rows.delete(),
    ):
        with pytest.raises(IntegrityError, match="immutable"), transaction.atomic():
            change()
    signed.refresh_from_db()
    assert (signed.status, signed.assessment) == ("signed", "Mechanical low back pain.")


def test_the_database_lets_drafts_change(clinic):
    draft = EvaluationFactory(clinic=clinic)
    assert Evaluation.objects.filter(pk=draft.pk).update(assessment="Changed.") == 1


# --- Addenda ---------------------------------------------------------------------------------


def test_addenda_are_added_to_signed_evaluations(clinic, therapist):
    signed = SignedEvaluationFactory(clinic=clinic, author=therapist)
    other = therapist_in(clinic)
    first = clinical.evaluation_addendum_add(
        evaluation=signed, author=therapist, text="  SLR was left.  ", by=therapist
    )
    clinical.evaluation_addendum_add(evaluation=signed, author=other, text="Seen.", by=other)
    assert first.text == "SLR was left."
    assert list(signed.addenda.values_list("text", flat=True)) == ["SLR was left.", "Seen."]
    signed.refresh_from_db()
    assert signed.version == 1  # the evaluation itself is untouched


def test_addenda_are_refused_on_drafts(draft, therapist):
    with pytest.raises(ApplicationError) as caught:
        clinical.evaluation_addendum_add(evaluation=draft, author=therapist, text="x", by=None)
    assert caught.value.code == "not_signed"
    assert not EvaluationAddendum.objects.exists()


@pytest.mark.parametrize(
    ("text", "who", "field"), [(" ", "therapist", "text"), ("x", "receptionist", "author")]
)
def test_addendum_rules(request, clinic, text, who, field):
    signed = SignedEvaluationFactory(clinic=clinic)
    with pytest.raises(ValidationError) as caught:
        clinical.evaluation_addendum_add(
            evaluation=signed, author=request.getfixturevalue(who), text=text, by=None
        )
    assert list(field_errors(caught)) == [field]  # fmt: skip


# --- Goals -----------------------------------------------------------------------------------


def test_goal_add_and_status_history(episode, therapist, clinic):
    colleague = therapist_in(clinic)
    goal = clinical.goal_add(
        episode=episode,
        term="short",
        description=" Sit 30 minutes. ",
        target_date=today(clinic),
        by=therapist,
    )
    clinical.goal_update_status(goal=goal, status="met", by=colleague)
    clinical.goal_update_status(goal=goal, status="met", by=colleague)  # no change, no entry
    clinical.goal_update_status(goal=goal, status="progressing", by=therapist)

    goal.refresh_from_db()
    assert (goal.description, goal.status) == ("Sit 30 minutes.", "progressing")
    history = goal_status_history(goals=[goal])[goal.pk]
    assert [(c.status, c.changed_by) for c in history] == [
        ("progressing", therapist),
        ("met", colleague),
        ("progressing", therapist),
    ]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"term": "medium", "description": "x"}, "term"),
        ({"term": "short", "description": "  "}, "description"),
        ({"term": "long", "description": "x", "target_date": dt.date(2000, 1, 1)}, "target_date"),
    ],
)
def test_goal_add_rules(episode, therapist, fields, field):
    with pytest.raises(ValidationError) as caught:
        clinical.goal_add(episode=episode, by=therapist, **fields)
    assert list(field_errors(caught)) == [field]
    assert not Goal.objects.exists()


def test_goal_status_must_be_known(episode, therapist):
    goal = GoalFactory(episode=episode)
    with pytest.raises(ValidationError) as caught:
        clinical.goal_update_status(goal=goal, status="done", by=therapist)
    assert list(field_errors(caught)) == ["status"]


def test_goals_are_added_only_to_active_episodes_but_judged_at_discharge(
    episode, therapist, clinic
):
    goal = GoalFactory(episode=episode)
    clinical.episode_discharge(episode=episode, ended_on=today(clinic), by=therapist)
    with pytest.raises(ApplicationError):
        clinical.goal_add(episode=episode, term="short", description="x", by=therapist)
    assert clinical.goal_update_status(goal=goal, status="met", by=therapist).status == "met"


# --- Outcome measures ------------------------------------------------------------------------


def record(episode, instrument, answers, **kwargs) -> OutcomeMeasure:
    values = {"recorded_on": episode.started_on, "by": episode.therapist, **kwargs}
    return clinical.outcome_record(
        episode=episode, instrument=instrument, answers=answers, **values
    )


@pytest.mark.parametrize(
    ("instrument", "answers", "version", "score"),
    [
        ("nprs", {"pain": 7}, "0-10", Decimal("7")),
        ("odi", odi([2, 2, 2, 2, 2, 2, 1, 1, 1, 1]), "2.1a", Decimal("32")),
        ("odi", odi([2, 2, 2, 2, 2, 2, 1, 1, 2, None]), "2.1a", Decimal("35.5556")),
        ("odi", odi([2, 2, 2, 2, 2, 2, 2, None, None, None]), "2.1a", None),
        ("rmdq", {"items": [True] * 5 + [False] * 19}, "24-item", Decimal("5")),
        (
            "psfs",
            {"activities": [{"name": "Socks", "score": 4}, {"name": "Car", "score": 5},
                            {"name": "Lift", "score": 4}]},
            "original",
            Decimal("4.3333"),
        ),
    ],
)  # fmt: skip
def test_outcome_record_stores_raw_answers_version_and_computed_score(
    episode, instrument, answers, version, score
):
    measure = record(episode, instrument, answers)
    measure.refresh_from_db()
    assert (measure.version, measure.answers, measure.score) == (version, answers, score)
    assert measure.recorded_by == episode.therapist


SIX_ACTIVITIES = {"activities": [{"name": f"a{i}", "score": 5} for i in range(6)]}
LIFTING_6 = odi([2, 2, 6, 2, 2, 2, 1, 1, 1, 1])


@pytest.mark.parametrize(
    ("instrument", "answers", "field", "fragment"),
    [
        ("odi", LIFTING_6, "answers.sections.lifting", "6 is out of range; must be from 0 to 5"),
        ("psfs", SIX_ACTIVITIES, "answers.activities", "has 6 activities"),
        ("nprs", {"pain": 11}, "answers.pain", "11 is out of range"),
        ("nprs", {"pain": 7.0}, "answers.pain", "whole number"),
        ("rmdq", {"items": [True] * 23}, "answers.items", "exactly 24"),
        ("vas", {"pain": 3}, "instrument", "unknown instrument"),
    ],
)
def test_outcome_record_names_the_bad_answer_and_saves_nothing(
    episode, instrument, answers, field, fragment
):
    with pytest.raises(ValidationError) as caught:
        record(episode, instrument, answers)
    errors = field_errors(caught)
    assert list(errors) == [field]
    assert fragment in errors[field][0]
    assert not OutcomeMeasure.objects.exists()


def test_outcome_record_refuses_an_unknown_version(episode):
    with pytest.raises(ValidationError) as caught:
        record(episode, "odi", odi([1] * 10), version="3.0")
    assert list(field_errors(caught)) == ["version"]


def test_outcome_record_checks_date_evaluation_and_visit(episode, clinic):
    with pytest.raises(ValidationError) as caught:
        record(episode, "nprs", {"pain": 3}, recorded_on=episode.started_on - dt.timedelta(1))
    assert list(field_errors(caught)) == ["recorded_on"]
    elsewhere = EvaluationFactory(clinic=clinic)
    with pytest.raises(ValidationError) as caught:
        record(episode, "nprs", {"pain": 3}, evaluation=elsewhere)
    assert list(field_errors(caught)) == ["evaluation"]
    with pytest.raises(ValidationError) as caught:
        record(episode, "nprs", {"pain": 3}, visit=VisitFactory(clinic=clinic))
    assert list(field_errors(caught)) == ["visit"]


def test_outcome_mark_entered_in_error_is_idempotent_and_keeps_the_row(episode, therapist):
    measure = record(episode, "nprs", {"pain": 9})
    clinical.outcome_mark_entered_in_error(measure=measure, by=therapist)
    clinical.outcome_mark_entered_in_error(measure=measure, by=therapist)
    measure.refresh_from_db()
    assert measure.entered_in_error
    assert measure.history.count() == 2  # recorded, marked


# --- The outcome summary ---------------------------------------------------------------------


def test_summary_baseline_latest_change_and_mcid(episode, therapist, clinic):
    start = episode.started_on
    typo = record(episode, "odi", odi([5] * 10), recorded_on=start)
    clinical.outcome_mark_entered_in_error(measure=typo, by=therapist)
    record(episode, "odi", odi([3, 3, 3, 3, 2, 2, 2, 2, 2, 2]), recorded_on=start)  # 48 %
    record(episode, "odi", odi([2, 2, 2, 2, 2, 2, 2, 2, 2, 3]), recorded_on=start + dt.timedelta(7))
    record(
        episode, "odi", odi([2, 2, 2, 2, 2, 2, 1, 1, 1, 0]), recorded_on=start + dt.timedelta(14)
    )
    record(episode, "nprs", {"pain": 7}, recorded_on=start)
    record(episode, "nprs", {"pain": 6}, recorded_on=start + dt.timedelta(14))
    record(episode, "psfs", {"activities": [{"name": "a", "score": 3}] * 3})

    summaries = {s.instrument.code: s for s in outcome_summary(clinic=clinic, episode=episode)}

    assert list(summaries) == ["nprs", "odi", "psfs"]
    odi_summary = summaries["odi"]
    assert [p.value for p in odi_summary.series] == [Decimal(48), Decimal(42), Decimal(30)]
    assert odi_summary.baseline.value == Decimal(48)  # not the measure entered in error
    assert odi_summary.previous.value == Decimal(42)
    assert odi_summary.latest.value == Decimal(30)
    assert odi_summary.change.improvement == Decimal(18)
    assert odi_summary.mcid_reached
    assert odi_summary.change.reached == ("absolute", "relative")
    nprs = summaries["nprs"]
    assert (nprs.change.improvement, nprs.mcid_reached) == (Decimal(1), False)
    assert nprs.previous.value == Decimal(7)
    psfs = summaries["psfs"]
    assert (psfs.change, psfs.previous, psfs.mcid_reached) == (None, None, False)


def test_summary_says_why_a_change_cannot_be_judged(episode, clinic):
    record(episode, "odi", odi([2, 2, 2, 2, 2, 2, 2, None, None, None]))
    record(episode, "odi", odi([1] * 10), recorded_on=episode.started_on + dt.timedelta(1))
    (summary,) = outcome_summary(clinic=clinic, episode=episode)
    assert summary.baseline.value is None
    assert "only 7 of 10 sections" in summary.change.reason
    assert not summary.mcid_reached


def test_summary_is_one_query_whatever_the_number_of_measures(
    episode, clinic, django_assert_num_queries
):
    for pain in (8, 7, 6):
        OutcomeMeasureFactory(episode=episode, answers={"pain": pain}, score=pain)
    with django_assert_num_queries(1):
        outcome_summary(clinic=clinic, episode=episode)
    for pain in (5, 4, 3, 2):
        OutcomeMeasureFactory(episode=episode, answers={"pain": pain}, score=pain)
        OutcomeMeasureFactory(
            episode=episode, instrument="rmdq", version="24-item", answers={"items": [True] * 24}
        )
    with django_assert_num_queries(1):
        summaries = outcome_summary(clinic=clinic, episode=episode)
    assert [len(s.series) for s in summaries] == [7, 4]


def test_summary_is_scoped_to_the_clinic(episode, other_clinic):
    OutcomeMeasureFactory(episode=episode)
    assert outcome_summary(clinic=other_clinic, episode=episode) == []
