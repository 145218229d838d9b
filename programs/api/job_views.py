"""What the background jobs write, read through the API, under /api/v1/clinics/{clinic_id}/:

visits/{visit_id}/summary/     GET the visit's progress summary (VIEW_CLINICAL)
episodes/{episode_id}/summaries/  GET the episode's summaries, newest visit first (VIEW_CLINICAL)
followups/?status=...          GET follow-ups, e.g. the front desk's work list
                               (status=needs_front_desk) (VIEW_SCHEDULE)
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.exceptions import ValidationError as DRFValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from clinic.api.pagination import Pagination
from clinic.capabilities import Capability
from programs.api.care_views import _CareViewSet
from programs.models import FollowUp, ProgressSummary


class ProgressSummarySerializer(serializers.ModelSerializer):
    visit = serializers.UUIDField(source="visit.public_id", read_only=True)

    class Meta:
        model = ProgressSummary
        fields = ["visit", "data", "text", "created_at"]
        read_only_fields = fields


class FollowUpSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    episode = serializers.UUIDField(source="episode.public_id", read_only=True)
    patient = serializers.UUIDField(source="episode.patient.public_id", read_only=True)
    patient_name = serializers.SerializerMethodField()
    therapist = serializers.UUIDField(source="after_visit.therapist.public_id", read_only=True)
    after_visit = serializers.UUIDField(source="after_visit.public_id", read_only=True)
    booked_visit = serializers.UUIDField(
        source="booked_visit.public_id", read_only=True, allow_null=True, default=None
    )

    class Meta:
        model = FollowUp
        fields = [
            "id",
            "status",
            "due_from",
            "due_until",
            "reason",
            "attempts",
            "episode",
            "patient",
            "patient_name",
            "therapist",
            "after_visit",
            "booked_visit",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_patient_name(self, followup: FollowUp) -> str:
        patient = followup.episode.patient
        return f"{patient.first_name} {patient.last_name}"


class VisitSummaryViewSet(_CareViewSet):
    """The progress summary written after the visit was completed (404 until it is)."""

    model = ProgressSummary
    serializer_class = ProgressSummarySerializer
    lookup_field = "visit__public_id"
    lookup_url_kwarg = "visit_id"

    def get_clinic_queryset(self) -> QuerySet[ProgressSummary]:
        return ProgressSummary.objects.for_clinic(self.clinic).select_related("visit")

    @extend_schema(responses=ProgressSummarySerializer)
    def retrieve(self, request: Request, clinic_id: str, visit_id: str) -> Response:
        visit = self.visit()
        summary = self.get_queryset().filter(visit=visit).first()
        if summary is None:
            raise NotFound("The visit has no progress summary yet.")
        return Response(ProgressSummarySerializer(summary).data)


class EpisodeSummaryViewSet(_CareViewSet):
    """The progress summaries of an episode, newest visit first: its course visit by visit."""

    model = ProgressSummary
    serializer_class = ProgressSummarySerializer
    pagination_class = Pagination

    def get_clinic_queryset(self) -> QuerySet[ProgressSummary]:
        return (
            ProgressSummary.objects.for_clinic(self.clinic)
            .filter(visit__episode=self.episode())
            .select_related("visit")
            .order_by("-visit__starts_at", "-pk")
        )

    @extend_schema(responses=ProgressSummarySerializer(many=True))
    def list(self, request: Request, clinic_id: str, episode_id: str) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(ProgressSummarySerializer(page, many=True).data)


class FollowUpViewSet(_CareViewSet):
    """Follow-ups of the clinic, soonest window first; `status=needs_front_desk` is the front
    desk's work list (each with the reason the dispatcher could not book it)."""

    model = FollowUp
    serializer_class = FollowUpSerializer
    pagination_class = Pagination
    read_capability = Capability.VIEW_SCHEDULE

    def get_clinic_queryset(self) -> QuerySet[FollowUp]:
        return (
            FollowUp.objects.for_clinic(self.clinic)
            .select_related("episode__patient", "after_visit__therapist", "booked_visit")
            .order_by("due_from", "pk")
        )

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "status", OpenApiTypes.STR, enum=FollowUp.Status.values, required=False
            )
        ],
        responses=FollowUpSerializer(many=True),
    )
    def list(self, request: Request, clinic_id: str) -> Response:
        rows = self.get_queryset()
        wanted: Any = request.query_params.get("status")
        if wanted:
            if wanted not in FollowUp.Status.values:
                raise DRFValidationError({"status": f"Unknown status {wanted!r}."})
            rows = rows.filter(status=wanted)
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(FollowUpSerializer(page, many=True).data)
