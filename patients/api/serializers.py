from __future__ import annotations

from typing import Any, ClassVar

from rest_framework import serializers

from patients.models import Diagnosis, Patient, Precaution, PrecautionKind
from patients.vocabulary import BodyRegion, Side


class PrecautionKindSerializer(serializers.ModelSerializer):
    class Meta:
        model = PrecautionKind
        fields = ["code", "label", "needs_region"]


class PrecautionSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    kind = serializers.CharField(source="kind.code")
    kind_label = serializers.CharField(source="kind.label", read_only=True)
    body_region = serializers.ChoiceField(
        choices=BodyRegion.choices, required=False, allow_blank=True
    )
    side = serializers.ChoiceField(choices=Side.choices, required=False, allow_blank=True)

    class Meta:
        model = Precaution
        fields = [
            "id",
            "kind",
            "kind_label",
            "body_region",
            "side",
            "noted_on",
            "resolved_on",
            "notes",
        ]
        extra_kwargs: ClassVar[dict[str, Any]] = {"noted_on": {"required": False}}


class PrecautionUpdateSerializer(PrecautionSerializer):
    kind = serializers.CharField(source="kind.code", read_only=True)


class PatientSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    archived = serializers.BooleanField(source="is_archived", read_only=True)

    class Meta:
        model = Patient
        fields = [
            "id",
            "mrn",
            "first_name",
            "last_name",
            "date_of_birth",
            "sex",
            "phone",
            "email",
            "address",
            "emergency_contact_name",
            "emergency_contact_phone",
            "preferred_language",
            "referring_physician_name",
            "referring_physician_npi",
            "payer_type",
            "consent_email",
            "consent_sms",
            "archived",
        ]
        read_only_fields = ["id", "mrn", "archived"]
        # The service checks the date of birth and names the rule.
        extra_kwargs: ClassVar[dict[str, Any]] = {"date_of_birth": {"validators": []}}


class PatientDetailSerializer(PatientSerializer):
    """A patient with the precautions every member of staff must see."""

    precautions = serializers.SerializerMethodField()

    class Meta(PatientSerializer.Meta):
        fields = [*PatientSerializer.Meta.fields, "precautions"]

    def get_precautions(self, patient: Patient) -> Any:
        return PrecautionSerializer(self.context["precautions"], many=True).data


class PatientTransferSerializer(serializers.Serializer):
    to_clinic = serializers.UUIDField()


class DiagnosisSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    acute = serializers.SerializerMethodField()
    side = serializers.ChoiceField(choices=Side.choices, required=False, allow_blank=True)

    class Meta:
        model = Diagnosis
        fields = [
            "id",
            "icd10_code",
            "description",
            "onset_date",
            "acute",
            "side",
            "resolved_on",
            "notes",
        ]
        # Format rules are the service's; it names the field and the rule.
        extra_kwargs: ClassVar[dict[str, Any]] = {
            "icd10_code": {"validators": []},
            "onset_date": {"validators": []},
        }

    def get_acute(self, diagnosis: Diagnosis) -> bool | None:
        return diagnosis.is_acute()


class PatientSearchSerializer(serializers.Serializer):
    """A patient search, sent in the body so that names never travel in a URL."""

    q = serializers.CharField(
        max_length=100, trim_whitespace=True, help_text="Name, date of birth, MRN or phone"
    )
    include_archived = serializers.BooleanField(required=False, default=False)


class PatientSearchPageSerializer(serializers.Serializer):
    """A page of a patient search (documentation of the answer; see patients/api/pagination.py)."""

    count = serializers.IntegerField(help_text="Matches, counted up to 500.")
    count_capped = serializers.BooleanField(
        help_text="More than 500 patients match: the pages hold the first 500; refine the search."
    )
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = PatientSerializer(many=True)
