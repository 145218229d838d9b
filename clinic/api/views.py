"""API for clinics and staff: parse, call one selector or service, respond."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.exceptions import NotAuthenticated, PermissionDenied
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from clinic import selectors, services
from clinic.api import serializers as s
from clinic.api.base import ClinicScopedViewSet, actor
from clinic.api.permissions import HasClinicCapability
from clinic.capabilities import Capability, Role
from clinic.models import (
    Clinic,
    Closure,
    Membership,
    OpeningHours,
    Room,
    TimeOff,
    User,
    WorkingHours,
)
from clinic.security import LOCKOUT_WINDOW, LockedOut, lockout_check, lockout_succeeded


def _staff_user(clinic: Clinic, public_id: Any, *, field: str, therapist: bool = False) -> User:
    """A user named in a request body must be a member of the clinic of the URL."""
    users = User.objects.for_clinic(clinic)
    if therapist:
        users = users.therapists(clinic)
    user = users.filter(public_id=public_id).first()
    if user is None:
        what = "therapist" if therapist else "member of staff"
        raise ValidationError({field: f"No {what} with this id in this clinic."})
    return user


class TokenApi(APIView):
    """Obtain an API token with a username and password; DELETE revokes the caller's token."""

    permission_classes = [AllowAny]
    throttle_scope = "login"

    @extend_schema(
        request=AuthTokenSerializer,
        responses=inline_serializer("Token", {"token": serializers.CharField()}),
    )
    def post(self, request: Request) -> Response:
        data = request.data if isinstance(request.data, dict) else {}
        username = str(data.get("username", ""))
        try:
            lockout_check(request=request, username=username)
        except LockedOut as exc:
            return Response(
                {"detail": exc.message, "code": "locked_out"},
                status=status.HTTP_429_TOO_MANY_REQUESTS,
                headers={"Retry-After": str(int(LOCKOUT_WINDOW.total_seconds()))},
            )
        serializer = AuthTokenSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        lockout_succeeded(request=request, username=username)
        token, _ = Token.objects.get_or_create(user=serializer.validated_data["user"])
        return Response({"token": token.key})

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request) -> Response:
        if not request.user.is_authenticated:
            raise NotAuthenticated("Sign in to revoke your token.")
        Token.objects.filter(user=request.user).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=s.MeSerializer)
    def get(self, request: Request) -> Response:
        memberships = selectors.user_memberships(user=actor(request))
        return Response(s.MeSerializer(request.user, context={"memberships": memberships}).data)


class ClinicViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ClinicScopedViewSet):
    """The clinics the caller belongs to. Superusers create clinics; clinic admins edit theirs."""

    serializer_class = s.ClinicSerializer
    model = Clinic
    lookup_url_kwarg = "clinic_id"

    def get_queryset(self) -> QuerySet[Clinic]:
        if getattr(self, "swagger_fake_view", False):
            return Clinic.objects.none()
        return selectors.clinic_list_visible_to(user=self.request.user)

    def get_object(self) -> Clinic:
        return self.clinic

    @extend_schema(request=s.ClinicCreateSerializer, responses={201: s.ClinicSerializer})
    def create(self, request: Request) -> Response:
        if not request.user.is_superuser:
            raise PermissionDenied("Only practice administrators create clinics.")
        serializer = s.ClinicCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        clinic = services.clinic_create(by=actor(request), **serializer.validated_data)
        return Response(s.ClinicSerializer(clinic).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.ClinicSerializer, responses=s.ClinicSerializer)
    def partial_update(self, request: Request, clinic_id: str) -> Response:
        serializer = s.ClinicSerializer(self.clinic, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        clinic = services.clinic_update(
            clinic=self.clinic, by=actor(request), **serializer.validated_data
        )
        return Response(s.ClinicSerializer(clinic).data)


class RoomViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ClinicScopedViewSet):
    serializer_class = s.RoomSerializer
    model = Room
    filterset_fields = ["kind", "active"]
    ordering_fields = ["name", "kind"]

    def get_clinic_queryset(self) -> QuerySet[Room]:
        return selectors.room_list(clinic=self.clinic)

    def create(self, request: Request, clinic_id: str) -> Response:
        serializer = s.RoomSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        room = services.room_create(
            clinic=self.clinic,
            name=data["name"],
            kind=data.get("kind", Room.Kind.TREATMENT),
            by=actor(request),
        )
        return Response(s.RoomSerializer(room).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, clinic_id: str, public_id: str) -> Response:
        room = self.get_object()
        serializer = s.RoomSerializer(room, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        room = services.room_update(room=room, by=actor(request), **serializer.validated_data)
        return Response(s.RoomSerializer(room).data)


class StaffViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ClinicScopedViewSet):
    """Memberships of the clinic. POST grants a role (creating the user if new); DELETE ends it."""

    serializer_class = s.StaffSerializer
    model = Membership
    read_capability = Capability.VIEW_STAFF
    write_capability = Capability.MANAGE_STAFF
    filterset_fields = ["role", "active"]

    def get_clinic_queryset(self) -> QuerySet[Membership]:
        return selectors.staff_list(clinic=self.clinic)

    @extend_schema(request=s.StaffGrantSerializer, responses={201: s.StaffSerializer})
    def create(self, request: Request, clinic_id: str) -> Response:
        serializer = s.StaffGrantSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        if data.get("user"):
            user = (
                User.objects.visible_to(request.user, Capability.MANAGE_STAFF)
                .filter(public_id=data["user"])
                .first()
            )
            if user is None:
                raise ValidationError({"user": "No member of staff with this id."})
            membership = services.membership_grant(
                clinic=self.clinic, user=user, role=data["role"], by=actor(request)
            )
        else:
            data.pop("user", None)
            membership = services.staff_create(
                clinic=self.clinic,
                password=data.pop("password", None),
                by=actor(request),
                **data,
            )
        return Response(s.StaffSerializer(membership).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=s.StaffSerializer)
    def destroy(self, request: Request, clinic_id: str, public_id: str) -> Response:
        membership = services.membership_deactivate(membership=self.get_object(), by=actor(request))
        return Response(s.StaffSerializer(membership).data)


class _ClinicRowsViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ClinicScopedViewSet):
    """Rows a clinic admin adds and removes (hours, closures): list, add, remove."""

    def destroy(self, request: Request, clinic_id: str, public_id: str) -> Response:
        self.remove(self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    def remove(self, obj: Any) -> None:
        raise NotImplementedError


class OpeningHoursViewSet(_ClinicRowsViewSet):
    serializer_class = s.OpeningHoursSerializer
    model = OpeningHours
    filterset_fields = ["weekday"]
    pagination_class = None  # at most a few blocks for each of seven weekdays

    def get_clinic_queryset(self) -> QuerySet[OpeningHours]:
        return selectors.opening_hours_list(clinic=self.clinic)

    def create(self, request: Request, clinic_id: str) -> Response:
        serializer = s.OpeningHoursSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        block = services.opening_hours_add(
            clinic=self.clinic, by=actor(request), **serializer.validated_data
        )
        return Response(s.OpeningHoursSerializer(block).data, status=status.HTTP_201_CREATED)

    def remove(self, obj: OpeningHours) -> None:
        services.opening_hours_remove(block=obj, by=actor(self.request))


class ClosureViewSet(_ClinicRowsViewSet):
    serializer_class = s.ClosureSerializer
    model = Closure

    def get_clinic_queryset(self) -> QuerySet[Closure]:
        return selectors.closure_list(clinic=self.clinic)

    def create(self, request: Request, clinic_id: str) -> Response:
        serializer = s.ClosureSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        closure = services.closure_add(
            clinic=self.clinic,
            starts_on=data["starts_on"],
            ends_on=data.get("ends_on"),
            reason=data["reason"],
            by=actor(request),
        )
        return Response(s.ClosureSerializer(closure).data, status=status.HTTP_201_CREATED)

    def remove(self, obj: Closure) -> None:
        services.closure_remove(closure=obj, by=actor(self.request))


class WorkingHoursViewSet(_ClinicRowsViewSet):
    serializer_class = s.WorkingHoursSerializer
    model = WorkingHours
    read_capability = Capability.VIEW_STAFF
    write_capability = Capability.MANAGE_STAFF
    filterset_fields = {"therapist__public_id": ["exact"], "weekday": ["exact"]}

    def get_clinic_queryset(self) -> QuerySet[WorkingHours]:
        return selectors.working_hours_list(clinic=self.clinic)

    def create(self, request: Request, clinic_id: str) -> Response:
        serializer = s.WorkingHoursSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        therapist = _staff_user(
            self.clinic, data["therapist"]["public_id"], field="therapist", therapist=True
        )
        block = services.working_hours_add(
            clinic=self.clinic,
            therapist=therapist,
            weekday=data["weekday"],
            starts=data["starts"],
            ends=data["ends"],
            by=actor(request),
        )
        return Response(s.WorkingHoursSerializer(block).data, status=status.HTTP_201_CREATED)

    def remove(self, obj: WorkingHours) -> None:
        services.working_hours_remove(block=obj, by=actor(self.request))


class TimeOffViewSet(_ClinicRowsViewSet):
    serializer_class = s.TimeOffSerializer
    model = TimeOff
    read_capability = Capability.VIEW_STAFF
    write_capability = Capability.MANAGE_STAFF
    filterset_fields = {"therapist__public_id": ["exact"], "starts_at": ["gte", "lt"]}

    def get_clinic_queryset(self) -> QuerySet[TimeOff]:
        return selectors.time_off_list(clinic=self.clinic)

    def create(self, request: Request, clinic_id: str) -> Response:
        serializer = s.TimeOffSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        therapist = _staff_user(
            self.clinic, data["therapist"]["public_id"], field="therapist", therapist=True
        )
        time_off = services.time_off_add(
            therapist=therapist,
            starts_at=data["starts_at"],
            ends_at=data["ends_at"],
            reason=data.get("reason", ""),
            by=actor(request),
        )
        return Response(s.TimeOffSerializer(time_off).data, status=status.HTTP_201_CREATED)

    def remove(self, obj: TimeOff) -> None:
        services.time_off_remove(time_off=obj, by=actor(self.request))


__all__ = [
    "ClinicViewSet",
    "ClosureViewSet",
    "HasClinicCapability",
    "MeApi",
    "OpeningHoursViewSet",
    "Role",
    "RoomViewSet",
    "StaffViewSet",
    "TimeOffViewSet",
    "TokenApi",
    "WorkingHoursViewSet",
]
