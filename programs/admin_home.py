"""Admin for home exercise programmes (imported by programs.admin), scoped to the clinics the
user administers like every clinical record.

Programmes are prescribed and changed through the API and the therapist's pages, where every
item passes the contraindication check; here they are read (each version with its exercises,
the patient links, the recorded sessions) and the two administrative
actions go through the services: archive a programme, revoke patient links. Nothing is
deleted.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest

from clinic.admin_base import ClinicFilter, ClinicScopedAdmin, ClinicScopedInline
from clinic.errors import ApplicationError
from clinic.records import actor
from programs import home
from programs.models import (
    HomeProgram,
    HomeProgramItem,
    HomeProgramLink,
    HomeProgramVersion,
    HomeSession,
)


class _ReadOnly:
    """Shown, never added, changed or deleted here."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class _ReadOnlyInline(_ReadOnly, ClinicScopedInline):
    can_delete = False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.fields


class HomeProgramVersionInline(_ReadOnlyInline):
    model = HomeProgramVersion
    fields = ["version", "starts_on", "prescribed_by", "exercises", "notes", "created_at"]
    ordering = ["-version"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return (
            super()
            .get_queryset(request)
            .select_related("prescribed_by")
            .prefetch_related(
                Prefetch(
                    "items",
                    queryset=HomeProgramItem.objects.select_related("exercise").order_by(
                        "position", "pk"
                    ),
                )
            )
        )

    @admin.display(description="exercises")
    def exercises(self, version: HomeProgramVersion) -> str:
        return "; ".join(
            f"{item.exercise.name} ({item.dose_text})"
            + (" [override: justified]" if item.override_justification else "")
            for item in version.items.all()
        )


class HomeProgramLinkInline(_ReadOnlyInline):
    model = HomeProgramLink
    fields = [
        "created_by",
        "created_at",
        "expires_at",
        "revoked_at",
        "last_opened_at",
        "open_count",
    ]
    ordering = ["-created_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).select_related("created_by")


class HomeSessionInline(_ReadOnlyInline):
    model = HomeSession
    fields = ["performed_on", "version", "pain", "comment", "created_at"]
    ordering = ["-performed_on", "-created_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).select_related("version")


@admin.register(HomeProgram)
class HomeProgramAdmin(_ReadOnly, ClinicScopedAdmin):
    list_display = ["__str__", "patient_mrn", "status", "current_version", "created_at", "clinic"]
    list_filter = [ClinicFilter, "status"]
    list_select_related = ["clinic", "episode__patient"]
    search_fields = ["episode__patient__mrn"]
    search_help_text = "Patient MRN."
    fields = ["episode", "status", "current_version", "created_by", "created_at", "archived_at"]
    readonly_fields = fields
    inlines = [HomeProgramVersionInline, HomeProgramLinkInline, HomeSessionInline]
    actions = ["archive"]

    @admin.display(description="patient", ordering="episode__patient__mrn")
    def patient_mrn(self, program: HomeProgram) -> str:
        return program.episode.patient.mrn

    @admin.action(description="Archive the selected home programmes (their links stop working)")
    def archive(self, request: HttpRequest, queryset: QuerySet[HomeProgram]) -> None:
        done = 0
        for program in queryset.filter(status=HomeProgram.Status.ACTIVE):
            try:
                home.home_program_archive(program=program, by=actor(request))
            except ApplicationError as exc:
                self.message_user(request, f"{program}: {exc.message}", messages.ERROR)
                continue
            done += 1
        self.message_user(request, f"{done} home programme(s) archived.", messages.SUCCESS)


@admin.register(HomeProgramLink)
class HomeProgramLinkAdmin(_ReadOnly, ClinicScopedAdmin):
    list_display = [
        "__str__",
        "program",
        "created_at",
        "expires_at",
        "revoked_at",
        "last_opened_at",
        "open_count",
        "clinic",
    ]
    list_filter = [ClinicFilter, "revoked_at", "expires_at"]
    list_select_related = ["clinic", "program"]
    search_fields = ["program__episode__patient__mrn"]
    search_help_text = "Patient MRN."
    fields = [
        "program",
        "created_by",
        "created_at",
        "expires_at",
        "revoked_at",
        "revoked_by",
        "last_opened_at",
        "open_count",
    ]
    readonly_fields = fields
    actions = ["revoke"]

    @admin.action(description="Revoke the selected patient links")
    def revoke(self, request: HttpRequest, queryset: QuerySet[HomeProgramLink]) -> None:
        done = 0
        for link in queryset.filter(revoked_at__isnull=True):
            home.home_link_revoke(link=link, by=actor(request))
            done += 1
        self.message_user(request, f"{done} patient link(s) revoked.", messages.SUCCESS)
