"""The clinic-scoped routes of plans of care, treatment notes, compliance and the
contraindication check; mounted at /api/v1/ by the project's urls (clinic.urls).

    episodes/{episode_id}/plans/                 GET list, POST establish the plan
    plans/{id}/                                  GET, PATCH the physician's certification
    plans/{id}/recertify/                        POST a new version
    visits/{visit_id}/note/                      GET, PUT (create or replace), PATCH the draft
    visits/{visit_id}/note/sign/                 POST
    visits/{visit_id}/note/addenda/              GET list, POST add (signed notes)
    visits/{visit_id}/note/complete/             POST note (+ signature) and completion at once
    episodes/{episode_id}/compliance/            GET clocks and flags
    episodes/{episode_id}/visits/                POST book a visit; answers it with the clocks
    patients/{patient_id}/contraindications/check/   POST
    visits/{visit_id}/summary/                   GET the progress summary (background job)
    episodes/{episode_id}/summaries/             GET the episode's summaries, newest first
    followups/?status=needs_front_desk           GET follow-ups (the front desk's work list)
    patients/{id}/export/                        GET the patient's record export (programs.export)

and the home exercise programmes' routes of programs.api.home_urls.
"""

from django.urls import re_path
from rest_framework.routers import SimpleRouter

from clinic.api.base import CLINIC_URL
from programs.api import care_views as v
from programs.api import export_views, home_urls, job_views

EPISODE_URL = f"{CLINIC_URL}/episodes/(?P<episode_id>[^/.]+)"
VISIT_NOTE_URL = f"{CLINIC_URL}/visits/(?P<visit_id>[^/.]+)/note"
PATIENT_URL = f"{CLINIC_URL}/patients/(?P<patient_id>[^/.]+)"

router = SimpleRouter()
router.register(f"{EPISODE_URL}/plans", v.EpisodePlanViewSet, basename="episode-plan")
router.register(f"{CLINIC_URL}/plans", v.PlanViewSet, basename="plan")

urlpatterns = [
    re_path(
        rf"^{VISIT_NOTE_URL}/$",
        v.TreatmentNoteViewSet.as_view(
            {"get": "retrieve", "put": "update", "patch": "partial_update"}
        ),
        name="treatment-note",
    ),
    re_path(
        rf"^{VISIT_NOTE_URL}/sign/$",
        v.TreatmentNoteViewSet.as_view({"post": "sign"}),
        name="treatment-note-sign",
    ),
    re_path(
        rf"^{VISIT_NOTE_URL}/addenda/$",
        v.TreatmentNoteViewSet.as_view({"get": "addenda", "post": "add_addendum"}),
        name="treatment-note-addenda",
    ),
    re_path(
        rf"^{VISIT_NOTE_URL}/complete/$",
        v.TreatmentCompleteViewSet.as_view({"post": "complete"}),
        name="treatment-note-complete",
    ),
    re_path(
        rf"^{EPISODE_URL}/compliance/$",
        v.EpisodeComplianceViewSet.as_view({"get": "retrieve"}),
        name="episode-compliance",
    ),
    re_path(
        rf"^{EPISODE_URL}/visits/$",
        v.EpisodeVisitBookViewSet.as_view({"post": "book"}),
        name="episode-visit-book",
    ),
    re_path(
        rf"^{PATIENT_URL}/contraindications/check/$",
        v.ContraindicationCheckViewSet.as_view({"post": "run_check"}),
        name="contraindication-check",
    ),
    re_path(
        rf"^{CLINIC_URL}/visits/(?P<visit_id>[^/.]+)/summary/$",
        job_views.VisitSummaryViewSet.as_view({"get": "retrieve"}),
        name="visit-progress-summary",
    ),
    re_path(
        rf"^{EPISODE_URL}/summaries/$",
        job_views.EpisodeSummaryViewSet.as_view({"get": "list"}),
        name="episode-progress-summaries",
    ),
    re_path(
        rf"^{CLINIC_URL}/followups/$",
        job_views.FollowUpViewSet.as_view({"get": "list"}),
        name="followup-list",
    ),
    re_path(
        rf"^{CLINIC_URL}/patients/(?P<public_id>[^/.]+)/export/$",
        export_views.PatientExportViewSet.as_view({"get": "retrieve"}),
        name="patient-export",
    ),
    *router.urls,
    *home_urls.urlpatterns,  # home exercise programmes
]
