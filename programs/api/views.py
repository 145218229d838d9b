"""The practice-wide catalogues under /api/v1/catalogue/: every member of staff reads them,
superusers add and change entries (retire one with `active: false`; nothing is deleted)."""

from __future__ import annotations

from typing import Any

from django.db.models import Model, QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.exceptions import NotFound
from rest_framework.filters import OrderingFilter, SearchFilter
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from clinic.api.base import actor
from programs import selectors, services
from programs.api import serializers as s
from programs.api.permissions import CatalogueAccess
from programs.models import Exercise, Modality


class _CatalogueViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    permission_classes = [IsAuthenticated, CatalogueAccess]
    filter_backends = [DjangoFilterBackend, SearchFilter, OrderingFilter]
    search_fields = ["name"]
    ordering_fields = ["name"]
    lookup_field = "public_id"
    lookup_value_regex = "[^/.]+"

    def entry(self) -> Any:
        raise NotImplementedError

    def _found(self, obj: Model | None) -> Any:
        if obj is None:
            raise NotFound("No such catalogue entry.")
        return obj


class ModalityViewSet(_CatalogueViewSet):
    """Modalities and evaluations: the billable services, with their CPT codes, parameter specs
    and contraindications. Filter by kind, cpt_code, timed, active; search by name."""

    serializer_class = s.ModalitySerializer
    filterset_fields = ["kind", "cpt_code", "timed", "medicare_bundled", "active"]
    ordering_fields = ["name", "cpt_code", "kind"]

    def get_queryset(self) -> QuerySet[Modality]:
        return selectors.modality_list()

    def entry(self) -> Modality:
        return self._found(selectors.modality_get(public_id=self.kwargs["public_id"]))

    def retrieve(self, request: Request, public_id: str) -> Response:
        return Response(s.ModalitySerializer(self.entry()).data)

    @extend_schema(request=s.ModalityWriteSerializer, responses={201: s.ModalitySerializer})
    def create(self, request: Request) -> Response:
        serializer = s.ModalityWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        modality = services.modality_create(by=actor(request), **serializer.validated_data)
        return Response(s.ModalitySerializer(modality).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.ModalityWriteSerializer, responses=s.ModalitySerializer)
    def partial_update(self, request: Request, public_id: str) -> Response:
        modality = self.entry()
        serializer = s.ModalityWriteSerializer(modality, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        modality = services.modality_update(
            modality=modality, by=actor(request), **serializer.validated_data
        )
        return Response(s.ModalitySerializer(modality).data)


class ExerciseViewSet(_CatalogueViewSet):
    """The exercise library with default doses and contraindications. Filter by category,
    body_region, active; search by name."""

    serializer_class = s.ExerciseSerializer
    filterset_fields = ["category", "body_region", "active"]
    ordering_fields = ["name", "category", "body_region"]

    def get_queryset(self) -> QuerySet[Exercise]:
        return selectors.exercise_list()

    def entry(self) -> Exercise:
        return self._found(selectors.exercise_get(public_id=self.kwargs["public_id"]))

    def retrieve(self, request: Request, public_id: str) -> Response:
        return Response(s.ExerciseSerializer(self.entry()).data)

    @extend_schema(request=s.ExerciseWriteSerializer, responses={201: s.ExerciseSerializer})
    def create(self, request: Request) -> Response:
        serializer = s.ExerciseWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        exercise = services.exercise_create(by=actor(request), **serializer.validated_data)
        return Response(s.ExerciseSerializer(exercise).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.ExerciseWriteSerializer, responses=s.ExerciseSerializer)
    def partial_update(self, request: Request, public_id: str) -> Response:
        exercise = self.entry()
        serializer = s.ExerciseWriteSerializer(exercise, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        exercise = services.exercise_update(
            exercise=exercise, by=actor(request), **serializer.validated_data
        )
        return Response(s.ExerciseSerializer(exercise).data)
