"""The admin site: superusers, and clinic administrators by their membership (no is_staff flag)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from clinic.capabilities import Capability
from clinic.security import LockedOut, lockout_check, lockout_succeeded
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


class PracticeAdminLoginForm(AdminAuthenticationForm):
    """Django's admin login wants is_staff; a clinic administrator's membership is enough here.
    Repeated failures lock the account and the address out (clinic/security.py)."""

    def clean(self) -> dict[str, Any]:
        username = str(self.data.get("username", ""))
        try:
            lockout_check(request=self.request, username=username)
        except LockedOut as exc:
            raise ValidationError(exc.message, code="locked_out") from exc
        cleaned = super().clean()
        lockout_succeeded(request=self.request, username=username)
        return cleaned

    def confirm_login_allowed(self, user: Any) -> None:
        if not user.is_active:
            raise ValidationError(self.error_messages["inactive"], code="inactive")
        if user.is_staff or user.is_superuser:
            return
        if not clinic_ids_visible_to(user, Capability.USE_ADMIN).exists():
            raise ValidationError(
                self.error_messages["invalid_login"],
                code="invalid_login",
                params={"username": self.username_field.verbose_name},
            )


class PracticeAdminSite(admin.AdminSite):
    site_header = "Practice administration"
    site_title = "Practice administration"
    index_title = "Clinics, staff and schedules"
    login_form = PracticeAdminLoginForm

    def has_permission(self, request: HttpRequest) -> bool:
        user = request.user
        if not user.is_active:
            return False
        return user.is_staff or administers_any_clinic(request)
