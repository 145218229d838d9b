"""Mounted at /api/v1/catalogue/ by the project's urls."""

from rest_framework.routers import SimpleRouter

from programs.api import views

router = SimpleRouter()
router.register("modalities", views.ModalityViewSet, basename="modality")
router.register("exercises", views.ExerciseViewSet, basename="exercise")

urlpatterns = router.urls
