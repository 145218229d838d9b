from __future__ import annotations

from typing import Any

from rest_framework import serializers

from clinic.capabilities import Role
from clinic.models import (
    Clinic,
    Closure,
    Membership,
    OpeningHours,
    Room,
    TherapistProfile,
    TimeOff,
    User,
    Weekday,
    WorkingHours,
)


class UserBriefSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    name = serializers.CharField(source="get_full_name", read_only=True)

    class Meta:
        model = User
        fields = ["id", "username", "name"]


class ClinicSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)

    class Meta:
        model = Clinic
        fields = [
            "id",
            "name",
            "slug",
            "timezone",
            "country",
            "address",
            "phone",
            "late_cancel_hours",
            "reminder_lead_hours",
            "medicare_rules",
            "active",
        ]
        read_only_fields = ["id"]
        # Uniqueness and field rules are checked by the service, which names the field.
        extra_kwargs: dict[str, dict[str, Any]] = {
            "slug": {"validators": []},
            "timezone": {"validators": []},
        }


class ClinicCreateSerializer(ClinicSerializer):
    medicare_rules = serializers.BooleanField(required=False, allow_null=True, default=None)


class MembershipOfUserSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    clinic = serializers.UUIDField(source="clinic.public_id", read_only=True)
    clinic_name = serializers.CharField(source="clinic.name", read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "clinic", "clinic_name", "role"]


class MeSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    memberships = serializers.SerializerMethodField()
    discipline = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = [
            "id",
            "username",
            "first_name",
            "last_name",
            "email",
            "is_superuser",
            "discipline",
            "memberships",
        ]

    def get_memberships(self, user: User) -> list[dict[str, str]]:
        return MembershipOfUserSerializer(self.context["memberships"], many=True).data  # type: ignore[return-value]

    def get_discipline(self, user: User) -> str | None:
        profile = TherapistProfile.objects.filter(user=user).first()
        return profile.discipline if profile else None


class StaffSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    user = UserBriefSerializer(read_only=True)
    discipline = serializers.SerializerMethodField()
    licence_number = serializers.SerializerMethodField()

    class Meta:
        model = Membership
        fields = ["id", "user", "role", "active", "discipline", "licence_number"]

    def _profile(self, membership: Membership) -> TherapistProfile | None:
        try:
            return membership.user.therapist_profile
        except TherapistProfile.DoesNotExist:
            return None

    def get_discipline(self, membership: Membership) -> str | None:
        profile = self._profile(membership)
        return profile.discipline if profile else None

    def get_licence_number(self, membership: Membership) -> str | None:
        profile = self._profile(membership)
        return profile.licence_number if profile else None


class StaffGrantSerializer(serializers.Serializer):
    """Either an existing user's id, or a new user's username (and details), with a role."""

    user = serializers.UUIDField(required=False)
    username = serializers.CharField(required=False, max_length=150)
    password = serializers.CharField(required=False, write_only=True, allow_blank=True)
    first_name = serializers.CharField(required=False, allow_blank=True, max_length=150)
    last_name = serializers.CharField(required=False, allow_blank=True, max_length=150)
    email = serializers.EmailField(required=False, allow_blank=True)
    role = serializers.ChoiceField(choices=Role.choices)
    licence_number = serializers.CharField(required=False, allow_blank=True, max_length=40)
    discipline = serializers.ChoiceField(
        choices=TherapistProfile.Discipline.choices, required=False
    )

    def validate(self, attrs: dict) -> dict:
        if bool(attrs.get("user")) == bool(attrs.get("username")):
            raise serializers.ValidationError(
                {"user": "Give either the id of an existing user or a username for a new one."}
            )
        return attrs


class RoomSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)

    class Meta:
        model = Room
        fields = ["id", "name", "kind", "active"]
        read_only_fields = ["id"]


class OpeningHoursSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    weekday = serializers.ChoiceField(choices=Weekday.choices)
    weekday_name = serializers.CharField(source="get_weekday_display", read_only=True)

    class Meta:
        model = OpeningHours
        fields = ["id", "weekday", "weekday_name", "opens", "closes"]


class ClosureSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    ends_on = serializers.DateField(required=False, allow_null=True)

    class Meta:
        model = Closure
        fields = ["id", "starts_on", "ends_on", "reason"]


class WorkingHoursSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    therapist = serializers.UUIDField(source="therapist.public_id")
    weekday = serializers.ChoiceField(choices=Weekday.choices)
    weekday_name = serializers.CharField(source="get_weekday_display", read_only=True)

    class Meta:
        model = WorkingHours
        fields = ["id", "therapist", "weekday", "weekday_name", "starts", "ends"]


class TimeOffSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    therapist = serializers.UUIDField(source="therapist.public_id")

    class Meta:
        model = TimeOff
        fields = ["id", "therapist", "starts_at", "ends_at", "reason"]
        extra_kwargs = {"reason": {"required": False}}
