from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from clinic.models import Room
from patients.availability import MAX_SEARCH_DAYS
from patients.models import Visit
from patients.scheduling import LocalTimeError, localize

# The years a clinic's calendar holds: wide enough for any real booking, narrow enough that every
# IANA zone has a whole-minute UTC offset then (local mean time had seconds, which no ISO 8601
# offset in an answer can carry) and that date arithmetic cannot overflow.
CALENDAR_FIRST_YEAR, CALENDAR_LAST_YEAR = 2000, 2100
CALENDAR_RANGE_MESSAGE = (
    f"Must be in the years {CALENDAR_FIRST_YEAR} to {CALENDAR_LAST_YEAR} of the clinic's calendar."
)


def _in_calendar(value: dt.date) -> None:
    if not CALENDAR_FIRST_YEAR <= value.year <= CALENDAR_LAST_YEAR:
        raise serializers.ValidationError(CALENDAR_RANGE_MESSAGE, code="out_of_range")


class CalendarDateField(serializers.DateField):
    """A day of the clinic's calendar (see CALENDAR_FIRST_YEAR)."""

    def to_internal_value(self, value: Any) -> dt.date:
        day = super().to_internal_value(value)
        _in_calendar(day)
        return day


@extend_schema_field(OpenApiTypes.DATETIME)
class ClinicDateTimeField(serializers.Field):
    """An ISO 8601 date-time. With a UTC offset it is that instant; without one it is a
    wall-clock time in the clinic's zone, refused when a DST change makes it skipped or repeated.
    Output is in the clinic's zone, with its offset."""

    default_error_messages = {"invalid": "Not an ISO 8601 date-time (e.g. 2026-03-09T10:00)."}

    def to_internal_value(self, data: Any) -> dt.datetime:
        try:
            value = parse_datetime(data) if isinstance(data, str) else None
        except ValueError:  # well formed but impossible, e.g. month 13
            value = None
        if value is None:
            self.fail("invalid")
        _in_calendar(value)
        if value.tzinfo is not None:
            return value.astimezone(dt.UTC)
        try:
            # UTC: the services add durations, and within one zone Python adds wall-clock time.
            return localize(value, self.context["clinic"].tz).astimezone(dt.UTC)
        except LocalTimeError as exc:
            raise serializers.ValidationError(str(exc), code=exc.code) from exc

    def to_representation(self, value: dt.datetime) -> str:
        clinic = self.context.get("clinic")
        return (value.astimezone(clinic.tz) if clinic else value).isoformat()


class _Ref(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")


class PatientRefSerializer(_Ref):
    mrn = serializers.CharField()
    name = serializers.CharField(source="full_name")


class TherapistRefSerializer(_Ref):
    name = serializers.SerializerMethodField()

    def get_name(self, user: Any) -> str:
        return user.get_full_name() or user.username


class RoomRefSerializer(_Ref):
    name = serializers.CharField()
    kind = serializers.CharField()


class VisitSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    patient = PatientRefSerializer()
    therapist = TherapistRefSerializer()
    room = RoomRefSerializer(allow_null=True)
    starts_at = ClinicDateTimeField()
    ends_at = ClinicDateTimeField()
    series = serializers.UUIDField(source="series.public_id", allow_null=True, default=None)
    episode = serializers.UUIDField(source="episode.public_id", allow_null=True, default=None)
    allowed_actions = serializers.SerializerMethodField()

    class Meta:
        model = Visit
        fields = [
            "id",
            "patient",
            "therapist",
            "room",
            "starts_at",
            "ends_at",
            "kind",
            "status",
            "cancel_reason",
            "series",
            "episode",
            "allowed_actions",
        ]

    def get_allowed_actions(self, visit: Visit) -> list[str]:
        from patients.visits import allowed_actions

        return allowed_actions(visit.status)


class VisitBookSerializer(serializers.Serializer):
    patient = serializers.UUIDField()
    episode = serializers.UUIDField(required=False, allow_null=True)
    therapist = serializers.UUIDField()
    room = serializers.UUIDField(required=False, allow_null=True)
    kind = serializers.ChoiceField(choices=Visit.Kind.choices, default=Visit.Kind.TREATMENT)
    starts_at = ClinicDateTimeField()
    ends_at = ClinicDateTimeField(required=False)
    duration_minutes = serializers.IntegerField(required=False, min_value=5, max_value=240)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "ends_at" not in attrs:
            if "duration_minutes" not in attrs:
                raise serializers.ValidationError({"ends_at": "Give ends_at or duration_minutes."})
            attrs["ends_at"] = attrs["starts_at"] + dt.timedelta(
                minutes=attrs.pop("duration_minutes")
            )
        return attrs


class VisitRescheduleSerializer(serializers.Serializer):
    starts_at = ClinicDateTimeField()
    ends_at = ClinicDateTimeField(required=False)
    therapist = serializers.UUIDField(required=False)
    room = serializers.UUIDField(required=False, allow_null=True)


class VisitCancelSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=300, default="")


class SlotQuerySerializer(serializers.Serializer):
    date_from = CalendarDateField(required=False, help_text="Default: today at the clinic.")
    date_to = CalendarDateField(required=False)
    duration_minutes = serializers.IntegerField(min_value=5, max_value=240, default=30)
    therapist = serializers.UUIDField(required=False)
    room_kind = serializers.ChoiceField(choices=Room.Kind.choices, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs.setdefault("date_from", timezone.localdate(None, self.context["clinic"].tz))
        attrs.setdefault("date_to", attrs["date_from"])
        if attrs["date_to"] < attrs["date_from"]:
            raise serializers.ValidationError({"date_to": "Must be on or after date_from."})
        if (attrs["date_to"] - attrs["date_from"]).days + 1 > MAX_SEARCH_DAYS:
            raise serializers.ValidationError(
                {"date_to": f"Search at most {MAX_SEARCH_DAYS} days at once."}
            )
        return attrs


class SlotSerializer(serializers.Serializer):
    starts_at = ClinicDateTimeField()
    ends_at = ClinicDateTimeField()
    therapist = TherapistRefSerializer()
    room = RoomRefSerializer(allow_null=True)


class CalendarQuerySerializer(serializers.Serializer):
    date = CalendarDateField(required=False, help_text="Default: today at the clinic.")


class VisitListQuerySerializer(serializers.Serializer):
    day = CalendarDateField(required=False)
    date_from = CalendarDateField(required=False)
    date_to = CalendarDateField(required=False)
    therapist = serializers.UUIDField(required=False)
    patient = serializers.UUIDField(required=False)
    status = serializers.MultipleChoiceField(choices=Visit.Status.choices, required=False)


class SeriesSerializer(serializers.Serializer):
    patient = serializers.UUIDField()
    episode = serializers.UUIDField(required=False, allow_null=True)
    therapist = serializers.UUIDField()
    room = serializers.UUIDField(required=False, allow_null=True)
    kind = serializers.ChoiceField(choices=Visit.Kind.choices, default=Visit.Kind.TREATMENT)
    weekdays = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=6), min_length=1, max_length=7
    )
    local_time = serializers.TimeField()
    duration_minutes = serializers.IntegerField(min_value=5, max_value=240)
    first_day = CalendarDateField()
    occurrences = serializers.IntegerField(min_value=1, max_value=60)


class SeriesBookSerializer(SeriesSerializer):
    accept = serializers.ListField(
        child=serializers.IntegerField(min_value=0), required=False, max_length=60
    )


class OccurrenceSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    day = serializers.DateField()
    starts_at = ClinicDateTimeField(allow_null=True)
    ends_at = ClinicDateTimeField(allow_null=True)
    bookable = serializers.BooleanField()
    problem = serializers.CharField()
    code = serializers.CharField()
    alternative = SlotSerializer(allow_null=True)


class CalendarTherapistSerializer(TherapistRefSerializer):
    working_hours = serializers.SerializerMethodField()

    def get_working_hours(self, user: Any) -> list[dict[str, str]]:
        return [
            {"starts": f"{b.starts:%H:%M}", "ends": f"{b.ends:%H:%M}"}
            for b in user.working_hours.all()
        ]


class NoNextVisitQuerySerializer(serializers.Serializer):
    therapist = serializers.UUIDField(required=False, help_text="Only this therapist's episodes.")


class NoNextVisitSerializer(serializers.Serializer):
    """An active episode whose patient has nothing booked next: the front desk's call list."""

    episode = serializers.UUIDField(source="public_id")
    patient = PatientRefSerializer()
    phone = serializers.CharField(source="patient.phone")
    therapist = TherapistRefSerializer()
    episode_started_on = serializers.DateField(source="started_on")
    last_visit_at = ClinicDateTimeField(allow_null=True)
    days_since_last_visit = serializers.SerializerMethodField()
    nudged_at = ClinicDateTimeField(
        allow_null=True, help_text="When the patient was e-mailed about it, if they were."
    )

    def get_days_since_last_visit(self, episode: Any) -> int | None:
        if episode.last_visit_at is None:
            return None
        tz = self.context["clinic"].tz
        today = timezone.localdate(None, tz)
        return (today - episode.last_visit_at.astimezone(tz).date()).days
