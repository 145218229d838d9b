"""Admin for the practice-wide catalogues (superusers edit them; clinic administrators read
them), and for plans of care and treatment notes (scoped to the clinics the user administers).

Writes go through the services (the same checks as the API); each row keeps its change history
(SimpleHistoryAdmin). Clinical rows are never deleted here. A plan's content and items change
only by recertification (API/pages); here its physician's certification is recorded. A draft
treatment note's text can be corrected (with its version); its items, billing lines and
addenda show read-only, and a signed note is read-only altogether.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Model
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from simple_history.admin import SimpleHistoryAdmin

from clinic.admin_base import (
    AuthorFilter,
    ClinicFilter,
    ClinicScopedAdmin,
    ClinicScopedInline,
    ServiceCheckedForm,
    StaffFilter,
)
from clinic.admin_site import AdminPage, PracticeAdminSite, administers_any_clinic
from clinic.errors import ApplicationError
from clinic.records import actor, record_delete
from patients.models import PrecautionKind
from patients.vocabulary import ACUTE_BACK_PAIN, BodyRegion
from programs import care, report_views, services
from programs.imports import (
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    exercise_import,
    exercise_import_preview,
)
from programs.models import (
    BillingLine,
    ContraindicationRule,
    DeliveredExercise,
    DeliveredModality,
    Exercise,
    FollowUp,
    Modality,
    PlannedExercise,
    PlannedModality,
    PlanOfCare,
    ProgressSummary,
    TreatmentNote,
    TreatmentNoteAddendum,
)


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

    # --- CSV import (superusers: the library is the practice's) --------------------------

    def get_urls(self) -> list[Any]:
        return [
            path(
                "import/",
                self.admin_site.admin_view(self.import_view),
                name="programs_exercise_import",
            ),
            *super().get_urls(),
        ]

    def import_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied("Only practice administrators add to the exercise library.")
        form = ExerciseImportForm(request.POST or None, request.FILES or None)
        preview = None
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            text = (
                upload.read().decode("utf-8-sig", errors="replace")
                if upload
                else form.cleaned_data["text"]
            )
            if "confirm" in request.POST:
                try:
                    created = exercise_import(text=text, by=actor(request))
                except ValidationError as exc:
                    self.message_user(request, "; ".join(exc.messages), messages.ERROR)
                else:
                    self.message_user(request, f"Imported {len(created)} exercise(s).")
                    return HttpResponseRedirect(reverse("admin:programs_exercise_changelist"))
            preview = exercise_import_preview(text=text)
            form = ExerciseImportForm(initial={"text": text})
        return TemplateResponse(
            request,
            "admin/programs/exercise/import.html",
            {
                **self.admin_site.each_context(request),
                "title": "Import exercises from CSV",
                "opts": self.model._meta,
                "form": form,
                "preview": preview,
                "required": REQUIRED_COLUMNS,
                "optional": OPTIONAL_COLUMNS,
            },
        )


class ExerciseImportForm(forms.Form):
    file = forms.FileField(required=False, help_text="CSV, UTF-8, with a header row.")
    text = forms.CharField(required=False, widget=forms.HiddenInput)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not cleaned.get("file") and not cleaned.get("text"):
            raise ValidationError({"file": "Choose a CSV file."})
        return cleaned


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


# --- Follow-ups and progress summaries (written by the background jobs) ----------------------


class EpisodeTherapistFilter(StaffFilter):
    field = "episode__therapist"


class _WrittenByJobsAdmin(ClinicScopedAdmin):
    """Rows the background jobs write: listed and shown here, never added or deleted."""

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(FollowUp)
class FollowUpAdmin(_WrittenByJobsAdmin):
    """The next visits to book: the dispatcher books them, the front desk takes the rest."""

    list_display = [
        "__str__",
        "patient_mrn",
        "therapist",
        "due_from",
        "due_until",
        "status",
        "attempts",
        "clinic",
    ]
    list_filter = [ClinicFilter, EpisodeTherapistFilter, "status", "due_from"]
    list_select_related = ["clinic", "episode__patient", "episode__therapist"]
    search_fields = ["episode__patient__mrn"]
    search_help_text = "Patient MRN."
    # No date_hierarchy: its DISTINCT over the dates scans a table that grows with every
    # visit; the date filter in the sidebar narrows the list instead.

    @admin.display(description="Patient (MRN)", ordering="episode__patient__mrn")
    def patient_mrn(self, obj: FollowUp) -> str:
        return obj.episode.patient.mrn

    @admin.display(description="Therapist", ordering="episode__therapist__last_name")
    def therapist(self, obj: FollowUp) -> str:
        return str(obj.episode.therapist)


@admin.register(ProgressSummary)
class ProgressSummaryAdmin(_WrittenByJobsAdmin):
    """One per completed visit, written by the summary task (never edited)."""

    list_display = ["__str__", "visit", "created_at", "clinic"]
    list_filter = [ClinicFilter, "created_at"]
    list_select_related = ["clinic", "visit"]
    search_fields = ["visit__patient__mrn"]
    search_help_text = "Patient MRN."
    # No date_hierarchy: its DISTINCT over the dates scans a table that grows with every
    # visit; the date filter in the sidebar narrows the list instead.
    fields = ["visit", "text", "data", "created_at"]
    readonly_fields = fields
    object_history_template = None  # no simple-history table: written once
    history_view = admin.ModelAdmin.history_view


# --- Reports (admin pages; the numbers come from programs/reports.py) -------------------------

_site: PracticeAdminSite = admin.site  # type: ignore[assignment]
_site.register_page(
    AdminPage(
        route="reports/",
        view=report_views.reports_index,
        name="reports",
        title="Reports",
        allowed=report_views.may_read_reports,
    )
)
_site.register_page(
    AdminPage(route="reports/<slug:slug>/", view=report_views.report_page, name="report")
)


# --- Plans of care and treatment notes -------------------------------------------------------


class _ServiceForm(forms.ModelForm):
    """A model form whose `service_checks(user)` runs the service's rules for the signed-in user
    (set by the admin), so the admin refuses what the API refuses, on the right field."""

    request_user: Any = None

    def service_checks(self) -> None:
        raise NotImplementedError

    def _post_clean(self) -> None:
        super()._post_clean()  # type: ignore[misc]
        if self.errors:
            return
        try:
            self.service_checks()
        except ValidationError as exc:
            self._update_errors(exc)  # type: ignore[attr-defined]
        except ApplicationError as exc:
            self.add_error(None, exc.message)
        except PermissionDenied as exc:
            self.add_error(None, str(exc))


def _saved(obj: Any, saved: Any) -> None:
    """Make the admin's unsaved `obj` the row the service created (for the log and redirect)."""
    obj.pk = saved.pk
    obj.refresh_from_db()
    obj._state.adding = False


class _ReadOnlyInline(ClinicScopedInline):
    can_delete = False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class PlannedModalityInline(_ReadOnlyInline):
    model = PlannedModality
    fields = ["modality", "body_region", "minutes", "parameters", "override_justification"]


class PlannedExerciseInline(_ReadOnlyInline):
    model = PlannedExercise
    fields = [
        "exercise",
        "sets",
        "reps",
        "hold_seconds",
        "times_per_day",
        "days_per_week",
        "override_justification",
    ]


class PlanOfCareForm(_ServiceForm):
    def service_checks(self) -> None:
        plan = self.instance
        if plan.pk is None:
            care.plan_create_check(
                episode=plan.episode,
                starts_on=plan.starts_on,
                certified_until=plan.certified_until,
                physician_signed_on=plan.physician_signed_on,
                verbal_order_on=plan.verbal_order_on,
                by=self.request_user,
            )
        else:
            care.plan_physician_check(plan)


class _ClinicalRecordAdmin(ClinicScopedAdmin):
    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        form.request_user = request.user
        return form

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False  # clinical data is never deleted


@admin.register(PlanOfCare)
class PlanOfCareAdmin(_ClinicalRecordAdmin):
    """A new plan is established here without items (the API and the therapist's pages add
    them, with the contraindication check); afterwards only the physician's certification
    (name, signature date, verbal order) is recorded here."""

    form = PlanOfCareForm
    list_display = [
        "__str__",
        "episode",
        "version",
        "status",
        "starts_on",
        "certified_until",
        "physician_signed_on",
    ]
    list_filter = [
        ClinicFilter,
        EpisodeTherapistFilter,
        "status",
        "certified_until",
        "physician_signed_on",
    ]
    list_select_related = ["episode"]
    search_fields = ["episode__patient__mrn"]
    autocomplete_fields = ["episode"]
    date_hierarchy = "starts_on"
    inlines = [PlannedModalityInline, PlannedExerciseInline]
    NEW = [
        "episode",
        "frequency_per_week",
        "duration_weeks",
        "starts_on",
        "certified_until",
        "physician_name",
        "physician_signed_on",
        "verbal_order_on",
        "notes",
    ]
    RECORD = [
        "episode",
        "version",
        "status",
        "supersedes",
        "frequency_per_week",
        "duration_weeks",
        "starts_on",
        "first_treatment_on",
        "certified_until",
        "notes",
        "created_by",
        "created_at",
    ]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.NEW if obj is None else [*self.RECORD, *care.PHYSICIAN_FIELDS]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [] if obj is None else self.RECORD

    def save_model(self, request: HttpRequest, obj: PlanOfCare, form: Any, change: bool) -> None:
        if change:
            changed = {
                n: form.cleaned_data[n] for n in care.PHYSICIAN_FIELDS if n in form.changed_data
            }
            if changed:
                care.plan_physician_update(plan=obj, by=actor(request), **changed)
            return
        values = {n: form.cleaned_data[n] for n in self.NEW}
        _saved(obj, care.plan_create(by=actor(request), **values))


class DeliveredModalityInline(_ReadOnlyInline):
    model = DeliveredModality
    fields = [
        "modality",
        "body_region",
        "minutes",
        "parameters",
        "override_justification",
        "warnings",
    ]


class DeliveredExerciseInline(_ReadOnlyInline):
    model = DeliveredExercise
    fields = ["exercise", "sets", "reps", "hold_seconds", "notes", "override_justification"]


class BillingLineInline(_ReadOnlyInline):
    model = BillingLine
    fields = ["cpt_code", "minutes", "units", "timed", "modifiers"]


class TreatmentNoteAddendumInline(_ReadOnlyInline):
    """Addenda are append-only: therapists add them through the API and pages."""

    model = TreatmentNoteAddendum
    fields = ["author", "text", "created_at"]


class TreatmentNoteForm(_ServiceForm):
    based_on_version = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.fields["based_on_version"].initial = self.instance.version

    def service_checks(self) -> None:
        note = self.instance
        if note.pk is None:
            care.treatment_note_visit_check(note.visit)
            if TreatmentNote.objects.filter(visit=note.visit).exists():
                raise ValidationError({"visit": "The visit already has a treatment note."})
            return
        current = TreatmentNote.objects.filter(pk=note.pk).values_list("version", flat=True).first()
        if self.cleaned_data.get("based_on_version") != current:
            raise ValidationError(
                f"Someone saved this treatment note since you opened it (it is now version "
                f"{current}); reload the page and make your change again."
            )


@admin.register(TreatmentNote)
class TreatmentNoteAdmin(_ClinicalRecordAdmin):
    """A draft's text is corrected here through the service (with its version); what was
    delivered, the billing lines and the addenda show read-only; a signed note is read-only."""

    form = TreatmentNoteForm
    list_display = ["__str__", "visit", "episode", "status", "version", "author", "signed_at"]
    list_filter = [ClinicFilter, AuthorFilter, "status", "billing_rule", "created_at"]
    list_select_related = ["visit", "episode", "author"]
    # No date_hierarchy: its DISTINCT over the dates scans a table that grows with every
    # visit; the date filter in the sidebar narrows the list instead.
    search_fields = ["episode__patient__mrn"]
    raw_id_fields = ["visit"]
    inlines = [
        DeliveredModalityInline,
        DeliveredExerciseInline,
        BillingLineInline,
        TreatmentNoteAddendumInline,
    ]
    TEXT = ["subjective", "assessment", "notes"]
    RECORD = [
        "visit",
        "episode",
        "author",
        "status",
        "version",
        "billing_rule",
        "signed_at",
        "signed_by",
        "created_at",
        "updated_at",
    ]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ["visit", *self.TEXT]
        return [*self.RECORD, *self.TEXT, "based_on_version"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [] if obj is None else self.RECORD

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.status == TreatmentNote.Status.SIGNED:
            return False  # signed: immutable; corrections are addenda
        return super().has_change_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: TreatmentNote, form: Any, change: bool) -> None:
        text = {n: form.cleaned_data[n] for n in self.TEXT}
        if not change:
            _saved(obj, care.treatment_note_save(visit=obj.visit, by=actor(request), **text))
            return
        try:
            care.treatment_note_save(
                visit=obj.visit,
                by=actor(request),
                version=form.cleaned_data["based_on_version"],
                **{n: v for n, v in text.items() if n in form.changed_data},
            )
        except ApplicationError as exc:  # a colleague saved between the check and now
            self.message_user(request, exc.message, messages.ERROR)


# Home exercise programmes: their admin lives in its own module (registers on import).
from programs import admin_home  # noqa: E402, F401
