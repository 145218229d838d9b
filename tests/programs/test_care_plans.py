"""Plans of care (programs.care): certification, planned items, recertification versions, the
physician's certification."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from clinic.errors import ApplicationError, ConflictError
from patients.models import EpisodeOfCare, Visit
from programs import care
from programs.models import PlanOfCare
from tests.factories import SignedEvaluationFactory, therapist_in
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


def create(episode: EpisodeOfCare, by, **fields) -> PlanOfCare:
    starts_on = fields.pop("starts_on", episode.started_on)
    values = {
        "frequency_per_week": 2,
        "duration_weeks": 6,
        "starts_on": starts_on,
        "certified_until": starts_on + dt.timedelta(days=60),
        **fields,
    }
    return care.plan_create(episode=episode, by=by, **values)


# --- Certification ---------------------------------------------------------------------------


def test_plan_create_without_treatment_counts_90_days_from_starts_on(episode, therapist):
    starts_on = episode.started_on
    plan = create(episode, therapist, certified_until=starts_on + dt.timedelta(days=89))
    assert (plan.version, plan.status, plan.first_treatment_on) == (1, "active", None)
    assert plan.certified_until == starts_on + dt.timedelta(days=89)  # day 90


def test_plan_create_certified_beyond_90_days_names_certified_until(episode, therapist):
    with pytest.raises(ValidationError) as caught:
        create(episode, therapist, certified_until=episode.started_on + dt.timedelta(days=90))
    assert list(caught.value.message_dict) == ["certified_until"]
    message = caught.value.message_dict["certified_until"][0]
    assert "at most 90 calendar days from the first treatment" in message
    assert "no treatment is recorded yet" in message
    assert not PlanOfCare.objects.exists()


def test_plan_create_counts_from_the_first_treatment_when_there_is_one(
    episode, therapist, visit_on
):
    visit_on(episode, days_ago=18, status=Visit.Status.COMPLETED)
    first = local_today(episode.clinic) - dt.timedelta(days=18)
    with pytest.raises(ValidationError) as caught:
        create(
            episode,
            therapist,
            starts_on=first + dt.timedelta(days=5),
            certified_until=first + dt.timedelta(days=91),
        )
    assert f"the first treatment on {first:%Y-%m-%d}" in str(caught.value)
    plan = create(episode, therapist, certified_until=first + dt.timedelta(days=89))
    assert plan.first_treatment_on == first


def test_plan_create_the_initial_evaluation_day_is_the_first_treatment(episode, therapist):
    SignedEvaluationFactory(episode=episode, performed_on=episode.started_on)
    plan = create(episode, therapist, starts_on=episode.started_on + dt.timedelta(days=2))
    assert plan.first_treatment_on == episode.started_on


@pytest.mark.parametrize(
    ("field", "days_after_start"),
    [("certified_until", -1), ("physician_signed_on", -1), ("verbal_order_on", -3)],
)
def test_plan_create_dates_before_the_first_treatment_name_their_field(
    episode, therapist, field, days_after_start
):
    with pytest.raises(ValidationError) as caught:
        create(episode, therapist, **{field: episode.started_on + dt.timedelta(days_after_start)})
    assert list(caught.value.message_dict) == [field]


def test_plan_create_physician_signature_in_the_future_is_refused(episode, therapist):
    with pytest.raises(ValidationError) as caught:
        create(
            episode,
            therapist,
            physician_signed_on=local_today(episode.clinic) + dt.timedelta(days=1),
        )
    assert list(caught.value.message_dict) == ["physician_signed_on"]


def test_plan_create_before_the_episode_or_on_an_ended_episode_is_refused(episode, therapist):
    with pytest.raises(ValidationError) as caught:
        create(episode, therapist, starts_on=episode.started_on - dt.timedelta(days=1))
    assert list(caught.value.message_dict) == ["starts_on"]
    EpisodeOfCare.objects.filter(pk=episode.pk).update(status="discharged")
    with pytest.raises(ValidationError) as ended:
        create(episode, therapist)
    assert list(ended.value.message_dict) == ["episode"]


def test_plan_create_only_by_a_licensed_pt_of_the_clinic(episode, clinic_admin, outsider):
    pta = therapist_in(episode.clinic, discipline="PTA")
    for who in (pta, clinic_admin, outsider):
        with pytest.raises(PermissionDenied):
            create(episode, who)
    assert not PlanOfCare.objects.exists()


def test_plan_create_twice_is_409_recertify_instead(episode, therapist):
    create(episode, therapist)
    with pytest.raises(ConflictError) as caught:
        create(episode, therapist)
    assert caught.value.code == "active_plan_exists"


def test_database_holds_one_active_plan_per_episode(episode, therapist):
    plan = create(episode, therapist)
    duplicate = PlanOfCare(
        clinic=plan.clinic,
        episode=episode,
        version=2,
        frequency_per_week=1,
        duration_weeks=1,
        starts_on=plan.starts_on,
        certified_until=plan.certified_until,
        created_by=therapist,
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        duplicate.save()


# --- Planned items ---------------------------------------------------------------------------


def test_plan_create_keeps_checked_items_with_defaults(episode, therapist):
    plan = create(
        episode,
        therapist,
        modalities=[item(HOT_PACK, None), item(MANUAL, 15, region="")],
        exercises=[exercise("bird-dog"), exercise("bridge", sets=3, reps=12)],
    )
    hot, manual = plan.modalities.order_by("pk")
    assert (hot.modality.name, hot.minutes, hot.parameters) == (
        HOT_PACK,
        modality(HOT_PACK).typical_minutes,
        {"minutes": 15, "towel_layers": 3},
    )
    assert manual.body_region == ""
    bird_dog, bridge = plan.exercises.order_by("pk")
    assert (bird_dog.sets, bird_dog.reps) == (bird_dog.exercise.sets, bird_dog.exercise.reps)
    assert (bridge.sets, bridge.reps) == (3, 12)


def test_plan_create_parameter_out_of_range_names_parameters(episode, therapist):
    tens = item(TENS, 15)
    tens["parameters"]["pulse_width_us"] = 900
    with pytest.raises(ValidationError) as caught:
        create(episode, therapist, modalities=[tens])
    assert list(caught.value.message_dict) == ["modalities[0].parameters"]
    assert "pulse_width_us: 900 is above the maximum 400" in str(caught.value)


def test_plan_create_unknown_modality_and_exercise_name_their_fields(episode, therapist):
    with pytest.raises(ValidationError) as caught:
        create(
            episode,
            therapist,
            modalities=[{"modality": "00000000-0000-4000-8000-000000000000"}],
            exercises=[{"exercise": "not-an-id"}, {}],
        )
    assert set(caught.value.message_dict) == {
        "modalities[0].modality",
        "exercises[0].exercise",
        "exercises[1].exercise",
    }


def test_plan_create_dose_out_of_range_names_the_item(episode, therapist):
    with pytest.raises(ValidationError) as caught:
        create(episode, therapist, exercises=[exercise("bridge", sets=50)])
    assert list(caught.value.message_dict) == ["exercises[0].sets"]


def test_plan_create_contraindicated_item_refused_then_kept_with_justification(
    episode, therapist, add_precaution
):
    add_precaution("dvt")
    with pytest.raises(ApplicationError) as caught:
        create(episode, therapist, modalities=[item(THER_EX, 20), item(HOT_PACK, 15)])
    assert (caught.value.code, caught.value.field) == ("contraindicated", "modalities[1]")
    assert caught.value.extra["findings"][0]["condition"] == "dvt"
    assert not PlanOfCare.objects.exists()

    plan = create(
        episode,
        therapist,
        modalities=[item(HOT_PACK, 15, override_justification="DVT resolved, vascular review.")],
    )
    row = plan.modalities.get()
    assert row.override_justification == "DVT resolved, vascular review."
    assert row.warnings[0]["severity"] == "refuse"


def test_plan_item_without_region_warns_about_an_area_condition(episode, therapist, add_precaution):
    add_precaution("malignancy", "lumbar")
    plan = create(episode, therapist, modalities=[item(TENS, 15, region="")])
    (warning,) = plan.modalities.get().warnings
    assert warning["severity"] == "warn"
    assert "do not apply over lumbar" in warning["reason"]


# --- Recertification -------------------------------------------------------------------------


def test_plan_recertify_makes_a_new_version_superseding_the_old(episode, therapist):
    first = create(
        episode,
        therapist,
        physician_signed_on=episode.started_on + dt.timedelta(days=3),
        modalities=[item(MANUAL, 15)],
        exercises=[exercise("bird-dog")],
    )
    today = local_today(episode.clinic)
    second = care.plan_recertify(
        plan=first, by=therapist, certified_until=today + dt.timedelta(days=89), duration_weeks=8
    )
    first.refresh_from_db()
    assert (first.status, second.status) == ("superseded", "active")
    assert (second.version, second.supersedes, second.starts_on) == (2, first, today)
    assert (second.duration_weeks, second.frequency_per_week) == (8, 2)
    assert second.physician_signed_on is None  # a new certification needs a new signature
    assert [m.modality.name for m in second.modalities.all()] == [MANUAL]
    assert second.exercises.count() == 1
    assert first.modalities.count() == 1  # the old version keeps its items


def test_plan_recertify_replaces_items_when_given(episode, therapist):
    first = create(episode, therapist, modalities=[item(MANUAL, 15)])
    second = care.plan_recertify(
        plan=first,
        by=therapist,
        certified_until=local_today(episode.clinic) + dt.timedelta(days=30),
        modalities=[item(THER_EX, 30)],
        exercises=[],
    )
    assert [m.modality.name for m in second.modalities.all()] == [THER_EX]


def test_plan_recertify_beyond_90_days_from_its_start_is_refused(episode, therapist):
    first = create(episode, therapist)
    today = local_today(episode.clinic)
    with pytest.raises(ValidationError) as caught:
        care.plan_recertify(plan=first, by=therapist, certified_until=today + dt.timedelta(days=90))
    assert list(caught.value.message_dict) == ["certified_until"]
    first.refresh_from_db()
    assert first.status == "active"


def test_plan_recertify_a_superseded_version_is_409(episode, therapist):
    first = create(episode, therapist)
    until = local_today(episode.clinic) + dt.timedelta(days=30)
    care.plan_recertify(plan=first, by=therapist, certified_until=until)
    with pytest.raises(ConflictError) as caught:
        care.plan_recertify(plan=first, by=therapist, certified_until=until)
    assert caught.value.code == "superseded"
    assert PlanOfCare.objects.filter(episode=episode).count() == 2


def test_plan_recertify_rechecks_carried_items_against_the_record(
    episode, therapist, add_precaution
):
    first = create(episode, therapist, modalities=[item(TENS, 15)])
    add_precaution("pacemaker")
    with pytest.raises(ApplicationError) as caught:
        care.plan_recertify(
            plan=first,
            by=therapist,
            certified_until=local_today(episode.clinic) + dt.timedelta(days=30),
        )
    assert caught.value.code == "contraindicated"
    first.refresh_from_db()
    assert first.status == "active"


# --- The physician's certification -----------------------------------------------------------


def test_plan_physician_update_records_the_signature(episode, therapist):
    plan = create(episode, therapist)
    signed_on = episode.started_on + dt.timedelta(days=10)
    plan = care.plan_physician_update(
        plan=plan, by=therapist, physician_name=" Dr. Helen Marsh ", physician_signed_on=signed_on
    )
    plan.refresh_from_db()
    assert (plan.physician_name, plan.physician_signed_on) == ("Dr. Helen Marsh", signed_on)
    assert plan.history.first().history_user == therapist


def test_plan_physician_update_before_the_plan_counts_is_refused(episode, therapist):
    plan = create(episode, therapist)
    with pytest.raises(ValidationError) as caught:
        care.plan_physician_update(
            plan=plan, by=therapist, verbal_order_on=episode.started_on - dt.timedelta(days=1)
        )
    assert list(caught.value.message_dict) == ["verbal_order_on"]
