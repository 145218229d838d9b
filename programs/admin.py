"""Admin for the practice-wide catalogues: superusers edit them; clinic administrators read them.

Writes go through the services (the same checks as the API); each catalogue row keeps its
change history (SimpleHistoryAdmin).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest
from simple_history.admin import SimpleHistoryAdmin

from clinic.admin_base import ServiceCheckedForm
from clinic.admin_site import administers_any_clinic
from clinic.records import actor, record_delete
from patients.models import PrecautionKind
from patients.vocabulary import ACUTE_BACK_PAIN, BodyRegion
from programs import services
from programs.models import ContraindicationRule, Exercise, Modality


def _is_superuser(request: HttpRequest) -> bool:
    return bool(request.user.is_active and request.user.is_superuser)


class CatalogueReadOnlyForAdmins:
    """Visible to administrators of any clinic; added to and changed by superusers only;
    never deleted (retire an entry by clearing `active`)."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return administers_any_clinic(request)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return administers_any_clinic(request)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return _is_superuser(request)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return _is_superuser(request)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


def condition_choices(request: HttpRequest) -> list[tuple[str, str]]:
    """The conditions a rule may name, read once per request."""
    cached = getattr(request, "_programs_condition_choices", None)
    if cached is None:
        cached = [
            ("", "(none: a placement rule, refused over the listed regions)"),
            *PrecautionKind.objects.order_by("label").values_list("code", "label"),
            (ACUTE_BACK_PAIN, "Acute back pain (a back-pain diagnosis with onset < 3 months)"),
        ]
        request._programs_condition_choices = cached  # type: ignore[attr-defined]
    return cached


class ContraindicationRuleForm(ServiceCheckedForm):
    service_check = staticmethod(services.contraindication_rule_check)
    regions = forms.TypedMultipleChoiceField(
        choices=BodyRegion.choices,
        required=False,
        help_text="For the 'listed regions' scope only.",
    )

    class Meta:
        model = ContraindicationRule
        fields = ["condition", "severity", "reason", "region_scope", "regions"]
        widgets = {"reason": forms.Textarea(attrs={"rows": 2, "cols": 60})}


class ContraindicationRuleInline(admin.TabularInline):
    model = ContraindicationRule
    form = ContraindicationRuleForm
    extra = 0

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "condition":
            return forms.ChoiceField(
                choices=condition_choices(request), required=False, label="Condition"
            )
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return administers_any_clinic(request)

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return _is_superuser(request)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return _is_superuser(request)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return _is_superuser(request)


class _CatalogueAdmin(CatalogueReadOnlyForAdmins, SimpleHistoryAdmin):
    inlines = [ContraindicationRuleInline]
    list_per_page = 100

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        if formset.model is not ContraindicationRule:
            super().save_formset(request, form, formset, change)
            return
        rules = formset.save(commit=False)
        for rule in formset.deleted_objects:
            record_delete(rule, by=actor(request))
        for rule in rules:
            services.contraindication_rule_save(rule=rule, by=actor(request))


class ModalityForm(ServiceCheckedForm):
    service_check = staticmethod(services.modality_check)

    class Meta:
        model = Modality
        fields = [
            "name",
            "kind",
            "description",
            "cpt_code",
            "medicare_code",
            "medicare_bundled",
            "timed",
            "typical_minutes",
            "parameter_spec",
            "active",
        ]


@admin.register(Modality)
class ModalityAdmin(_CatalogueAdmin):
    form = ModalityForm
    list_display = [
        "name",
        "kind",
        "cpt_code",
        "medicare_code",
        "timed",
        "medicare_bundled",
        "typical_minutes",
        "active",
    ]
    list_filter = ["kind", "cpt_code", "timed", "medicare_bundled", "active"]
    search_fields = ["name", "cpt_code", "description"]
    fieldsets = [
        (None, {"fields": ["name", "kind", "description", "active"]}),
        (
            "Billing",
            {"fields": ["cpt_code", "medicare_code", "medicare_bundled", "timed"]},
        ),
        ("Delivery", {"fields": ["typical_minutes", "parameter_spec"]}),
    ]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        services.modality_save(modality=obj, by=actor(request))


@admin.register(Exercise)
class ExerciseAdmin(_CatalogueAdmin):
    list_display = ["name", "category", "body_region", "dose_text", "active"]
    list_filter = ["category", "body_region", "active"]
    search_fields = ["name", "slug", "instructions"]
    prepopulated_fields = {"slug": ["name"]}
    fieldsets = [
        (None, {"fields": ["name", "slug", "category", "body_region", "active"]}),
        ("For the patient", {"fields": ["instructions", "image"]}),
        (
            "Default dose",
            {
                "fields": [
                    ("sets", "reps", "hold_seconds"),
                    ("minutes", "times_per_day", "days_per_week"),
                ]
            },
        ),
    ]

    @admin.display(description="default dose")
    def dose_text(self, obj: Exercise) -> str:
        return obj.dose_text

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        services.exercise_save(exercise=obj, by=actor(request))


@admin.register(ContraindicationRule)
class ContraindicationRuleAdmin(CatalogueReadOnlyForAdmins, SimpleHistoryAdmin):
    """All rules in one list, to answer 'what does pregnancy refuse?'. Edit them on their
    modality or exercise."""

    list_display = ["item", "condition", "severity", "region_scope", "regions", "reason"]
    list_filter = ["condition", "severity", "region_scope"]
    list_select_related = ["modality", "exercise"]
    search_fields = ["condition", "reason", "modality__name", "exercise__name"]
    list_per_page = 100

    @admin.display(description="modality or exercise")
    def item(self, obj: ContraindicationRule) -> str:
        return str(obj.modality or obj.exercise)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False
