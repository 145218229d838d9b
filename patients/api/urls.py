from django.urls import path
from rest_framework.routers import SimpleRouter

from clinic.api.base import CLINIC_URL
from patients.api import views

PATIENT_URL = f"{CLINIC_URL}/patients/(?P<patient_id>[^/.]+)"

router = SimpleRouter()
router.register(f"{CLINIC_URL}/patients", views.PatientViewSet, basename="patient")
router.register(f"{PATIENT_URL}/diagnoses", views.DiagnosisViewSet, basename="diagnosis")
router.register(f"{PATIENT_URL}/precautions", views.PrecautionViewSet, basename="precaution")

urlpatterns = [
    path("precaution-kinds/", views.PrecautionKindListApi.as_view(), name="precaution-kinds"),
    *router.urls,
]
