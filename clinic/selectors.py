"""Reads about clinics and staff, scoped by clinic first."""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import Prefetch, QuerySet

from clinic.capabilities import ALL_CAPABILITIES, Capability, capabilities_for
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


def clinic_list_visible_to(*, user: Any) -> QuerySet[Clinic]:
    return Clinic.objects.visible_to(user).active()


def clinic_get_for_member(*, user: Any, public_id: uuid.UUID | str) -> Clinic | None:
    """The clinic with this public id if the user may see it; None otherwise (answer 404)."""
    try:
        public_id = uuid.UUID(str(public_id))
    except ValueError:
        return None
    return clinic_list_visible_to(user=user).filter(public_id=public_id).first()


def clinic_capabilities(*, user: Any, clinic: Clinic) -> frozenset[Capability]:
    """What the user may do in this clinic, from their active memberships there."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return frozenset()
    if user.is_superuser:
        return ALL_CAPABILITIES
    roles = Membership.objects.filter(user_id=user.pk, clinic=clinic, active=True).values_list(
        "role", flat=True
    )
    return capabilities_for(list(roles))


def user_memberships(*, user: User) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(user=user, active=True, clinic__active=True)
        .select_related("clinic")
        .order_by("clinic__name", "role")
    )


def room_list(*, clinic: Clinic) -> QuerySet[Room]:
    return Room.objects.for_clinic(clinic).order_by("name")


def staff_list(*, clinic: Clinic) -> QuerySet[Membership]:
    return (
        Membership.objects.for_clinic(clinic)
        .select_related("user", "user__therapist_profile")
        .order_by("user__last_name", "user__first_name", "role")
    )


def therapist_list(*, clinic: Clinic) -> QuerySet[User]:
    return (
        User.objects.for_clinic(clinic)
        .therapists(clinic)
        .filter(is_active=True)
        .select_related("therapist_profile")
        .prefetch_related(
            Prefetch(
                "working_hours",
                queryset=WorkingHours.objects.for_clinic(clinic).order_by("weekday", "starts"),
            )
        )
    )


def opening_hours_list(*, clinic: Clinic) -> QuerySet[OpeningHours]:
    return OpeningHours.objects.for_clinic(clinic).order_by("weekday", "opens")


def closure_list(*, clinic: Clinic) -> QuerySet[Closure]:
    return Closure.objects.for_clinic(clinic).order_by("starts_on")


def working_hours_list(*, clinic: Clinic) -> QuerySet[WorkingHours]:
    return (
        WorkingHours.objects.for_clinic(clinic)
        .select_related("therapist")
        .order_by("therapist__last_name", "therapist_id", "weekday", "starts")
    )


def time_off_list(*, clinic: Clinic) -> QuerySet[TimeOff]:
    return TimeOff.objects.for_clinic(clinic).select_related("therapist").order_by("starts_at")
