"""The admin site: superusers, and clinic administrators by their membership (no is_staff flag)."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from clinic.capabilities import Capability
from clinic.tenancy import clinic_ids_visible_to


def administers_any_clinic(request: HttpRequest) -> bool:
    """Whether the user is a superuser or an active clinic administrator (cached per request)."""
    cached = getattr(request, "_administers_any_clinic", None)
    if cached is None:
        user = request.user
        if not user.is_authenticated or not user.is_active:
            cached = False
        elif user.is_superuser:
            cached = True
        else:
            cached = clinic_ids_visible_to(user, Capability.USE_ADMIN).exists()
        request._administers_any_clinic = cached  # type: ignore[attr-defined]
    return cached


class PracticeAdminSite(admin.AdminSite):
    site_header = "Practice administration"
    site_title = "Practice administration"
    index_title = "Clinics, staff and schedules"

    def has_permission(self, request: HttpRequest) -> bool:
        user = request.user
        if not user.is_active:
            return False
        return user.is_staff or administers_any_clinic(request)
