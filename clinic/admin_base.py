"""The one admin base class: every change list, foreign-key choice and autocomplete is scoped to
the clinics the user administers (superusers see all). Permissions come from the capability map,
not from Django's per-model permission table, so the admin agrees with the API."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from simple_history.admin import SimpleHistoryAdmin

from clinic.admin_site import administers_any_clinic
from clinic.capabilities import Capability


def scope_for_admin(queryset: QuerySet[Any], request: HttpRequest) -> QuerySet[Any]:
    """Narrow any queryset that knows its tenancy to what the admin user administers."""
    if request.user.is_superuser:
        return queryset
    if hasattr(queryset, "visible_to"):
        return queryset.visible_to(request.user, Capability.USE_ADMIN)
    return queryset


class ClinicScopedAdmin(SimpleHistoryAdmin):
    list_per_page = 50
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return scope_for_admin(super().get_queryset(request), request)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if field is not None and hasattr(field, "queryset"):
            field.queryset = scope_for_admin(field.queryset, request)
        return field

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        if field is not None and hasattr(field, "queryset"):
            field.queryset = scope_for_admin(field.queryset, request)
        return field

    # Permissions: an administrator of any clinic may work here; objects outside their clinics
    # are not in the queryset, so Django answers 404-like redirects for them.
    def _may(self, request: HttpRequest, obj: Model | None) -> bool:
        if not administers_any_clinic(request):
            return False
        if obj is None or request.user.is_superuser:
            return True
        return self.get_queryset(request).filter(pk=obj.pk).exists()

    def has_module_permission(self, request: HttpRequest) -> bool:
        return administers_any_clinic(request)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._may(request, obj)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return administers_any_clinic(request)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._may(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._may(request, obj)


class ClinicScopedInline(admin.TabularInline):
    extra = 0

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return scope_for_admin(super().get_queryset(request), request)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if field is not None and hasattr(field, "queryset"):
            field.queryset = scope_for_admin(field.queryset, request)  # type: ignore[arg-type]
        return field

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return administers_any_clinic(request)

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return administers_any_clinic(request)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return administers_any_clinic(request)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return administers_any_clinic(request)


class ServiceCheckedForm(forms.ModelForm):
    """A model form that also runs the service's own check, so the admin refuses what the API
    refuses, with the error on the right field. Set `service_check` to the service's check."""

    service_check: Any = None

    def _post_clean(self) -> None:
        super()._post_clean()  # type: ignore[misc]
        check = type(self).service_check
        if check is not None and not self.errors:
            try:
                check(self.instance)
            except ValidationError as exc:
                self._update_errors(exc)  # type: ignore[attr-defined]


class ClinicFilter(admin.SimpleListFilter):
    """Filter by clinic, offering only the clinics the user administers."""

    title = "clinic"
    parameter_name = "clinic"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        from clinic.models import Clinic

        clinics = scope_for_admin(Clinic.objects.all(), request).order_by("name")
        return [(str(c.pk), c.name) for c in clinics.only("pk", "name")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if not value:
            return queryset
        if not value.isdigit():
            return queryset.none()
        return queryset.for_clinic(int(value))  # type: ignore[attr-defined]
