"""Serializers of the clinical-record API: parse and present only; the rules are the services'
(patients.clinical) and the JSON shapes patients.clinical_schema's."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from patients import outcomes
from patients.clinical_schema import RED_FLAGS, SPECIAL_TEST_RESULTS
from patients.clinical_selectors import outcome_score
from patients.models import (
    BillingRule,
    EpisodeOfCare,
    Evaluation,
    EvaluationAddendum,
    Goal,
    OutcomeMeasure,
)


class _StaffRef(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    name = serializers.SerializerMethodField()

    def get_name(self, user: Any) -> str:
        return user.get_full_name() or user.username


# --- The JSON shapes, for the schema (validated by patients.clinical_schema) -----------------


class _SubjectiveShape(serializers.Serializer):
    history = serializers.CharField(required=False)
    pain_location = serializers.CharField(required=False)
    aggravating = serializers.ListField(child=serializers.CharField(), required=False)
    easing = serializers.ListField(child=serializers.CharField(), required=False)
    red_flags = serializers.DictField(
        child=serializers.BooleanField(),
        required=False,
        help_text=f"Answered yes (true) or no (false); the screen: {', '.join(RED_FLAGS)}.",
    )


class _ObjectiveShape(serializers.Serializer):
    range_of_motion = serializers.DictField(
        child=serializers.FloatField(min_value=0, max_value=360),
        required=False,
        help_text="Movement (a lower-case slug, e.g. lumbar_flexion) -> degrees, 0 to 360.",
    )
    strength = serializers.DictField(
        child=serializers.IntegerField(min_value=0, max_value=5),
        required=False,
        help_text="Muscle group (a slug, e.g. hip_flexion_left) -> manual muscle test 0 to 5.",
    )
    special_tests = serializers.DictField(
        child=serializers.ChoiceField(choices=SPECIAL_TEST_RESULTS),
        required=False,
        help_text="Test (a slug, e.g. slr_left) -> result.",
    )
    findings = serializers.CharField(required=False)


class _DiagnosisShape(serializers.Serializer):
    icd10_code = serializers.CharField(help_text="ICD-10-CM, e.g. M54.50.")
    description = serializers.CharField(max_length=200)


@extend_schema_field(_SubjectiveShape)
class SubjectiveField(serializers.JSONField):
    pass


@extend_schema_field(_ObjectiveShape)
class ObjectiveField(serializers.JSONField):
    pass


@extend_schema_field(_DiagnosisShape(many=True))
class DiagnosesField(serializers.JSONField):
    pass


@extend_schema_field(
    {
        "type": "object",
        "description": (
            "The raw answers, one shape per instrument: nprs {pain: 0-10}; odi {sections: "
            "{pain_intensity, personal_care, lifting, walking, sitting, standing, sleeping, "
            "sex_life, social_life, travelling: 0-5 or null when skipped}}; rmdq {items: 24 x "
            "true/false/null}; psfs {activities: [{name, score 0-10}] x 3-5}."
        ),
    }
)
class AnswersField(serializers.JSONField):
    pass


# --- Episodes --------------------------------------------------------------------------------


class EpisodeSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    patient = serializers.UUIDField(source="patient.public_id", read_only=True)
    patient_mrn = serializers.CharField(source="patient.mrn", read_only=True)
    therapist = _StaffRef(read_only=True)
    primary_diagnosis = serializers.UUIDField(
        source="primary_diagnosis.public_id", read_only=True, allow_null=True
    )
    primary_diagnosis_code = serializers.CharField(
        source="primary_diagnosis.icd10_code", read_only=True, allow_null=True
    )

    class Meta:
        model = EpisodeOfCare
        fields = [
            "id",
            "patient",
            "patient_mrn",
            "therapist",
            "primary_diagnosis",
            "primary_diagnosis_code",
            "status",
            "started_on",
            "ended_on",
            "billing_rule",
            "progress_report_clock",
            "auth_reference",
            "auth_visits",
            "auth_units",
            "auth_starts_on",
            "auth_ends_on",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class EpisodeWriteSerializer(serializers.Serializer):
    therapist = serializers.UUIDField(
        required=False, help_text="A therapist of the clinic; default: the caller."
    )
    primary_diagnosis = serializers.UUIDField(
        required=False, allow_null=True, help_text="One of the patient's diagnoses."
    )
    started_on = serializers.DateField()
    billing_rule = serializers.ChoiceField(
        choices=BillingRule.choices,
        required=False,
        allow_null=True,
        help_text="Default: the Medicare 8-minute rule for Medicare patients of a clinic with "
        "Medicare rules, else the rule of eights.",
    )
    progress_report_clock = serializers.BooleanField(
        required=False,
        allow_null=True,
        help_text="Default: on for Medicare patients of a clinic with Medicare rules.",
    )
    auth_reference = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, max_length=60
    )
    auth_visits = serializers.IntegerField(required=False, allow_null=True, min_value=0)
    auth_units = serializers.IntegerField(required=False, allow_null=True, min_value=0)
    auth_starts_on = serializers.DateField(required=False, allow_null=True)
    auth_ends_on = serializers.DateField(required=False, allow_null=True)


NOTIFY_HELP = (
    "E-mail the patient (if they agreed to e-mail) the list of booked visits this cancels. "
    "Default: true."
)


class EpisodeEndSerializer(serializers.Serializer):
    ended_on = serializers.DateField(help_text="The last day of the episode.")
    notify = serializers.BooleanField(required=False, default=True, help_text=NOTIFY_HELP)


class EpisodeCloseSerializer(serializers.Serializer):
    ended_on = serializers.DateField(required=False, help_text="Default: today at the clinic.")
    notify = serializers.BooleanField(required=False, default=True, help_text=NOTIFY_HELP)


class CancelledVisitSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    starts_at = serializers.DateTimeField()


class EpisodeEndedSerializer(EpisodeSerializer):
    """The ended episode, and its visits that were still booked and are now cancelled."""

    cancelled_visits = CancelledVisitSerializer(many=True, read_only=True)
    patient_notified = serializers.BooleanField(
        read_only=True, help_text="An e-mail listing the cancelled visits goes to the patient."
    )

    class Meta(EpisodeSerializer.Meta):
        fields = [*EpisodeSerializer.Meta.fields, "cancelled_visits", "patient_notified"]


# --- Evaluations -----------------------------------------------------------------------------


class AddendumSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    author = _StaffRef(read_only=True)

    class Meta:
        model = EvaluationAddendum
        fields = ["id", "author", "text", "created_at"]
        read_only_fields = ["id", "author", "created_at"]


class EvaluationSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    episode = serializers.UUIDField(source="episode.public_id", read_only=True)
    visit = serializers.UUIDField(source="visit.public_id", read_only=True, allow_null=True)
    author = _StaffRef(read_only=True)
    signed_by = _StaffRef(read_only=True, allow_null=True)
    subjective = SubjectiveField(read_only=True)
    objective = ObjectiveField(read_only=True)
    diagnoses = DiagnosesField(read_only=True)
    cpt_code = serializers.CharField(read_only=True, allow_null=True)
    addenda = AddendumSerializer(many=True, read_only=True)

    class Meta:
        model = Evaluation
        fields = [
            "id",
            "episode",
            "kind",
            "status",
            "version",
            "author",
            "performed_on",
            "visit",
            "subjective",
            "objective",
            "diagnoses",
            "complexity",
            "cpt_code",
            "assessment",
            "plan",
            "signed_at",
            "signed_by",
            "addenda",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class _EvaluationContent(serializers.Serializer):
    performed_on = serializers.DateField()
    visit = serializers.UUIDField(required=False, allow_null=True)
    subjective = SubjectiveField(required=False, allow_null=True)
    objective = ObjectiveField(required=False, allow_null=True)
    diagnoses = DiagnosesField(required=False, allow_null=True)
    complexity = serializers.ChoiceField(
        choices=Evaluation.Complexity.choices,
        required=False,
        allow_blank=True,
        help_text="Initial evaluations only: low 97161, moderate 97162, high 97163.",
    )
    assessment = serializers.CharField(required=False, allow_blank=True)
    plan = serializers.CharField(required=False, allow_blank=True)


class EvaluationCreateSerializer(_EvaluationContent):
    kind = serializers.ChoiceField(choices=Evaluation.Kind.choices)


class EvaluationUpdateSerializer(_EvaluationContent):
    version = serializers.IntegerField(
        required=False,
        min_value=1,
        help_text='The version the change is based on (or send If-Match: "<version>").',
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["performed_on"].required = False


class EvaluationSignSerializer(serializers.Serializer):
    version = serializers.IntegerField(
        required=False,
        min_value=1,
        help_text='The version being signed (or send If-Match: "<version>").',
    )


class AddendumCreateSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=10_000)


# --- Goals -----------------------------------------------------------------------------------


class GoalStatusChangeSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Goal.Status.choices)
    changed_at = serializers.DateTimeField()
    changed_by = _StaffRef(allow_null=True)


class GoalSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    episode = serializers.UUIDField(source="episode.public_id", read_only=True)
    status_history = serializers.SerializerMethodField()

    class Meta:
        model = Goal
        fields = [
            "id",
            "episode",
            "term",
            "description",
            "target_date",
            "status",
            "status_history",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(GoalStatusChangeSerializer(many=True))
    def get_status_history(self, goal: Goal) -> Any:
        history = self.context.get("status_history", {}).get(goal.pk, [])
        return GoalStatusChangeSerializer(history, many=True).data


class GoalCreateSerializer(serializers.Serializer):
    term = serializers.ChoiceField(choices=Goal.Term.choices)
    description = serializers.CharField(max_length=300)
    target_date = serializers.DateField(required=False, allow_null=True)


class GoalStatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Goal.Status.choices)


# --- Outcome measures ------------------------------------------------------------------------


class OutcomeSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    episode = serializers.UUIDField(source="episode.public_id", read_only=True)
    evaluation = serializers.UUIDField(
        source="evaluation.public_id", read_only=True, allow_null=True
    )
    visit = serializers.UUIDField(source="visit.public_id", read_only=True, allow_null=True)
    answers = AnswersField(read_only=True)
    recorded_by = _StaffRef(read_only=True)
    display = serializers.SerializerMethodField()

    class Meta:
        model = OutcomeMeasure
        fields = [
            "id",
            "episode",
            "evaluation",
            "visit",
            "instrument",
            "version",
            "answers",
            "score",
            "display",
            "recorded_on",
            "recorded_by",
            "entered_in_error",
            "created_at",
        ]
        read_only_fields = fields

    def get_display(self, measure: OutcomeMeasure) -> str:
        """The score as read: '35.6 % (moderate disability)', or why there is none."""
        return outcome_score(measure).text


class OutcomeCreateSerializer(serializers.Serializer):
    instrument = serializers.ChoiceField(choices=OutcomeMeasure.Instrument.choices)
    version = serializers.CharField(
        required=False, max_length=12, help_text="Default: the instrument's current version."
    )
    answers = AnswersField()
    recorded_on = serializers.DateField(required=False, help_text="Default: today at the clinic.")
    evaluation = serializers.UUIDField(required=False, allow_null=True)
    visit = serializers.UUIDField(required=False, allow_null=True)


class _PointSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    recorded_on = serializers.DateField()
    score = serializers.DecimalField(max_digits=12, decimal_places=4, allow_null=True)
    display = serializers.CharField()
    band = serializers.CharField(allow_null=True)
    reason = serializers.CharField(allow_null=True)


class _ChangeSerializer(serializers.Serializer):
    difference = serializers.DecimalField(max_digits=12, decimal_places=4, allow_null=True)
    improvement = serializers.DecimalField(max_digits=12, decimal_places=4, allow_null=True)
    relative_percent = serializers.DecimalField(max_digits=12, decimal_places=4, allow_null=True)
    improved = serializers.BooleanField()
    meaningful = serializers.BooleanField()
    reached = serializers.ListField(child=serializers.ChoiceField(["absolute", "relative"]))
    mcid_absolute = serializers.DecimalField(max_digits=12, decimal_places=4)
    mcid_relative_percent = serializers.DecimalField(
        max_digits=12, decimal_places=4, allow_null=True
    )
    reason = serializers.CharField(allow_null=True)


class OutcomeSummarySerializer(serializers.Serializer):
    instrument = serializers.ChoiceField(choices=OutcomeMeasure.Instrument.choices)
    name = serializers.CharField()
    unit = serializers.CharField()
    direction = serializers.ChoiceField([outcomes.LOWER_IS_BETTER, outcomes.HIGHER_IS_BETTER])
    count = serializers.IntegerField()
    baseline = _PointSerializer()
    previous = _PointSerializer(allow_null=True)
    latest = _PointSerializer()
    change = _ChangeSerializer(allow_null=True)
    mcid_reached = serializers.BooleanField()
    series = _PointSerializer(many=True)
