"""Who may use the practice-wide catalogues: every active member of staff of any active clinic
reads them (clinic.api.permissions.IsPracticeStaff); only superusers write them."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from clinic.api.permissions import IsPracticeStaff


class CatalogueAccess(BasePermission):
    message = "Only practice administrators (superusers) change the catalogues."

    def has_permission(self, request: Request, view: Any) -> bool:
        if request.method in SAFE_METHODS:
            if not IsPracticeStaff().has_permission(request, view):
                self.message = "Only members of staff of a clinic read the catalogues."
                return False
            return True
        return bool(request.user.is_authenticated and request.user.is_superuser)
