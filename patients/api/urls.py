from django.urls import path, re_path
from rest_framework.routers import SimpleRouter

from clinic.api.base import CLINIC_URL
from patients.api import views, visit_views

PATIENT_URL = f"{CLINIC_URL}/patients/(?P<patient_id>[^/.]+)"

router = SimpleRouter()
router.register(f"{CLINIC_URL}/patients", views.PatientViewSet, basename="patient")
router.register(f"{PATIENT_URL}/diagnoses", views.DiagnosisViewSet, basename="diagnosis")
router.register(f"{PATIENT_URL}/precautions", views.PrecautionViewSet, basename="precaution")
router.register(f"{CLINIC_URL}/visits", visit_views.VisitViewSet, basename="visit")

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
    *router.urls,
]
