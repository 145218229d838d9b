"""Plans of care, treatment notes, compliance and the contraindication check, under
/api/v1/clinics/{clinic_id}/ (programs.api.care_urls): parse, call one service or selector,
respond.

Who may: reading needs VIEW_CLINICAL, writing MANAGE_CLINICAL, signing SIGN_CLINICAL, so the
front desk gets 403, with one exception: an episode's compliance answers VIEW_SCHEDULE, because
the front desk books against the payer's authorization (visits and units left, its end date).
Without VIEW_CLINICAL the answer holds the authorization only; the progress-report clock and
the plan's certification, which are clinical facts, are left out.

The therapist completes a visit at visits/{visit_id}/note/complete/ (note, optional signature
and completion in one transaction); visits/{id}/complete/ (patients) is the bare state change.
"""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from clinic.api.base import ClinicScopedSchema, ClinicScopedViewSet, actor
from clinic.api.pagination import Pagination
from clinic.capabilities import Capability
from patients import clinical_selectors
from patients import selectors as patient_selectors
from patients.api.clinical_views import IF_MATCH, VERSION_RESPONSES, _version
from patients.api.visit_serializers import VisitSerializer
from patients.api.visit_views import room_in_request, therapist_in_request
from patients.models import EpisodeOfCare, Patient, Visit
from patients.visits import visit_book
from programs import care, selectors, services
from programs.api import care_serializers as s
from programs.models import PlanOfCare, TreatmentNote


class ProgramsSchema(ClinicScopedSchema):
    """Every `{<name>_id}` of a path is a public UUID (the schema cannot guess it from a model
    field of that name)."""

    def get_override_parameters(self) -> list[Any]:
        parameters = list(super().get_override_parameters())
        for name in re.findall(r"{(\w+_id)}", self.path):
            if name != "clinic_id":
                parameters.append(OpenApiParameter(name, OpenApiTypes.UUID, OpenApiParameter.PATH))
        return parameters


class _CareViewSet(ClinicScopedViewSet):
    schema = ProgramsSchema()
    read_capability = Capability.VIEW_CLINICAL
    write_capability = Capability.MANAGE_CLINICAL
    filter_backends: list[Any] = []

    def context(self) -> dict[str, Any]:
        return {"clinic": self.clinic, "request": self.request}

    def episode(self) -> EpisodeOfCare:
        if not hasattr(self, "_episode"):
            episode = clinical_selectors.episode_get(
                clinic=self.clinic, public_id=self.kwargs["episode_id"]
            )
            if episode is None:
                raise NotFound("No such episode of care.")
            self._episode = episode
        return self._episode

    def visit(self) -> Visit:
        if not hasattr(self, "_visit"):
            visit = patient_selectors.visit_get(
                clinic=self.clinic, public_id=self.kwargs["visit_id"]
            )
            if visit is None:
                raise NotFound("No such visit.")
            self._visit = visit
        return self._visit

    def parsed(self, serializer_class: type[Any], **kwargs: Any) -> dict[str, Any]:
        serializer = serializer_class(data=self.request.data, context=self.context(), **kwargs)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)


# --- Plans of care ---------------------------------------------------------------------------


class EpisodePlanViewSet(_CareViewSet):
    """An episode's plans of care, newest version first; POST establishes the first one."""

    model = PlanOfCare
    serializer_class = s.PlanSerializer
    pagination_class = Pagination

    def get_clinic_queryset(self) -> QuerySet[PlanOfCare]:
        return selectors.plan_list(clinic=self.clinic, episode=self.episode())

    @extend_schema(responses=s.PlanSerializer(many=True))
    def list(self, request: Request, clinic_id: str, episode_id: str) -> Response:
        plans = self.get_queryset()
        page = self.paginate_queryset(plans)
        data = s.PlanSerializer(page, many=True, context=self.context()).data
        return self.get_paginated_response(data)

    @extend_schema(
        request=s.PlanCreateSerializer,
        responses={
            201: s.PlanSerializer,
            400: OpenApiResponse(
                description="A field, an item (`modalities[0].parameters`) or a contraindicated "
                "item without a justification (code `contraindicated`, with `findings`)."
            ),
            409: OpenApiResponse(description="The episode has an active plan: recertify it."),
        },
    )
    def create(self, request: Request, clinic_id: str, episode_id: str) -> Response:
        episode = self.episode()
        data = self.parsed(s.PlanCreateSerializer)
        plan = care.plan_create(episode=episode, by=actor(request), **data)
        return _plan_response(self, plan, status.HTTP_201_CREATED)


def _plan_response(
    view: _CareViewSet, plan: PlanOfCare, code: int = status.HTTP_200_OK
) -> Response:
    fresh = selectors.plan_get(clinic=view.clinic, public_id=plan.public_id)
    return Response(s.PlanSerializer(fresh, context=view.context()).data, status=code)


class PlanViewSet(_CareViewSet):
    """One version of a plan of care: read it, record the physician's certification, or
    recertify it (a new version; the 90 days count from its start)."""

    model = PlanOfCare
    serializer_class = s.PlanSerializer

    def get_clinic_queryset(self) -> QuerySet[PlanOfCare]:
        return PlanOfCare.objects.for_clinic(self.clinic)

    def plan(self) -> PlanOfCare:
        plan = selectors.plan_get(clinic=self.clinic, public_id=self.kwargs["public_id"])
        if plan is None:
            raise NotFound("No such plan of care.")
        return plan

    def retrieve(self, request: Request, clinic_id: str, public_id: str) -> Response:
        return _plan_response(self, self.plan())

    @extend_schema(request=s.PlanPhysicianSerializer, responses=s.PlanSerializer)
    def partial_update(self, request: Request, clinic_id: str, public_id: str) -> Response:
        plan = self.plan()
        data = self.parsed(s.PlanPhysicianSerializer)
        plan = care.plan_physician_update(plan=plan, by=actor(request), **data)
        return _plan_response(self, plan)

    @extend_schema(
        request=s.PlanRecertifySerializer,
        responses={
            201: s.PlanSerializer,
            409: OpenApiResponse(description="This version was superseded (code `superseded`)."),
        },
    )
    @action(detail=True, methods=["post"])
    def recertify(self, request: Request, clinic_id: str, public_id: str) -> Response:
        plan = self.plan()
        data = self.parsed(s.PlanRecertifySerializer)
        new = care.plan_recertify(plan=plan, by=actor(request), **data)
        return _plan_response(self, new, status.HTTP_201_CREATED)


# --- Treatment notes -------------------------------------------------------------------------


def _note_response(
    view: _CareViewSet, note: TreatmentNote | None, code: int = status.HTTP_200_OK
) -> Response:
    if note is None:
        raise NotFound("The visit has no treatment note yet.")
    fresh = selectors.treatment_note_get(clinic=view.clinic, visit_public_id=note.visit.public_id)
    response = Response(s.TreatmentNoteSerializer(fresh, context=view.context()).data, code)
    response["ETag"] = f'"{note.version}"'
    return response


def _note_fields(data: dict[str, Any], *, replace: bool) -> dict[str, Any]:
    """The service's arguments: PUT replaces (omitted = blank or empty), PATCH keeps (omitted =
    None, the service leaves it)."""
    fields: dict[str, Any] = {}
    for name, blank in (
        ("subjective", ""),
        ("assessment", ""),
        ("notes", ""),
        ("modalities", []),
        ("exercises", []),
    ):
        fields[name] = data.get(name, blank if replace else None)
    return fields


class TreatmentNoteViewSet(_CareViewSet):
    """The visit's treatment note: read it, create or change the draft (with its version), sign
    it, add addenda to it once signed."""

    model = TreatmentNote
    serializer_class = s.TreatmentNoteSerializer
    lookup_field = "visit__public_id"
    lookup_url_kwarg = "visit_id"

    def required_capability(self, request: Request) -> Capability:
        if getattr(self, "action", None) == "sign":
            return Capability.SIGN_CLINICAL
        return super().required_capability(request)

    def get_clinic_queryset(self) -> QuerySet[TreatmentNote]:
        return TreatmentNote.objects.for_clinic(self.clinic)

    def note(self) -> TreatmentNote:
        note = selectors.treatment_note_get(
            clinic=self.clinic, visit_public_id=self.kwargs["visit_id"]
        )
        if note is None:
            self.visit()  # 404 "No such visit" first
            raise NotFound("The visit has no treatment note yet.")
        return note

    @extend_schema(responses=s.TreatmentNoteSerializer)
    def retrieve(self, request: Request, clinic_id: str, visit_id: str) -> Response:
        return _note_response(self, self.note())

    def _save(self, request: Request, *, replace: bool) -> Response:
        visit = self.visit()
        data = self.parsed(s.TreatmentNoteWriteSerializer)
        version = _version(request, data.pop("version", None))
        existed = TreatmentNote.objects.filter(visit=visit).exists()
        if not replace and not existed:
            raise NotFound("The visit has no treatment note yet: create it with PUT.")
        note = care.treatment_note_save(
            visit=visit, by=actor(request), version=version, **_note_fields(data, replace=replace)
        )
        return _note_response(
            self, note, status.HTTP_200_OK if existed else status.HTTP_201_CREATED
        )

    @extend_schema(
        request=s.TreatmentNoteWriteSerializer,
        parameters=[IF_MATCH],
        responses={
            200: s.TreatmentNoteSerializer,
            201: s.TreatmentNoteSerializer,
            **VERSION_RESPONSES,
        },
    )
    def update(self, request: Request, clinic_id: str, visit_id: str) -> Response:
        """Create the draft (201) or replace it (200, with its version)."""
        return self._save(request, replace=True)

    @extend_schema(
        request=s.TreatmentNoteWriteSerializer,
        parameters=[IF_MATCH],
        responses={200: s.TreatmentNoteSerializer, **VERSION_RESPONSES},
    )
    def partial_update(self, request: Request, clinic_id: str, visit_id: str) -> Response:
        """Change what is given of the draft (with its version)."""
        return self._save(request, replace=False)

    @extend_schema(
        request=s.SignSerializer,
        parameters=[IF_MATCH],
        responses={
            200: s.TreatmentNoteSerializer,
            **VERSION_RESPONSES,
            409: OpenApiResponse(
                description="Signed (`signed`), stale (`stale_version`), or a progress report "
                "is due first (`progress_report_due`, with `treatment_days`)."
            ),
        },
    )
    def sign(self, request: Request, clinic_id: str, visit_id: str) -> Response:
        note = self.note()
        data = self.parsed(s.SignSerializer)
        version = _version(request, data.get("version"))
        note = care.treatment_note_sign(note=note, by=actor(request), version=version)
        return _note_response(self, note)

    @extend_schema(responses=s.TreatmentNoteAddendumSerializer(many=True))
    def addenda(self, request: Request, clinic_id: str, visit_id: str) -> Response:
        note = self.note()
        paginator = Pagination()
        page = paginator.paginate_queryset(
            selectors.treatment_note_addendum_list(clinic=self.clinic, note=note),
            request,
            view=self,
        )
        return paginator.get_paginated_response(
            s.TreatmentNoteAddendumSerializer(page, many=True).data
        )

    @extend_schema(
        request=s.TreatmentNoteAddendumSerializer,
        responses={201: s.TreatmentNoteAddendumSerializer},
    )
    def add_addendum(self, request: Request, clinic_id: str, visit_id: str) -> Response:
        note = self.note()
        data = self.parsed(s.TreatmentNoteAddendumSerializer)
        addendum = care.treatment_note_addendum_add(note=note, by=actor(request), text=data["text"])
        return Response(
            s.TreatmentNoteAddendumSerializer(addendum).data, status=status.HTTP_201_CREATED
        )


class TreatmentCompleteViewSet(_CareViewSet):
    """How a therapist completes a visit: its treatment note (signed if `sign`) and the visit's
    completion in one transaction; a refused note leaves the visit as it was."""

    model = Visit
    serializer_class = s.TreatmentCompletedSerializer
    lookup_url_kwarg = "visit_id"

    def required_capability(self, request: Request) -> Capability:
        # Signing on the way (`sign: true`) is refused by the service without SIGN_CLINICAL.
        return Capability.MANAGE_CLINICAL

    def get_clinic_queryset(self) -> QuerySet[Visit]:
        return Visit.objects.for_clinic(self.clinic)

    @extend_schema(
        request=s.TreatmentCompleteSerializer,
        parameters=[IF_MATCH],
        responses={200: s.TreatmentCompletedSerializer, **VERSION_RESPONSES},
    )
    def complete(self, request: Request, clinic_id: str, visit_id: str) -> Response:
        visit = self.visit()
        data = self.parsed(s.TreatmentCompleteSerializer)
        version = _version(request, data.pop("version", None))
        sign = data.pop("sign")
        note, _ = care.visit_complete_with_note(
            visit=visit,
            by=actor(request),
            version=version,
            sign=sign,
            **_note_fields(data, replace=False),
        )
        fresh_note = selectors.treatment_note_get(
            clinic=self.clinic, visit_public_id=visit.public_id
        )
        fresh_visit = patient_selectors.visit_get(clinic=self.clinic, public_id=visit.public_id)
        response = Response(
            {
                "note": s.TreatmentNoteSerializer(fresh_note, context=self.context()).data,
                "visit": s.VisitSerializer(fresh_visit, context=self.context()).data,
            }
        )
        response["ETag"] = f'"{note.version}"'
        return response


# --- Compliance ------------------------------------------------------------------------------


def _compliance_data(found: selectors.EpisodeCompliance, *, clinical: bool) -> dict[str, Any]:
    clock = found.progress_report
    progress = {
        "clock_on": found.episode.progress_report_clock,
        "status": clock.status,
        "treatment_days": clock.treatment_days,
        "days_left": clock.days_left,
        "period_started_on": clock.period_started_on,
        "last_report_on": clock.last_report_on,
        "flags": list(clock.flags),
    }
    certification = None
    if found.certification is not None:
        state, cert = found.certification, found.certification.status
        certification = {
            "plan": state.plan.public_id,
            "plan_version": state.plan.version,
            "counted_from": state.counted_from,
            "certified_until": state.plan.certified_until,
            "latest_allowed_until": cert.latest_allowed_until if cert else None,
            "days_left": cert.days_left if cert else None,
            "expired": cert.expired if cert else None,
            "signature": cert.signature if cert else None,
            "signature_due_on": cert.signature_due_on if cert else None,
            "signature_days_left": cert.signature_days_left if cert else None,
            "signed_late": cert.signed_late if cert else None,
            "problem": state.problem,
            "flags": [f.message for f in found.flags if f.area == "certification"],
        }
    authorization = None
    if found.authorization is not None:
        auth = found.authorization
        authorization = {
            "reference": auth.reference,
            "status": auth.status.status,
            "visits_approved": auth.visits_approved,
            "visits_used": auth.visits_used,
            "visits_left": auth.status.visits_left,
            "units_approved": auth.units_approved,
            "units_used": auth.units_used,
            "units_left": auth.status.units_left,
            "starts_on": auth.starts_on,
            "ends_on": auth.ends_on,
            "days_left": auth.status.days_left,
            "flags": list(auth.status.flags),
        }
    flags = [
        {"area": f.area, "level": f.level, "message": f.message}
        for f in found.flags
        if clinical or f.area == "authorization"
    ]
    return {
        "episode": found.episode.public_id,
        "as_of": found.today,
        "clinical": clinical,
        "progress_report": progress if clinical else None,
        "certification": certification if clinical else None,
        "authorization": authorization,
        "flags": flags,
    }


class EpisodeComplianceViewSet(_CareViewSet):
    """The episode's clocks and flags: progress report every 10 treatment days, the plan's
    certification and physician's signature, the payer's authorization. The front desk
    (VIEW_SCHEDULE without VIEW_CLINICAL) gets the authorization only."""

    model = EpisodeOfCare
    serializer_class = s.EpisodeComplianceSerializer
    read_capability = Capability.VIEW_SCHEDULE

    def get_clinic_queryset(self) -> QuerySet[EpisodeOfCare]:
        return EpisodeOfCare.objects.for_clinic(self.clinic)

    @extend_schema(responses=s.EpisodeComplianceSerializer)
    def retrieve(self, request: Request, clinic_id: str, episode_id: str) -> Response:
        episode = self.episode()
        episode.clinic = self.clinic
        found = selectors.episode_compliance(episode=episode)
        clinical = Capability.VIEW_CLINICAL in request.capabilities  # type: ignore[attr-defined]
        data = _compliance_data(found, clinical=clinical)
        return Response(s.EpisodeComplianceSerializer(data).data)


# --- Contraindication check ------------------------------------------------------------------


class ContraindicationCheckViewSet(_CareViewSet):
    """Check one modality (over a body region, with its parameters) or one exercise against the
    patient's current conditions, before prescribing it. Writes nothing."""

    model = Patient
    serializer_class = s.ContraindicationResultSerializer

    def required_capability(self, request: Request) -> Capability:
        return Capability.VIEW_CLINICAL

    def get_clinic_queryset(self) -> QuerySet[Patient]:
        return Patient.objects.for_clinic(self.clinic)

    @extend_schema(
        request=s.ContraindicationCheckSerializer, responses=s.ContraindicationResultSerializer
    )
    def run_check(self, request: Request, clinic_id: str, patient_id: str) -> Response:
        patient = patient_selectors.patient_get(clinic=self.clinic, public_id=patient_id)
        if patient is None:
            raise NotFound("No such patient.")
        data = self.parsed(s.ContraindicationCheckSerializer)
        region = data.get("body_region") or None
        on = data.get("on")
        parameters = None
        if "modality" in data:
            modality = selectors.modality_get(public_id=data["modality"])
            if modality is None or modality.is_evaluation:
                raise ValidationError({"modality": "No treatment modality with this id."})
            if "parameters" in data:
                parameters = services.modality_parameters_clean(
                    modality=modality, params=data["parameters"]
                )
            findings = selectors.contraindications_for_modality(
                patient=patient, modality=modality, body_region=region, on=on
            )
            item = {"id": modality.public_id, "name": modality.name, "kind": "modality"}
        else:
            exercise = selectors.exercise_get(public_id=data["exercise"])
            if exercise is None:
                raise ValidationError({"exercise": "No exercise with this id."})
            findings = selectors.contraindications_for_exercise(
                patient=patient, exercise=exercise, on=on
            )
            region = exercise.body_region
            item = {"id": exercise.public_id, "name": exercise.name, "kind": "exercise"}
        result = {
            "item": item,
            "body_region": region or "",
            "refused": any(f.severity == "refuse" for f in findings),
            "findings": [f.as_dict() for f in findings],
            "parameters": parameters,
        }
        return Response(s.ContraindicationResultSerializer(result).data)


# --- Booking within an episode ----------------------------------------------------------------


class EpisodeVisitBookViewSet(_CareViewSet):
    """Book the next visit of an episode of care, and see the episode's clocks as you book: the
    answer carries the visit and the compliance flags (for the front desk, the authorization's).
    Booking itself is patients.visits.visit_book, as everywhere."""

    model = EpisodeOfCare
    serializer_class = s.EpisodeVisitBookedSerializer
    read_capability = Capability.VIEW_SCHEDULE
    write_capability = Capability.MANAGE_SCHEDULE

    def get_clinic_queryset(self) -> QuerySet[EpisodeOfCare]:
        return EpisodeOfCare.objects.for_clinic(self.clinic)

    @extend_schema(
        request=s.EpisodeVisitBookSerializer, responses={201: s.EpisodeVisitBookedSerializer}
    )
    def book(self, request: Request, clinic_id: str, episode_id: str) -> Response:
        episode = self.episode()
        data = self.parsed(s.EpisodeVisitBookSerializer)
        therapist = (
            therapist_in_request(self.clinic, data["therapist"])
            if data.get("therapist")
            else episode.therapist
        )
        visit = visit_book(
            clinic=self.clinic,
            patient=episode.patient,
            episode=episode,
            therapist=therapist,
            room=room_in_request(self.clinic, data.get("room")),
            starts_at=data["starts_at"],
            ends_at=data["ends_at"],
            kind=data["kind"],
            by=actor(request),
        )
        episode.clinic = self.clinic
        found = selectors.episode_compliance(episode=episode)
        clinical = Capability.VIEW_CLINICAL in request.capabilities  # type: ignore[attr-defined]
        visit = patient_selectors.visit_list(clinic=self.clinic).get(pk=visit.pk)
        body = {
            "visit": VisitSerializer(visit, context=self.context()).data,
            "compliance": s.EpisodeComplianceSerializer(
                _compliance_data(found, clinical=clinical)
            ).data,
        }
        return Response(body, status=status.HTTP_201_CREATED)
