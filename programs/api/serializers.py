from __future__ import annotations

from typing import Any

from django.templatetags.static import static
from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from programs.models import ContraindicationRule, Exercise, Modality


class ParameterSpecSerializer(serializers.Serializer):
    """One parameter recorded when the modality is delivered."""

    name = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]
    unit = serializers.CharField(required=False)
    kind = serializers.CharField(help_text="number, integer, choice or text")
    required = serializers.BooleanField(required=False)  # type: ignore[assignment]
    min = serializers.FloatField(required=False)
    max = serializers.FloatField(required=False)
    choices = serializers.ListField(child=serializers.JSONField(), required=False)


class ContraindicationRuleSerializer(serializers.ModelSerializer):
    class Meta:
        model = ContraindicationRule
        fields = ["condition", "severity", "reason", "region_scope", "regions"]
        read_only_fields = fields


class ModalitySerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    parameter_spec = ParameterSpecSerializer(many=True, read_only=True)
    contraindications = ContraindicationRuleSerializer(
        source="contraindication_rules", many=True, read_only=True
    )

    class Meta:
        model = Modality
        fields = [
            "id",
            "name",
            "kind",
            "description",
            "cpt_code",
            "medicare_code",
            "medicare_bundled",
            "timed",
            "typical_minutes",
            "parameter_spec",
            "active",
            "contraindications",
        ]
        read_only_fields = fields


@extend_schema_serializer(component_name="Modality")  # documented as ModalityRequest
class ModalityWriteSerializer(serializers.ModelSerializer):
    """What a superuser sends to add or change a modality; the service checks the rules."""

    parameter_spec = serializers.JSONField(required=False)

    class Meta:
        model = Modality
        fields = [
            "name",
            "kind",
            "description",
            "cpt_code",
            "medicare_code",
            "medicare_bundled",
            "timed",
            "typical_minutes",
            "parameter_spec",
            "active",
        ]
        # Uniqueness is checked by the service, which names the field.
        extra_kwargs: dict[str, Any] = {"name": {"validators": []}}


class ExerciseSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    image_url = serializers.SerializerMethodField()
    dose = serializers.CharField(source="dose_text", read_only=True)
    contraindications = ContraindicationRuleSerializer(
        source="contraindication_rules", many=True, read_only=True
    )

    class Meta:
        model = Exercise
        fields = [
            "id",
            "name",
            "slug",
            "category",
            "body_region",
            "instructions",
            "sets",
            "reps",
            "hold_seconds",
            "minutes",
            "times_per_day",
            "days_per_week",
            "dose",
            "image",
            "image_url",
            "active",
            "contraindications",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_image_url(self, exercise: Exercise) -> str | None:
        if not exercise.image:
            return None
        try:
            return static(exercise.image)
        except ValueError:  # not collected (a missing file in the manifest)
            return None


@extend_schema_serializer(component_name="Exercise")  # documented as ExerciseRequest
class ExerciseWriteSerializer(serializers.ModelSerializer):
    class Meta:
        model = Exercise
        fields = [
            "name",
            "slug",
            "category",
            "body_region",
            "instructions",
            "sets",
            "reps",
            "hold_seconds",
            "minutes",
            "times_per_day",
            "days_per_week",
            "image",
            "active",
        ]
        # Uniqueness is checked by the service, which names the field.
        extra_kwargs: dict[str, Any] = {
            "name": {"validators": []},
            "slug": {"validators": [], "required": False},
        }
