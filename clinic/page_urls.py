"""The staff pages, all in the URL namespace "pages": signing in and out, then everything of one
clinic under /c/<clinic public id>/ (patients.page_urls, programs.page_urls)."""

from __future__ import annotations

from django.urls import include, path

from clinic import views

urlpatterns = [
    path("login/", views.PageLoginView.as_view(), name="login"),
    path("logout/", views.PageLogoutView.as_view(), name="logout"),
    path("c/<uuid:clinic_id>/", views.ClinicHomeView.as_view(), name="clinic_home"),
    path("c/<uuid:clinic_id>/", include("patients.page_urls")),
    path("c/<uuid:clinic_id>/", include("programs.page_urls")),
]
