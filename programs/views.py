"""Staff pages on the programs side: the therapist's worklist, the patient chart (with notes,
progress summaries and outcome charts), the treatment note with billing units and
contraindications computed as it is filled in, and the front desk's lists of follow-ups and of
patients with no next visit.

Views parse, call the services and selectors the API calls, and render (clinic.pages).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from clinic.access import access_record
from clinic.capabilities import Capability
from clinic.models import AccessLog
from clinic.pages import (
    SERVICE_EXCEPTIONS,
    ClinicPageMixin,
    ClinicPageView,
    service_errors,
)
from patients import clinical_selectors
from patients import selectors as patient_selectors
from patients.charts import line_chart
from patients.clinical_selectors import (
    episode_list,
    episode_list_without_next_visit,
    outcome_score,
)
from patients.models import (
    BillingRule,
    Evaluation,
    OutcomeMeasure,
    Patient,
    Precaution,
    Visit,
)
from patients.scheduling import local_day_bounds
from patients.vocabulary import BodyRegion, Side
from programs import billing, care, handouts, home
from programs import selectors as program_selectors
from programs.contraindications import REFUSE
from programs.forms import (
    HOME_BLANK_ROWS,
    ExerciseRow,
    HomeRow,
    ModalityRow,
    home_rows,
    home_rows_from_version,
    note_rows,
    place_errors,
    place_home_errors,
    rows_from_note,
)
from programs.models import (
    Exercise,
    FollowUp,
    HomeProgram,
    Modality,
    ProgressSummary,
    TreatmentNote,
)
from programs.parameters import clean_parameters

CHART_ROWS = 20
SUMMARY_ROWS = 10
FRONT_DESK_ROWS = 25
CHARTED = (
    ("nprs", "NPRS pain (0\u201310)", 10.0, (0, 2, 4, 6, 8, 10), "points"),
    ("odi", "Oswestry Disability Index (%)", 100.0, (0, 20, 40, 60, 80, 100), "%"),
)


def _today(clinic: Any) -> dt.date:
    return timezone.localdate(timezone=clinic.tz)


# --- Therapist: today's worklist ------------------------------------------------------------------


class WorklistView(ClinicPageView):
    """The signed-in therapist's visits of the day, with what each one needs next."""

    capability = Capability.VIEW_CLINICAL
    template_name = "pages/therapist/worklist.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        clinic = self.clinic
        today = _today(clinic)
        start, end = local_day_bounds(today, clinic.tz)
        visits = list(
            patient_selectors.visit_list(clinic=clinic)
            .overlapping(start, end)  # type: ignore[attr-defined]
            .filter(therapist=self.user)
            .select_related("treatment_note")
            .prefetch_related(
                Prefetch(
                    "patient__precautions",
                    queryset=Precaution.objects.for_clinic(clinic)
                    .current()
                    .select_related("kind")
                    .order_by("kind__label"),
                    to_attr="current_precautions",
                )
            )
        )
        context.update(
            {
                "title": f"My day · {today:%A %-d %B %Y}",
                "today": today,
                "visits": visits,
                "caseload": episode_list(
                    clinic=clinic,
                    therapist=self.user,
                    status="active",
                ).count(),
            }
        )
        return context


# --- The patient chart ----------------------------------------------------------------------------


def _patient_or_404(clinic: Any, public_id: Any) -> Patient:
    patient = patient_selectors.patient_get(clinic=clinic, public_id=public_id)
    if patient is None:
        raise Http404("No such patient in this clinic.")
    return patient


class ChartView(ClinicPageView):
    """Everything about one patient on one page: demographics, precautions in plain sight,
    diagnoses, episodes, visits, evaluations, treatment notes, progress summaries and the NPRS
    and ODI charts. A constant number of queries; the read is logged (clinic.access)."""

    capability = Capability.VIEW_CLINICAL
    template_name = "pages/therapist/chart.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        clinic = self.clinic
        patient = _patient_or_404(clinic, self.kwargs["patient_id"])
        access_record(
            request_or_actor=self.request,
            clinic=clinic,
            patient_public_id=patient.public_id,
            what="chart",
            record=AccessLog.Record.CLINICAL,
        )
        episodes = list(episode_list(clinic=clinic, patient=patient)[:CHART_ROWS])
        visits = list(
            patient_selectors.visit_list(clinic=clinic)
            .filter(patient=patient)
            .select_related("treatment_note")
            .order_by("-starts_at", "-pk")[:CHART_ROWS]
        )
        evaluations = list(
            Evaluation.objects.for_clinic(clinic)
            .filter(episode__patient=patient)
            .select_related("author", "signed_by", "episode")
            .order_by("-performed_on", "-pk")[:CHART_ROWS]
        )
        notes = list(
            TreatmentNote.objects.for_clinic(clinic)
            .filter(visit__patient=patient)
            .select_related("visit", "author", "signed_by")
            .prefetch_related("billing_lines", "modalities__modality")
            .order_by("-visit__starts_at", "-pk")[:CHART_ROWS]
        )
        summaries = list(
            ProgressSummary.objects.for_clinic(clinic)
            .filter(visit__patient=patient)
            .select_related("visit")
            .order_by("-visit__starts_at", "-pk")[:SUMMARY_ROWS]
        )
        measures = list(
            OutcomeMeasure.objects.for_clinic(clinic)
            .filter(
                episode__patient=patient,
                entered_in_error=False,
                instrument__in=[code for code, *_ in CHARTED],
            )
            .order_by("recorded_on", "pk")
        )
        charts = []
        for code, title, y_max, ticks, unit in CHARTED:
            points = []
            for measure in measures:
                if measure.instrument != code:
                    continue
                score = outcome_score(measure)
                if score.value is not None:
                    points.append((measure.recorded_on, score.value))
            charts.append(
                {
                    "code": code,
                    "title": title,
                    "points": points,
                    "svg": line_chart(
                        points=points,
                        y_max=y_max,
                        title=f"{title} over time",
                        unit=unit,
                        ticks=ticks,
                        chart_id=f"chart-{code}",
                    ),
                }
            )
        active = [e for e in episodes if e.status == "active"]
        context.update(
            {
                "title": f"{patient.full_name} · {patient.mrn}",
                "patient": patient,
                "age": _age(patient.date_of_birth, _today(clinic)),
                "precautions": list(
                    patient_selectors.precaution_list(
                        clinic=clinic, patient=patient, current_only=True
                    )
                ),
                "diagnoses": list(
                    patient_selectors.diagnosis_list(clinic=clinic, patient=patient)[:CHART_ROWS]
                ),
                "episodes": episodes,
                "active_episode": active[0] if active else None,
                "visits": visits,
                "evaluations": evaluations,
                "notes": notes,
                "summaries": summaries,
                "charts": charts,
                "today": _today(clinic),
                "evaluation_kinds": Evaluation.Kind.choices,
            }
        )
        return context


def _age(born: dt.date, today: dt.date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


# --- The treatment note ---------------------------------------------------------------------------


def _catalogues() -> tuple[dict[str, Modality], dict[str, Exercise]]:
    modalities = {
        str(m.public_id): m
        for m in program_selectors.modality_list().treatments().filter(active=True)  # type: ignore[attr-defined]
    }
    exercises = {str(e.public_id): e for e in program_selectors.exercise_list().filter(active=True)}
    return modalities, exercises


def _visit_or_404(clinic: Any, public_id: Any) -> Visit:
    visit = patient_selectors.visit_get(clinic=clinic, public_id=public_id)
    if visit is None:
        raise Http404("No such visit in this clinic.")
    return visit


def _findings(visit: Visit, m_rows: list[ModalityRow], e_rows: list[ExerciseRow]) -> None:
    """Put the contraindication findings of each chosen item on its row (three queries)."""
    chosen_m = [r for r in m_rows if r.modality is not None]
    chosen_e = [r for r in e_rows if r.exercise is not None]
    if not chosen_m and not chosen_e:
        return
    m_found, e_found = program_selectors.contraindications_for_items(
        patient=visit.patient,
        modalities=[(r.modality, r.region or None) for r in chosen_m],  # type: ignore[misc]
        exercises=[r.exercise for r in chosen_e],  # type: ignore[misc]
        on=program_selectors.visit_day(visit),
    )
    for row, found in zip(chosen_m, m_found, strict=True):
        row.findings = [f.as_dict() for f in found]
    for row_e, found in zip(chosen_e, e_found, strict=True):
        row_e.findings = [f.as_dict() for f in found]


def _billing_preview(
    visit: Visit, rule: str, m_rows: list[ModalityRow]
) -> tuple[list[billing.BillingLine], int, str]:
    """The billing lines the rows would earn under the episode's rule, by programs.billing (the
    function the note's save uses), with the evaluation of the visit once it is signed."""
    lines = [
        billing.ServiceLine(cpt_code=code, minutes=0, timed=False)
        for evaluation in Evaluation.objects.for_clinic(visit.clinic_id)
        .signed()
        .filter(visit_id=visit.pk, kind__in=care.EVALUATION_KINDS_BILLED)
        .order_by("performed_on", "pk")
        if (code := evaluation.cpt_code)
    ]
    for row in m_rows:
        if row.modality is None:
            continue
        minutes = row.as_item()["minutes"]
        if not isinstance(minutes, int) or minutes < 0:
            continue
        lines.append(
            billing.ServiceLine(
                cpt_code=row.modality.cpt_code, minutes=minutes, timed=row.modality.timed
            )
        )
    try:
        billed = billing.bill(lines, rule)
    except billing.BillingError as exc:
        return [], 0, str(exc)
    return billed, sum(line.units for line in billed), ""


def _parameter_problems(m_rows: list[ModalityRow]) -> dict[int, list[str]]:
    problems: dict[int, list[str]] = {}
    for row in m_rows:
        if row.modality is None:
            continue
        params = dict(row.as_item()["parameters"])
        minutes = row.as_item()["minutes"]
        if minutes is not None:
            params["minutes"] = minutes
        _, found = clean_parameters(row.modality.parameter_spec, params)
        if found:
            problems[row.index] = list(found.values())
    return problems


def _rule_label(rule: str) -> str:
    return str(BillingRule(rule).label) if rule in BillingRule.values else rule


class _NoteMixin(ClinicPageMixin):
    template = "pages/therapist/note.html"

    def load(self) -> tuple[Visit, TreatmentNote | None]:
        visit = _visit_or_404(self.clinic, self.kwargs["visit_id"])
        note = program_selectors.treatment_note_get(
            clinic=self.clinic, visit_public_id=visit.public_id
        )
        return visit, note

    def render_note(
        self,
        visit: Visit,
        note: TreatmentNote | None,
        *,
        m_rows: list[ModalityRow] | None = None,
        e_rows: list[ExerciseRow] | None = None,
        texts: dict[str, str] | None = None,
        errors: dict[str | None, list[str]] | None = None,
        status: int = 200,
        message: str = "",
    ) -> HttpResponse:
        modalities, exercises = _catalogues()
        if m_rows is None or e_rows is None:
            m_rows, e_rows = rows_from_note(note) if note else ([], [])
        if texts is None:
            texts = {
                "subjective": note.subjective if note else "",
                "assessment": note.assessment if note else "",
                "notes": note.notes if note else "",
            }
        if not (note and note.status == TreatmentNote.Status.SIGNED):
            _findings(visit, m_rows, e_rows)
        rule = note.billing_rule if note else (visit.episode.billing_rule if visit.episode else "")
        billed, units, billing_problem = (
            _billing_preview(visit, rule, m_rows) if rule else ([], 0, "")
        )
        next_m = max([r.index for r in m_rows], default=-1) + 1
        next_e = max([r.index for r in e_rows], default=-1) + 1
        context = {
            **self.page_context(),
            "title": f"Treatment note · {visit.patient.mrn}",
            "visit": visit,
            "patient": visit.patient,
            "note": note,
            "signed": bool(note and note.status == TreatmentNote.Status.SIGNED),
            "m_rows": m_rows,
            "e_rows": e_rows,
            "blank_m": ModalityRow(index=next_m),
            "blank_e": ExerciseRow(index=next_e),
            "next_m": next_m + 1,
            "next_e": next_e + 1,
            "texts": texts,
            "errors": list((errors or {}).items()),
            "modalities": list(modalities.values()),
            "exercises": list(exercises.values()),
            "regions": BodyRegion.choices,
            "billed": billed,
            "units": units,
            "billing_problem": billing_problem,
            "rule": _rule_label(rule),
            "live_visit": visit.status in Visit.LIVE_STATUSES,
            "precautions": list(
                patient_selectors.precaution_list(
                    clinic=self.clinic, patient=visit.patient, current_only=True
                )
            ),
            "message": message,
            "REFUSE": REFUSE,
        }
        return render(self.request, self.template, context, status=status)


class TreatmentNoteView(_NoteMixin):
    """The visit's treatment note: save a draft, sign it (completing the visit when it is still
    open), each through the programs services with the version the form was based on."""

    capability = Capability.MANAGE_CLINICAL

    def get(self, request: HttpRequest, clinic_id: Any, visit_id: Any) -> HttpResponse:
        visit, note = self.load()
        access_record(
            request_or_actor=request,
            clinic=self.clinic,
            patient_public_id=visit.patient.public_id,
            what="treatment_note",
            record=AccessLog.Record.CLINICAL,
        )
        if visit.episode is None and note is None:
            return render(
                request,
                "pages/error.html",
                {
                    **self.page_context(),
                    "title": "No episode of care",
                    "errors": [
                        "This visit belongs to no episode of care. Open an episode on the "
                        "patient's chart first; visits booked after that are linked to it."
                    ],
                    "back": reverse(
                        "pages:chart",
                        kwargs={
                            "clinic_id": self.clinic.public_id,
                            "patient_id": visit.patient.public_id,
                        },
                    ),
                },
                status=409,
            )
        saved = {"draft": "Draft saved.", "signed": "Signed."}.get(request.GET.get("saved", ""))
        return self.render_note(visit, note, message=saved or "")

    def post(self, request: HttpRequest, clinic_id: Any, visit_id: Any) -> HttpResponse:
        visit, note = self.load()
        modalities, exercises = _catalogues()
        m_rows, e_rows = note_rows(request.POST, modalities=modalities, exercises=exercises)
        texts = {k: request.POST.get(k, "") for k in ("subjective", "assessment", "notes")}
        action = request.POST.get("action", "save")
        try:
            version = int(request.POST["version"]) if request.POST.get("version") else None
        except ValueError:
            version = None
        if action == "sign" and Capability.SIGN_CLINICAL not in self.capabilities:
            return self.render_note(
                visit,
                note,
                m_rows=m_rows,
                e_rows=e_rows,
                texts=texts,
                errors={None: ["Your role in this clinic does not allow signing."]},
                status=403,
            )
        fields: dict[str, Any] = {
            **texts,
            "modalities": [r.as_item() for r in m_rows],
            "exercises": [r.as_item() for r in e_rows],
        }
        by = self.user
        try:
            if action == "sign" and visit.status in Visit.LIVE_STATUSES:
                care.visit_complete_with_note(
                    visit=visit,
                    by=by,
                    version=version,
                    sign=True,
                    **fields,
                )
            elif action == "sign":
                with transaction.atomic():
                    saved = care.treatment_note_save(
                        visit=visit,
                        by=by,
                        version=version,
                        **fields,
                    )
                    care.treatment_note_sign(note=saved, by=by, version=saved.version)
            else:
                care.treatment_note_save(visit=visit, by=by, version=version, **fields)
        except SERVICE_EXCEPTIONS as exc:
            found = service_errors(exc)
            rest = place_errors(found.fields, m_rows, e_rows)
            return self.render_note(
                visit,
                note,
                m_rows=m_rows,
                e_rows=e_rows,
                texts=texts,
                errors=rest,
                status=found.status,
            )
        url = reverse(
            "pages:note", kwargs={"clinic_id": self.clinic.public_id, "visit_id": visit.public_id}
        )
        return HttpResponseRedirect(f"{url}?saved={'signed' if action == 'sign' else 'draft'}")


class NotePreviewView(_NoteMixin):
    """Billing units, parameter problems and contraindications of the form as it stands, without
    saving: the billing table, plus each row's warnings swapped in out of band."""

    capability = Capability.MANAGE_CLINICAL

    def post(self, request: HttpRequest, clinic_id: Any, visit_id: Any) -> HttpResponse:
        visit, note = self.load()
        modalities, exercises = _catalogues()
        m_rows, e_rows = note_rows(request.POST, modalities=modalities, exercises=exercises)
        _findings(visit, m_rows, e_rows)
        for index, problems in _parameter_problems(m_rows).items():
            next(r for r in m_rows if r.index == index).errors.extend(problems)
        rule = note.billing_rule if note else (visit.episode.billing_rule if visit.episode else "")
        billed, units, problem = _billing_preview(visit, rule, m_rows) if rule else ([], 0, "")
        return render(
            request,
            "pages/therapist/_note_preview.html",
            {
                "billed": billed,
                "units": units,
                "billing_problem": problem,
                "rule": _rule_label(rule),
                "m_rows": m_rows,
                "e_rows": e_rows,
                "REFUSE": REFUSE,
            },
        )


class NoteRowView(_NoteMixin):
    """A new (or re-drawn) modality or exercise row: the modality's own parameter fields."""

    capability = Capability.MANAGE_CLINICAL

    def get(self, request: HttpRequest, clinic_id: Any, visit_id: Any, kind: str) -> HttpResponse:
        if kind not in ("modality", "exercise"):
            raise Http404("No such row.")
        visit = _visit_or_404(self.clinic, visit_id)
        modalities, exercises = _catalogues()
        try:
            index = max(0, min(int(request.GET.get("index", "0")), 999))
        except ValueError:
            index = 0
        m_rows, e_rows = note_rows(request.GET, modalities=modalities, exercises=exercises)
        context: dict[str, Any] = {
            "visit": visit,
            "modalities": list(modalities.values()),
            "exercises": list(exercises.values()),
            "regions": BodyRegion.choices,
            "clinic": self.clinic,
            "REFUSE": REFUSE,
            "next_m": index + 1,
            "next_e": index + 1,
            "oob_counter": request.GET.get("add") == "1",
        }
        if kind == "modality":
            row = next((r for r in m_rows if r.index == index), ModalityRow(index=index))
            _findings(visit, [row], [])
            context["row"] = row
            if request.GET.get("part") == "params":
                # The chosen modality's own parameter fields, and its warnings out of band.
                return render(request, "pages/therapist/_modality_params_oob.html", context)
            return render(request, "pages/therapist/_modality_row.html", context)
        row_e = next((r for r in e_rows if r.index == index), ExerciseRow(index=index))
        _findings(visit, [], [row_e])
        context["row"] = row_e
        return render(request, "pages/therapist/_exercise_row.html", context)


# --- Front desk: who needs booking ----------------------------------------------------------------


class FrontDeskListsView(ClinicPageView):
    """Follow-ups the dispatcher could not book (with its reason) and active episodes with no
    next visit, each with a book action; the front desk page loads it beside the calendar."""

    capability = Capability.VIEW_SCHEDULE
    template_name = "pages/frontdesk/lists.html"

    def get_template_names(self) -> list[str]:
        if getattr(self.request, "htmx", False):
            return ["pages/frontdesk/_lists.html"]
        return [self.template_name]

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        clinic = self.clinic
        followups = (
            FollowUp.objects.for_clinic(clinic)
            .filter(status=FollowUp.Status.NEEDS_FRONT_DESK)
            .select_related("episode__patient", "episode__therapist")
            .order_by("due_from", "pk")
        )
        page_f = Paginator(followups, FRONT_DESK_ROWS).get_page(self.request.GET.get("fpage"))
        without = episode_list_without_next_visit(clinic=clinic)
        page_n = Paginator(without, FRONT_DESK_ROWS).get_page(self.request.GET.get("npage"))
        context.update(
            {
                "title": "To book",
                "followups": page_f,
                "without_next": page_n,
                "today": _today(clinic),
            }
        )
        return context


# --- The home-programme builder and its handout ----------------------------------------------


def _episode_or_404(clinic: Any, public_id: Any) -> Any:
    episode = clinical_selectors.episode_get(clinic=clinic, public_id=public_id)
    if episode is None:
        raise Http404("No such episode in this clinic.")
    return episode


def _program_or_404(clinic: Any, public_id: Any) -> HomeProgram:
    program = home.home_program_get(clinic=clinic, public_id=public_id)
    if program is None:
        raise Http404("No such home programme in this clinic.")
    return program


def _home_findings(episode: Any, rows: list[HomeRow]) -> None:
    chosen = [r for r in rows if r.exercise is not None]
    if not chosen:
        return
    _, found = program_selectors.contraindications_for_items(
        patient=episode.patient,
        exercises=[r.exercise for r in chosen],  # type: ignore[misc]
    )
    for row, findings in zip(chosen, found, strict=True):
        row.findings = [f.as_dict() for f in findings]


class HomeProgrammeView(ClinicPageMixin):
    """Prescribe the episode's home programme, or change it (a new version based on the one on
    the page); the exercises are checked for contraindications as they are chosen."""

    capability = Capability.MANAGE_CLINICAL
    template = "pages/therapist/home_programme.html"

    def render_builder(
        self,
        episode: Any,
        *,
        rows: list[HomeRow] | None = None,
        notes: str | None = None,
        errors: dict[str | None, list[str]] | None = None,
        status: int = 200,
        message: str = "",
        link_url: str = "",
    ) -> HttpResponse:
        program = home.home_program_current(episode=episode)
        version = home.home_program_version_get(program=program) if program else None
        if rows is None:
            rows = home_rows_from_version(version) if version else []
        _home_findings(episode, rows)
        first_blank = max([r.index for r in rows], default=-1) + 1
        blanks = [HomeRow(index=first_blank + n) for n in range(HOME_BLANK_ROWS)]
        links = list(home.home_link_list(program=program)[:5]) if program else []
        context = {
            **self.page_context(),
            "title": f"Home programme · {episode.patient.mrn}",
            "episode": episode,
            "patient": episode.patient,
            "program": program,
            "version": version,
            "rows": rows,
            "blanks": blanks,
            "notes": version.notes if notes is None and version else (notes or ""),
            "exercises": list(program_selectors.exercise_list().filter(active=True)),
            "sides": Side.choices,
            "errors": list((errors or {}).items()),
            "message": message,
            "link_url": link_url,
            "links": links,
            "REFUSE": REFUSE,
        }
        return render(self.request, self.template, context, status=status)

    def get(self, request: HttpRequest, clinic_id: Any, episode_id: Any) -> HttpResponse:
        episode = _episode_or_404(self.clinic, episode_id)
        access_record(
            request_or_actor=request,
            clinic=self.clinic,
            patient_public_id=episode.patient.public_id,
            what="home_programme",
            record=AccessLog.Record.CLINICAL,
        )
        saved = {"1": "Saved: the handout and the patient's link show this version."}
        return self.render_builder(episode, message=saved.get(request.GET.get("saved", ""), ""))

    def post(self, request: HttpRequest, clinic_id: Any, episode_id: Any) -> HttpResponse:
        episode = _episode_or_404(self.clinic, episode_id)
        exercises = {str(e.public_id): e for e in program_selectors.exercise_list()}
        rows = home_rows(request.POST, exercises=exercises)
        notes = request.POST.get("notes", "")
        program = home.home_program_current(episode=episode)
        try:
            version = int(request.POST["version"]) if request.POST.get("version") else None
        except ValueError:
            version = None
        items = [r.as_item() for r in rows]
        try:
            if program is None:
                home.home_program_create(episode=episode, by=self.user, items=items, notes=notes)
            else:
                home.home_program_revise(
                    program=program, by=self.user, version=version, items=items, notes=notes
                )
        except SERVICE_EXCEPTIONS as exc:
            found = service_errors(exc)
            rest = place_home_errors(found.fields, rows)
            return self.render_builder(
                episode, rows=rows, notes=notes, errors=rest, status=found.status
            )
        url = reverse(
            "pages:home_programme",
            kwargs={"clinic_id": self.clinic.public_id, "episode_id": episode.public_id},
        )
        return HttpResponseRedirect(f"{url}?saved=1")


class HomeProgrammePreviewView(ClinicPageMixin):
    """Contraindications of the exercises chosen so far, each row's swapped in out of band."""

    capability = Capability.MANAGE_CLINICAL

    def post(self, request: HttpRequest, clinic_id: Any, episode_id: Any) -> HttpResponse:
        episode = _episode_or_404(self.clinic, episode_id)
        exercises = {str(e.public_id): e for e in program_selectors.exercise_list()}
        rows = home_rows(request.POST, exercises=exercises)
        _home_findings(episode, rows)
        return render(
            request,
            "pages/therapist/_home_preview.html",
            {"rows": rows, "REFUSE": REFUSE},
        )


class HomeLinkCreateView(HomeProgrammeView):
    """A new link for the patient to open the programme (shown once, to copy or send)."""

    capability = Capability.MANAGE_CLINICAL

    def get(self, request: HttpRequest, clinic_id: Any, program_id: Any) -> HttpResponse:
        """Links are made with the button on the programme's page: go there."""
        program = _program_or_404(self.clinic, program_id)
        return HttpResponseRedirect(
            reverse(
                "pages:home_programme",
                kwargs={
                    "clinic_id": self.clinic.public_id,
                    "episode_id": program.episode.public_id,
                },
            )
        )

    def post(self, request: HttpRequest, clinic_id: Any, program_id: Any) -> HttpResponse:
        program = _program_or_404(self.clinic, program_id)
        episode = _episode_or_404(self.clinic, program.episode.public_id)
        try:
            link = home.home_link_create(program=program, by=self.user)
        except SERVICE_EXCEPTIONS as exc:
            found = service_errors(exc)
            return self.render_builder(episode, errors=found.fields, status=found.status)
        token = home.home_link_token(link)
        link_url = request.build_absolute_uri(reverse("home-link-page", kwargs={"token": token}))
        return self.render_builder(
            episode,
            message=f"Link created; it works until {link.expires_at:%Y-%m-%d}.",
            link_url=link_url,
        )


class HandoutView(ClinicPageMixin):
    """The current version's handout: the print page, or the PDF (programs.handouts)."""

    capability = Capability.VIEW_CLINICAL

    def get(
        self, request: HttpRequest, clinic_id: Any, program_id: Any, fmt: str = "html"
    ) -> HttpResponse:
        program = _program_or_404(self.clinic, program_id)
        current = home.home_program_version_get(program=program)
        version = handouts.handout_version_get(version_id=current.pk) if current else None
        if version is None:
            raise Http404("The programme has no version to print.")
        access_record(
            request_or_actor=request,
            clinic=self.clinic,
            patient_public_id=program.episode.patient.public_id,
            what="home programme handout",
            record=AccessLog.Record.CLINICAL,
        )
        if fmt == "pdf":
            response = HttpResponse(handouts.handout_pdf(version), content_type="application/pdf")
            response["Content-Disposition"] = (
                f'inline; filename="{handouts.handout_filename(version, "pdf")}"'
            )
            return response
        return HttpResponse(handouts.handout_html(version), content_type="text/html")
