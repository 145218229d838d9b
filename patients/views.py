"""Staff pages on the patients side: the front desk's day calendar and a therapist's week,
booking (patient search as you type, quick new patient), the visit panel (check in, cancel,
no-show, move), opening an episode, the evaluation form with its outcome questionnaires scored
as they are filled in.

Views parse, call one service or selector, and render; the rules are the services' (the same
ones the API calls). Each view declares the capability it needs (clinic.pages). Partial
responses for htmx requests, whole pages otherwise, so every page also works without script.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from clinic.access import access_record
from clinic.capabilities import Capability
from clinic.models import AccessLog, TimeOff, User, WorkingHours
from clinic.pages import (
    SERVICE_EXCEPTIONS,
    STATUS_INVALID,
    ClinicPageMixin,
    ClinicPageView,
    form_errors_from,
    service_errors,
)
from clinic.selectors import closure_list, opening_hours_list, room_list
from patients import clinical, outcomes, selectors, services, visits
from patients.clinical_selectors import (
    episode_get,
    episode_list,
    evaluation_get,
    outcome_list,
    outcome_score,
)
from patients.forms import (
    DEFAULT_DURATION,
    INSTRUMENT_CODES,
    PSFS_ROWS,
    BookingForm,
    CancelForm,
    EpisodeOpenForm,
    EvaluationCreateForm,
    EvaluationForm,
    MoveForm,
    PatientSearchForm,
    QuickPatientForm,
    answers_from,
)
from patients.models import EpisodeOfCare, Evaluation, Patient, Visit
from patients.page_calendar import STATUS_LEGEND, Column, build_rows, row_range
from patients.scheduling import Interval, intersect, local_day_bounds, wall_blocks

SEARCH_LIMIT = 10
CALENDAR_CHANGED = "calendar-changed"


def _today(clinic: Any) -> dt.date:
    return timezone.localdate(timezone=clinic.tz)


def _day_from(request: HttpRequest, clinic: Any) -> tuple[dt.date, str]:
    """The `date` of the query string (a calendar day, not patient data), else today."""
    raw = request.GET.get("date", "")
    if not raw:
        return _today(clinic), ""
    try:
        return dt.date.fromisoformat(raw), ""
    except ValueError:
        return _today(clinic), f"{raw[:20]!r} is not a date (YYYY-MM-DD); showing today."


def _therapists(clinic: Any) -> Any:
    return (
        User.objects.therapists(clinic)
        .filter(is_active=True)
        .order_by("last_name", "first_name", "pk")
    )


def _rooms(clinic: Any) -> Any:
    return room_list(clinic=clinic).filter(active=True)


def _away(clinic: Any, therapist_ids: list[int], start: dt.datetime, end: dt.datetime) -> Any:
    return TimeOff.objects.filter(
        therapist_id__in=therapist_ids, starts_at__lt=end, ends_at__gt=start
    ).values_list("therapist_id", "starts_at", "ends_at")


class _PanelMixin(ClinicPageMixin):
    """Views whose answer is a panel beside the calendar: the partial for htmx, else a page."""

    panel_title = ""

    def panel(
        self, template: str, context: dict[str, Any], *, status: int = 200, changed: bool = False
    ) -> HttpResponse:
        context = {**self.page_context(), **context, "panel_template": template}
        if getattr(self.request, "htmx", False):
            response = render(self.request, template, context, status=status)
        else:
            context.setdefault("title", self.panel_title)
            response = render(self.request, "pages/panel_page.html", context, status=status)
        if changed:
            response["HX-Trigger"] = CALENDAR_CHANGED
        return response


# --- The day and the week -------------------------------------------------------------------------


class FrontDeskDayView(ClinicPageView):
    """The clinic's day: therapists as columns, 15-minute rows, every visit in its status colour."""

    capability = Capability.VIEW_SCHEDULE
    template_name = "pages/frontdesk/day.html"

    def get_template_names(self) -> list[str]:
        if getattr(self.request, "htmx", False) and self.request.GET.get("part") == "calendar":
            return ["pages/frontdesk/_day_grid.html"]
        return [self.template_name]

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        clinic = self.clinic
        day, date_error = _day_from(self.request, clinic)
        calendar = selectors.day_calendar(clinic=clinic, day=day)
        tz = clinic.tz
        start, end = local_day_bounds(day, tz)
        opening = wall_blocks(day, calendar.opening, tz)
        away: dict[int, list[Interval]] = {}
        for therapist_id, starts_at, ends_at in _away(
            clinic, [t.pk for t in calendar.therapists], start, end
        ):
            away.setdefault(therapist_id, []).append(Interval(starts_at, ends_at))
        columns = []
        working_times: list[tuple[dt.time, dt.time]] = list(calendar.opening)
        for therapist in calendar.therapists:
            blocks = [(w.starts, w.ends) for w in therapist.working_hours.all()]
            working_times.extend(blocks)
            columns.append(
                Column(
                    key=therapist.pk,
                    label=therapist.get_full_name() or therapist.username,
                    day=day,
                    therapist=therapist,
                    bookable=intersect(opening, wall_blocks(day, blocks, tz)),
                    away=away.get(therapist.pk, []),
                    closed=calendar.closed,
                    sublabel=", ".join(f"{a:%H:%M}\u2013{b:%H:%M}" for a, b in blocks)
                    or "Not working",
                )
            )
        first, last = row_range(times=working_times, visits=calendar.visits, tz=tz)
        rows = build_rows(
            columns=columns,
            visits=calendar.visits,
            column_of={c.key: i for i, c in enumerate(columns)},
            visit_key=lambda v: v.therapist_id,
            tz=tz,
            first_minute=first,
            last_minute=last,
            now=timezone.now(),
        )
        context.update(
            {
                "title": f"Front desk · {day:%A %-d %B %Y}",
                "day": day,
                "today": _today(clinic),
                "previous_day": day - dt.timedelta(days=1),
                "next_day": day + dt.timedelta(days=1),
                "date_error": date_error,
                "calendar": calendar,
                "columns": columns,
                "rows": rows,
                "legend": STATUS_LEGEND,
                "visit_count": sum(1 for v in calendar.visits if v.status != "cancelled"),
            }
        )
        return context


class TherapistWeekView(ClinicPageView):
    """One therapist's week (Monday to Sunday of the given date), days as columns."""

    capability = Capability.VIEW_SCHEDULE
    template_name = "pages/frontdesk/week.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        clinic = self.clinic
        tz = clinic.tz
        therapist = _therapists(clinic).filter(public_id=self.kwargs["therapist_id"]).first()
        if therapist is None:
            raise Http404("No such therapist in this clinic.")
        day, date_error = _day_from(self.request, clinic)
        monday = day - dt.timedelta(days=day.weekday())
        days = [monday + dt.timedelta(days=i) for i in range(7)]
        start = local_day_bounds(days[0], tz)[0]
        end = local_day_bounds(days[-1], tz)[1]
        opening: dict[int, list[tuple[dt.time, dt.time]]] = {}
        for hours in opening_hours_list(clinic=clinic):
            opening.setdefault(hours.weekday, []).append((hours.opens, hours.closes))
        working: dict[int, list[tuple[dt.time, dt.time]]] = {}
        for block in WorkingHours.objects.for_clinic(clinic).filter(therapist=therapist):
            working.setdefault(block.weekday, []).append((block.starts, block.ends))
        closures = list(
            closure_list(clinic=clinic).filter(starts_on__lte=days[-1], ends_on__gte=days[0])
        )
        away = [Interval(s, e) for _, s, e in _away(clinic, [therapist.pk], start, end)]
        week_visits = list(
            selectors.visit_list(clinic=clinic)
            .overlapping(start, end)  # type: ignore[attr-defined]
            .filter(therapist=therapist)
        )
        columns = []
        times: list[tuple[dt.time, dt.time]] = []
        for d in days:
            blocks = working.get(d.weekday(), [])
            times.extend(blocks)
            times.extend(opening.get(d.weekday(), []))
            columns.append(
                Column(
                    key=d,
                    label=f"{d:%a %-d %b}",
                    day=d,
                    therapist=therapist,
                    bookable=intersect(
                        wall_blocks(d, opening.get(d.weekday(), []), tz), wall_blocks(d, blocks, tz)
                    ),
                    away=away,
                    closed=any(c.starts_on <= d <= c.ends_on for c in closures),
                    sublabel=", ".join(f"{a:%H:%M}\u2013{b:%H:%M}" for a, b in blocks)
                    or "Not working",
                )
            )
        first, last = row_range(times=times, visits=week_visits, tz=tz)
        rows = build_rows(
            columns=columns,
            visits=week_visits,
            column_of={c.key: i for i, c in enumerate(columns)},
            visit_key=lambda v: v.starts_at.astimezone(tz).date(),
            tz=tz,
            first_minute=first,
            last_minute=last,
            now=timezone.now(),
        )
        context.update(
            {
                "title": f"{therapist.get_full_name()} · week of {monday:%-d %B %Y}",
                "therapist": therapist,
                "therapists": _therapists(clinic),
                "day": day,
                "monday": monday,
                "previous_week": monday - dt.timedelta(days=7),
                "next_week": monday + dt.timedelta(days=7),
                "today": _today(clinic),
                "date_error": date_error,
                "columns": columns,
                "rows": rows,
                "legend": STATUS_LEGEND,
                "week": True,
            }
        )
        return context


# --- Booking --------------------------------------------------------------------------------------


class BookingView(_PanelMixin):
    """Book a visit: the form opens on the slot clicked (therapist, date and time in the query
    string: ids and times, never patient data); the patient is found by a search as you type."""

    capability = Capability.MANAGE_SCHEDULE
    template = "pages/frontdesk/_book.html"
    panel_title = "Book a visit"

    def form(self, data: Any = None) -> BookingForm:
        initial: dict[str, Any] = {"duration": DEFAULT_DURATION}
        params = self.request.GET
        for name in ("therapist", "date", "time", "patient"):
            if params.get(name):
                initial[name] = params[name]
        return BookingForm(
            data,
            initial=initial,
            therapists=_therapists(self.clinic),
            rooms=_rooms(self.clinic),
        )

    def context(self, form: BookingForm, **extra: Any) -> dict[str, Any]:
        patient = None
        raw = form.data.get("patient") if form.is_bound else form.initial.get("patient")
        if raw:
            patient = selectors.patient_get(clinic=self.clinic, public_id=raw)
        return {
            "form": form,
            "patient": patient,
            "search_form": PatientSearchForm(),
            "quick_form": QuickPatientForm(),
            **extra,
        }

    def get(self, request: HttpRequest, clinic_id: Any) -> HttpResponse:
        return self.panel(self.template, self.context(self.form()))

    def post(self, request: HttpRequest, clinic_id: Any) -> HttpResponse:
        form = self.form(request.POST)
        if not form.is_valid():
            return self.panel(self.template, self.context(form), status=STATUS_INVALID)
        data = form.cleaned_data
        clinic = self.clinic
        patient = selectors.patient_get(clinic=clinic, public_id=data["patient"])
        if patient is None:
            form.add_error("patient", "No patient with this id in this clinic.")
            return self.panel(self.template, self.context(form), status=STATUS_INVALID)
        episode = (
            episode_list(clinic=clinic, patient=patient, status=EpisodeOfCare.Status.ACTIVE)
            .select_related(None)
            .first()
        )
        try:
            starts_at = visits.local_start(clinic=clinic, day=data["date"], at=data["time"])
            visit = visits.visit_book(
                clinic=clinic,
                patient=patient,
                therapist=data["therapist"],
                starts_at=starts_at,
                ends_at=starts_at + dt.timedelta(minutes=data["duration"]),
                by=self.user,
                room=data["room"],
                kind=data["kind"],
                episode=episode,
            )
        except SERVICE_EXCEPTIONS as exc:
            errors = form_errors_from(form, exc, aliases=BOOKING_ALIASES)
            return self.panel(
                self.template, self.context(form, conflicts=errors.conflicts), status=errors.status
            )
        if not getattr(request, "htmx", False):
            return _to_day(clinic, visit)
        return self.panel(
            VisitPanelView.template,
            _visit_context(clinic, visit, message="Booked."),
            changed=True,
        )


BOOKING_ALIASES = {"starts_at": "time", "ends_at": "duration"}


def _to_day(clinic: Any, visit: Visit) -> HttpResponseRedirect:
    day = visit.starts_at.astimezone(clinic.tz).date()
    url = reverse("pages:frontdesk", kwargs={"clinic_id": clinic.public_id})
    return HttpResponseRedirect(f"{url}?date={day:%Y-%m-%d}")


class PatientSearchView(ClinicPageMixin):
    """Search as you type (POST, so that names never sit in a URL or an access log)."""

    capability = Capability.VIEW_DEMOGRAPHICS

    def post(self, request: HttpRequest, clinic_id: Any) -> HttpResponse:
        form = PatientSearchForm(request.POST)
        query = form.cleaned_data["q"].strip() if form.is_valid() else ""
        patients = (
            list(selectors.patient_search(clinic=self.clinic, query=query)[:SEARCH_LIMIT])
            if query
            else []
        )
        return render(
            request,
            "pages/frontdesk/_patient_results.html",
            {"patients": patients, "query": query, "selected": request.POST.get("patient", "")},
        )


class QuickPatientView(_PanelMixin):
    """Add a patient from the booking form; answers the search results with the new patient
    chosen, and a fresh form."""

    capability = Capability.MANAGE_DEMOGRAPHICS
    template = "pages/frontdesk/_quick_patient.html"

    def post(self, request: HttpRequest, clinic_id: Any) -> HttpResponse:
        form = QuickPatientForm(request.POST)
        if form.is_valid():
            try:
                patient = services.patient_create(
                    clinic=self.clinic,
                    by=self.user,
                    **form.cleaned_data,
                )
            except SERVICE_EXCEPTIONS as exc:
                errors = form_errors_from(form, exc)
                return self.panel(self.template, {"quick_form": form}, status=errors.status)
            return self.panel(
                self.template,
                {"quick_form": QuickPatientForm(), "created": patient},
            )
        return self.panel(self.template, {"quick_form": form}, status=STATUS_INVALID)


# --- A visit --------------------------------------------------------------------------------------


def _visit_context(clinic: Any, visit: Visit, **extra: Any) -> dict[str, Any]:
    return {
        "visit": visit,
        "allowed": set(visits.allowed_actions(visit.status)),
        "precautions": list(
            selectors.precaution_list(clinic=clinic, patient=visit.patient, current_only=True)
        ),
        "cancel_form": CancelForm(),
        "day": visit.starts_at.astimezone(clinic.tz).date(),
        **extra,
    }


def _visit_or_404(clinic: Any, public_id: Any) -> Visit:
    visit = selectors.visit_get(clinic=clinic, public_id=public_id)
    if visit is None:
        raise Http404("No such visit in this clinic.")
    return visit


class VisitPanelView(_PanelMixin):
    capability = Capability.VIEW_SCHEDULE
    template = "pages/frontdesk/_visit.html"
    panel_title = "Visit"

    def get(self, request: HttpRequest, clinic_id: Any, visit_id: Any) -> HttpResponse:
        visit = _visit_or_404(self.clinic, visit_id)
        return self.panel(self.template, _visit_context(self.clinic, visit))


class VisitActionView(_PanelMixin):
    """Check in, mark a no-show, cancel: one transition of the visit state machine each."""

    capability = Capability.MANAGE_SCHEDULE
    panel_title = "Visit"
    MESSAGES = {
        "check-in": "Checked in.",
        "no-show": "Marked as a no-show.",
        "cancel": "Cancelled.",
    }

    def post(
        self, request: HttpRequest, clinic_id: Any, visit_id: Any, action: str
    ) -> HttpResponse:
        if action not in self.MESSAGES:
            raise Http404("No such action.")
        clinic = self.clinic
        visit = _visit_or_404(clinic, visit_id)
        by = self.user
        cancel_form = CancelForm(request.POST)
        try:
            if action == "check-in":
                visits.visit_check_in(visit=visit, by=by)
            elif action == "no-show":
                visits.visit_no_show(visit=visit, by=by)
            else:
                reason = cancel_form.cleaned_data["reason"] if cancel_form.is_valid() else ""
                visits.visit_cancel(visit=visit, by=by, reason=reason)
        except SERVICE_EXCEPTIONS as exc:
            errors = service_errors(exc)
            messages = [m for ms in errors.fields.values() for m in ms]
            return self.panel(
                VisitPanelView.template,
                _visit_context(clinic, visit, errors=messages),
                status=errors.status,
            )
        visit = _visit_or_404(clinic, visit_id)
        if not getattr(request, "htmx", False):
            return _to_day(clinic, visit)
        return self.panel(
            VisitPanelView.template,
            _visit_context(clinic, visit, message=self.MESSAGES[action]),
            changed=True,
        )


class VisitMoveView(_PanelMixin):
    """Move a booked visit to another time (and therapist or room); a conflict names what is in
    the way."""

    capability = Capability.MANAGE_SCHEDULE
    template = "pages/frontdesk/_move.html"
    panel_title = "Move the visit"

    def form(self, visit: Visit, data: Any = None) -> MoveForm:
        local = visit.starts_at.astimezone(self.clinic.tz)
        return MoveForm(
            data,
            initial={
                "date": local.date(),
                "time": local.time().replace(second=0, microsecond=0),
                "therapist": visit.therapist.public_id,
                "room": visit.room.public_id if visit.room else None,
            },
            therapists=_therapists(self.clinic),
            rooms=_rooms(self.clinic),
        )

    def get(self, request: HttpRequest, clinic_id: Any, visit_id: Any) -> HttpResponse:
        visit = _visit_or_404(self.clinic, visit_id)
        return self.panel(self.template, {"visit": visit, "form": self.form(visit)})

    def post(self, request: HttpRequest, clinic_id: Any, visit_id: Any) -> HttpResponse:
        clinic = self.clinic
        visit = _visit_or_404(clinic, visit_id)
        form = self.form(visit, request.POST)
        if not form.is_valid():
            return self.panel(self.template, {"visit": visit, "form": form}, status=STATUS_INVALID)
        data = form.cleaned_data
        try:
            starts_at = visits.local_start(clinic=clinic, day=data["date"], at=data["time"])
            visits.visit_reschedule(
                visit=visit,
                starts_at=starts_at,
                by=self.user,
                therapist=data["therapist"],
                room=data["room"],
            )
        except SERVICE_EXCEPTIONS as exc:
            errors = form_errors_from(form, exc, aliases=BOOKING_ALIASES)
            return self.panel(
                self.template,
                {"visit": visit, "form": form, "conflicts": errors.conflicts},
                status=errors.status,
            )
        visit = _visit_or_404(clinic, visit_id)
        if not getattr(request, "htmx", False):
            return _to_day(clinic, visit)
        return self.panel(
            VisitPanelView.template,
            _visit_context(clinic, visit, message="Moved."),
            changed=True,
        )


# --- Episodes and evaluations ---------------------------------------------------------------------


def _patient_or_404(clinic: Any, public_id: Any) -> Patient:
    patient = selectors.patient_get(clinic=clinic, public_id=public_id)
    if patient is None:
        raise Http404("No such patient in this clinic.")
    return patient


def chart_url(clinic: Any, patient: Patient) -> str:
    return reverse(
        "pages:chart", kwargs={"clinic_id": clinic.public_id, "patient_id": patient.public_id}
    )


class EpisodeOpenView(ClinicPageMixin):
    """Open an episode of care for the patient, with the signed-in therapist treating."""

    capability = Capability.MANAGE_CLINICAL

    def post(self, request: HttpRequest, clinic_id: Any, patient_id: Any) -> HttpResponse:
        clinic = self.clinic
        patient = _patient_or_404(clinic, patient_id)
        form = EpisodeOpenForm(request.POST)
        if form.is_valid():
            try:
                clinical.episode_open(
                    patient=patient,
                    therapist=self.user,
                    started_on=form.cleaned_data["started_on"],
                    auth_visits=form.cleaned_data["auth_visits"],
                    by=self.user,
                )
                return redirect(chart_url(clinic, patient))
            except SERVICE_EXCEPTIONS as exc:
                errors = form_errors_from(form, exc)
                status = errors.status
        else:
            status = STATUS_INVALID
        return render(
            request,
            "pages/clinical/episode_open.html",
            {**self.page_context(), "patient": patient, "form": form, "title": "Open an episode"},
            status=status,
        )


class EvaluationCreateView(ClinicPageMixin):
    """Start a draft evaluation in an episode, linked to the patient's visit today if any."""

    capability = Capability.MANAGE_CLINICAL

    def post(self, request: HttpRequest, clinic_id: Any, episode_id: Any) -> HttpResponse:
        clinic = self.clinic
        episode = episode_get(clinic=clinic, public_id=episode_id)
        if episode is None:
            raise Http404("No such episode in this clinic.")
        form = EvaluationCreateForm(request.POST)
        today = _today(clinic)
        start, end = local_day_bounds(today, clinic.tz)
        visit = (
            Visit.objects.for_clinic(clinic)
            .filter(patient_id=episode.patient_id, episode=episode)
            .overlapping(start, end)
            .live()
            .order_by("starts_at")
            .first()
        )
        if form.is_valid():
            try:
                evaluation = clinical.evaluation_create(
                    episode=episode,
                    kind=form.cleaned_data["kind"],
                    author=self.user,
                    performed_on=today,
                    by=self.user,
                    visit=visit,
                )
            except SERVICE_EXCEPTIONS as exc:
                errors = service_errors(exc)
                return render(
                    request,
                    "pages/error.html",
                    {
                        **self.page_context(),
                        "title": "The evaluation could not be started",
                        "errors": [m for ms in errors.fields.values() for m in ms],
                        "back": chart_url(clinic, episode.patient),
                    },
                    status=errors.status,
                )
            return redirect(
                "pages:evaluation", clinic_id=clinic.public_id, evaluation_id=evaluation.public_id
            )
        return redirect(chart_url(clinic, episode.patient))


class _EvaluationMixin(ClinicPageMixin):
    template = "pages/clinical/evaluation.html"

    def evaluation(self) -> Evaluation:
        evaluation = evaluation_get(clinic=self.clinic, public_id=self.kwargs["evaluation_id"])
        if evaluation is None:
            raise Http404("No such evaluation in this clinic.")
        return evaluation

    def render_page(
        self, evaluation: Evaluation, form: EvaluationForm | None = None, **extra: Any
    ) -> HttpResponse:
        status = extra.pop("status", 200)
        measures = list(
            outcome_list(clinic=self.clinic, episode=evaluation.episode).filter(
                evaluation=evaluation
            )
        )
        context = {
            **self.page_context(),
            "title": f"{evaluation.get_kind_display()} · {evaluation.episode.patient.mrn}",
            "evaluation": evaluation,
            "patient": evaluation.episode.patient,
            "form": form or EvaluationForm(initial=EvaluationForm.initial_for(evaluation)),
            "measures": [(m, outcome_score(m)) for m in measures],
            "signed": evaluation.status == Evaluation.Status.SIGNED,
            **questionnaire_context(),
            **extra,
        }
        return render(self.request, self.template, context, status=status)


def questionnaire_context() -> dict[str, Any]:
    """What the questionnaire templates loop over."""
    return {
        "odi_sections": list(outcomes.ODI_SECTIONS.items()),
        "odi_values": list(range(outcomes.ODI_SECTION_MAX + 1)),
        "nprs_values": list(range(11)),
        "rmdq_items": list(range(1, outcomes.RMDQ_ITEMS + 1)),
        "psfs_rows": list(range(1, PSFS_ROWS + 1)),
        "psfs_values": list(range(11)),
    }


class EvaluationView(_EvaluationMixin):
    """The evaluation form: SOAP parts saved with the version they were based on."""

    capability = Capability.MANAGE_CLINICAL

    def get(self, request: HttpRequest, clinic_id: Any, evaluation_id: Any) -> HttpResponse:
        evaluation = self.evaluation()
        access_record(
            request_or_actor=request,
            clinic=self.clinic,
            patient_public_id=evaluation.episode.patient.public_id,
            what="evaluation",
            record=AccessLog.Record.CLINICAL,
        )
        return self.render_page(evaluation)

    def post(self, request: HttpRequest, clinic_id: Any, evaluation_id: Any) -> HttpResponse:
        evaluation = self.evaluation()
        form = EvaluationForm(request.POST)
        if not form.is_valid():
            return self.render_page(evaluation, form, status=STATUS_INVALID)
        try:
            clinical.evaluation_update(
                evaluation=evaluation,
                version=form.cleaned_data["version"],
                by=self.user,
                **form.service_fields(evaluation),
            )
        except SERVICE_EXCEPTIONS as exc:
            errors = form_errors_from(
                form,
                exc,
                aliases={
                    "subjective": "history",
                    "objective": "findings",
                    "diagnoses": "icd10_code",
                    "diagnoses[0].icd10_code": "icd10_code",
                },
            )
            return self.render_page(evaluation, form, status=errors.status)
        url = reverse(
            "pages:evaluation",
            kwargs={"clinic_id": self.clinic.public_id, "evaluation_id": evaluation.public_id},
        )
        return HttpResponseRedirect(f"{url}?saved=1")


class EvaluationSignView(_EvaluationMixin):
    capability = Capability.SIGN_CLINICAL

    def post(self, request: HttpRequest, clinic_id: Any, evaluation_id: Any) -> HttpResponse:
        evaluation = self.evaluation()
        try:
            version = int(request.POST.get("version", ""))
        except ValueError:
            version = None
        try:
            clinical.evaluation_sign(
                evaluation=evaluation,
                by=self.user,
                version=version,
            )
        except SERVICE_EXCEPTIONS as exc:
            errors = service_errors(exc)
            return self.render_page(
                evaluation,
                sign_errors=[m for ms in errors.fields.values() for m in ms],
                status=errors.status,
            )
        return redirect(
            "pages:evaluation", clinic_id=self.clinic.public_id, evaluation_id=evaluation.public_id
        )


class OutcomeScoreView(ClinicPageMixin):
    """Score a questionnaire as it is filled in: the same scorer the API and the record use
    (patients.outcomes), so the number shown is the number stored."""

    capability = Capability.MANAGE_CLINICAL

    def post(self, request: HttpRequest, clinic_id: Any, instrument: str) -> HttpResponse:
        if instrument not in INSTRUMENT_CODES:
            raise Http404("No such instrument.")
        found = outcomes.instrument_get(instrument)
        answers = answers_from(instrument, request.POST)
        try:
            result = outcomes.score(instrument, found.versions[-1].version, answers)
            problem = ""
        except outcomes.AnswerError as exc:
            result, problem = None, f"{exc.field}: {exc.message}"
        return render(
            request,
            "pages/clinical/_score.html",
            {"instrument": found, "score": result, "problem": problem},
        )


class OutcomeRecordView(_EvaluationMixin):
    """Record one questionnaire with the evaluation (raw answers kept, score computed)."""

    capability = Capability.MANAGE_CLINICAL

    def post(
        self, request: HttpRequest, clinic_id: Any, evaluation_id: Any, instrument: str
    ) -> HttpResponse:
        if instrument not in INSTRUMENT_CODES:
            raise Http404("No such instrument.")
        evaluation = self.evaluation()
        try:
            with transaction.atomic():
                clinical.outcome_record(
                    episode=evaluation.episode,
                    instrument=instrument,
                    answers=answers_from(instrument, request.POST),
                    recorded_on=evaluation.performed_on,
                    by=self.user,
                    evaluation=evaluation,
                    visit=evaluation.visit,
                )
        except SERVICE_EXCEPTIONS as exc:
            errors = service_errors(exc)
            return self.render_page(
                evaluation,
                outcome_errors={instrument: [m for ms in errors.fields.values() for m in ms]},
                open_instrument=instrument,
                status=errors.status,
            )
        url = reverse(
            "pages:evaluation",
            kwargs={"clinic_id": self.clinic.public_id, "evaluation_id": evaluation.public_id},
        )
        return HttpResponseRedirect(f"{url}#outcomes")
