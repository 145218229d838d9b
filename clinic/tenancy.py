"""Tenancy, written once: which rows of which clinic a user may see.

Every clinic-owned model's queryset derives from `ClinicScopedQuerySet`. Reads start from
`.for_clinic(clinic)` once the clinic is resolved (the API resolves it from the URL), or from
`.visible_to(user, capability)` where a user works across clinics (the admin, lists of clinics).
Default managers never filter: scoping is always written where it is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Self

from django.db import models

from clinic.capabilities import Capability, roles_with

if TYPE_CHECKING:
    from clinic.models import Clinic, User


def clinic_ids_visible_to(user: Any, capability: Capability = Capability.VIEW_CLINIC) -> Any:
    """A subquery of the ids of the clinics where `user` has `capability` (None for superusers).

    Kept as a subquery so that callers filter in one SQL statement.
    """
    from clinic.models import Membership

    return (
        Membership.objects.filter(
            user_id=user.pk,
            active=True,
            role__in=roles_with(capability),
            clinic__active=True,
        )
        .values("clinic_id")
        .distinct()
    )


class ClinicScopedQuerySet(models.QuerySet):
    """Base of every clinic-owned queryset. `clinic_lookup` is the path to the owning clinic."""

    clinic_lookup = "clinic"

    def for_clinic(self, clinic: Clinic | int) -> Self:
        # By primary key, so that lookups ending at a plain id (Clinic's own "pk") take a Clinic.
        return self.filter(**{self.clinic_lookup: getattr(clinic, "pk", clinic)})

    def visible_to(self, user: User | Any, capability: Capability = Capability.VIEW_CLINIC) -> Self:
        if not getattr(user, "is_authenticated", False) or not user.is_active:
            return self.none()
        if user.is_superuser:
            return self.all()
        return self.filter(**{f"{self.clinic_lookup}__in": clinic_ids_visible_to(user, capability)})
