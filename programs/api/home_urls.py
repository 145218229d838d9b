"""The clinic-scoped routes of home exercise programmes; mounted at /api/v1/ through
programs.api.care_urls.

    episodes/{episode_id}/home-programs/          GET list, POST prescribe (version 1)
    home-programs/{id}/                           GET (current version), PUT/PATCH new version
    home-programs/{id}/versions/                  GET every version with its items
    home-programs/{id}/archive/                   POST
    home-programs/{id}/handout.html               GET print view (?version=n)
    home-programs/{id}/handout.pdf                GET PDF (?version=n)
    home-programs/{id}/links/                     GET list, POST a new patient link
    home-program-links/{id}/revoke/               POST
    home-programs/{id}/sessions/                  GET list, POST record one for the patient
    home-programs/{id}/adherence/?since=&until=   GET per ISO week and in all
    home-programs/{id}/send-email/                POST e-mail the handout (background job)
"""

from django.urls import re_path
from rest_framework.routers import SimpleRouter

from clinic.api.base import CLINIC_URL
from programs.api import home_views as v

EPISODE_URL = f"{CLINIC_URL}/episodes/(?P<episode_id>[^/.]+)"
PROGRAM_URL = f"{CLINIC_URL}/home-programs/(?P<public_id>[^/.]+)"

router = SimpleRouter()
router.register(
    f"{EPISODE_URL}/home-programs", v.EpisodeHomeProgramViewSet, basename="episode-home-program"
)
router.register(f"{CLINIC_URL}/home-programs", v.HomeProgramViewSet, basename="home-program")
router.register(
    f"{CLINIC_URL}/home-program-links", v.HomeProgramLinkViewSet, basename="home-program-link"
)

urlpatterns = [
    re_path(
        rf"^{PROGRAM_URL}/handout\.html$",
        v.HomeProgramViewSet.as_view({"get": "handout_html"}),
        name="home-program-handout-html",
    ),
    re_path(
        rf"^{PROGRAM_URL}/handout\.pdf$",
        v.HomeProgramViewSet.as_view({"get": "handout_pdf"}),
        name="home-program-handout-pdf",
    ),
    *router.urls,
]
