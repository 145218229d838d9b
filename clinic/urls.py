from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from clinic import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("home-programme/", include("programs.patient_link")),  # patient links, no login
    path("", include(("clinic.page_urls", "pages"))),
    # Browsers ask for /favicon.ico on pages that name none (the admin, the handout).
    path("favicon.ico", views.favicon, name="favicon"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("clinic.api.urls")),
    path("api/v1/", include("patients.api.urls")),
    path("api/v1/catalogue/", include("programs.api.urls")),
    path("api/v1/", include("programs.api.care_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="swagger-ui"),
]
