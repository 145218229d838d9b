"""Staff pages of the programs side, under /c/<clinic public id>/ in the "pages" namespace."""

from __future__ import annotations

from django.urls import path

from programs import views

urlpatterns = [
    path("worklist/", views.WorklistView.as_view(), name="worklist"),
    path("patients/<uuid:patient_id>/", views.ChartView.as_view(), name="chart"),
    path("visits/<uuid:visit_id>/note/", views.TreatmentNoteView.as_view(), name="note"),
    path(
        "visits/<uuid:visit_id>/note/preview/",
        views.NotePreviewView.as_view(),
        name="note_preview",
    ),
    path(
        "visits/<uuid:visit_id>/note/row/<slug:kind>/",
        views.NoteRowView.as_view(),
        name="note_row",
    ),
    path("frontdesk/to-book/", views.FrontDeskListsView.as_view(), name="frontdesk_lists"),
    path(
        "episodes/<uuid:episode_id>/home-programme/",
        views.HomeProgrammeView.as_view(),
        name="home_programme",
    ),
    path(
        "episodes/<uuid:episode_id>/home-programme/preview/",
        views.HomeProgrammePreviewView.as_view(),
        name="home_programme_preview",
    ),
    path(
        "home-programmes/<uuid:program_id>/links/",
        views.HomeLinkCreateView.as_view(),
        name="home_link_new",
    ),
    path(
        "home-programmes/<uuid:program_id>/handout/",
        views.HandoutView.as_view(),
        name="handout",
    ),
    path(
        "home-programmes/<uuid:program_id>/handout.pdf",
        views.HandoutView.as_view(),
        {"fmt": "pdf"},
        name="handout_pdf",
    ),
]
