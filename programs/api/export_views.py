"""GET /api/v1/clinics/{clinic_id}/patients/{id}/export/: everything the practice holds about one
patient, as JSON, for a request of access (clinic administrators; logged in the access log)."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from clinic.api.base import actor
from clinic.capabilities import Capability
from patients import selectors as patient_selectors
from patients.models import Patient
from programs import export
from programs.api.care_views import _CareViewSet

_ROWS = serializers.ListField(child=serializers.DictField())

PatientExportSerializer = inline_serializer(
    "PatientExport",
    {
        "format": serializers.CharField(),
        "exported_at": serializers.DateTimeField(),
        "exported_by": serializers.DictField(),
        "clinic": serializers.DictField(),
        "patient": serializers.DictField(),
        **{section.name: _ROWS for section in export.SECTIONS},
        "history": _ROWS,
        "access_log": _ROWS,
    },
)


class PatientExportViewSet(_CareViewSet):
    """The patient's record export: demographics and every clinical, scheduling and programme
    row, the change history of those rows and the log of who read them."""

    model = Patient
    read_capability = Capability.EXPORT_RECORDS
    write_capability = Capability.EXPORT_RECORDS

    def get_clinic_queryset(self) -> QuerySet[Patient]:
        return Patient.objects.for_clinic(self.clinic)

    @extend_schema(responses=PatientExportSerializer)
    def retrieve(self, request: Request, clinic_id: str, public_id: str) -> Response:
        patient = patient_selectors.patient_get(clinic=self.clinic, public_id=public_id)
        if patient is None:
            raise NotFound("No such patient.")
        patient.clinic = self.clinic
        data = export.patient_export(patient=patient, by=actor(request), request=request)
        filename = f"patient-{patient.mrn}-export.json".replace('"', "")
        return Response(data, headers={"Content-Disposition": f'attachment; filename="{filename}"'})
