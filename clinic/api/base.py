"""The base of every clinic-scoped API view set."""

from __future__ import annotations

from typing import Any

from django.db.models import Model, QuerySet
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import viewsets
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request

from clinic.api.permissions import HasClinicCapability, default_required_capability
from clinic.capabilities import Capability
from clinic.models import Clinic
from clinic.records import actor

__all__ = ["CLINIC_URL", "ClinicScopedViewSet", "actor"]

CLINIC_URL = r"clinics/(?P<clinic_id>[^/.]+)"


class ClinicScopedSchema(AutoSchema):
    """`{clinic_id}` in a path is the clinic's public UUID, whatever the view's model (the schema
    otherwise guessed an integer from the model's `clinic_id` column, or warned for TimeOff)."""

    def get_override_parameters(self) -> list[Any]:
        parameters = list(super().get_override_parameters())
        if "{clinic_id}" in self.path:
            parameters.append(
                OpenApiParameter("clinic_id", OpenApiTypes.UUID, OpenApiParameter.PATH)
            )
        return parameters


class ClinicScopedViewSet(viewsets.GenericViewSet):
    """Resources under /api/v1/clinics/{clinic_id}/. Subclasses implement `get_clinic_queryset`."""

    permission_classes = [IsAuthenticated, HasClinicCapability]
    schema = ClinicScopedSchema()
    lookup_field = "public_id"
    lookup_value_regex = "[^/.]+"
    read_capability: Capability = Capability.VIEW_CLINIC
    write_capability: Capability = Capability.MANAGE_CLINIC
    model: type[Model]

    def required_capability(self, request: Request) -> Capability:
        return default_required_capability(self, request)

    @property
    def clinic(self) -> Clinic:
        return self.request.clinic  # type: ignore[attr-defined]

    def get_queryset(self) -> QuerySet[Any]:
        if getattr(self, "swagger_fake_view", False):
            return self.model._default_manager.none()
        return self.get_clinic_queryset()

    def get_clinic_queryset(self) -> QuerySet[Any]:
        raise NotImplementedError

    def get_object(self) -> Any:
        from uuid import UUID

        from rest_framework.exceptions import NotFound

        try:
            UUID(str(self.kwargs[self.lookup_field]))
        except ValueError as exc:
            raise NotFound("Not found.") from exc
        return super().get_object()
