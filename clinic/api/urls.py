from django.urls import path
from rest_framework.routers import SimpleRouter

from clinic.api import views
from clinic.api.base import CLINIC_URL

router = SimpleRouter()
router.register("clinics", views.ClinicViewSet, basename="clinic")
router.register(f"{CLINIC_URL}/rooms", views.RoomViewSet, basename="room")
router.register(f"{CLINIC_URL}/staff", views.StaffViewSet, basename="staff")
router.register(f"{CLINIC_URL}/hours", views.OpeningHoursViewSet, basename="opening-hours")
router.register(f"{CLINIC_URL}/closures", views.ClosureViewSet, basename="closure")
router.register(f"{CLINIC_URL}/working-hours", views.WorkingHoursViewSet, basename="working-hours")
router.register(f"{CLINIC_URL}/time-off", views.TimeOffViewSet, basename="time-off")

urlpatterns = [
    path("auth/token/", views.TokenApi.as_view(), name="auth-token"),
    path("me/", views.MeApi.as_view(), name="me"),
    *router.urls,
]
