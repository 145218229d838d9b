"""Admin for clinics, rooms, staff, hours, closures and time off, scoped by ClinicScopedAdmin."""

from __future__ import annotations

from typing import Any, cast

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest

from clinic import services
from clinic.admin_base import (
    ClinicFilter,
    ClinicScopedAdmin,
    ClinicScopedInline,
    ServiceCheckedForm,
)
from clinic.capabilities import Capability
from clinic.models import (
    AccessLog,
    Clinic,
    Closure,
    Membership,
    OpeningHours,
    Room,
    TherapistProfile,
    TimeOff,
    User,
    UserQuerySet,
    WorkingHours,
)
from clinic.records import actor
from clinic.tenancy import clinic_ids_visible_to


class OpeningHoursForm(ServiceCheckedForm):
    service_check = staticmethod(services.opening_hours_check)

    class Meta:
        model = OpeningHours
        fields = ["clinic", "weekday", "opens", "closes"]


class WorkingHoursForm(ServiceCheckedForm):
    service_check = staticmethod(services.working_hours_check)

    class Meta:
        model = WorkingHours
        fields = ["clinic", "therapist", "weekday", "starts", "ends"]


@admin.register(Clinic)
class ClinicAdmin(ClinicScopedAdmin):
    list_display = ["name", "slug", "timezone", "country", "medicare_rules", "active"]
    list_filter = ["active", "country", "medicare_rules"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    fieldsets = [
        (None, {"fields": ["name", "slug", "active"]}),
        ("Where", {"fields": ["timezone", "country", "address", "phone"]}),
        ("Rules", {"fields": ["late_cancel_hours", "reminder_lead_hours", "medicare_rules"]}),
    ]

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return request.user.is_superuser

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # clinics are deactivated, never deleted


@admin.register(OpeningHours)
class OpeningHoursAdmin(ClinicScopedAdmin):
    form = OpeningHoursForm
    list_display = ["clinic", "weekday", "opens", "closes"]
    list_filter = [ClinicFilter, "weekday"]
    list_select_related = ["clinic"]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        services.opening_hours_save(block=obj, by=actor(request))


@admin.register(Closure)
class ClosureAdmin(ClinicScopedAdmin):
    list_display = ["clinic", "starts_on", "ends_on", "reason"]
    list_filter = [ClinicFilter]
    list_select_related = ["clinic"]
    date_hierarchy = "starts_on"
    search_fields = ["reason"]


@admin.register(Room)
class RoomAdmin(ClinicScopedAdmin):
    list_display = ["name", "clinic", "kind", "active"]
    list_filter = [ClinicFilter, "kind", "active"]
    list_select_related = ["clinic"]
    search_fields = ["name"]


@admin.register(Membership)
class MembershipAdmin(ClinicScopedAdmin):
    list_display = ["user", "clinic", "role", "active", "created_at"]
    list_filter = [ClinicFilter, "role", "active"]
    list_select_related = ["user", "clinic"]
    search_fields = ["user__username", "user__first_name", "user__last_name"]
    autocomplete_fields = ["user"]


@admin.register(WorkingHours)
class WorkingHoursAdmin(ClinicScopedAdmin):
    form = WorkingHoursForm
    list_display = ["therapist", "clinic", "weekday", "starts", "ends"]
    list_filter = [ClinicFilter, "weekday"]
    list_select_related = ["therapist", "clinic"]
    search_fields = ["therapist__username", "therapist__last_name"]
    autocomplete_fields = ["therapist"]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        services.working_hours_save(block=obj, by=actor(request))


@admin.register(TimeOff)
class TimeOffAdmin(ClinicScopedAdmin):
    list_display = ["therapist", "starts_at", "ends_at", "reason"]
    list_filter = [ClinicFilter]
    list_select_related = ["therapist"]
    search_fields = ["therapist__username", "therapist__last_name", "reason"]
    autocomplete_fields = ["therapist"]
    date_hierarchy = "starts_at"


class MembershipInline(ClinicScopedInline):
    model = Membership
    fields = ["clinic", "role", "active"]
    fk_name = "user"


class TherapistProfileInline(admin.StackedInline):
    model = TherapistProfile
    extra = 0
    max_num = 1
    can_delete = False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return True

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return True


@admin.register(User)
class UserAdmin(ClinicScopedAdmin, DjangoUserAdmin):
    """Staff. Clinic administrators see and manage the staff of their clinics only, and cannot
    hand out practice-wide powers (superuser, staff flag, Django permissions)."""

    inlines = [MembershipInline, TherapistProfileInline]
    list_display = ["username", "first_name", "last_name", "email", "is_active", "last_login"]
    list_filter = ["is_active", ClinicFilter, "memberships__role"]
    search_fields = ["username", "first_name", "last_name", "email"]
    _restricted_fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name", "email")}),
        ("Status", {"fields": ("is_active", "last_login", "date_joined")}),
    )

    # User keeps no simple-history table (roles live in Membership, which does): its History page
    # is Django's own admin log, not simple-history's, which would fail on the missing table.
    object_history_template = None
    history_view = admin.ModelAdmin.history_view

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        return super().get_queryset(request).distinct()

    # Foreign keys to a therapist: their autocomplete offers therapists only, not every member
    # of staff (the admin's scoping still limits them to the clinics the user administers).
    THERAPIST_FIELDS = frozenset({"therapist"})

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[User], search_term: str
    ) -> tuple[QuerySet[User], bool]:
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        match = request.resolver_match
        if (
            match is not None
            and match.url_name == "autocomplete"
            and request.GET.get("field_name") in self.THERAPIST_FIELDS
        ):
            queryset = cast(UserQuerySet, queryset).therapists()
        return queryset, may_have_duplicates

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None or request.user.is_superuser:
            return super().get_fieldsets(request, obj)
        return self._restricted_fieldsets

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if request.user.is_superuser:
            return ()
        return ("last_login", "date_joined")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """A clinic administrator may change (and set the password of) only staff who work
        nowhere but in clinics they administer, and never a superuser or practice staff."""
        if not super().has_change_permission(request, obj):
            return False
        if obj is None or request.user.is_superuser:
            return True
        if obj.is_superuser or obj.is_staff:
            return False
        administered = clinic_ids_visible_to(request.user, Capability.USE_ADMIN)
        return not obj.memberships.filter(active=True).exclude(clinic_id__in=administered).exists()

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser  # staff are deactivated, so their records stay signed


class ActorFilter(admin.SimpleListFilter):
    """Filter by who read, offering only staff of the clinics the user administers."""

    title = "staff member"
    parameter_name = "actor"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        users = User.objects.all()
        if not request.user.is_superuser:
            users = users.visible_to(request.user, Capability.VIEW_AUDIT)
        return [(str(u.pk), u.username) for u in users.order_by("username").only("pk", "username")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if not value:
            return queryset
        if not value.isdigit():
            return queryset.none()
        return queryset.filter(actor_id=int(value))


@admin.register(AccessLog)
class AccessLogAdmin(ClinicScopedAdmin):
    """Who read which patient's chart or clinical record: read-only, for the clinics the user
    administers. Nobody adds, changes or deletes rows here (and the database refuses too)."""

    list_display = ("at", "clinic", "actor", "record", "what", "subject", "method", "path")
    list_filter = (ClinicFilter, ActorFilter, "record", "at")
    list_select_related = ("clinic", "actor")
    # No date_hierarchy: its DISTINCT over the dates scans a table that grows with every
    # visit; the date filter in the sidebar narrows the list instead.
    search_fields = ("=patient_public_id",)
    readonly_fields = (
        "at",
        "clinic",
        "actor",
        "record",
        "what",
        "subject",
        "patient_public_id",
        "method",
        "path",
    )
    fields = readonly_fields
    actions = None
    object_history_template = None
    history_view = admin.ModelAdmin.history_view

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
