"""The admin site: superusers, and clinic administrators by their membership (no is_staff flag)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, URLResolver, path, reverse

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


@dataclass(frozen=True)
class AdminPage:
    """A page of the admin that is not a model's (the reports): served under the admin's
    sign-in at `/admin/<route>`, linked from the index for the users `allowed(request)` lets
    in. The view checks its own permission as well."""

    route: str
    view: Callable[..., HttpResponse]
    name: str
    title: str = ""
    allowed: Callable[[HttpRequest], bool] | None = None


class PracticeAdminSite(admin.AdminSite):
    site_header = "Practice administration"
    site_title = "Practice administration"
    index_title = "Clinics, staff and schedules"
    login_form = PracticeAdminLoginForm

    def __init__(self, name: str = "admin") -> None:
        super().__init__(name)
        self.pages: list[AdminPage] = []

    def register_page(self, page: AdminPage) -> None:
        """Add a page; the higher apps call this from their admin.py (clinic imports none)."""
        if any(existing.name == page.name for existing in self.pages):
            raise ValueError(f"An admin page named {page.name!r} is registered already.")
        self.pages.append(page)

    def get_urls(self) -> list[URLPattern | URLResolver]:
        own = [path(p.route, self.admin_view(p.view), name=p.name) for p in self.pages]
        return [*own, *super().get_urls()]

    def index(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        links = [
            (page.title, reverse(f"{self.name}:{page.name}"))
            for page in self.pages
            if page.title and page.allowed is not None and page.allowed(request)
        ]
        return super().index(request, {**(extra_context or {}), "practice_pages": links})

    def autocomplete_view(self, request: HttpRequest) -> HttpResponse:
        """Django's autocomplete, also by POST so that the term stays out of URLs (see
        clinic/admin_base.py, which imports this module)."""
        from clinic.admin_base import PostedAutocompleteJsonView

        view = PostedAutocompleteJsonView.as_view(admin_site=self)
        return view(request)  # type: ignore[return-value]

    def has_permission(self, request: HttpRequest) -> bool:
        user = request.user
        if not user.is_active:
            return False
        return user.is_staff or administers_any_clinic(request)
