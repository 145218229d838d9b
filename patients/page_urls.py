"""Staff pages of the patients side, under /c/<clinic public id>/ in the "pages" namespace."""

from __future__ import annotations

from django.urls import path, re_path

from patients import views

urlpatterns = [
    path("frontdesk/", views.FrontDeskDayView.as_view(), name="frontdesk"),
    path(
        "frontdesk/week/<uuid:therapist_id>/",
        views.TherapistWeekView.as_view(),
        name="therapist_week",
    ),
    path("visits/book/", views.BookingView.as_view(), name="book"),
    path("visits/<uuid:visit_id>/", views.VisitPanelView.as_view(), name="visit"),
    path("visits/<uuid:visit_id>/move/", views.VisitMoveView.as_view(), name="visit_move"),
    re_path(
        r"^visits/(?P<visit_id>[0-9a-f-]{36})/(?P<action>check-in|no-show|cancel)/$",
        views.VisitActionView.as_view(),
        name="visit_action",
    ),
    path("patients/search/", views.PatientSearchView.as_view(), name="patient_search"),
    path("patients/new/", views.QuickPatientView.as_view(), name="patient_new"),
    path(
        "patients/<uuid:patient_id>/episodes/new/",
        views.EpisodeOpenView.as_view(),
        name="episode_open",
    ),
    path(
        "episodes/<uuid:episode_id>/evaluations/new/",
        views.EvaluationCreateView.as_view(),
        name="evaluation_new",
    ),
    path("evaluations/<uuid:evaluation_id>/", views.EvaluationView.as_view(), name="evaluation"),
    path(
        "evaluations/<uuid:evaluation_id>/sign/",
        views.EvaluationSignView.as_view(),
        name="evaluation_sign",
    ),
    path(
        "evaluations/<uuid:evaluation_id>/outcomes/<slug:instrument>/",
        views.OutcomeRecordView.as_view(),
        name="outcome_record",
    ),
    path(
        "outcomes/score/<slug:instrument>/", views.OutcomeScoreView.as_view(), name="outcome_score"
    ),
]
