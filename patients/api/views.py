"""Patients API under /api/v1/clinics/{clinic_id}/patients/: parse, call one service, respond."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.exceptions import ValidationError as DRFValidationError
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from clinic.access import LogsPatientReads
from clinic.api.base import ClinicScopedViewSet, actor
from clinic.api.permissions import IsPracticeStaff
from clinic.capabilities import Capability
from clinic.models import AccessLog
from clinic.selectors import clinic_capabilities, clinic_get_for_member
from patients import selectors, services
from patients.api import serializers as s
from patients.api.pagination import SearchPagination
from patients.models import Diagnosis, Patient, Precaution, PrecautionKind


class PatientViewSet(LogsPatientReads, mixins.ListModelMixin, ClinicScopedViewSet):
    """Register, find, update, archive and transfer patients."""

    model = Patient
    serializer_class = s.PatientSerializer
    read_capability = Capability.VIEW_DEMOGRAPHICS
    write_capability = Capability.MANAGE_DEMOGRAPHICS
    filter_backends: list[Any] = []

    def required_capability(self, request: Request) -> Capability:
        if getattr(self, "action", None) == "search":  # a read, sent as a POST
            return self.read_capability
        return super().required_capability(request)

    def get_clinic_queryset(self) -> QuerySet[Patient]:
        params = self.request.query_params
        return selectors.patient_search(
            clinic=self.clinic,
            query="",
            include_archived=params.get("include_archived") in ("1", "true", "yes"),
        )

    def _patient(self) -> Patient:
        patient = selectors.patient_get(clinic=self.clinic, public_id=self.kwargs["public_id"])
        if patient is None:
            raise NotFound("No such patient.")
        return patient

    def _detail(self, patient: Patient, status_code: int = status.HTTP_200_OK) -> Response:
        precautions = selectors.precaution_list(
            clinic=self.clinic, patient=patient, current_only=True
        )
        data = s.PatientDetailSerializer(patient, context={"precautions": precautions}).data
        return Response(data, status=status_code)

    @extend_schema(parameters=[OpenApiParameter("include_archived", OpenApiTypes.BOOL)])
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """The clinic's patients by name. To find someone, POST to `search/`: a search by name,
        date of birth or phone in the query string would put patient data in URLs (and so in
        access logs), which is refused."""
        if "q" in request.query_params:
            raise DRFValidationError(
                {
                    "q": "Patient data must not be sent in a URL: POST the search to search/ "
                    'as {"q": ...}.'
                }
            )
        return super().list(request, *args, **kwargs)

    @extend_schema(request=s.PatientSearchSerializer, responses=s.PatientSearchPageSerializer)
    @action(detail=False, methods=["post"], pagination_class=SearchPagination)
    def search(self, request: Request, clinic_id: str) -> Response:
        """Every word must match a name (any part), a date of birth, an MRN or a phone number;
        paginated like the list (`?page=`, `?page_size=`), the count capped at 500 (then
        `count_capped` is true: refine the search)."""
        query = s.PatientSearchSerializer(data=request.data)
        query.is_valid(raise_exception=True)
        found = selectors.patient_search(
            clinic=self.clinic,
            query=query.validated_data["q"],
            include_archived=query.validated_data["include_archived"],
        )
        page = self.paginate_queryset(found)
        return self.get_paginated_response(s.PatientSerializer(page, many=True).data)

    @extend_schema(responses=s.PatientDetailSerializer)
    def retrieve(self, request: Request, clinic_id: str, public_id: str) -> Response:
        patient = self._patient()
        self.log_read(patient.public_id, what="patient", record=AccessLog.Record.CHART)
        return self._detail(patient)

    @extend_schema(request=s.PatientSerializer, responses={201: s.PatientDetailSerializer})
    def create(self, request: Request, clinic_id: str) -> Response:
        serializer = s.PatientSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        patient = services.patient_create(
            clinic=self.clinic, by=actor(request), **serializer.validated_data
        )
        return self._detail(patient, status.HTTP_201_CREATED)

    @extend_schema(request=s.PatientSerializer, responses=s.PatientDetailSerializer)
    def partial_update(self, request: Request, clinic_id: str, public_id: str) -> Response:
        patient = self._patient()
        serializer = s.PatientSerializer(patient, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        patient = services.patient_update(
            patient=patient, by=actor(request), **serializer.validated_data
        )
        return self._detail(patient)

    @extend_schema(request=None, responses=s.PatientDetailSerializer)
    @action(detail=True, methods=["post"])
    def archive(self, request: Request, clinic_id: str, public_id: str) -> Response:
        return self._detail(services.patient_archive(patient=self._patient(), by=actor(request)))

    @extend_schema(request=None, responses=s.PatientDetailSerializer)
    @action(detail=True, methods=["post"])
    def restore(self, request: Request, clinic_id: str, public_id: str) -> Response:
        return self._detail(services.patient_restore(patient=self._patient(), by=actor(request)))

    @extend_schema(request=s.PatientTransferSerializer, responses=s.PatientDetailSerializer)
    @action(detail=True, methods=["post"])
    def transfer(self, request: Request, clinic_id: str, public_id: str) -> Response:
        """Move the patient to another clinic where the caller may also register patients."""
        patient = self._patient()  # another clinic's patient is a 404, whatever the body says
        serializer = s.PatientTransferSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        to_clinic = clinic_get_for_member(
            user=request.user, public_id=serializer.validated_data["to_clinic"]
        )
        if to_clinic is None or Capability.MANAGE_DEMOGRAPHICS not in clinic_capabilities(
            user=request.user, clinic=to_clinic
        ):
            raise ValidationError({"to_clinic": "No clinic with this id that you may register in."})
        patient = services.patient_transfer(patient=patient, to_clinic=to_clinic, by=actor(request))
        precautions = selectors.precaution_list(
            clinic=to_clinic, patient=patient, current_only=True
        )
        return Response(
            s.PatientDetailSerializer(patient, context={"precautions": precautions}).data
        )


class _PatientChildViewSet(mixins.ListModelMixin, ClinicScopedViewSet):
    """Rows that belong to one patient: /patients/{patient_id}/<rows>/."""

    def patient(self) -> Patient:
        if not hasattr(self, "_patient_obj"):
            patient = selectors.patient_get(clinic=self.clinic, public_id=self.kwargs["patient_id"])
            if patient is None:
                raise NotFound("No such patient.")
            self._patient_obj = patient
        return self._patient_obj


class DiagnosisViewSet(mixins.RetrieveModelMixin, _PatientChildViewSet):
    model = Diagnosis
    serializer_class = s.DiagnosisSerializer
    read_capability = Capability.VIEW_CLINICAL
    write_capability = Capability.MANAGE_CLINICAL

    def get_clinic_queryset(self) -> QuerySet[Diagnosis]:
        return selectors.diagnosis_list(clinic=self.clinic, patient=self.patient())

    def create(self, request: Request, clinic_id: str, patient_id: str) -> Response:
        serializer = s.DiagnosisSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        diagnosis = services.diagnosis_add(
            patient=self.patient(), by=actor(request), **serializer.validated_data
        )
        return Response(s.DiagnosisSerializer(diagnosis).data, status=status.HTTP_201_CREATED)

    def partial_update(
        self, request: Request, clinic_id: str, patient_id: str, public_id: str
    ) -> Response:
        diagnosis = self.get_object()
        serializer = s.DiagnosisSerializer(diagnosis, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        diagnosis = services.diagnosis_update(
            diagnosis=diagnosis, by=actor(request), **serializer.validated_data
        )
        return Response(s.DiagnosisSerializer(diagnosis).data)


class PrecautionViewSet(mixins.RetrieveModelMixin, _PatientChildViewSet):
    """Precautions: the front desk reads them; therapists record them."""

    model = Precaution
    serializer_class = s.PrecautionSerializer
    read_capability = Capability.VIEW_PRECAUTIONS
    write_capability = Capability.MANAGE_CLINICAL

    def get_clinic_queryset(self) -> QuerySet[Precaution]:
        return selectors.precaution_list(clinic=self.clinic, patient=self.patient())

    def create(self, request: Request, clinic_id: str, patient_id: str) -> Response:
        serializer = s.PrecautionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        kind = data.pop("kind")["code"]
        precaution = services.precaution_add(
            patient=self.patient(), kind=kind, by=actor(request), **data
        )
        return Response(s.PrecautionSerializer(precaution).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.PrecautionUpdateSerializer, responses=s.PrecautionSerializer)
    def partial_update(
        self, request: Request, clinic_id: str, patient_id: str, public_id: str
    ) -> Response:
        precaution = self.get_object()
        serializer = s.PrecautionUpdateSerializer(precaution, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        precaution = services.precaution_update(
            precaution=precaution, by=actor(request), **serializer.validated_data
        )
        return Response(s.PrecautionSerializer(precaution).data)


class PrecautionKindListApi(ListAPIView):
    """The precaution vocabulary (administrators may extend it in the admin)."""

    serializer_class = s.PrecautionKindSerializer
    permission_classes = [IsPracticeStaff]
    pagination_class = None  # a short controlled vocabulary

    def get_queryset(self) -> QuerySet[PrecautionKind]:
        return selectors.precaution_kind_list()
