"""Serializers of home exercise programmes. Input serializers parse types only; the rules
(library entries, doses, contraindications, dates, versions) are programs.home's, which name
the failing item as `items[2].sets`."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from programs import home
from programs.api.care_serializers import (
    ExerciseRefSerializer,
    FindingSerializer,
    StaffRefSerializer,
)
from programs.models import (
    HomeProgram,
    HomeProgramItem,
    HomeProgramLink,
    HomeProgramVersion,
    HomeSession,
)


class HomeProgramItemSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    exercise = ExerciseRefSerializer()
    instructions = serializers.CharField(source="exercise.instructions")
    dose = serializers.CharField(source="dose_text")
    warnings = FindingSerializer(many=True)

    class Meta:
        model = HomeProgramItem
        fields = [
            "id",
            "exercise",
            "sets",
            "reps",
            "hold_seconds",
            "minutes",
            "times_per_day",
            "days_per_week",
            "side",
            "notes",
            "dose",
            "instructions",
            "override_justification",
            "warnings",
        ]
        read_only_fields = fields


class HomeProgramVersionSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    prescribed_by = StaffRefSerializer()
    items = HomeProgramItemSerializer(many=True)
    sessions_per_week = serializers.SerializerMethodField()

    class Meta:
        model = HomeProgramVersion
        fields = [
            "id",
            "version",
            "starts_on",
            "notes",
            "prescribed_by",
            "created_at",
            "sessions_per_week",
            "items",
        ]
        read_only_fields = fields

    def get_sessions_per_week(self, version: HomeProgramVersion) -> int:
        return home.sessions_per_week(list(version.items.all()))


class HomeProgramSerializer(serializers.ModelSerializer):
    """A programme with its current version."""

    id = serializers.UUIDField(source="public_id", read_only=True)
    episode = serializers.UUIDField(source="episode.public_id")
    patient = serializers.UUIDField(source="episode.patient.public_id")
    created_by = StaffRefSerializer()
    current = serializers.SerializerMethodField()

    class Meta:
        model = HomeProgram
        fields = [
            "id",
            "episode",
            "patient",
            "status",
            "current_version",
            "archived_at",
            "created_by",
            "created_at",
            "current",
        ]
        read_only_fields = fields

    @extend_schema_field(HomeProgramVersionSerializer(allow_null=True))
    def get_current(self, program: HomeProgram) -> dict[str, Any] | None:
        versions = self.context.get("versions", {})
        version = versions.get(program.pk)
        return None if version is None else HomeProgramVersionSerializer(version).data


class HomeItemInputSerializer(serializers.Serializer):
    exercise = serializers.UUIDField(help_text="An active exercise of the library.")
    sets = serializers.IntegerField(required=False, allow_null=True)
    reps = serializers.IntegerField(required=False, allow_null=True)
    hold_seconds = serializers.IntegerField(required=False, allow_null=True)
    minutes = serializers.IntegerField(required=False, allow_null=True)
    times_per_day = serializers.IntegerField(required=False, allow_null=True)
    days_per_week = serializers.IntegerField(required=False, allow_null=True)
    side = serializers.CharField(
        required=False, allow_blank=True, help_text="left, right, bilateral or blank."
    )
    notes = serializers.CharField(required=False, allow_blank=True, max_length=500)
    override_justification = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=2000,
        help_text="Why a contraindicated exercise is prescribed anyway; kept with the item.",
    )


class HomeProgramCreateSerializer(serializers.Serializer):
    """A new programme (version 1). Omitted doses take the library entry's."""

    starts_on = serializers.DateField(required=False, help_text="Default: today.")
    notes = serializers.CharField(required=False, allow_blank=True, max_length=home.NOTES_MAX)
    items = serializers.ListField(child=HomeItemInputSerializer(), max_length=home.MAX_ITEMS)


class HomeProgramReviseSerializer(serializers.Serializer):
    """A new version based on `version` (or If-Match). Omitted items or notes carry over."""

    version = serializers.IntegerField(required=False)
    starts_on = serializers.DateField(required=False, help_text="Default: today.")
    notes = serializers.CharField(required=False, allow_blank=True, max_length=home.NOTES_MAX)
    items = serializers.ListField(
        child=HomeItemInputSerializer(), required=False, max_length=home.MAX_ITEMS
    )


class HomeProgramLinkSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    url = serializers.SerializerMethodField()
    status = serializers.SerializerMethodField()
    created_by = StaffRefSerializer()
    revoked_by = StaffRefSerializer(allow_null=True)

    class Meta:
        model = HomeProgramLink
        fields = [
            "id",
            "url",
            "status",
            "created_by",
            "created_at",
            "expires_at",
            "revoked_at",
            "revoked_by",
            "last_opened_at",
            "open_count",
        ]
        read_only_fields = fields

    def get_url(self, link: HomeProgramLink) -> str:
        path = reverse("home-link-page", kwargs={"token": home.home_link_token(link)})
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path

    @extend_schema_field(serializers.ChoiceField(choices=["live", "expired", "revoked"]))
    def get_status(self, link: HomeProgramLink) -> str:
        if link.revoked_at is not None:
            return "revoked"
        return "expired" if link.expires_at <= timezone.now() else "live"


class HomeProgramLinkCreateSerializer(serializers.Serializer):
    valid_days = serializers.IntegerField(
        required=False,
        default=home.LINK_DAYS_DEFAULT,
        help_text=f"1 to {home.LINK_DAYS_MAX} days; default {home.LINK_DAYS_DEFAULT}.",
    )


class HomeSessionSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    version = serializers.IntegerField(source="version.version")
    items = serializers.SerializerMethodField()
    recorded_via = serializers.SerializerMethodField()

    class Meta:
        model = HomeSession
        fields = [
            "id",
            "version",
            "performed_on",
            "items",
            "pain",
            "comment",
            "recorded_via",
            "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.DictField()))
    def get_items(self, session: HomeSession) -> list[dict[str, Any]]:
        return [{"id": str(i.public_id), "exercise": i.exercise.name} for i in session.items.all()]

    @extend_schema_field(serializers.ChoiceField(choices=["link", "staff"]))
    def get_recorded_via(self, session: HomeSession) -> str:
        return "link" if session.link_id is not None else "staff"


class HomeSessionInputSerializer(serializers.Serializer):
    """A session a therapist records for the patient (the patient uses the link)."""

    version = serializers.IntegerField()
    performed_on = serializers.DateField()
    items = serializers.ListField(child=serializers.UUIDField(), max_length=home.MAX_ITEMS)
    pain = serializers.IntegerField(required=False, allow_null=True)
    comment = serializers.CharField(required=False, allow_blank=True, trim_whitespace=True)


class WeekAdherenceSerializer(serializers.Serializer):
    week = serializers.CharField(help_text="ISO week, e.g. 2026-W23.")
    starts_on = serializers.DateField()
    ends_on = serializers.DateField()
    prescribed = serializers.IntegerField()
    done = serializers.IntegerField()
    percent = serializers.IntegerField(allow_null=True)


class AdherenceSerializer(serializers.Serializer):
    program = serializers.UUIDField(help_text="The home programme.")
    since = serializers.DateField(allow_null=True)
    until = serializers.DateField(allow_null=True)
    prescribed = serializers.IntegerField()
    done = serializers.IntegerField()
    percent = serializers.IntegerField(allow_null=True)
    weeks = WeekAdherenceSerializer(many=True)


class AdherenceQuerySerializer(serializers.Serializer):
    since = serializers.DateField(required=False)
    until = serializers.DateField(required=False)


class HomeEmailSerializer(serializers.Serializer):
    version = serializers.IntegerField()
    status = serializers.ChoiceField(
        choices=["requested", "sent"], help_text="requested: the job sends it shortly."
    )
    requested_at = serializers.DateTimeField()
    sent_at = serializers.DateTimeField(allow_null=True)
