"""The patient's pages of a home programme, opened by a patient link (no login).

    /home-programme/<token>/               GET the current programme and the session form
    /home-programme/<token>/sessions/      POST record a session (then back to the page)
    /home-programme/<token>/thanks/        GET the page, with "session recorded"
    /home-programme/<token>/handout.pdf    GET the printable handout

The token is the link's signed public id, in the path: no patient data is in the URL, and a
tampered token is a 404. An expired or revoked link, or one of an archived programme, answers
410 with a page saying what to do. Every opening is logged by programs.home with ids only.
The pages load one stylesheet from the static files and no script, as the Content Security
Policy requires; responses are not cached, not indexed and send a referrer to this site only
(the token must not leak into another site's logs).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse
from django.utils import timezone
from django.views import View

from clinic.errors import ConflictError
from programs import handouts, home

TEMPLATE = "programs/patient_link/programme.html"
REFUSED_TEMPLATE = "programs/patient_link/refused.html"
RECENT_SESSIONS = 5


def _private(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"
    # Same origin only: the token never leaves in a Referer to another site, and the form's POST
    # still carries its Origin (with no-referrer browsers send "Origin: null", which the CSRF
    # check refuses).
    response["Referrer-Policy"] = "same-origin"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _refused(request: HttpRequest, exc: home.LinkRefused) -> HttpResponse:
    response = render(
        request,
        REFUSED_TEMPLATE,
        {"message": exc.message, "code": exc.code},
        status=exc.status_code,
    )
    return _private(response)


def _page(
    request: HttpRequest,
    opened: home.OpenedLink,
    token: str,
    *,
    status: int = 200,
    errors: dict[str, list[str]] | None = None,
    notice: str = "",
    saved: bool = False,
    posted: Any = None,
) -> HttpResponse:
    program, version = opened.program, opened.version
    clinic = program.clinic
    today = timezone.localdate(timezone=clinic.tz)
    week = home.home_program_adherence(
        program=program, since=today - dt.timedelta(days=today.weekday())
    )
    recent = list(home.home_session_list(program=program).filter(version=version)[:RECENT_SESSIONS])
    ticked = set(posted.getlist("items")) if posted is not None else set()
    context = {
        "token": token,
        "clinic": clinic,
        "first_name": program.episode.patient.first_name,
        "version": version,
        "items": [
            {
                "id": str(item.public_id),
                "name": item.exercise.name,
                "instructions": item.exercise.instructions,
                "dose": item.dose_text,
                "notes": item.notes,
                "ticked": str(item.public_id) in ticked,
            }
            for item in version.items.all()
        ],
        "therapist_name": version.prescribed_by.get_full_name() or version.prescribed_by.username,
        "this_week": week.weeks[-1] if week.weeks else None,
        "recent": recent,
        "today": today,
        "min_day": version.starts_on,
        "pain_scale": range(11),
        "comment_max": home.COMMENT_MAX,
        "errors": [  # pairs: a dict with an "items" key would hide .items in the template
            (field, message) for field, messages in (errors or {}).items() for message in messages
        ],
        "notice": notice,
        "saved": saved,
        "form": {
            "performed_on": posted.get("performed_on", "") if posted is not None else "",
            "pain": posted.get("pain", "") if posted is not None else "",
            "comment": posted.get("comment", "") if posted is not None else "",
        },
        "session_url": reverse("home-link-session", kwargs={"token": token}),
        "handout_url": reverse("home-link-handout", kwargs={"token": token}),
    }
    return _private(render(request, TEMPLATE, context, status=status))


class _LinkPage(View):
    """Base of the link's pages: the token in the path opens the programme, or the page says
    why it does not."""

    http_method_names = ["get"]
    count_opening = False

    def open(self, request: HttpRequest, token: str) -> home.OpenedLink | HttpResponse:
        try:
            return home.home_link_open(token=token, count=self.count_opening)
        except home.LinkRefused as exc:
            return _refused(request, exc)


class ProgrammePage(_LinkPage):
    """The current programme and the session form; each opening is counted and logged."""

    count_opening = True

    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        opened = self.open(request, token)
        if isinstance(opened, HttpResponse):
            return opened
        return _page(request, opened, token)


class ProgrammeThanks(_LinkPage):
    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        opened = self.open(request, token)
        if isinstance(opened, HttpResponse):
            return opened
        return _page(request, opened, token, saved=True)


def _version_number(value: Any) -> int | None:
    text = str(value or "").strip()
    return int(text) if text.isdigit() else None


class SessionRecord(_LinkPage):
    """The form's POST (CSRF-protected by the middleware): record the session, then back to
    the page; bad input shows the page again with the errors (400), nothing saved."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, token: str) -> HttpResponse:
        opened = self.open(request, token)
        if isinstance(opened, HttpResponse):
            return opened
        posted = request.POST
        try:
            home.home_session_record(
                program=opened.program,
                link=opened.link,
                version=_version_number(posted.get("version")),
                performed_on=posted.get("performed_on", ""),
                items=posted.getlist("items"),
                pain=posted.get("pain") or None,
                comment=posted.get("comment", ""),
            )
        except home.LinkRefused as exc:
            return _refused(request, exc)
        except ValidationError as exc:
            return _page(request, opened, token, status=400, errors=exc.message_dict, posted=posted)
        except ConflictError as exc:
            try:
                fresh = home.home_link_open(token=token, count=False)
            except home.LinkRefused as gone:
                return _refused(request, gone)
            return _page(request, fresh, token, status=409, notice=exc.message)
        return _private(HttpResponseRedirect(reverse("home-link-thanks", kwargs={"token": token})))


class HandoutPdf(_LinkPage):
    """The printable handout of the current version."""

    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        opened = self.open(request, token)
        if isinstance(opened, HttpResponse):
            return opened
        version = handouts.handout_version_get(version_id=opened.version.pk)
        if version is None:  # archived between the two reads
            return _refused(request, home.LinkUnknown("This link is not valid."))
        response = HttpResponse(handouts.handout_pdf(version), content_type="application/pdf")
        response["Content-Disposition"] = (
            f'inline; filename="home-programme-v{version.version}.pdf"'
        )
        return _private(response)


urlpatterns = [
    path("<str:token>/", ProgrammePage.as_view(), name="home-link-page"),
    path("<str:token>/thanks/", ProgrammeThanks.as_view(), name="home-link-thanks"),
    path("<str:token>/sessions/", SessionRecord.as_view(), name="home-link-session"),
    path("<str:token>/handout.pdf", HandoutPdf.as_view(), name="home-link-handout"),
]
