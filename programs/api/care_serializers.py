"""Serializers of plans of care, treatment notes, compliance and the contraindication check.

Input serializers parse types only; the rules (catalogue, parameters, contraindications, dates)
are the services', which name the failing item as `modalities[2].parameters`.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from patients.api.visit_serializers import VisitBookSerializer, VisitSerializer
from programs.models import (
    BillingLine,
    DeliveredExercise,
    DeliveredModality,
    PlannedExercise,
    PlannedModality,
    PlanOfCare,
    TreatmentNote,
    TreatmentNoteAddendum,
)

MAX_ITEMS = 40


class _Ref(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")


class StaffRefSerializer(_Ref):
    name = serializers.SerializerMethodField()

    def get_name(self, user: Any) -> str:
        return user.get_full_name() or user.username


class ModalityRefSerializer(_Ref):
    name = serializers.CharField()
    cpt_code = serializers.CharField()
    timed = serializers.BooleanField()


class ExerciseRefSerializer(_Ref):
    name = serializers.CharField()
    slug = serializers.CharField()


class FindingSerializer(serializers.Serializer):
    """Why an item is refused or questioned for this patient; `reason` names the condition."""

    severity = serializers.ChoiceField(choices=["refuse", "warn"])
    condition = serializers.CharField()
    reason = serializers.CharField()
    region = serializers.CharField()
    rule_id = serializers.IntegerField(allow_null=True)


# --- Plans of care ---------------------------------------------------------------------------


class PlannedModalitySerializer(serializers.ModelSerializer):
    modality = ModalityRefSerializer()
    warnings = FindingSerializer(many=True)

    class Meta:
        model = PlannedModality
        fields = [
            "modality",
            "parameters",
            "body_region",
            "minutes",
            "override_justification",
            "warnings",
        ]


class PlannedExerciseSerializer(serializers.ModelSerializer):
    exercise = ExerciseRefSerializer()
    warnings = FindingSerializer(many=True)

    class Meta:
        model = PlannedExercise
        fields = [
            "exercise",
            "sets",
            "reps",
            "hold_seconds",
            "times_per_day",
            "days_per_week",
            "override_justification",
            "warnings",
        ]


class PlanSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    episode = serializers.UUIDField(source="episode.public_id")
    supersedes = serializers.UUIDField(source="supersedes.public_id", allow_null=True)
    modalities = PlannedModalitySerializer(many=True)
    exercises = PlannedExerciseSerializer(many=True)
    created_by = StaffRefSerializer()

    class Meta:
        model = PlanOfCare
        fields = [
            "id",
            "episode",
            "version",
            "status",
            "supersedes",
            "frequency_per_week",
            "duration_weeks",
            "starts_on",
            "first_treatment_on",
            "certified_until",
            "physician_name",
            "physician_signed_on",
            "verbal_order_on",
            "notes",
            "modalities",
            "exercises",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields


class _ItemInput(serializers.Serializer):
    override_justification = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=2000,
        help_text="Why a contraindicated item is given anyway; kept with the record.",
    )


class ModalityItemInputSerializer(_ItemInput):
    modality = serializers.UUIDField(help_text="A modality of the catalogue (not an evaluation).")
    parameters = serializers.DictField(
        required=False, help_text="As the modality's parameter_spec lists them."
    )
    body_region = serializers.CharField(required=False, allow_blank=True)
    minutes = serializers.IntegerField(
        required=False, allow_null=True, help_text="Or `minutes` inside parameters."
    )


class PlannedExerciseInputSerializer(_ItemInput):
    exercise = serializers.UUIDField()
    sets = serializers.IntegerField(required=False, allow_null=True)
    reps = serializers.IntegerField(required=False, allow_null=True)
    hold_seconds = serializers.IntegerField(required=False, allow_null=True)
    times_per_day = serializers.IntegerField(required=False, allow_null=True)
    days_per_week = serializers.IntegerField(required=False, allow_null=True)


class _PlanInput(serializers.Serializer):
    frequency_per_week = serializers.IntegerField()
    duration_weeks = serializers.IntegerField()
    physician_name = serializers.CharField(required=False, allow_blank=True, max_length=200)
    physician_signed_on = serializers.DateField(required=False, allow_null=True)
    verbal_order_on = serializers.DateField(required=False, allow_null=True)
    notes = serializers.CharField(required=False, allow_blank=True, max_length=20_000)
    modalities = serializers.ListField(
        child=ModalityItemInputSerializer(), required=False, max_length=MAX_ITEMS
    )
    exercises = serializers.ListField(
        child=PlannedExerciseInputSerializer(), required=False, max_length=MAX_ITEMS
    )


class PlanCreateSerializer(_PlanInput):
    """A new plan of care; `certified_until` at most 90 days from the first treatment (or from
    `starts_on` while no treatment is recorded)."""

    starts_on = serializers.DateField()
    certified_until = serializers.DateField()


class PlanRecertifySerializer(_PlanInput):
    """A new version of the plan. Omitted fields and item lists carry over from the current
    version; `starts_on` defaults to today and the 90 days count from it."""

    frequency_per_week = serializers.IntegerField(required=False)
    duration_weeks = serializers.IntegerField(required=False)
    starts_on = serializers.DateField(required=False)
    certified_until = serializers.DateField()


class PlanPhysicianSerializer(serializers.Serializer):
    """The referring physician's certification of the plan (its content does not change)."""

    physician_name = serializers.CharField(required=False, allow_blank=True, max_length=200)
    physician_signed_on = serializers.DateField(required=False, allow_null=True)
    verbal_order_on = serializers.DateField(required=False, allow_null=True)


# --- Treatment notes -------------------------------------------------------------------------


class DeliveredModalitySerializer(serializers.ModelSerializer):
    modality = ModalityRefSerializer()
    warnings = FindingSerializer(many=True)

    class Meta:
        model = DeliveredModality
        fields = [
            "modality",
            "parameters",
            "body_region",
            "minutes",
            "override_justification",
            "warnings",
        ]


class DeliveredExerciseSerializer(serializers.ModelSerializer):
    exercise = ExerciseRefSerializer()
    warnings = FindingSerializer(many=True)

    class Meta:
        model = DeliveredExercise
        fields = [
            "exercise",
            "sets",
            "reps",
            "hold_seconds",
            "notes",
            "override_justification",
            "warnings",
        ]


class BillingLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = BillingLine
        fields = ["cpt_code", "minutes", "units", "timed", "modifiers"]


class TreatmentNoteAddendumSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    author = StaffRefSerializer(read_only=True)

    class Meta:
        model = TreatmentNoteAddendum
        fields = ["id", "author", "text", "created_at"]
        read_only_fields = ["id", "author", "created_at"]


class TreatmentNoteSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    visit = serializers.UUIDField(source="visit.public_id")
    episode = serializers.UUIDField(source="episode.public_id")
    author = StaffRefSerializer()
    signed_by = StaffRefSerializer(allow_null=True)
    modalities = DeliveredModalitySerializer(many=True)
    exercises = DeliveredExerciseSerializer(many=True)
    billing_lines = BillingLineSerializer(many=True)
    total_units = serializers.SerializerMethodField()
    addenda = TreatmentNoteAddendumSerializer(many=True)

    class Meta:
        model = TreatmentNote
        fields = [
            "id",
            "visit",
            "episode",
            "status",
            "version",
            "author",
            "subjective",
            "assessment",
            "notes",
            "modalities",
            "exercises",
            "billing_rule",
            "billing_lines",
            "total_units",
            "signed_at",
            "signed_by",
            "addenda",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_total_units(self, note: TreatmentNote) -> int:
        return sum(line.units for line in note.billing_lines.all())


class DeliveredExerciseInputSerializer(_ItemInput):
    exercise = serializers.UUIDField()
    sets = serializers.IntegerField(required=False, allow_null=True)
    reps = serializers.IntegerField(required=False, allow_null=True)
    hold_seconds = serializers.IntegerField(required=False, allow_null=True)
    notes = serializers.CharField(required=False, allow_blank=True, max_length=300)


class TreatmentNoteWriteSerializer(serializers.Serializer):
    """A draft's content. PUT replaces it (omitted fields become blank, omitted lists empty);
    PATCH changes what is given (a given list replaces the items). An existing note's version
    is required: If-Match or `version`."""

    version = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    subjective = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    assessment = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    notes = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    modalities = serializers.ListField(
        child=ModalityItemInputSerializer(), required=False, max_length=MAX_ITEMS
    )
    exercises = serializers.ListField(
        child=DeliveredExerciseInputSerializer(), required=False, max_length=MAX_ITEMS
    )


class TreatmentCompleteSerializer(TreatmentNoteWriteSerializer):
    """The visit's note (as PATCH reads it) and whether to sign it, then the visit completed."""

    sign = serializers.BooleanField(required=False, default=False)


class SignSerializer(serializers.Serializer):
    version = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, help_text="Or If-Match."
    )


class TreatmentCompletedSerializer(serializers.Serializer):
    note = TreatmentNoteSerializer()
    visit = VisitSerializer()


# --- Compliance ------------------------------------------------------------------------------


class ComplianceFlagSerializer(serializers.Serializer):
    area = serializers.ChoiceField(
        choices=["progress_report", "certification", "plan", "authorization"]
    )
    level = serializers.ChoiceField(choices=["warning", "critical"])
    message = serializers.CharField()


class ProgressReportClockSerializer(serializers.Serializer):
    clock_on = serializers.BooleanField()
    status = serializers.ChoiceField(choices=["ok", "warn", "due", "off"])
    treatment_days = serializers.IntegerField(help_text="Since the last report by a PT.")
    days_left = serializers.IntegerField(allow_null=True)
    period_started_on = serializers.DateField(allow_null=True)
    last_report_on = serializers.DateField(allow_null=True)
    flags = serializers.ListField(child=serializers.CharField())


class CertificationSerializer(serializers.Serializer):
    plan = serializers.UUIDField()
    plan_version = serializers.IntegerField()
    counted_from = serializers.DateField()
    certified_until = serializers.DateField()
    latest_allowed_until = serializers.DateField(allow_null=True)
    days_left = serializers.IntegerField(allow_null=True)
    expired = serializers.BooleanField(allow_null=True)
    signature = serializers.ChoiceField(choices=["missing", "overdue", "signed"], allow_null=True)
    signature_due_on = serializers.DateField(allow_null=True)
    signature_days_left = serializers.IntegerField(allow_null=True)
    signed_late = serializers.BooleanField(allow_null=True)
    problem = serializers.CharField(allow_blank=True)
    flags = serializers.ListField(child=serializers.CharField())


class AuthorizationSerializer(serializers.Serializer):
    reference = serializers.CharField(allow_blank=True)
    status = serializers.ChoiceField(choices=["ok", "warn", "exhausted", "not_started"])
    visits_approved = serializers.IntegerField(allow_null=True)
    visits_used = serializers.IntegerField()
    visits_left = serializers.IntegerField(allow_null=True)
    units_approved = serializers.IntegerField(allow_null=True)
    units_used = serializers.IntegerField()
    units_left = serializers.IntegerField(allow_null=True)
    starts_on = serializers.DateField(allow_null=True)
    ends_on = serializers.DateField(allow_null=True)
    days_left = serializers.IntegerField(allow_null=True)
    flags = serializers.ListField(child=serializers.CharField())


class EpisodeComplianceSerializer(serializers.Serializer):
    """`clinical` is false for callers without VIEW_CLINICAL (the front desk): they get the
    authorization only, and `progress_report` and `certification` are null."""

    episode = serializers.UUIDField()
    as_of = serializers.DateField()
    clinical = serializers.BooleanField()
    progress_report = ProgressReportClockSerializer(allow_null=True)
    certification = CertificationSerializer(allow_null=True)
    authorization = AuthorizationSerializer(allow_null=True)
    flags = ComplianceFlagSerializer(many=True)


# --- Contraindication check ------------------------------------------------------------------


class ContraindicationCheckSerializer(serializers.Serializer):
    """One modality (with the treated body region and, optionally, its parameters) or one
    exercise, checked against the patient's current conditions."""

    modality = serializers.UUIDField(required=False)
    exercise = serializers.UUIDField(required=False)
    body_region = serializers.CharField(
        required=False, allow_blank=True, help_text="Where the modality would be applied."
    )
    parameters = serializers.DictField(required=False)
    on = serializers.DateField(required=False, help_text="The date of service; today if omitted.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("modality" in attrs) == ("exercise" in attrs):
            raise serializers.ValidationError(
                {"modality": "Give either a modality or an exercise (not both)."}
            )
        return attrs


@extend_schema_field({"type": "object", "additionalProperties": True})
class _ItemField(serializers.DictField):
    pass


class ContraindicationResultSerializer(serializers.Serializer):
    item = _ItemField(help_text="The modality or exercise checked: id, name, kind.")
    body_region = serializers.CharField(allow_blank=True)
    refused = serializers.BooleanField(
        help_text="A finding refuses the item: giving it needs a written justification."
    )
    findings = FindingSerializer(many=True)
    parameters = serializers.DictField(allow_null=True, help_text="The parameters, cleaned.")


class EpisodeVisitBookSerializer(VisitBookSerializer):
    """A visit of the episode's patient; the therapist defaults to the episode's."""

    patient = None  # type: ignore[assignment]  # DRF: None removes an inherited field
    episode = None  # type: ignore[assignment]
    therapist = serializers.UUIDField(required=False, allow_null=True)


class EpisodeVisitBookedSerializer(serializers.Serializer):
    visit = VisitSerializer()
    compliance = EpisodeComplianceSerializer()
