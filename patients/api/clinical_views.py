"""The clinical-record API: episodes of care, evaluations and addenda, goals, outcome measures.

URLs under /api/v1/clinics/{clinic_id}/: a collection lives under its parent, where rows are
created (patients/{patient_id}/episodes/, episodes/{episode_id}/evaluations/, ...); each row has
one flat URL, where it is read, changed and acted on (episodes/{id}/, evaluations/{id}/sign/).
Reading needs VIEW_CLINICAL (so receptionists get 403), writing MANAGE_CLINICAL, signing
SIGN_CLINICAL. Edits and signatures of an evaluation carry its version (If-Match or `version`).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Model, QuerySet
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from clinic.access import LogsPatientReads
from clinic.api.base import ClinicScopedViewSet, actor
from clinic.capabilities import Capability
from clinic.models import User
from patients import clinical, selectors
from patients import clinical_selectors as cs
from patients.api import clinical_serializers as s
from patients.models import (
    Diagnosis,
    EpisodeOfCare,
    Evaluation,
    EvaluationAddendum,
    Goal,
    OutcomeMeasure,
    Patient,
    Visit,
)

IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description='The version the change is based on, e.g. "3" (or send `version` in the body).',
)
VERSION_RESPONSES = {
    409: OpenApiResponse(description="Signed (code `signed`) or stale (`stale_version`)."),
    428: OpenApiResponse(description="No version given (code `version_required`)."),
}


def _row(model: type[Model], clinic: Any, public_id: Any, field: str, **scope: Any) -> Any:
    """A row of the clinic named by a request body's id, or a 400 naming the field."""
    if public_id is None:
        return None
    row = model._default_manager.for_clinic(clinic).filter(public_id=public_id, **scope).first()  # type: ignore[attr-defined]
    if row is None:
        raise ValidationError({field: f"No {field.replace('_', ' ')} with this id here."})
    return row


def _version(request: Request, body: int | None) -> int | None:
    """The version from If-Match ("3", W/"3" or 3) or the body; both given must agree."""
    header = request.headers.get("If-Match")
    if header is None:
        return body
    text = header.strip().removeprefix("W/").strip().strip('"')
    if not text.isdigit() or int(text) < 1:
        raise ValidationError({"version": 'If-Match must be the version, e.g. If-Match: "3".'})
    if body is not None and body != int(text):
        raise ValidationError({"version": "If-Match and the body's version disagree."})
    return int(text)


def _with_etag(response: Response, evaluation: Evaluation) -> Response:
    response["ETag"] = f'"{evaluation.version}"'
    return response


class _ClinicalViewSet(LogsPatientReads, ClinicScopedViewSet):
    read_capability = Capability.VIEW_CLINICAL
    write_capability = Capability.MANAGE_CLINICAL
    filter_backends: list[Any] = []

    def _episode(self, public_id: Any) -> EpisodeOfCare:
        episode = cs.episode_get(clinic=self.clinic, public_id=public_id)
        if episode is None:
            raise NotFound("No such episode of care.")
        return episode

    def parent_episode(self) -> EpisodeOfCare:
        if not hasattr(self, "_parent_episode"):
            self._parent_episode = self._episode(self.kwargs["episode_id"])
        return self._parent_episode


# --- Episodes --------------------------------------------------------------------------------


def _episode_fields(view: _ClinicalViewSet, patient: Patient, data: dict[str, Any]) -> None:
    """Replace the body's ids by the clinic's rows (in place)."""
    if "therapist" in data:
        data["therapist"] = _row(User, view.clinic, data["therapist"], "therapist")
    if data.get("primary_diagnosis") is not None:
        data["primary_diagnosis"] = _row(
            Diagnosis, view.clinic, data["primary_diagnosis"], "primary_diagnosis", patient=patient
        )


class PatientEpisodeViewSet(mixins.ListModelMixin, _ClinicalViewSet):
    """A patient's episodes of care: list them, open one."""

    model = EpisodeOfCare
    serializer_class = s.EpisodeSerializer

    def patient(self) -> Patient:
        if not hasattr(self, "_patient_obj"):
            patient = selectors.patient_get(clinic=self.clinic, public_id=self.kwargs["patient_id"])
            if patient is None:
                raise NotFound("No such patient.")
            self._patient_obj = patient
        return self._patient_obj

    def get_clinic_queryset(self) -> QuerySet[EpisodeOfCare]:
        return cs.episode_list(clinic=self.clinic, patient=self.patient())

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().list(request, *args, **kwargs)
        self.log_read(self.patient().public_id, what="episode list")
        return response

    @extend_schema(request=s.EpisodeWriteSerializer, responses={201: s.EpisodeSerializer})
    def create(self, request: Request, clinic_id: str, patient_id: str) -> Response:
        patient = self.patient()
        serializer = s.EpisodeWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        data.setdefault("therapist", actor(request).public_id)
        _episode_fields(self, patient, data)
        episode = clinical.episode_open(patient=patient, by=actor(request), **data)
        return Response(s.EpisodeSerializer(episode).data, status=status.HTTP_201_CREATED)


class EpisodeViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, _ClinicalViewSet):
    """The clinic's episodes of care (a caseload: filter by therapist, patient, status)."""

    model = EpisodeOfCare
    serializer_class = s.EpisodeSerializer

    def get_clinic_queryset(self) -> QuerySet[EpisodeOfCare]:
        params = self.request.query_params
        patient = therapist = None
        if "patient" in params:
            patient = selectors.patient_get(clinic=self.clinic, public_id=params["patient"])
            if patient is None:
                return EpisodeOfCare.objects.none()
        if "therapist" in params:
            therapist = (
                User.objects.for_clinic(self.clinic)
                .filter(public_id=cs.as_uuid(params["therapist"]))
                .first()
            )
            if therapist is None:
                return EpisodeOfCare.objects.none()
        status_filter = params.get("status")
        if status_filter and status_filter not in EpisodeOfCare.Status.values:
            raise ValidationError(
                {"status": f"Choose one of {', '.join(EpisodeOfCare.Status.values)}."}
            )
        return cs.episode_list(
            clinic=self.clinic, patient=patient, therapist=therapist, status=status_filter
        )

    def get_object(self) -> EpisodeOfCare:
        return self._episode(self.kwargs["public_id"])

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        episode = self.get_object()
        self.log_read(episode.patient.public_id, what="episode")
        return Response(self.get_serializer(episode).data)

    @extend_schema(
        parameters=[
            OpenApiParameter("patient", OpenApiTypes.UUID),
            OpenApiParameter("therapist", OpenApiTypes.UUID),
            OpenApiParameter("status", OpenApiTypes.STR, enum=EpisodeOfCare.Status.values),
        ]
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(request=s.EpisodeWriteSerializer, responses=s.EpisodeSerializer)
    def partial_update(self, request: Request, clinic_id: str, public_id: str) -> Response:
        episode = self.get_object()
        serializer = s.EpisodeWriteSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        _episode_fields(self, episode.patient, data)
        episode = clinical.episode_update(episode=episode, by=actor(request), **data)
        return Response(s.EpisodeSerializer(self._episode(episode.public_id)).data)

    def _ended(self, public_id: str, ended: clinical.EpisodeEnd) -> Response:
        data = dict(s.EpisodeSerializer(self._episode(public_id)).data)
        data["cancelled_visits"] = [
            {"id": str(v.public_id), "starts_at": v.starts_at.astimezone(v.clinic.tz).isoformat()}
            for v in ended.cancelled
        ]
        data["patient_notified"] = ended.notified
        return Response(data)

    @extend_schema(request=s.EpisodeEndSerializer, responses=s.EpisodeEndedSerializer)
    @action(detail=True, methods=["post"])
    def discharge(self, request: Request, clinic_id: str, public_id: str) -> Response:
        """Discharge the patient: the episode ends on `ended_on`, and its visits still booked
        are cancelled (listed in `cancelled_visits`; the patient is e-mailed the list unless
        `notify` is false)."""
        episode = self.get_object()
        serializer = s.EpisodeEndSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        ended = clinical.episode_discharge(
            episode=episode, by=actor(request), **serializer.validated_data
        )
        return self._ended(public_id, ended)

    @extend_schema(request=s.EpisodeCloseSerializer, responses=s.EpisodeEndedSerializer)
    @action(detail=True, methods=["post"])
    def close(self, request: Request, clinic_id: str, public_id: str) -> Response:
        """End the episode without a discharge (the patient stopped coming, opened in error);
        its visits still booked are cancelled (listed in `cancelled_visits`; the patient is
        e-mailed the list unless `notify` is false)."""
        episode = self.get_object()
        serializer = s.EpisodeCloseSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        ended = clinical.episode_close(
            episode=episode, by=actor(request), **serializer.validated_data
        )
        return self._ended(public_id, ended)


# --- Evaluations -----------------------------------------------------------------------------


def _evaluation_fields(
    view: _ClinicalViewSet, episode: EpisodeOfCare, data: dict[str, Any]
) -> None:
    if data.get("visit") is not None:
        data["visit"] = _row(Visit, view.clinic, data["visit"], "visit", patient=episode.patient_id)


class EpisodeEvaluationViewSet(mixins.ListModelMixin, _ClinicalViewSet):
    """An episode's evaluations (initial, re-evaluation, progress report, discharge summary)."""

    model = Evaluation
    serializer_class = s.EvaluationSerializer

    def get_clinic_queryset(self) -> QuerySet[Evaluation]:
        return cs.evaluation_list(clinic=self.clinic, episode=self.parent_episode())

    @extend_schema(request=s.EvaluationCreateSerializer, responses={201: s.EvaluationSerializer})
    def create(self, request: Request, clinic_id: str, episode_id: str) -> Response:
        """Start a draft; the caller is its author."""
        episode = self.parent_episode()
        serializer = s.EvaluationCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        _evaluation_fields(self, episode, data)
        who = actor(request)
        evaluation = clinical.evaluation_create(episode=episode, author=who, by=who, **data)
        fresh = cs.evaluation_get(clinic=self.clinic, public_id=evaluation.public_id)
        response = Response(s.EvaluationSerializer(fresh).data, status=status.HTTP_201_CREATED)
        return _with_etag(response, evaluation)


class EvaluationViewSet(mixins.RetrieveModelMixin, _ClinicalViewSet):
    """One evaluation: read it (with its addenda), edit the draft, sign it."""

    model = Evaluation
    serializer_class = s.EvaluationSerializer

    def required_capability(self, request: Request) -> Capability:
        if self.action == "sign":
            return Capability.SIGN_CLINICAL
        return super().required_capability(request)

    def get_clinic_queryset(self) -> QuerySet[Evaluation]:
        return Evaluation.objects.none()  # rows are reached one at a time, by id

    def get_object(self) -> Evaluation:
        evaluation = cs.evaluation_get(clinic=self.clinic, public_id=self.kwargs["public_id"])
        if evaluation is None:
            raise NotFound("No such evaluation.")
        return evaluation

    def _respond(self, public_id: Any) -> Response:
        evaluation = cs.evaluation_get(clinic=self.clinic, public_id=public_id)
        return _with_etag(Response(s.EvaluationSerializer(evaluation).data), evaluation)  # type: ignore[arg-type]

    def retrieve(self, request: Request, clinic_id: str, public_id: str) -> Response:
        evaluation = self.get_object()
        self.log_read(evaluation.episode.patient.public_id, what="evaluation")
        return _with_etag(Response(s.EvaluationSerializer(evaluation).data), evaluation)

    @extend_schema(
        parameters=[IF_MATCH],
        request=s.EvaluationUpdateSerializer,
        responses={200: s.EvaluationSerializer, **VERSION_RESPONSES},
    )
    def partial_update(self, request: Request, clinic_id: str, public_id: str) -> Response:
        """Change a draft. Say which version you edited (If-Match or `version`): without it the
        answer is 428, with a stale one 409 naming the current version; a signed evaluation is
        409 `signed`."""
        evaluation = self.get_object()
        serializer = s.EvaluationUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        version = _version(request, data.pop("version", None))
        _evaluation_fields(self, evaluation.episode, data)
        clinical.evaluation_update(
            evaluation=evaluation, version=version, by=actor(request), **data
        )
        return self._respond(public_id)

    @extend_schema(
        parameters=[IF_MATCH],
        request=s.EvaluationSignSerializer,
        responses={200: s.EvaluationSerializer, **VERSION_RESPONSES},
    )
    @action(detail=True, methods=["post"])
    def sign(self, request: Request, clinic_id: str, public_id: str) -> Response:
        """Sign the version you read; afterwards the evaluation is immutable (addenda only)."""
        evaluation = self.get_object()
        serializer = s.EvaluationSignSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        version = _version(request, serializer.validated_data.get("version"))
        clinical.evaluation_sign(evaluation=evaluation, by=actor(request), version=version)
        return self._respond(public_id)


class AddendumViewSet(mixins.ListModelMixin, _ClinicalViewSet):
    """Addenda of a signed evaluation: append-only."""

    model = EvaluationAddendum
    serializer_class = s.AddendumSerializer

    def evaluation(self) -> Evaluation:
        if not hasattr(self, "_evaluation"):
            found = cs.evaluation_get(clinic=self.clinic, public_id=self.kwargs["evaluation_id"])
            if found is None:
                raise NotFound("No such evaluation.")
            self._evaluation = found
        return self._evaluation

    def get_clinic_queryset(self) -> QuerySet[EvaluationAddendum]:
        return cs.addendum_list(clinic=self.clinic, evaluation=self.evaluation())

    @extend_schema(request=s.AddendumCreateSerializer, responses={201: s.AddendumSerializer})
    def create(self, request: Request, clinic_id: str, evaluation_id: str) -> Response:
        evaluation = self.evaluation()
        serializer = s.AddendumCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        who = actor(request)
        addendum = clinical.evaluation_addendum_add(
            evaluation=evaluation, author=who, by=who, **serializer.validated_data
        )
        return Response(s.AddendumSerializer(addendum).data, status=status.HTTP_201_CREATED)


# --- Goals -----------------------------------------------------------------------------------


class _GoalSerializing:
    clinic: Any

    def goal_data(self, goals: list[Goal], many: bool) -> Any:
        history = cs.goal_status_history(goals=goals)
        context = {"status_history": history}
        if many:
            return s.GoalSerializer(goals, many=True, context=context).data
        return s.GoalSerializer(goals[0], context=context).data


class EpisodeGoalViewSet(_GoalSerializing, mixins.ListModelMixin, _ClinicalViewSet):
    """An episode's short- and long-term goals, each with its status history."""

    model = Goal
    serializer_class = s.GoalSerializer

    def get_clinic_queryset(self) -> QuerySet[Goal]:
        return cs.goal_list(clinic=self.clinic, episode=self.parent_episode())

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self.goal_data(list(page or []), many=True))

    @extend_schema(request=s.GoalCreateSerializer, responses={201: s.GoalSerializer})
    def create(self, request: Request, clinic_id: str, episode_id: str) -> Response:
        episode = self.parent_episode()
        serializer = s.GoalCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        goal = clinical.goal_add(episode=episode, by=actor(request), **serializer.validated_data)
        return Response(self.goal_data([goal], many=False), status=status.HTTP_201_CREATED)


class GoalViewSet(_GoalSerializing, mixins.RetrieveModelMixin, _ClinicalViewSet):
    """One goal: read it with its status history, change its status."""

    model = Goal
    serializer_class = s.GoalSerializer

    def get_clinic_queryset(self) -> QuerySet[Goal]:
        return Goal.objects.none()  # rows are reached one at a time, by id

    def get_object(self) -> Goal:
        goal = cs.goal_get(clinic=self.clinic, public_id=self.kwargs["public_id"])
        if goal is None:
            raise NotFound("No such goal.")
        return goal

    def retrieve(self, request: Request, clinic_id: str, public_id: str) -> Response:
        return Response(self.goal_data([self.get_object()], many=False))

    @extend_schema(request=s.GoalStatusSerializer, responses=s.GoalSerializer)
    def partial_update(self, request: Request, clinic_id: str, public_id: str) -> Response:
        """Mark the goal met, progressing or not met."""
        goal = self.get_object()
        serializer = s.GoalStatusSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        goal = clinical.goal_update_status(
            goal=goal, by=actor(request), **serializer.validated_data
        )
        return Response(self.goal_data([goal], many=False))


# --- Outcome measures ------------------------------------------------------------------------


class EpisodeOutcomeViewSet(mixins.ListModelMixin, _ClinicalViewSet):
    """An episode's outcome measures (raw answers, version, score), and the per-instrument
    summary: baseline, latest, change and whether the MCID is reached."""

    model = OutcomeMeasure
    serializer_class = s.OutcomeSerializer

    def get_clinic_queryset(self) -> QuerySet[OutcomeMeasure]:
        instrument = self.request.query_params.get("instrument")
        if instrument and instrument not in OutcomeMeasure.Instrument.values:
            raise ValidationError(
                {"instrument": f"Choose one of {', '.join(OutcomeMeasure.Instrument.values)}."}
            )
        return cs.outcome_list(
            clinic=self.clinic, episode=self.parent_episode(), instrument=instrument
        )

    @extend_schema(
        parameters=[
            OpenApiParameter("instrument", OpenApiTypes.STR, enum=OutcomeMeasure.Instrument.values)
        ]
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(request=s.OutcomeCreateSerializer, responses={201: s.OutcomeSerializer})
    def create(self, request: Request, clinic_id: str, episode_id: str) -> Response:
        """Record a measure; bad answers are a 400 naming the answer (answers.sections.lifting)."""
        episode = self.parent_episode()
        serializer = s.OutcomeCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        data.setdefault("recorded_on", timezone.localdate(timezone=self.clinic.tz))
        if data.get("evaluation") is not None:
            data["evaluation"] = _row(
                Evaluation, self.clinic, data["evaluation"], "evaluation", episode=episode
            )
        _evaluation_fields(self, episode, data)
        measure = clinical.outcome_record(episode=episode, by=actor(request), **data)
        fresh = cs.outcome_get(clinic=self.clinic, public_id=measure.public_id)
        return Response(s.OutcomeSerializer(fresh).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=s.OutcomeSummarySerializer(many=True))
    @action(detail=False, methods=["get"], pagination_class=None)
    def summary(self, request: Request, clinic_id: str, episode_id: str) -> Response:
        """Per instrument (at most four): baseline, previous, latest, change from baseline."""
        summaries = cs.outcome_summary(clinic=self.clinic, episode=self.parent_episode())
        data = [cs.summary_as_dict(summary) for summary in summaries]
        return Response(s.OutcomeSummarySerializer(data, many=True).data)


class OutcomeViewSet(mixins.RetrieveModelMixin, _ClinicalViewSet):
    """One outcome measure. Measures are never edited: record a new one and mark this one
    entered in error."""

    model = OutcomeMeasure
    serializer_class = s.OutcomeSerializer

    def get_clinic_queryset(self) -> QuerySet[OutcomeMeasure]:
        return OutcomeMeasure.objects.none()  # rows are reached one at a time, by id

    def get_object(self) -> OutcomeMeasure:
        measure = cs.outcome_get(clinic=self.clinic, public_id=self.kwargs["public_id"])
        if measure is None:
            raise NotFound("No such outcome measure.")
        return measure

    @extend_schema(request=None, responses=s.OutcomeSerializer)
    @action(detail=True, methods=["post"], url_path="entered-in-error")
    def entered_in_error(self, request: Request, clinic_id: str, public_id: str) -> Response:
        """Take the measure out of the series; it stays in the record, marked."""
        measure = clinical.outcome_mark_entered_in_error(
            measure=self.get_object(), by=actor(request)
        )
        fresh = cs.outcome_get(clinic=self.clinic, public_id=measure.public_id)
        return Response(s.OutcomeSerializer(fresh).data)
