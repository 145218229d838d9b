"""Admin for patients (scoped to the clinics the user administers), their conditions, the
precaution vocabulary, transfer between clinics and CSV import."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.widgets import AdminDateWidget, AdminSplitDateTime
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from clinic import admin as clinic_admin
from clinic import services as clinic_services
from clinic.admin_base import (
    AuthorFilter,
    ClinicFilter,
    ClinicScopedAdmin,
    ClinicScopedInline,
    ServiceCheckedForm,
    StaffFilter,
    TherapistFilter,
    scope_for_admin,
)
from clinic.admin_site import administers_any_clinic
from clinic.errors import ApplicationError
from clinic.models import Clinic, Membership, User
from clinic.records import actor
from patients import clinical, closures, services, visits
from patients.imports import patient_import, patient_import_preview
from patients.models import (
    BillingRule,
    Diagnosis,
    EpisodeOfCare,
    Evaluation,
    EvaluationAddendum,
    Goal,
    OutcomeMeasure,
    Patient,
    PatientMessage,
    Precaution,
    PrecautionKind,
    Visit,
    VisitSeries,
)


class ArchivedFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "archived"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("no", "Active"), ("yes", "Archived")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Patient]) -> QuerySet[Patient]:
        if self.value() == "no":
            return queryset.filter(archived_at__isnull=True)
        if self.value() == "yes":
            return queryset.filter(archived_at__isnull=False)
        return queryset


class DiagnosisForm(ServiceCheckedForm):
    service_check = staticmethod(services.diagnosis_check)


class PrecautionForm(ServiceCheckedForm):
    service_check = staticmethod(services.precaution_check)


class PatientRowInline(ClinicScopedInline):
    """A patient's conditions on the patient page: clinic administrators may record them (Django's
    model permissions would hide them); they are read-only while the patient is archived."""

    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.is_archived:
            return False
        return super().has_add_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.is_archived:
            return False
        return super().has_change_permission(request, obj)


class DiagnosisInline(PatientRowInline):
    model = Diagnosis
    form = DiagnosisForm
    fields = ["icd10_code", "description", "onset_date", "side", "resolved_on"]


class PrecautionInline(PatientRowInline):
    model = Precaution
    form = PrecautionForm
    fields = ["kind", "body_region", "side", "noted_on", "resolved_on", "notes"]


class TransferForm(forms.Form):
    to_clinic = forms.ModelChoiceField(queryset=Clinic.objects.none(), label="Move to clinic")


class ImportForm(forms.Form):
    clinic = forms.ModelChoiceField(queryset=Clinic.objects.none())
    file = forms.FileField(required=False, help_text="CSV, UTF-8, with a header row.")
    text = forms.CharField(required=False, widget=forms.HiddenInput)


def _admin_clinics(request: HttpRequest) -> QuerySet[Clinic]:
    return scope_for_admin(Clinic.objects.active(), request).order_by("name")


@admin.register(Patient)
class PatientAdmin(ClinicScopedAdmin):
    list_display = ["mrn", "last_name", "first_name", "date_of_birth", "clinic", "payer_type"]
    list_filter = [ClinicFilter, ArchivedFilter, "payer_type", "consent_email", "created_at"]
    list_select_related = ["clinic"]
    search_fields = ["mrn"]  # the search itself is Patient.objects.matching (names, dates, phones)
    search_help_text = "Name, date of birth (YYYY-MM-DD), MRN or phone."
    holds_patient_data = True  # so its search, and every search reaching it, stays out of URLs
    readonly_fields = ["mrn", "archived_at", "created_at", "updated_at"]
    inlines = [PrecautionInline, DiagnosisInline]
    actions = ["transfer_patients", "archive_patients", "restore_patients"]
    fieldsets = [
        (None, {"fields": ["clinic", "mrn", "first_name", "last_name", "date_of_birth", "sex"]}),
        ("Contact", {"fields": ["phone", "email", "address", "preferred_language"]}),
        ("Emergency contact", {"fields": ["emergency_contact_name", "emergency_contact_phone"]}),
        (
            "Referral and payer",
            {"fields": ["referring_physician_name", "referring_physician_npi", "payer_type"]},
        ),
        ("Reminders", {"fields": ["consent_email", "consent_sms"]}),
        ("Record", {"fields": ["archived_at", "created_at", "updated_at"]}),
    ]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is not None:  # a patient changes clinic only through the transfer action
            return [*self.readonly_fields, "clinic"]
        return self.readonly_fields

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Patient], search_term: str
    ) -> tuple[QuerySet[Patient], bool]:
        return queryset.matching(search_term), False  # type: ignore[attr-defined]

    def save_model(self, request: HttpRequest, obj: Patient, form: Any, change: bool) -> None:
        if change:
            changed = {
                name: form.cleaned_data[name]
                for name in form.changed_data
                if name in services.PATIENT_FIELDS
            }
            services.patient_update(patient=obj, by=actor(request), **changed)
        else:
            services.patient_register(patient=obj, by=actor(request))

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        for row in formset.save(commit=False):
            row.clinic_id = form.instance.clinic_id
            row._history_user = request.user
            row.save()

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.is_archived:
            return False  # read-only until restored
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # patients are archived, never deleted

    @admin.action(description="Archive the selected patients")
    def archive_patients(self, request: HttpRequest, queryset: QuerySet[Patient]) -> None:
        for patient in queryset:
            services.patient_archive(patient=patient, by=actor(request))
        self.message_user(request, f"Archived {queryset.count()} patient(s).")

    @admin.action(description="Restore the selected patients")
    def restore_patients(self, request: HttpRequest, queryset: QuerySet[Patient]) -> None:
        for patient in queryset:
            services.patient_restore(patient=patient, by=actor(request))
        self.message_user(request, "Restored the selected patient(s).")

    @admin.action(description="Transfer the selected patients to another clinic")
    def transfer_patients(
        self, request: HttpRequest, queryset: QuerySet[Patient]
    ) -> HttpResponse | None:
        form = TransferForm(request.POST if "apply" in request.POST else None)
        form.fields["to_clinic"].queryset = _admin_clinics(request)  # type: ignore[attr-defined]
        if form.is_valid():
            to_clinic = form.cleaned_data["to_clinic"]
            moved = 0
            for patient in queryset.select_related("clinic"):
                try:
                    services.patient_transfer(
                        patient=patient, to_clinic=to_clinic, by=actor(request)
                    )
                    moved += 1
                except ValidationError as exc:
                    self.message_user(
                        request, f"{patient.mrn}: {'; '.join(exc.messages)}", messages.WARNING
                    )
            self.message_user(request, f"Moved {moved} patient(s) to {to_clinic}.")
            return None
        return TemplateResponse(
            request,
            "admin/patients/patient/transfer.html",
            {
                **self.admin_site.each_context(request),
                "title": "Transfer patients",
                "opts": self.model._meta,
                "form": form,
                "patients": queryset,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            },
        )

    # --- CSV import ---------------------------------------------------------------------------

    def get_urls(self) -> list[Any]:
        return [
            path(
                "import/",
                self.admin_site.admin_view(self.import_view),
                name="patients_patient_import",
            ),
            *super().get_urls(),
        ]

    def import_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_add_permission(request):
            return HttpResponseRedirect(reverse("admin:index"))
        form = ImportForm(request.POST or None, request.FILES or None)
        form.fields["clinic"].queryset = _admin_clinics(request)  # type: ignore[attr-defined]
        preview = None
        text = ""
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            text = (
                upload.read().decode("utf-8-sig", errors="replace")
                if upload
                else (form.cleaned_data["text"])
            )
            clinic = form.cleaned_data["clinic"]
            if "confirm" in request.POST:
                try:
                    created = patient_import(clinic=clinic, text=text, by=actor(request))
                except ValidationError as exc:
                    self.message_user(request, "; ".join(exc.messages), messages.ERROR)
                else:
                    self.message_user(request, f"Imported {len(created)} patient(s) into {clinic}.")
                    return HttpResponseRedirect(reverse("admin:patients_patient_changelist"))
            preview = patient_import_preview(clinic=clinic, text=text)
            form = ImportForm(initial={"clinic": clinic, "text": text})
            form.fields["clinic"].queryset = _admin_clinics(request)  # type: ignore[attr-defined]
        return TemplateResponse(
            request,
            "admin/patients/patient/import.html",
            {
                **self.admin_site.each_context(request),
                "title": "Import patients from CSV",
                "opts": self.model._meta,
                "form": form,
                "preview": preview,
            },
        )


@admin.register(Diagnosis)
class DiagnosisAdmin(ClinicScopedAdmin):
    form = DiagnosisForm
    list_display = ["patient", "icd10_code", "description", "onset_date", "resolved_on"]
    list_filter = [ClinicFilter, "onset_date", "resolved_on"]
    list_select_related = ["patient"]
    search_fields = ["icd10_code", "patient__mrn"]
    autocomplete_fields = ["patient"]
    exclude = ["clinic"]

    def save_model(self, request: HttpRequest, obj: Diagnosis, form: Any, change: bool) -> None:
        obj.clinic_id = obj.patient.clinic_id
        super().save_model(request, obj, form, change)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # clinical data: resolve, never delete


@admin.register(Precaution)
class PrecautionAdmin(ClinicScopedAdmin):
    form = PrecautionForm
    list_display = ["patient", "kind", "body_region", "noted_on", "resolved_on"]
    list_filter = [ClinicFilter, "kind", "noted_on", "resolved_on"]
    list_select_related = ["patient", "kind"]
    search_fields = ["patient__mrn"]
    autocomplete_fields = ["patient"]
    exclude = ["clinic"]

    def save_model(self, request: HttpRequest, obj: Precaution, form: Any, change: bool) -> None:
        obj.clinic_id = obj.patient.clinic_id
        super().save_model(request, obj, form, change)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # clinical data: resolve, never delete


@admin.register(PrecautionKind)
class PrecautionKindAdmin(admin.ModelAdmin):
    """The vocabulary: practice administrators extend it; clinic administrators read it."""

    list_display = ["label", "code", "needs_region", "active"]
    list_filter = ["active", "needs_region"]
    search_fields = ["label", "code"]

    def has_module_permission(self, request: HttpRequest) -> bool:
        return administers_any_clinic(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return administers_any_clinic(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # deactivate instead: precautions refer to it


# --- The clinical record ---------------------------------------------------------------------
# Every save goes through patients.clinical, whose checks the forms run first. Signed
# evaluations, addenda and outcome measures are read-only (a measure may only be marked entered
# in error); nothing clinical is deleted.


class DottedErrorsForm(ServiceCheckedForm):
    """A service-checked form whose service names subfields (`objective.strength.hip_flexion`):
    such errors go to the form field (`objective`), prefixed with the rest of the path."""

    def _update_errors(self, errors: ValidationError) -> None:
        if hasattr(errors, "error_dict"):
            remapped: dict[str, list[str]] = {}
            for key, messages_ in errors.message_dict.items():
                field, _, rest = key.partition(".")
                if field not in self.fields:
                    field = key if key in self.fields else "__all__"
                    rest = "" if field == key else key
                remapped.setdefault(field, []).extend(
                    f"{rest}: {message}" if rest else message for message in messages_
                )
            errors = ValidationError(remapped)
        super()._update_errors(errors)  # type: ignore[misc]


def _saved(obj: Any, saved: Any) -> None:
    """Make the admin's unsaved `obj` the row a service created (for the log and redirect)."""
    obj.pk = saved.pk
    obj.refresh_from_db()
    obj._state.adding = False


class RecordedByFilter(StaffFilter):
    title = "recorded by"
    parameter_name = "recorded_by"
    field = "recorded_by"


class _ClinicalAdmin(ClinicScopedAdmin):
    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # clinical data is never deleted


class EpisodeForm(DottedErrorsForm):
    service_check = staticmethod(clinical.episode_check)
    billing_rule = forms.ChoiceField(
        choices=[("", "Default for the payer and clinic"), *BillingRule.choices], required=False
    )
    progress_report_clock = forms.NullBooleanField(
        required=False,
        help_text="Unknown: the default (on for Medicare patients of clinics with Medicare rules).",
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or self.cleaned_data
        patient = cleaned.get("patient") or getattr(self.instance, "patient", None)
        if patient is not None:
            rule, clock = clinical.episode_defaults(patient=patient)
            if not cleaned.get("billing_rule"):
                cleaned["billing_rule"] = self.instance.billing_rule or rule
            if cleaned.get("progress_report_clock") is None:
                cleaned["progress_report_clock"] = (
                    clock if self.instance.pk is None else self.instance.progress_report_clock
                )
            self.instance.clinic_id = patient.clinic_id
        return cleaned


@admin.register(EpisodeOfCare)
class EpisodeOfCareAdmin(_ClinicalAdmin):
    form = EpisodeForm
    list_display = [
        "__str__",
        "patient",
        "therapist",
        "status",
        "started_on",
        "ended_on",
        "clinic",
    ]
    list_filter = [ClinicFilter, TherapistFilter, "status", "billing_rule", "started_on"]
    list_select_related = ["patient", "therapist", "clinic"]
    date_hierarchy = "started_on"
    search_fields = ["patient__mrn"]
    autocomplete_fields = ["patient", "therapist"]
    actions = ["discharge_today", "close_today"]
    fields = [
        "patient",
        "therapist",
        "primary_diagnosis",
        "started_on",
        "status",
        "ended_on",
        "billing_rule",
        "progress_report_clock",
        "auth_reference",
        "auth_visits",
        "auth_units",
        "auth_starts_on",
        "auth_ends_on",
    ]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ["status", "ended_on"] if obj is None else ["patient", "status", "ended_on"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.status != EpisodeOfCare.Status.ACTIVE:
            return False  # an ended episode is read-only
        return super().has_change_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: EpisodeOfCare, form: Any, change: bool) -> None:
        values = {n: form.cleaned_data[n] for n in clinical.EPISODE_FIELDS if n in form.fields}
        if change:
            changed = {n: v for n, v in values.items() if n in form.changed_data}
            clinical.episode_update(episode=obj, by=actor(request), **changed)
        else:
            episode = clinical.episode_open(
                patient=form.cleaned_data["patient"], by=actor(request), **values
            )
            _saved(obj, episode)

    def _end(self, request: HttpRequest, queryset: QuerySet[EpisodeOfCare], how: Any) -> None:
        done = cancelled = notified = 0
        for episode in queryset.select_related("clinic"):
            try:
                ended = how(episode=episode, by=actor(request))
            except (ValidationError, ApplicationError) as exc:
                reason = exc.message if isinstance(exc, ApplicationError) else exc.messages[0]
                self.message_user(request, f"{episode}: {reason}", messages.WARNING)
                continue
            done += 1
            cancelled += len(ended.cancelled)
            notified += ended.notified
        told = f" ({notified} patient(s) told by e-mail)" if notified else ""
        self.message_user(
            request,
            f"Ended {done} episode(s)"
            + (f"; cancelled their {cancelled} booked visit(s){told}." if cancelled else "."),
        )

    @admin.action(description="Discharge the selected episodes today")
    def discharge_today(self, request: HttpRequest, queryset: QuerySet[EpisodeOfCare]) -> None:
        self._end(
            request,
            queryset,
            lambda episode, by: clinical.episode_discharge(
                episode=episode, by=by, ended_on=timezone.localdate(timezone=episode.clinic.tz)
            ),
        )

    @admin.action(description="Close the selected episodes today (without discharge)")
    def close_today(self, request: HttpRequest, queryset: QuerySet[EpisodeOfCare]) -> None:
        self._end(request, queryset, clinical.episode_close)


class EvaluationForm(DottedErrorsForm):
    service_check = staticmethod(clinical.evaluation_check)
    based_on_version = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.fields["based_on_version"].initial = self.instance.version

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or self.cleaned_data
        if self.instance.pk is not None:
            current = (
                Evaluation.objects.filter(pk=self.instance.pk)
                .values_list("version", flat=True)
                .first()
            )
            if cleaned.get("based_on_version") != current:
                raise ValidationError(
                    f"Someone saved this evaluation since you opened it (it is now version "
                    f"{current}); reload the page and make your change again."
                )
        if cleaned.get("episode") is not None:
            self.instance.clinic_id = cleaned["episode"].clinic_id
        return cleaned


class EvaluationAddendumInline(ClinicScopedInline):
    """Addenda: append-only, so read-only here (therapists add them through the API/pages)."""

    model = EvaluationAddendum
    fields = ["author", "text", "created_at"]
    readonly_fields = ["author", "text", "created_at"]
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Evaluation)
class EvaluationAdmin(_ClinicalAdmin):
    """Drafts are edited through the services (with their version); signed ones are read-only."""

    form = EvaluationForm
    list_display = ["__str__", "episode", "kind", "status", "performed_on", "author", "version"]
    list_filter = [ClinicFilter, AuthorFilter, "kind", "status", "performed_on"]
    date_hierarchy = "performed_on"
    list_select_related = ["episode", "author"]
    search_fields = ["episode__patient__mrn"]
    autocomplete_fields = ["episode", "author"]
    raw_id_fields = ["visit"]
    inlines = [EvaluationAddendumInline]
    CONTENT = [
        "performed_on",
        "visit",
        "subjective",
        "objective",
        "diagnoses",
        "complexity",
        "assessment",
        "plan",
    ]
    RECORD = ["status", "version", "signed_at", "signed_by", "created_at", "updated_at"]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ["episode", "kind", "author", *self.CONTENT]
        return ["episode", "kind", "author", *self.CONTENT, *self.RECORD, "based_on_version"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return []
        return ["episode", "kind", "author", *self.RECORD]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.status == Evaluation.Status.SIGNED:
            return False  # signed: immutable; corrections are addenda
        return super().has_change_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: Evaluation, form: Any, change: bool) -> None:
        values = {n: form.cleaned_data[n] for n in self.CONTENT}
        if change:
            changed = {n: v for n, v in values.items() if n in form.changed_data}
            try:
                clinical.evaluation_update(
                    evaluation=obj,
                    version=form.cleaned_data["based_on_version"],
                    by=actor(request),
                    **changed,
                )
            except ApplicationError as exc:  # a colleague saved between the check and now
                self.message_user(request, exc.message, messages.ERROR)
        else:
            evaluation = clinical.evaluation_create(
                episode=form.cleaned_data["episode"],
                kind=form.cleaned_data["kind"],
                author=form.cleaned_data["author"],
                by=actor(request),
                **values,
            )
            _saved(obj, evaluation)


class GoalForm(DottedErrorsForm):
    service_check = staticmethod(clinical.goal_check)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or self.cleaned_data
        if cleaned.get("episode") is not None:
            self.instance.clinic_id = cleaned["episode"].clinic_id
        return cleaned


@admin.register(Goal)
class GoalAdmin(_ClinicalAdmin):
    """Goals are added through the service; afterwards only their status changes (kept in the
    history)."""

    form = GoalForm
    list_display = ["__str__", "episode", "term", "description", "status", "target_date"]
    list_filter = [ClinicFilter, "status", "term", "target_date"]
    list_select_related = ["episode"]
    search_fields = ["episode__patient__mrn", "description"]
    autocomplete_fields = ["episode"]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        base = ["episode", "term", "description", "target_date"]
        return base if obj is None else [*base, "status"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [] if obj is None else ["episode", "term", "description", "target_date"]

    def save_model(self, request: HttpRequest, obj: Goal, form: Any, change: bool) -> None:
        if change:
            clinical.goal_update_status(
                goal=obj, status=form.cleaned_data["status"], by=actor(request)
            )
        else:
            goal = clinical.goal_add(
                episode=form.cleaned_data["episode"],
                term=form.cleaned_data["term"],
                description=form.cleaned_data["description"],
                target_date=form.cleaned_data["target_date"],
                by=actor(request),
            )
            _saved(obj, goal)


class OutcomeMeasureForm(DottedErrorsForm):
    version = forms.CharField(
        required=False, max_length=12, help_text="Blank: the instrument's current version."
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "recorded_by" in self.fields:
            del self.fields["recorded_by"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or self.cleaned_data
        if self.instance.pk is not None:  # only "entered in error" may change, and only to on
            if self.instance.entered_in_error and not cleaned.get("entered_in_error"):
                raise ValidationError(
                    {"entered_in_error": "A measure entered in error stays so; record a new one."}
                )
        elif cleaned.get("episode") is not None:
            self.instance.clinic_id = cleaned["episode"].clinic_id
        return cleaned

    def _post_clean(self) -> None:
        super()._post_clean()
        if self.instance.pk is None and not self.errors:
            try:
                clinical.outcome_check(self.instance)
            except ValidationError as exc:
                self._update_errors(exc)


@admin.register(OutcomeMeasure)
class OutcomeMeasureAdmin(_ClinicalAdmin):
    """Measures are recorded through the service and never edited: the only change is marking
    one entered in error (then record the correct one)."""

    form = OutcomeMeasureForm
    list_display = [
        "__str__",
        "episode",
        "instrument",
        "score",
        "recorded_on",
        "recorded_by",
        "entered_in_error",
    ]
    list_filter = [ClinicFilter, RecordedByFilter, "instrument", "entered_in_error", "recorded_on"]
    date_hierarchy = "recorded_on"
    list_select_related = ["episode", "recorded_by"]
    search_fields = ["episode__patient__mrn"]
    autocomplete_fields = ["episode"]
    raw_id_fields = ["evaluation", "visit"]
    NEW = ["episode", "instrument", "version", "answers", "recorded_on", "evaluation", "visit"]
    RECORD = ["score", "recorded_by", "created_at", "updated_at"]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.NEW if obj is None else [*self.NEW, *self.RECORD, "entered_in_error"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [] if obj is None else [*self.NEW, *self.RECORD]

    def save_model(
        self, request: HttpRequest, obj: OutcomeMeasure, form: Any, change: bool
    ) -> None:
        if change:
            if form.cleaned_data.get("entered_in_error"):
                clinical.outcome_mark_entered_in_error(measure=obj, by=actor(request))
            return
        measure = clinical.outcome_record(
            episode=form.cleaned_data["episode"],
            instrument=form.cleaned_data["instrument"],
            version=form.cleaned_data["version"],
            answers=form.cleaned_data["answers"],
            recorded_on=form.cleaned_data["recorded_on"],
            evaluation=form.cleaned_data["evaluation"],
            visit=form.cleaned_data["visit"],
            by=actor(request),
        )
        _saved(obj, measure)


# --- Visits ----------------------------------------------------------------------------------
# Adding a visit here is booking it, through the same service as the API, the pages and the
# tasks (patients.visits.visit_book). The add form runs the booking while it validates, inside
# the admin's transaction, so a conflict, a closed clinic or another clinic's therapist shows as
# an error on the right field and nothing is saved; save_model then has nothing left to do. A
# booked visit is read-only here: it is moved through the reschedule service (API and the front
# desk's pages), and checked in, cancelled or marked a no-show with the actions below, which call
# the state machine's services. Visits are never deleted.


class LocalDateTimeField(forms.SplitDateTimeField):
    """A date and a time on the clinic's wall clock. Django's own field would read them in the
    server's zone; this one stays naive until the form knows the clinic and localizes it there
    (refusing a time skipped or repeated by a DST change)."""

    widget = AdminSplitDateTime

    def compress(self, data_list: Any) -> dt.datetime | None:
        if not data_list:
            return None
        day, at = data_list
        if day in self.empty_values:
            raise ValidationError(self.error_messages["invalid_date"], code="invalid_date")
        if at in self.empty_values:
            raise ValidationError(self.error_messages["invalid_time"], code="invalid_time")
        return dt.datetime.combine(day, at)


class VisitBookingForm(forms.ModelForm):
    """The admin's booking form. `_post_clean` books through `visits.visit_book` once the fields
    are clean; the service's refusals become errors on the form's fields (its `starts_at` is
    `starts` here, its `ends_at` is `duration_minutes`), and the booked row becomes the form's
    instance. VisitAdmin.get_form sets `booked_by` to the signed-in user."""

    starts = LocalDateTimeField(
        label="Starts", help_text="Date and time at the clinic, in the clinic's own time zone."
    )
    duration_minutes = forms.IntegerField(min_value=5, max_value=240, initial=45)

    booked_by: User | None = None
    SERVICE_FIELDS = {"starts_at": "starts", "ends_at": "duration_minutes"}

    class Meta:
        model = Visit
        fields = ["clinic", "patient", "therapist", "room", "kind"]

    def _post_clean(self) -> None:
        super()._post_clean()  # type: ignore[misc]
        if self.errors:
            return
        data = self.cleaned_data
        clinic = data["clinic"]
        try:
            starts_at = visits.local_start(
                clinic=clinic, day=data["starts"].date(), at=data["starts"].time(), field="starts"
            )
            self.instance = visits.visit_book(
                clinic=clinic,
                patient=data["patient"],
                therapist=data["therapist"],
                room=data.get("room"),
                starts_at=starts_at,
                ends_at=starts_at + dt.timedelta(minutes=data["duration_minutes"]),
                kind=data["kind"],
                by=self.booked_by,
            )
        except ValidationError as exc:
            if not hasattr(exc, "error_dict"):
                self.add_error(None, exc)
                return
            for name, reasons in exc.message_dict.items():
                self.add_error(self._form_field(name), reasons)
        except ApplicationError as exc:
            self.add_error(self._form_field(exc.field), exc.message)

    def _form_field(self, name: str | None) -> str | None:
        name = self.SERVICE_FIELDS.get(name or "", name)
        return name if name in self.fields else None


def _clinic_time(moment: dt.datetime, visit: Visit) -> str:
    return moment.astimezone(visit.clinic.tz).strftime("%Y-%m-%d %H:%M %Z")


@admin.register(Visit)
class VisitAdmin(ClinicScopedAdmin):
    form = VisitBookingForm
    list_display = ["local_start", "patient_mrn", "therapist", "room", "kind", "status", "clinic"]
    list_filter = [ClinicFilter, TherapistFilter, "status", "kind", "starts_at"]
    list_select_related = ["clinic", "patient", "therapist", "room"]
    # No date_hierarchy: its DISTINCT over the dates scans a table that grows with every
    # visit; the date filter in the sidebar narrows the list instead.
    search_fields = ["patient__mrn"]
    search_help_text = "Patient MRN."
    autocomplete_fields = ["patient", "therapist", "room"]
    show_full_result_count = False
    actions = ["check_in_visits", "cancel_visits", "mark_no_show"]
    add_fieldsets = [
        (None, {"fields": ["clinic", "patient", "therapist", "room", "kind"]}),
        ("When", {"fields": ["starts", "duration_minutes"]}),
    ]
    view_fieldsets = [
        (None, {"fields": ["clinic", "patient", "therapist", "room", "kind", "status"]}),
        ("When (clinic time)", {"fields": ["local_start", "local_end"]}),
        (
            "Record",
            {
                "fields": [
                    "series",
                    "booked_by",
                    "cancel_reason",
                    "status_changed_at",
                    "created_at",
                    "updated_at",
                ]
            },
        ),
    ]

    @admin.display(description="Starts (clinic time)", ordering="starts_at")
    def local_start(self, visit: Visit) -> str:
        return _clinic_time(visit.starts_at, visit)

    @admin.display(description="Ends (clinic time)", ordering="ends_at")
    def local_end(self, visit: Visit) -> str:
        return _clinic_time(visit.ends_at, visit)

    @admin.display(description="Patient (MRN)", ordering="patient__mrn")
    def patient_mrn(self, visit: Visit) -> str:
        return visit.patient.mrn

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.add_fieldsets if obj is None else self.view_fieldsets

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return []
        return [name for _, options in self.view_fieldsets for name in options["fields"]]

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        if obj is not None:  # a booked visit is shown, not edited
            return super().get_form(request, obj, change=change, form=forms.ModelForm, **kwargs)
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"booked_by": actor(request)})

    def save_model(self, request: HttpRequest, obj: Visit, form: Any, change: bool) -> None:
        """Nothing to save: VisitBookingForm booked the visit through visit_book while it
        validated (in this same transaction), and a booked visit is read-only here."""
        if obj.pk is None:
            raise RuntimeError("A visit is added only through VisitBookingForm.")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None:
            return False  # read-only: moves and status changes go through the services
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # scheduling history is kept: cancel instead

    # --- Actions: the state machine's services, one visit at a time ------------------------

    def _transition(
        self,
        request: HttpRequest,
        queryset: QuerySet[Visit],
        change: Callable[[Visit, User], Visit],
        done: str,
    ) -> None:
        by = actor(request)
        changed = 0
        for visit in queryset.select_related("clinic", "patient"):
            try:
                change(visit, by)
            except ApplicationError as exc:
                refusal = exc.message
            except ValidationError as exc:
                refusal = "; ".join(exc.messages)
            else:
                changed += 1
                continue
            self.message_user(
                request,
                f"{visit.patient.mrn} at {_clinic_time(visit.starts_at, visit)}: {refusal}",
                messages.WARNING,
            )
        self.message_user(request, f"{done} {changed} visit(s).")

    @admin.action(description="Check in the selected visits", permissions=["change"])
    def check_in_visits(self, request: HttpRequest, queryset: QuerySet[Visit]) -> None:
        self._transition(
            request, queryset, lambda v, by: visits.visit_check_in(visit=v, by=by), "Checked in"
        )

    @admin.action(description="Cancel the selected visits", permissions=["change"])
    def cancel_visits(self, request: HttpRequest, queryset: QuerySet[Visit]) -> None:
        self._transition(
            request,
            queryset,
            lambda v, by: visits.visit_cancel(visit=v, by=by, reason="Cancelled in the admin."),
            "Cancelled",
        )

    @admin.action(description="Mark the selected visits as no-shows", permissions=["change"])
    def mark_no_show(self, request: HttpRequest, queryset: QuerySet[Visit]) -> None:
        self._transition(
            request, queryset, lambda v, by: visits.visit_no_show(visit=v, by=by), "Marked"
        )


class _ReadOnlyRecordAdmin(ClinicScopedAdmin):
    """Rows written by the services only (series by the booking service, addenda by the
    therapists): listed and shown here, never added, changed or deleted. They keep no
    simple-history table (they never change): Django's own log is their history."""

    object_history_template = None
    history_view = admin.ModelAdmin.history_view

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(VisitSeries)
class VisitSeriesAdmin(_ReadOnlyRecordAdmin):
    """Recurring bookings; their visits are ordinary visits (cancel those one by one)."""

    list_display = [
        "__str__",
        "patient_mrn",
        "therapist",
        "first_day",
        "local_time",
        "duration_minutes",
        "occurrences",
        "clinic",
    ]
    list_filter = [ClinicFilter, TherapistFilter, "first_day"]
    list_select_related = ["clinic", "patient", "therapist"]
    search_fields = ["patient__mrn"]
    search_help_text = "Patient MRN."
    date_hierarchy = "first_day"

    @admin.display(description="Patient (MRN)", ordering="patient__mrn")
    def patient_mrn(self, series: VisitSeries) -> str:
        return series.patient.mrn


@admin.register(EvaluationAddendum)
class EvaluationAddendumAdmin(_ReadOnlyRecordAdmin):
    """Addenda to signed evaluations: append-only (therapists add them through the API)."""

    list_display = ["__str__", "evaluation", "author", "created_at", "clinic"]
    list_filter = [ClinicFilter, AuthorFilter, "created_at"]
    list_select_related = ["clinic", "evaluation", "author"]
    search_fields = ["evaluation__episode__patient__mrn"]
    search_help_text = "Patient MRN."
    date_hierarchy = "created_at"
    readonly_fields = ["evaluation", "author", "text", "created_at"]
    fields = readonly_fields


# --- Staff and clinics, extended with the calendar -------------------------------------------
# clinic/admin.py cannot import the calendar (clinic <- patients), so the two actions that reach
# into it are added here: deactivating staff lists the future visits to rebook; closing a clinic
# for a day cancels that day's visits and tells the patients.

MAX_LISTED_VISITS = 500


def _future_visits_of(request: HttpRequest, users: list[User]) -> QuerySet[Visit]:
    return (
        scope_for_admin(Visit.objects.live(), request)
        .filter(therapist__in=users, starts_at__gte=timezone.now())
        .select_related("clinic", "patient", "therapist", "room")
        .order_by("starts_at", "pk")
    )


class StaffAdmin(clinic_admin.UserAdmin):
    actions = ["deactivate_staff"]

    @admin.action(
        description="Deactivate the selected staff (end their roles here)", permissions=["change"]
    )
    def deactivate_staff(self, request: HttpRequest, queryset: QuerySet[User]) -> HttpResponse:
        """End the selected people's roles in the clinics the user administers (through the
        staff service; roles elsewhere stay), after a page that lists what ends and the future
        visits that will need another therapist; the result page lists those visits again."""
        users = [u for u in queryset.order_by("pk") if not u.is_superuser and u != request.user]
        skipped = queryset.count() - len(users)
        memberships = list(
            scope_for_admin(Membership.objects.all(), request)
            .filter(user__in=users, active=True)
            .select_related("user", "clinic")
            .order_by("user__last_name", "user__username", "clinic__name", "role")
        )
        future = _future_visits_of(request, users)
        visits_listed = list(future[: MAX_LISTED_VISITS + 1])
        done = "apply" in request.POST
        if done:
            by = actor(request)
            with transaction.atomic():
                for membership in memberships:
                    clinic_services.membership_deactivate(membership=membership, by=by)
            count = (
                str(len(visits_listed))
                if len(visits_listed) <= MAX_LISTED_VISITS
                else f"More than {MAX_LISTED_VISITS}"
            )
            self.message_user(
                request,
                f"Ended {len(memberships)} role(s) of {len(users)} member(s) of staff. "
                f"{count} future visit(s) need another therapist or time.",
            )
        if skipped:
            self.message_user(
                request,
                f"{skipped} selected account(s) left alone: yourself and practice superusers "
                "are not deactivated here.",
                messages.WARNING,
            )
        return TemplateResponse(
            request,
            "admin/clinic/user/deactivate.html",
            {
                **self.admin_site.each_context(request),
                "title": "Staff deactivated" if done else "Deactivate staff",
                "opts": self.model._meta,
                "done": done,
                "people": users,
                "memberships": memberships,
                "visits": [
                    (visit, _clinic_time(visit.starts_at, visit))
                    for visit in visits_listed[:MAX_LISTED_VISITS]
                ],
                "more_visits": len(visits_listed) > MAX_LISTED_VISITS,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                "visit_changelist": reverse("admin:patients_visit_changelist"),
            },
        )


class CloseForDayForm(forms.Form):
    day = forms.DateField(widget=AdminDateWidget, help_text="The clinic's own calendar date.")
    reason = forms.CharField(max_length=200, help_text="Told to the patients, e.g. 'Power cut'.")
    notify = forms.BooleanField(
        required=False,
        initial=True,
        label="Tell the patients by e-mail",
        help_text="Only patients who agreed to reminders by e-mail.",
    )


class ClinicWithCalendarAdmin(clinic_admin.ClinicAdmin):
    actions = ["close_for_day"]

    @admin.action(description="Close the selected clinics for a day", permissions=["change"])
    def close_for_day(
        self, request: HttpRequest, queryset: QuerySet[Clinic]
    ) -> HttpResponse | None:
        """Ask for the day and the reason, show each clinic's live visits that day, then record
        the closures and cancel those visits, all in one transaction (all clinics or none)."""
        clinics = list(queryset.order_by("name"))
        submitted = "day" in request.POST
        form = CloseForDayForm(request.POST if submitted else None)
        preview: list[tuple[Clinic, list[tuple[Visit, str]]]] = []
        if form.is_valid():
            day, reason = form.cleaned_data["day"], form.cleaned_data["reason"]
            problems: list[str] = []
            for clinic in clinics:
                try:
                    closures.clinic_close_day_check(clinic=clinic, day=day, reason=reason)
                except ValidationError as exc:
                    problems.extend(f"{clinic.name}: {m}" for m in exc.messages)
            if problems:
                form.add_error("day", problems)
            elif "apply" in request.POST:
                by = actor(request)
                with transaction.atomic():
                    results = [
                        closures.clinic_close_day(
                            clinic=clinic,
                            day=day,
                            reason=reason,
                            by=by,
                            notify=form.cleaned_data["notify"],
                        )
                        for clinic in clinics
                    ]
                for clinic, result in zip(clinics, results, strict=True):
                    self.message_user(
                        request,
                        f"{clinic.name} closed on {day:%Y-%m-%d}: {len(result.cancelled)} "
                        f"visit(s) cancelled, {result.notified} patient(s) to be told by e-mail.",
                    )
                    for visit, refusal in result.refused:
                        self.message_user(
                            request,
                            f"{visit.patient.mrn} at {_clinic_time(visit.starts_at, visit)}: "
                            f"{refusal}",
                            messages.WARNING,
                        )
                return None
            else:
                preview = [
                    (
                        clinic,
                        [
                            (visit, _clinic_time(visit.starts_at, visit))
                            for visit in closures.visits_on_day(clinic=clinic, day=day)
                        ],
                    )
                    for clinic in clinics
                ]
        return TemplateResponse(
            request,
            "admin/clinic/clinic/close_for_day.html",
            {
                **self.admin_site.each_context(request),
                "title": "Close clinics for a day",
                "opts": self.model._meta,
                "form": form,
                "clinics": clinics,
                "preview": preview,
                "media": self.media + form.media,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            },
        )


admin.site.unregister(User)
admin.site.register(User, StaffAdmin)
admin.site.unregister(Clinic)
admin.site.register(Clinic, ClinicWithCalendarAdmin)


@admin.register(PatientMessage)
class PatientMessageAdmin(_ReadOnlyRecordAdmin):
    """E-mails to patients (reminders, nudges, cancellation notices): what went, when, and what
    failed. Read-only: the rows are what keeps a message from going twice."""

    list_display = ("created_at", "clinic", "kind", "status", "patient", "visit", "sent_at")
    list_filter = (ClinicFilter, "kind", "status", "created_at")
    list_select_related = ("clinic", "patient", "visit")
    # No date_hierarchy: its DISTINCT over the dates scans a table that grows with every
    # visit; the date filter in the sidebar narrows the list instead.
    search_fields = ("=patient__mrn",)
    readonly_fields = (
        "clinic",
        "patient",
        "kind",
        "visit",
        "episode",
        "status",
        "attempts",
        "error",
        "created_at",
        "sent_at",
    )
    fields = readonly_fields
    actions = None
