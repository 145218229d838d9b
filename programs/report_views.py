"""The reports as admin pages: choose a period and a clinic (or every clinic one may report on),
read the tables, download any of them as CSV. Registered on the project's admin site by
programs/admin.py; the numbers come from programs.reports.

Who: anyone with Capability.VIEW_REPORTS in at least one active clinic (clinic administrators,
superusers); each sees and chooses only the clinics where they have it. The query string holds
dates and a clinic id only, never patient data.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import AdminDateWidget
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from clinic.admin_base import csv_response
from clinic.models import Clinic
from programs.reports import MAX_PERIOD_DAYS, REPORTS, Period, report_clinics

ROWS_PER_PAGE = 100


def may_read_reports(request: HttpRequest) -> bool:
    cached = getattr(request, "_may_read_reports", None)
    if cached is None:
        cached = bool(request.user.is_active and report_clinics(request.user).exists())
        request._may_read_reports = cached  # type: ignore[attr-defined]
    return cached


class ReportForm(forms.Form):
    starts_on = forms.DateField(label="From", widget=AdminDateWidget)
    ends_on = forms.DateField(label="To", widget=AdminDateWidget)
    clinic = forms.TypedChoiceField(label="Clinic", required=False, coerce=int, empty_value=None)

    def __init__(self, *args: Any, clinics: list[Clinic], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.clinics = clinics
        choices = [("", "All the clinics I administer"), *((str(c.pk), c.name) for c in clinics)]
        self.fields["clinic"].choices = choices  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        starts_on, ends_on = cleaned.get("starts_on"), cleaned.get("ends_on")
        if starts_on and ends_on:
            if ends_on < starts_on:
                self.add_error("ends_on", "Must be on or after the first day.")
            elif (ends_on - starts_on).days + 1 > MAX_PERIOD_DAYS:
                self.add_error("ends_on", f"A period is at most {MAX_PERIOD_DAYS} days.")
        return cleaned

    def chosen_clinics(self) -> list[Clinic]:
        chosen = self.cleaned_data.get("clinic")
        return [c for c in self.clinics if chosen is None or c.pk == chosen]

    def period(self) -> Period:
        return Period(self.cleaned_data["starts_on"], self.cleaned_data["ends_on"])


def default_period(today: dt.date | None = None) -> dict[str, str]:
    """The current month up to today."""
    today = today or timezone.localdate()
    return {"starts_on": today.replace(day=1).isoformat(), "ends_on": today.isoformat()}


def _clinics_or_403(request: HttpRequest) -> list[Clinic]:
    clinics = list(report_clinics(request.user))
    if not clinics:
        raise PermissionDenied("Reports need the reports capability in a clinic.")
    return clinics


def reports_index(request: HttpRequest) -> HttpResponse:
    _clinics_or_403(request)
    return TemplateResponse(
        request,
        "admin/reports/index.html",
        {
            **admin.site.each_context(request),
            "title": "Reports",
            "reports": list(REPORTS.values()),
        },
    )


def report_page(request: HttpRequest, slug: str) -> HttpResponse:
    kind = REPORTS.get(slug)
    if kind is None:
        raise Http404("No such report.")
    clinics = _clinics_or_403(request)
    data = request.GET if "starts_on" in request.GET else {**default_period(), **request.GET.dict()}
    form = ReportForm(data, clinics=clinics)
    context: dict[str, Any] = {
        **admin.site.each_context(request),
        "title": kind.title,
        "kind": kind,
        "form": form,
        "media": forms.Media(js=["admin/js/core.js"]) + form.media,  # the date pickers
    }
    if not form.is_valid():
        return TemplateResponse(request, "admin/reports/report.html", context, status=400)
    report = kind.build(clinics=form.chosen_clinics(), period=form.period())
    if request.GET.get("format") == "csv":
        key = request.GET.get("table") or report.tables[0].key
        table = report.table(key)
        if table is None:
            raise Http404("No such table in this report.")
        name = f"{report.slug}-{table.key}-{form.cleaned_data['starts_on']:%Y%m%d}-"
        name += f"{form.cleaned_data['ends_on']:%Y%m%d}.csv"
        return csv_response(name, [label for _, label in table.columns], table.values())
    query = request.GET.copy()
    query.pop("format", None)
    pages = []
    for table in report.tables:
        page = Paginator(table.values(), ROWS_PER_PAGE).get_page(
            request.GET.get(f"page_{table.key}")
        )
        csv_query = query.copy()
        csv_query.update({"format": "csv", "table": table.key})
        for name in [k for k in csv_query if k.startswith("page_")]:
            csv_query.pop(name)
        page_query = query.copy()
        page_query.pop(f"page_{table.key}", None)
        pages.append(
            {
                "table": table,
                "page": page,
                "csv_query": csv_query.urlencode(),
                "page_query": page_query.urlencode(),
                "page_param": f"page_{table.key}",
            }
        )
    context.update({"report": report, "pages": pages, "query": query})
    return TemplateResponse(request, "admin/reports/report.html", context)
