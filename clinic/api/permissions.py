"""The one API permission for clinic-scoped resources.

It resolves the clinic of `/api/v1/clinics/{clinic_id}/...` once per request from the caller's
memberships: a clinic the caller is not a member of is a 404 (never a 403 that confirms it
exists); a member without the capability the view needs gets 403.
"""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import NotFound
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from clinic.capabilities import Capability
from clinic.selectors import clinic_capabilities, clinic_get_for_member
from clinic.tenancy import clinic_ids_visible_to


def resolve_clinic(request: Request, clinic_id: Any) -> None:
    """Set request.clinic and request.capabilities, or raise 404."""
    if getattr(request, "clinic", None) is not None:
        return
    clinic = clinic_get_for_member(user=request.user, public_id=clinic_id)
    if clinic is None:
        raise NotFound("No such clinic.")
    request.clinic = clinic  # type: ignore[attr-defined]
    request.capabilities = clinic_capabilities(user=request.user, clinic=clinic)  # type: ignore[attr-defined]


class HasClinicCapability(BasePermission):
    """Views declare `read_capability` and `write_capability`, or override `required_capability`."""

    message = "Your role in this clinic does not allow this."

    def has_permission(self, request: Request, view: Any) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        clinic_id = view.kwargs.get("clinic_id")
        if clinic_id is None:
            return True
        resolve_clinic(request, clinic_id)
        needed: Capability = view.required_capability(request)
        return needed in request.capabilities  # type: ignore[attr-defined]


def default_required_capability(view: Any, request: Request) -> Capability:
    if request.method in SAFE_METHODS:
        return view.read_capability
    return view.write_capability


class IsPracticeStaff(BasePermission):
    """Practice-wide reads (catalogues, vocabularies): any active member of a clinic."""

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not (user and user.is_authenticated and user.is_active):
            return False
        return user.is_superuser or clinic_ids_visible_to(user).exists()
