"""The one admin base class: every change list, foreign-key choice and autocomplete is scoped to
the clinics the user administers (superusers see all). Permissions come from the capability map,
not from Django's per-model permission table, so the admin agrees with the API."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.options import IS_POPUP_VAR
from django.contrib.admin.utils import label_for_field, lookup_field
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.core.paginator import Paginator
from django.db.models import Model, QuerySet
from django.http import HttpRequest, StreamingHttpResponse
from django.utils import timezone
from django.utils.text import capfirst, slugify
from simple_history.admin import SimpleHistoryAdmin

from clinic.admin_site import administers_any_clinic
from clinic.capabilities import Capability, Role
from clinic.paginators import LargeTablePaginator
from clinic.tenancy import clinic_ids_visible_to


def scope_for_admin(queryset: QuerySet[Any], request: HttpRequest) -> QuerySet[Any]:
    """Narrow any queryset that knows its tenancy to what the admin user administers."""
    if request.user.is_superuser:
        return queryset
    if hasattr(queryset, "visible_to"):
        return queryset.visible_to(request.user, Capability.USE_ADMIN)
    return queryset


# --- CSV export ------------------------------------------------------------------------------

CSV_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> str:
    """A value as a spreadsheet-safe CSV cell: text that a spreadsheet would run as a formula
    (`=`, `+`, `-`, `@` first) gets a leading apostrophe; numbers stay numbers."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).isoformat() if timezone.is_aware(value) else str(value)
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    text = str(value)
    if text.startswith(CSV_FORMULA_PREFIXES):
        return "'" + text
    return text


class _Echo:
    """The file-like object csv.writer writes to: it hands each line back instead."""

    def write(self, value: str) -> str:
        return value


def csv_stream(header: list[str], rows: Iterable[list[Any]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow([csv_cell(value) for value in row])


def csv_response(filename: str, header: list[str], rows: Iterable[list[Any]]) -> Any:
    """A streamed CSV download: rows are written as they are read, never held in memory."""
    response = StreamingHttpResponse(csv_stream(header, rows), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


class ClinicScopedAdmin(SimpleHistoryAdmin):
    list_per_page = 50
    show_full_result_count = False
    paginator: type[Paginator] = LargeTablePaginator
    # The columns of "Export the selected rows as CSV": names as in list_display (fields,
    # admin methods or model attributes); None exports the change list's own columns.
    csv_fields: list[str] | None = None
    csv_chunk_size = 2000

    # --- Export ----------------------------------------------------------------------------

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        if self.actions is None or IS_POPUP_VAR in request.GET or "export_csv" in actions:
            return actions
        func = type(self).export_csv
        actions["export_csv"] = (func, "export_csv", func.short_description)  # type: ignore[attr-defined]
        return actions

    def get_csv_fields(self, request: HttpRequest) -> list[str]:
        names = self.csv_fields or list(self.get_list_display(request))
        return [name for name in names if name != "action_checkbox"]

    def _csv_value(self, name: str, obj: Model) -> Any:
        try:
            field, _, value = lookup_field(name, obj, self)
        except (AttributeError, ObjectDoesNotExist):
            return None
        if field is not None and getattr(field, "flatchoices", None):
            return dict(field.flatchoices).get(value, value)
        if isinstance(value, Model):
            return str(value)
        return value

    @admin.action(description="Export the selected rows as CSV", permissions=["view"])
    def export_csv(self, request: HttpRequest, queryset: QuerySet[Any]) -> Any:
        """Stream the selected rows (all of them with "select all") as CSV, in one query read
        in chunks; the rows are written to the response only, never logged."""
        names = self.get_csv_fields(request)
        header = [capfirst(str(label_for_field(name, self.model, self))) for name in names]
        related = self.get_list_select_related(request)
        if related is True:
            queryset = queryset.select_related()
        elif related:
            queryset = queryset.select_related(*related)
        queryset = queryset.order_by(*self.get_ordering(request) or ["pk"])
        rows = (
            [self._csv_value(name, obj) for name in names]
            for obj in queryset.iterator(chunk_size=self.csv_chunk_size)
        )
        stamp = timezone.now().strftime("%Y%m%d-%H%M")
        return csv_response(
            f"{slugify(self.model._meta.verbose_name_plural)}-{stamp}.csv", header, rows
        )

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


class StaffFilter(admin.SimpleListFilter):
    """Filter by a member of staff (`field`, a foreign key to User), offering only the people
    with `role` in the clinics the user administers. Subclass and set title, parameter_name,
    field and role."""

    title = "therapist"
    parameter_name = "therapist"
    field = "therapist"
    role: str | None = Role.THERAPIST

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        from clinic.models import Membership, User

        roles = Membership.objects.all()
        if self.role is not None:
            roles = roles.filter(role=self.role)
        if not request.user.is_superuser:
            roles = roles.filter(
                clinic_id__in=clinic_ids_visible_to(request.user, Capability.USE_ADMIN)
            )
        people = User.objects.filter(pk__in=roles.values("user_id")).order_by(
            "last_name", "first_name", "pk"
        )
        return [
            (str(p.pk), p.get_full_name() or p.username)
            for p in people.only("pk", "username", "first_name", "last_name")
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if not value:
            return queryset
        if not value.isdigit():
            return queryset.none()
        return queryset.filter(**{f"{self.field}_id": int(value)})


class TherapistFilter(StaffFilter):
    pass


class AuthorFilter(StaffFilter):
    title = "author"
    parameter_name = "author"
    field = "author"
