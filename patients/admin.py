"""Admin for patients (scoped to the clinics the user administers), their conditions, the
precaution vocabulary, transfer between clinics and CSV import."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from clinic.admin_base import (
    ClinicFilter,
    ClinicScopedAdmin,
    ClinicScopedInline,
    ServiceCheckedForm,
    scope_for_admin,
)
from clinic.admin_site import administers_any_clinic
from clinic.models import Clinic
from clinic.records import actor
from patients import services
from patients.imports import patient_import, patient_import_preview
from patients.models import Diagnosis, Patient, Precaution, PrecautionKind


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
    list_filter = [ClinicFilter, ArchivedFilter, "payer_type"]
    list_select_related = ["clinic"]
    search_fields = ["mrn"]  # the search itself is Patient.objects.matching (names, dates, phones)
    search_help_text = "Name, date of birth (YYYY-MM-DD), MRN or phone."
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
    list_filter = [ClinicFilter]
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
    list_filter = [ClinicFilter, "kind"]
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
