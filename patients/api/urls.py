from django.urls import path, re_path
from rest_framework.routers import SimpleRouter

from clinic.api.base import CLINIC_URL
from patients.api import clinical_views as cv
from patients.api import views, visit_views

PATIENT_URL = f"{CLINIC_URL}/patients/(?P<patient_id>[^/.]+)"
EPISODE_URL = f"{CLINIC_URL}/episodes/(?P<episode_id>[^/.]+)"

router = SimpleRouter()
router.register(f"{CLINIC_URL}/patients", views.PatientViewSet, basename="patient")
router.register(f"{PATIENT_URL}/diagnoses", views.DiagnosisViewSet, basename="diagnosis")
router.register(f"{PATIENT_URL}/precautions", views.PrecautionViewSet, basename="precaution")
router.register(f"{CLINIC_URL}/visits", visit_views.VisitViewSet, basename="visit")
# The clinical record: collections under their parent, each row at one flat URL.
router.register(f"{PATIENT_URL}/episodes", cv.PatientEpisodeViewSet, basename="patient-episode")
router.register(f"{CLINIC_URL}/episodes", cv.EpisodeViewSet, basename="episode")
router.register(
    f"{EPISODE_URL}/evaluations", cv.EpisodeEvaluationViewSet, basename="episode-evaluation"
)
router.register(f"{CLINIC_URL}/evaluations", cv.EvaluationViewSet, basename="evaluation")
router.register(
    f"{CLINIC_URL}/evaluations/(?P<evaluation_id>[^/.]+)/addenda",
    cv.AddendumViewSet,
    basename="evaluation-addendum",
)
router.register(f"{EPISODE_URL}/goals", cv.EpisodeGoalViewSet, basename="episode-goal")
router.register(f"{CLINIC_URL}/goals", cv.GoalViewSet, basename="goal")
router.register(f"{EPISODE_URL}/outcomes", cv.EpisodeOutcomeViewSet, basename="episode-outcome")
router.register(f"{CLINIC_URL}/outcomes", cv.OutcomeViewSet, basename="outcome")

urlpatterns = [
    path("precaution-kinds/", views.PrecautionKindListApi.as_view(), name="precaution-kinds"),
    re_path(rf"^{CLINIC_URL}/slots/$", visit_views.SlotListApi.as_view(), name="slots"),
    re_path(rf"^{CLINIC_URL}/calendar/$", visit_views.CalendarApi.as_view(), name="calendar"),
    re_path(
        rf"^{CLINIC_URL}/series/preview/$",
        visit_views.SeriesPreviewApi.as_view(),
        name="series-preview",
    ),
    re_path(rf"^{CLINIC_URL}/series/$", visit_views.SeriesBookApi.as_view(), name="series-book"),
    re_path(
        rf"^{CLINIC_URL}/no-next-visit/$",
        visit_views.NoNextVisitListApi.as_view(),
        name="no-next-visit",
    ),
    *router.urls,
]
