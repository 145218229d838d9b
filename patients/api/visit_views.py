"""The calendar API: free slots, booking, the visit state machine, series, the day calendar."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet, prefetch_related_objects
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from clinic.api.base import ClinicScopedViewSet, actor
from clinic.api.pagination import Pagination
from clinic.api.permissions import HasClinicCapability, default_required_capability
from clinic.capabilities import Capability
from clinic.models import Clinic, Room, User
from patients import clinical_selectors, selectors, visits
from patients.api import visit_serializers as vs
from patients.availability import clinic_therapists
from patients.models import EpisodeOfCare, Patient, Visit
from patients.scheduling import local_day_bounds


def _patient(clinic: Clinic, public_id: Any) -> Patient:
    patient = selectors.patient_get(clinic=clinic, public_id=public_id)
    if patient is None:
        raise ValidationError({"patient": "No patient with this id in this clinic."})
    return patient


def therapist_in_request(clinic: Clinic, public_id: Any) -> User:
    """The therapist a request body names, who must work at the clinic of the URL (400)."""
    therapist = User.objects.therapists(clinic).filter(public_id=public_id).first()
    if therapist is None:
        raise ValidationError({"therapist": "No therapist with this id in this clinic."})
    return therapist


def _episode(clinic: Clinic, patient: Patient, public_id: Any) -> EpisodeOfCare | None:
    if public_id is None:
        return None
    episode = (
        EpisodeOfCare.objects.for_clinic(clinic)
        .filter(patient=patient, public_id=public_id)
        .first()
    )
    if episode is None:
        raise ValidationError({"episode": "No episode of care with this id for this patient."})
    return episode


def room_in_request(clinic: Clinic, public_id: Any) -> Room | None:
    """The room a request body names, which must be the clinic's (400)."""
    if public_id is None:
        return None
    room = Room.objects.for_clinic(clinic).filter(public_id=public_id).first()
    if room is None:
        raise ValidationError({"room": "No room with this id in this clinic."})
    return room


@extend_schema(parameters=[OpenApiParameter("clinic_id", OpenApiTypes.UUID, OpenApiParameter.PATH)])
class _CalendarApi(APIView):
    permission_classes = [HasClinicCapability]
    read_capability = Capability.VIEW_SCHEDULE
    write_capability = Capability.MANAGE_SCHEDULE

    def required_capability(self, request: Request) -> Capability:
        return default_required_capability(self, request)

    @property
    def clinic(self) -> Clinic:
        return self.request.clinic  # type: ignore[attr-defined]

    def context(self) -> dict[str, Any]:
        return {"clinic": self.clinic, "request": self.request}


class SlotListApi(_CalendarApi):
    """Free slots in the clinic's local time, with UTC offsets, earliest first."""

    pagination_class = Pagination  # the schema describes the page, not a bare list

    @extend_schema(parameters=[vs.SlotQuerySerializer], responses=vs.SlotSerializer(many=True))
    def get(self, request: Request, clinic_id: str) -> Response:
        query = vs.SlotQuerySerializer(data=request.query_params, context=self.context())
        query.is_valid(raise_exception=True)
        params = query.validated_data
        therapist = (
            therapist_in_request(self.clinic, params["therapist"])
            if "therapist" in params
            else None
        )
        slots = visits.free_slots(
            clinic=self.clinic,
            first_day=params["date_from"],
            last_day=params["date_to"],
            duration=dt.timedelta(minutes=params["duration_minutes"]),
            therapist=therapist,
            room_kind=params.get("room_kind"),
            not_before=dt.datetime.now(dt.UTC),
        )
        paginator = Pagination()
        page = paginator.paginate_queryset(slots, request, view=self)
        data = vs.SlotSerializer(page, many=True, context=self.context()).data
        return paginator.get_paginated_response(data)


class CalendarApi(_CalendarApi):
    """The clinic's day: opening hours, therapists (columns), rooms and every visit of the day."""

    @extend_schema(
        parameters=[vs.CalendarQuerySerializer],
        responses=inline_serializer(
            "DayCalendar",
            {
                "date": serializers.DateField(),
                "timezone": serializers.CharField(),
                "starts_at": serializers.DateTimeField(),
                "ends_at": serializers.DateTimeField(),
                "closed": serializers.BooleanField(),
                "opening_hours": serializers.ListField(child=serializers.DictField()),
                "therapists": vs.CalendarTherapistSerializer(many=True),
                "rooms": vs.RoomRefSerializer(many=True),
                "visits": vs.VisitSerializer(many=True),
            },
        ),
    )
    def get(self, request: Request, clinic_id: str) -> Response:
        query = vs.CalendarQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        day = query.validated_data.get("date") or timezone.localdate(None, self.clinic.tz)
        calendar = selectors.day_calendar(clinic=self.clinic, day=day)
        # The visits' series ids in one query, not one per visit of a series.
        prefetch_related_objects(calendar.visits, "series")
        start, end = local_day_bounds(day, self.clinic.tz)
        context = self.context()
        return Response(
            {
                "date": day.isoformat(),
                "timezone": self.clinic.timezone,
                "starts_at": start.astimezone(self.clinic.tz).isoformat(),
                "ends_at": end.astimezone(self.clinic.tz).isoformat(),
                "closed": calendar.closed,
                "opening_hours": [
                    {"opens": f"{o:%H:%M}", "closes": f"{c:%H:%M}"} for o, c in calendar.opening
                ],
                "therapists": vs.CalendarTherapistSerializer(
                    calendar.therapists, many=True, context=context
                ).data,
                "rooms": vs.RoomRefSerializer(calendar.rooms, many=True).data,
                "visits": vs.VisitSerializer(calendar.visits, many=True, context=context).data,
            }
        )


class VisitViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ClinicScopedViewSet):
    """Visits: list and filter, book, and move through check-in, completion, cancellation,
    no-show and rescheduling. An illegal transition is a 409 listing the allowed ones."""

    model = Visit
    serializer_class = vs.VisitSerializer
    read_capability = Capability.VIEW_SCHEDULE
    write_capability = Capability.MANAGE_SCHEDULE
    filter_backends: list[Any] = []

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "clinic": getattr(self.request, "clinic", None)}

    def get_clinic_queryset(self) -> QuerySet[Visit]:
        visits_qs = selectors.visit_list(clinic=self.clinic).select_related("series")
        if self.action != "list":
            return visits_qs
        query = vs.VisitListQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        tz = self.clinic.tz
        if "day" in params:
            start, end = local_day_bounds(params["day"], tz)
            visits_qs = visits_qs.overlapping(start, end)  # type: ignore[attr-defined]
        if "date_from" in params:
            visits_qs = visits_qs.filter(ends_at__gt=local_day_bounds(params["date_from"], tz)[0])
        if "date_to" in params:
            visits_qs = visits_qs.filter(starts_at__lt=local_day_bounds(params["date_to"], tz)[1])
        if "therapist" in params:
            visits_qs = visits_qs.filter(therapist__public_id=params["therapist"])
        if "patient" in params:
            visits_qs = visits_qs.filter(patient__public_id=params["patient"])
        if params.get("status"):
            visits_qs = visits_qs.filter(status__in=params["status"])
        return visits_qs

    @extend_schema(parameters=[vs.VisitListQuerySerializer])
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    def _respond(self, visit: Visit, code: int = status.HTTP_200_OK) -> Response:
        visit = selectors.visit_list(clinic=self.clinic).select_related("series").get(pk=visit.pk)
        return Response(vs.VisitSerializer(visit, context=self.get_serializer_context()).data, code)

    def _visit(self) -> Visit:
        visit = selectors.visit_get(clinic=self.clinic, public_id=self.kwargs["public_id"])
        if visit is None:
            raise NotFound("No such visit.")
        return visit

    @extend_schema(request=vs.VisitBookSerializer, responses={201: vs.VisitSerializer})
    def create(self, request: Request, clinic_id: str) -> Response:
        data = self._validated(vs.VisitBookSerializer)
        patient = _patient(self.clinic, data["patient"])
        visit = visits.visit_book(
            clinic=self.clinic,
            patient=patient,
            episode=_episode(self.clinic, patient, data.get("episode")),
            therapist=therapist_in_request(self.clinic, data["therapist"]),
            room=room_in_request(self.clinic, data.get("room")),
            starts_at=data["starts_at"],
            ends_at=data["ends_at"],
            kind=data["kind"],
            by=actor(request),
        )
        return self._respond(visit, status.HTTP_201_CREATED)

    def _validated(self, serializer_class: type[serializers.Serializer]) -> dict[str, Any]:
        serializer = serializer_class(data=self.request.data, context={"clinic": self.clinic})
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    @extend_schema(request=None, responses=vs.VisitSerializer)
    @action(detail=True, methods=["post"], url_path="check-in")
    def check_in(self, request: Request, clinic_id: str, public_id: str) -> Response:
        return self._respond(visits.visit_check_in(visit=self._visit(), by=actor(request)))

    @extend_schema(request=None, responses=vs.VisitSerializer)
    @action(detail=True, methods=["post"])
    def complete(self, request: Request, clinic_id: str, public_id: str) -> Response:
        return self._respond(visits.visit_complete(visit=self._visit(), by=actor(request)))

    @extend_schema(request=vs.VisitCancelSerializer, responses=vs.VisitSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, clinic_id: str, public_id: str) -> Response:
        visit = self._visit()  # 404 before 400: another clinic's visit is not there at all
        data = self._validated(vs.VisitCancelSerializer)
        visit = visits.visit_cancel(visit=visit, by=actor(request), reason=data["reason"])
        return self._respond(visit)

    @extend_schema(request=None, responses=vs.VisitSerializer)
    @action(detail=True, methods=["post"], url_path="no-show")
    def no_show(self, request: Request, clinic_id: str, public_id: str) -> Response:
        return self._respond(visits.visit_no_show(visit=self._visit(), by=actor(request)))

    @extend_schema(request=vs.VisitRescheduleSerializer, responses=vs.VisitSerializer)
    @action(detail=True, methods=["post"])
    def reschedule(self, request: Request, clinic_id: str, public_id: str) -> Response:
        visit = self._visit()  # 404 before 400: another clinic's visit is not there at all
        data = self._validated(vs.VisitRescheduleSerializer)
        visit = visits.visit_reschedule(
            visit=visit,
            starts_at=data["starts_at"],
            ends_at=data.get("ends_at"),
            therapist=therapist_in_request(self.clinic, data["therapist"])
            if "therapist" in data
            else None,
            room=room_in_request(self.clinic, data["room"]) if "room" in data else False,
            by=actor(request),
        )
        return self._respond(visit)


class _SeriesApi(_CalendarApi):
    def series_args(self, data: dict[str, Any]) -> dict[str, Any]:
        patient = _patient(self.clinic, data["patient"])
        return {
            "clinic": self.clinic,
            "patient": patient,
            "therapist": therapist_in_request(self.clinic, data["therapist"]),
            "room": room_in_request(self.clinic, data.get("room")),
            "weekdays": data["weekdays"],
            "local_time": data["local_time"],
            "duration": dt.timedelta(minutes=data["duration_minutes"]),
            "first_day": data["first_day"],
            "occurrences": data["occurrences"],
        }

    def required_capability(self, request: Request) -> Capability:
        return Capability.MANAGE_SCHEDULE


class SeriesPreviewApi(_SeriesApi):
    """Each occurrence of a recurring series, with any conflict and the nearest free slot."""

    @extend_schema(request=vs.SeriesSerializer, responses=vs.OccurrenceSerializer(many=True))
    def post(self, request: Request, clinic_id: str) -> Response:
        serializer = vs.SeriesSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        args = self.series_args(serializer.validated_data)
        # Refused as booking refuses it: a preview must not answer for an episode it cannot use.
        _episode(self.clinic, args["patient"], serializer.validated_data.get("episode"))
        occurrences = visits.series_preview(**args)
        return Response(
            vs.OccurrenceSerializer(occurrences, many=True, context=self.context()).data
        )


class SeriesBookApi(_SeriesApi):
    """Book the accepted occurrences of a series (all bookable ones by default): all or none."""

    @extend_schema(
        request=vs.SeriesBookSerializer,
        responses={
            201: inline_serializer(
                "SeriesBooked",
                {"series": serializers.UUIDField(), "visits": vs.VisitSerializer(many=True)},
            )
        },
    )
    def post(self, request: Request, clinic_id: str) -> Response:
        serializer = vs.SeriesBookSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        args = self.series_args(data)
        series, _ = visits.series_book(
            **args,
            episode=_episode(self.clinic, args["patient"], data.get("episode")),
            accept=data.get("accept"),
            kind=data["kind"],
            by=actor(request),
        )
        booked_visits = selectors.visit_list(clinic=self.clinic).filter(series=series)
        return Response(
            {
                "series": str(series.public_id),
                "visits": vs.VisitSerializer(
                    booked_visits.select_related("series"), many=True, context=self.context()
                ).data,
            },
            status=status.HTTP_201_CREATED,
        )


__all__ = [
    "CalendarApi",
    "SeriesBookApi",
    "SeriesPreviewApi",
    "SlotListApi",
    "VisitViewSet",
    "clinic_therapists",
]


class NoNextVisitListApi(_CalendarApi):
    """Patients of an active episode with no booked or checked-in visit to come: the front
    desk's daily call list, longest since the last visit first (never-seen patients first)."""

    pagination_class = Pagination  # the schema describes the page, not a bare list

    @extend_schema(
        parameters=[vs.NoNextVisitQuerySerializer],
        responses=vs.NoNextVisitSerializer(many=True),
    )
    def get(self, request: Request, clinic_id: str) -> Response:
        query = vs.NoNextVisitQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        therapist = query.validated_data.get("therapist")
        rows = clinical_selectors.episode_list_without_next_visit(
            clinic=self.clinic,
            therapist=therapist_in_request(self.clinic, therapist) if therapist else None,
        )
        paginator = Pagination()
        page = paginator.paginate_queryset(rows, request, view=self)
        data = vs.NoNextVisitSerializer(page, many=True, context=self.context()).data
        return paginator.get_paginated_response(data)
