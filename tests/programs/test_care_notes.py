"""Treatment notes (programs.care): billing units on real notes, versions, signing, immutability
(service and database triggers), the progress-report gate, completing a visit with its note."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from clinic.capabilities import Role
from clinic.errors import ApplicationError, ConflictError, VersionRequired
from patients.models import Evaluation, Visit
from programs import care
from programs.models import BillingLine, DeliveredModality, TreatmentNote
from tests.factories import (
    MembershipFactory,
    PlanOfCareFactory,
    SignedEvaluationFactory,
    UserFactory,
    therapist_in,
)
from tests.programs.helpers import (
    HOT_PACK,
    MANUAL,
    TENS,
    THER_EX,
    ULTRASOUND,
    exercise,
    item,
    lines,
    local_today,
    modality,
)

pytestmark = pytest.mark.django_db


def save(visit, by, **fields) -> TreatmentNote:
    return care.treatment_note_save(visit=visit, by=by, **fields)


# --- Units on real notes ---------------------------------------------------------------------

UNIT_TABLE = [
    # (episode, delivered [(modality, minutes)], expected {code: units})
    pytest.param(
        "medicare_episode",
        [(THER_EX, 33), (MANUAL, 7)],
        {"97110": 2, "97140": 1},
        id="medicare-33+7=40min-3-units-2x97110-1x97140",
    ),
    pytest.param(
        "episode",
        [(THER_EX, 33), (MANUAL, 7)],
        {"97110": 2, "97140": 0},
        id="per-code-33+7-2-units-97140-under-8-min-earns-none",
    ),
    pytest.param(
        "medicare_episode",
        [(THER_EX, 7), (MANUAL, 7)],
        {"97110": 1, "97140": 0},
        id="medicare-7+7=14min-1-unit-equal-remainders-code-order",
    ),
    pytest.param(
        "episode", [(THER_EX, 7), (MANUAL, 7)], {"97110": 0, "97140": 0}, id="per-code-7+7"
    ),
    pytest.param(
        "medicare_episode",
        [(HOT_PACK, 20), (THER_EX, 23)],
        {"97010": 1, "97110": 2},
        id="untimed-97010-one-unit-whatever-the-minutes",
    ),
    pytest.param(
        "episode",
        [(HOT_PACK, 5), (TENS, 30), (THER_EX, 8)],
        {"97010": 1, "97014": 1, "97110": 1},
        id="untimed-97010-and-97014-one-unit-each",
    ),
    pytest.param(
        "medicare_episode",
        [(ULTRASOUND, 8), (THER_EX, 18), (MANUAL, 13)],
        {"97035": 1, "97110": 1, "97140": 1},
        id="medicare-ultrasound-is-timed-39min-3-units-by-remainders",
    ),
]


@pytest.mark.parametrize(("episode_fixture", "delivered", "expected"), UNIT_TABLE)
def test_treatment_note_save_bills_units_by_the_episodes_rule(
    request, episode_fixture, delivered, expected, therapist, visit_on
):
    episode = request.getfixturevalue(episode_fixture)
    note = save(
        visit_on(episode, days_ago=1),
        therapist,
        modalities=[item(name, minutes) for name, minutes in delivered],
    )
    assert lines(note) == expected
    assert note.billing_rule == episode.billing_rule
    assert set(note.billing_lines.values_list("modifiers", flat=True)) == {"GP"}
    timed = dict(note.billing_lines.values_list("cpt_code", "timed"))
    assert timed.get("97010", False) is False
    assert timed.get("97110", True) is True


@pytest.mark.parametrize(
    ("complexity", "code"), [("low", "97161"), ("moderate", "97162"), ("high", "97163")]
)
def test_treatment_note_bills_the_signed_initial_evaluation_of_the_visit(
    episode, therapist, visit_on, complexity, code
):
    visit = visit_on(episode, days_ago=1)
    SignedEvaluationFactory(episode=episode, visit=visit, complexity=complexity)
    note = save(visit, therapist, modalities=[item(THER_EX, 20)])
    assert lines(note) == {code: 1, "97110": 1}
    evaluation_line = note.billing_lines.get(cpt_code=code)
    assert (evaluation_line.timed, evaluation_line.minutes) == (False, 0)


def test_treatment_note_bills_a_signed_re_evaluation_as_97164(episode, therapist, visit_on):
    visit = visit_on(episode, days_ago=1)
    SignedEvaluationFactory(
        episode=episode, visit=visit, kind=Evaluation.Kind.RE_EVALUATION, complexity=""
    )
    assert lines(save(visit, therapist, modalities=[item(THER_EX, 8)])) == {
        "97164": 1,
        "97110": 1,
    }


def test_treatment_note_does_not_bill_a_draft_or_another_visits_evaluation(
    episode, therapist, visit_on
):
    visit = visit_on(episode, days_ago=1)
    SignedEvaluationFactory(episode=episode, visit=visit_on(episode, days_ago=3))
    draft = SignedEvaluationFactory.build(episode=episode, visit=visit)
    draft.status, draft.signed_at, draft.signed_by = "draft", None, None
    draft.save()
    assert lines(save(visit, therapist, modalities=[item(THER_EX, 15)])) == {"97110": 1}


def test_treatment_note_signing_bills_an_evaluation_signed_since_the_last_save(
    episode, therapist, visit_on
):
    visit = visit_on(episode, days_ago=1)
    note = save(visit, therapist, modalities=[item(THER_EX, 15)])
    SignedEvaluationFactory(episode=episode, visit=visit, complexity="high")
    note = care.treatment_note_sign(note=note, by=therapist, version=note.version)
    assert lines(note) == {"97163": 1, "97110": 1}


def test_treatment_note_update_recomputes_the_units(medicare_episode, therapist, visit_on):
    visit = visit_on(medicare_episode, days_ago=1)
    note = save(visit, therapist, modalities=[item(THER_EX, 10)])
    assert lines(note) == {"97110": 1}
    note = save(visit, therapist, version=note.version, modalities=[item(THER_EX, 40)])
    assert lines(note) == {"97110": 3}
    assert BillingLine.objects.filter(note=note).count() == 1


# --- Items: parameters, catalogue, contraindications -----------------------------------------


def test_treatment_note_parameter_out_of_range_names_parameters(episode, therapist, visit_on):
    tens = item(TENS, 20)
    tens["parameters"]["frequency_hz"] = 300
    with pytest.raises(ValidationError) as caught:
        save(visit_on(episode, days_ago=1), therapist, modalities=[item(THER_EX, 10), tens])
    assert list(caught.value.message_dict) == ["modalities[1].parameters"]
    assert "frequency_hz: 300 is above the maximum 250 Hz" in str(caught.value)
    assert not TreatmentNote.objects.exists()


def test_treatment_note_minutes_given_twice_must_agree(episode, therapist, visit_on):
    ther_ex = item(THER_EX, 20)
    ther_ex["parameters"]["minutes"] = 25
    with pytest.raises(ValidationError) as caught:
        save(visit_on(episode, days_ago=1), therapist, modalities=[ther_ex])
    assert list(caught.value.message_dict) == ["modalities[0].minutes"]


def test_treatment_note_minutes_above_the_modalitys_maximum_are_refused(
    episode, therapist, visit_on
):
    with pytest.raises(ValidationError) as caught:
        save(visit_on(episode, days_ago=1), therapist, modalities=[item(ULTRASOUND, 20)])
    assert "minutes: 20 is above the maximum 15 min" in str(caught.value)


def test_treatment_note_unknown_retired_and_evaluation_modalities_are_refused(
    episode, therapist, visit_on
):
    retired = modality(MANUAL)
    retired.active = False
    retired.save()
    evaluation = {"modality": str(modality("PT evaluation, moderate complexity").public_id)}
    unknown = {"modality": "5b1f0f3e-8f4e-4a34-9b59-1d7d4b0f3c11", "minutes": 10}
    with pytest.raises(ValidationError) as caught:
        save(
            visit_on(episode, days_ago=1),
            therapist,
            modalities=[unknown, item(MANUAL, 10), evaluation, {"modality": "nope"}],
        )
    errors = caught.value.message_dict
    assert set(errors) == {
        "modalities[0].modality",
        "modalities[1].modality",
        "modalities[2].modality",
        "modalities[3].modality",
    }
    assert "No modality with the id" in errors["modalities[0].modality"][0]
    assert "retired" in errors["modalities[1].modality"][0]
    assert "evaluation, not a treatment" in errors["modalities[2].modality"][0]


def test_treatment_note_body_region_is_required_for_a_delivered_modality(
    episode, therapist, visit_on
):
    with pytest.raises(ValidationError) as caught:
        save(visit_on(episode, days_ago=1), therapist, modalities=[item(THER_EX, 10, region="")])
    assert list(caught.value.message_dict) == ["modalities[0].body_region"]


def test_treatment_note_contraindicated_modality_is_refused_with_the_findings(
    episode, therapist, visit_on, add_precaution
):
    add_precaution("pacemaker")
    with pytest.raises(ApplicationError) as caught:
        save(visit_on(episode, days_ago=1), therapist, modalities=[item(TENS, 15)])
    error = caught.value
    assert (error.code, error.field, error.status_code) == ("contraindicated", "modalities[0]", 400)
    assert "Pacemaker" in error.message
    assert [f["condition"] for f in error.extra["findings"]] == ["pacemaker"]
    assert not TreatmentNote.objects.exists()


def test_treatment_note_override_with_justification_is_kept_with_the_findings(
    episode, therapist, visit_on, add_precaution
):
    add_precaution("pacemaker")
    justification = "Cardiologist cleared TENS away from the chest (letter on file)."
    note = save(
        visit_on(episode, days_ago=1),
        therapist,
        modalities=[item(TENS, 15, override_justification=justification)],
    )
    row = note.modalities.get()
    assert row.override_justification == justification
    assert [(f["severity"], f["condition"]) for f in row.warnings] == [("refuse", "pacemaker")]


def test_treatment_note_contraindicated_exercise_is_refused(
    episode, therapist, visit_on, add_diagnosis
):
    add_diagnosis("M51.26", onset=local_today(episode.clinic) - dt.timedelta(days=200))
    with pytest.raises(ApplicationError) as caught:
        save(visit_on(episode, days_ago=1), therapist, exercises=[exercise("sit-up")])
    assert (caught.value.code, caught.value.field) == ("contraindicated", "exercises[0]")


def test_treatment_note_visit_without_episode_or_not_held_takes_no_note(
    episode, therapist, visit_on
):
    loose = visit_on(episode, days_ago=1)
    Visit.objects.filter(pk=loose.pk).update(episode=None)
    with pytest.raises(ApplicationError) as caught:
        save(loose, therapist, notes="x")
    assert (caught.value.code, caught.value.field) == ("no_episode", "visit")
    cancelled = visit_on(episode, days_ago=2, status=Visit.Status.NO_SHOW)
    with pytest.raises(ConflictError) as caught_conflict:
        save(cancelled, therapist, notes="x")
    assert caught_conflict.value.code == "visit_not_held"


# --- Versions --------------------------------------------------------------------------------


def test_treatment_note_versions_stale_409_and_missing_428(episode, therapist, visit_on):
    visit = visit_on(episode, days_ago=1)
    note = save(visit, therapist, subjective="Pain 5/10.", modalities=[item(THER_EX, 20)])
    assert note.version == 1
    with pytest.raises(VersionRequired) as missing:
        save(visit, therapist, subjective="Pain 4/10.")
    assert (missing.value.status_code, missing.value.code) == (428, "version_required")
    note = save(visit, therapist, version=1, subjective="Pain 4/10.")
    assert note.version == 2
    with pytest.raises(ConflictError) as stale:
        save(visit, therapist, version=1, subjective="Pain 3/10.")
    assert (stale.value.code, stale.value.extra) == ("stale_version", {"current_version": 2})
    note.refresh_from_db()
    assert note.subjective == "Pain 4/10."
    assert lines(note) == {"97110": 1}  # the items given once are kept by later text edits


def test_treatment_note_patch_style_none_keeps_items_and_empty_list_clears(
    episode, therapist, visit_on
):
    visit = visit_on(episode, days_ago=1)
    note = save(visit, therapist, modalities=[item(THER_EX, 20)], exercises=[exercise("bird-dog")])
    note = save(visit, therapist, version=note.version, exercises=[])
    assert note.modalities.count() == 1
    assert note.exercises.count() == 0


# --- Signing and immutability ----------------------------------------------------------------


def test_treatment_note_sign_then_changes_are_409_signed(episode, therapist, visit_on):
    visit = visit_on(episode, days_ago=1)
    note = save(visit, therapist, modalities=[item(THER_EX, 20)])
    signed = care.treatment_note_sign(note=note, by=therapist, version=1)
    assert (signed.status, signed.signed_by, signed.version) == ("signed", therapist, 2)
    assert signed.signed_at is not None
    with pytest.raises(ConflictError) as caught:
        save(visit, therapist, version=2, notes="late edit")
    assert caught.value.code == "signed"
    with pytest.raises(ConflictError):
        care.treatment_note_sign(note=signed, by=therapist, version=2)


def test_treatment_note_sign_needs_a_therapist_of_the_clinic(
    episode, therapist, clinic_admin, visit_on, outsider
):
    note = save(visit_on(episode, days_ago=1), therapist, modalities=[item(THER_EX, 20)])
    for who in (clinic_admin, outsider):
        with pytest.raises(PermissionDenied):
            care.treatment_note_sign(note=note, by=who, version=1)
    pta = therapist_in(episode.clinic, discipline="PTA")
    assert care.treatment_note_sign(note=note, by=pta, version=1).status == "signed"


def test_treatment_note_sign_refuses_an_empty_note_and_a_future_visit(episode, therapist, visit_on):
    empty = save(visit_on(episode, days_ago=1), therapist)
    with pytest.raises(ApplicationError) as caught:
        care.treatment_note_sign(note=empty, by=therapist, version=1)
    assert caught.value.code == "empty_note"
    future = save(visit_on(episode, days_ago=-2), therapist, notes="Planned")
    with pytest.raises(ConflictError) as caught_future:
        care.treatment_note_sign(note=future, by=therapist, version=1)
    assert caught_future.value.code == "not_started"


@pytest.fixture
def signed_note(episode, therapist, visit_on) -> TreatmentNote:
    note = save(visit_on(episode, days_ago=1), therapist, modalities=[item(THER_EX, 20)])
    return care.treatment_note_sign(note=note, by=therapist, version=note.version)


def test_database_refuses_an_update_of_a_signed_note(signed_note):
    with pytest.raises(IntegrityError, match="immutable"), transaction.atomic():
        TreatmentNote.objects.filter(pk=signed_note.pk).update(notes="rewritten")
    signed_note.refresh_from_db()
    assert signed_note.notes == ""


def test_database_refuses_a_delivered_modality_under_a_signed_note(signed_note):
    with pytest.raises(IntegrityError, match="immutable"), transaction.atomic():
        DeliveredModality.objects.create(
            note=signed_note, modality=modality(MANUAL), minutes=10, body_region="lumbar"
        )
    assert signed_note.modalities.count() == 1


def test_database_refuses_changing_or_deleting_a_signed_notes_billing_lines(signed_note):
    with pytest.raises(IntegrityError, match="immutable"), transaction.atomic():
        BillingLine.objects.filter(note=signed_note).update(units=9)
    with pytest.raises(IntegrityError, match="immutable"), transaction.atomic():
        BillingLine.objects.filter(note=signed_note).delete()
    assert lines(signed_note) == {"97110": 1}


def test_treatment_note_addendum_only_on_signed_notes(episode, therapist, visit_on, signed_note):
    draft = save(visit_on(episode, days_ago=2), therapist, notes="draft")
    with pytest.raises(ApplicationError) as caught:
        care.treatment_note_addendum_add(note=draft, by=therapist, text="x")
    assert caught.value.code == "not_signed"
    with pytest.raises(ValidationError):
        care.treatment_note_addendum_add(note=signed_note, by=therapist, text="  ")
    addendum = care.treatment_note_addendum_add(
        note=signed_note, by=therapist, text=" Three towel layers, not two. "
    )
    assert (addendum.text, addendum.author, addendum.clinic_id) == (
        "Three towel layers, not two.",
        therapist,
        signed_note.clinic_id,
    )
    receptionist = UserFactory(clinic=episode.clinic, role=Role.RECEPTIONIST)
    with pytest.raises(PermissionDenied):
        care.treatment_note_addendum_add(note=signed_note, by=receptionist, text="x")


def test_first_signed_treatment_is_recorded_on_a_plan_made_before_any_treatment(
    episode, therapist, visit_on
):
    plan = PlanOfCareFactory(
        episode=episode, starts_on=local_today(episode.clinic) - dt.timedelta(days=5)
    )
    note = save(visit_on(episode, days_ago=2), therapist, modalities=[item(THER_EX, 20)])
    care.treatment_note_sign(note=note, by=therapist, version=1)
    plan.refresh_from_db()
    assert plan.first_treatment_on == local_today(episode.clinic) - dt.timedelta(days=2)


# --- The progress-report gate ----------------------------------------------------------------


@pytest.fixture
def nine_treatment_days(medicare_episode, visit_on) -> list[Visit]:
    """The evaluation day (day 1, 21 days ago) and eight completed visits (days 2-9)."""
    SignedEvaluationFactory(episode=medicare_episode, performed_on=medicare_episode.started_on)
    return [
        visit_on(medicare_episode, days_ago=days_ago, status=Visit.Status.COMPLETED)
        for days_ago in range(20, 12, -1)
    ]


def _report(episode, *, by, days_ago: int, kind=Evaluation.Kind.PROGRESS_REPORT) -> Evaluation:
    return SignedEvaluationFactory(
        episode=episode,
        kind=kind,
        complexity="",
        author=by,
        signed_by=by,
        performed_on=local_today(episode.clinic) - dt.timedelta(days=days_ago),
    )


def test_progress_report_due_blocks_signing_the_10th_treatment_days_note(
    medicare_episode, therapist, visit_on, nine_treatment_days
):
    note = save(visit_on(medicare_episode, days_ago=12), therapist, modalities=[item(THER_EX, 20)])
    with pytest.raises(ConflictError) as caught:
        care.treatment_note_sign(note=note, by=therapist, version=1)
    assert caught.value.code == "progress_report_due"
    assert caught.value.extra["treatment_days"] == 10
    assert "treatment day 10" in caught.value.message
    note.refresh_from_db()
    assert note.status == "draft"


def test_signing_reads_the_progress_clock_once_and_no_clinic_again(
    medicare_episode, therapist, visit_on, nine_treatment_days
):
    """The 10th-day gate reads the evaluations once (the treatment days and the reports come
    from the same rows) and the clinic's time zone from the note's row, not a query of its own."""
    note = save(visit_on(medicare_episode, days_ago=12), therapist, modalities=[item(THER_EX, 20)])
    with CaptureQueriesContext(connection) as captured, pytest.raises(ConflictError):
        care.treatment_note_sign(note=note, by=therapist, version=1)
    tables = [q["sql"].split(" FROM ", 1)[-1].split(" ", 1)[0] for q in captured]
    assert tables.count('"patients_evaluation"') == 1, tables
    assert tables.count('"clinic_clinic"') == 0, tables


def test_progress_report_gate_lets_the_9th_treatment_day_through(
    medicare_episode, therapist, visit_on, nine_treatment_days
):
    nine_treatment_days[-1].delete()  # day 9 is now this visit's day
    note = save(visit_on(medicare_episode, days_ago=13, at=dt.time(15)), therapist, notes="ok")
    assert care.treatment_note_sign(note=note, by=therapist, version=1).status == "signed"


def test_progress_report_gate_is_off_without_the_clock(
    medicare_episode, therapist, visit_on, nine_treatment_days
):
    type(medicare_episode).objects.filter(pk=medicare_episode.pk).update(
        progress_report_clock=False
    )
    note = save(visit_on(medicare_episode, days_ago=12), therapist, notes="ok")
    assert care.treatment_note_sign(note=note, by=therapist, version=1).status == "signed"


def test_progress_report_by_a_pt_resets_the_clock(
    medicare_episode, therapist, visit_on, nine_treatment_days
):
    _report(medicare_episode, by=therapist, days_ago=13)
    note = save(visit_on(medicare_episode, days_ago=12), therapist, notes="ok")
    assert care.treatment_note_sign(note=note, by=therapist, version=1).status == "signed"


def test_progress_report_by_a_pta_does_not_reset_the_clock(
    medicare_episode, therapist, visit_on, nine_treatment_days
):
    pta = therapist_in(medicare_episode.clinic, discipline="PTA")
    _report(medicare_episode, by=pta, days_ago=13)
    _report(medicare_episode, by=pta, days_ago=13, kind=Evaluation.Kind.RE_EVALUATION)
    note = save(visit_on(medicare_episode, days_ago=12), therapist, notes="ok")
    with pytest.raises(ConflictError) as caught:
        care.treatment_note_sign(note=note, by=therapist, version=1)
    assert caught.value.code == "progress_report_due"


def test_a_pt_re_evaluation_counts_as_a_progress_report(
    medicare_episode, therapist, visit_on, nine_treatment_days
):
    _report(medicare_episode, by=therapist, days_ago=14, kind=Evaluation.Kind.RE_EVALUATION)
    note = save(visit_on(medicare_episode, days_ago=12), therapist, notes="ok")
    assert care.treatment_note_sign(note=note, by=therapist, version=1).status == "signed"


# --- Completing a visit with its note --------------------------------------------------------


def test_visit_complete_with_note_saves_signs_and_completes_then_runs_the_hook(
    medicare_episode, therapist, visit_on, monkeypatch, django_capture_on_commit_callbacks
):
    completed: list[int] = []
    monkeypatch.setattr(care, "_after_visit_completed", completed.append)
    visit = visit_on(medicare_episode, days_ago=0, at=dt.time(0, 0))
    with django_capture_on_commit_callbacks(execute=True):
        note, done = care.visit_complete_with_note(
            visit=visit,
            by=therapist,
            sign=True,
            subjective="Pain 3/10",
            modalities=[item(THER_EX, 33), item(MANUAL, 7)],
        )
    assert (note.status, done.status) == ("signed", Visit.Status.COMPLETED)
    assert lines(note) == {"97110": 2, "97140": 1}
    assert completed == [visit.pk]


def test_visit_complete_with_a_refused_note_leaves_the_visit_booked(
    episode, therapist, visit_on, add_precaution, django_capture_on_commit_callbacks
):
    add_precaution("pacemaker")
    visit = visit_on(episode, days_ago=1)
    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(ApplicationError):
        care.visit_complete_with_note(visit=visit, by=therapist, modalities=[item(TENS, 15)])
    visit.refresh_from_db()
    assert visit.status == Visit.Status.BOOKED
    assert not TreatmentNote.objects.exists()
    assert callbacks == []


def test_visit_complete_refused_leaves_no_note_behind(episode, therapist, visit_on):
    cancelled_later = visit_on(episode, days_ago=1, status=Visit.Status.COMPLETED)
    with pytest.raises(ConflictError) as caught:
        care.visit_complete_with_note(
            visit=cancelled_later, by=therapist, notes="again", modalities=[item(THER_EX, 10)]
        )
    assert caught.value.code == "illegal_transition"
    assert not TreatmentNote.objects.exists()


def test_visit_complete_with_sign_by_a_clinic_admin_is_refused_and_rolled_back(
    episode, clinic_admin, visit_on
):
    visit = visit_on(episode, days_ago=1)
    MembershipFactory(user=clinic_admin, clinic=episode.clinic, role=Role.RECEPTIONIST)
    with pytest.raises(PermissionDenied):
        care.visit_complete_with_note(
            visit=visit, by=clinic_admin, sign=True, modalities=[item(THER_EX, 10)]
        )
    visit.refresh_from_db()
    assert visit.status == Visit.Status.BOOKED
    assert not TreatmentNote.objects.exists()
