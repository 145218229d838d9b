"""The home-programme handout: a print-friendly HTML page and the same page as a PDF
(WeasyPrint), with the clinic's name, the patient's name, the date, each exercise with its
instructions and dose, a weekly tick sheet and the therapist's name.

Both are rendered from templates/programs/handout/handout.html in a fixed number of queries
(the version with its programme, episode, patient, clinic and therapist; its items with their
exercises), whatever the number of exercises. The stylesheet is programs/static/programs/
handout.css, linked by the HTML page (the Content Security Policy allows no inline style) and
handed to WeasyPrint directly for the PDF, so no request is made while rendering.
"""

from __future__ import annotations

from typing import Any

from django.contrib.staticfiles import finders
from django.db.models import Prefetch
from django.template.loader import render_to_string
from django.utils import timezone

from programs.models import HomeProgramItem, HomeProgramVersion

TEMPLATE = "programs/handout/handout.html"
STYLESHEET = "programs/handout.css"
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def handout_version_get(*, version_id: int) -> HomeProgramVersion | None:
    """A version with everything its handout prints, in two queries."""
    return (
        HomeProgramVersion.objects.filter(pk=version_id)
        .select_related(
            "clinic", "program", "program__episode", "program__episode__patient", "prescribed_by"
        )
        .prefetch_related(
            Prefetch(
                "items",
                queryset=HomeProgramItem.objects.select_related("exercise").order_by(
                    "position", "pk"
                ),
            )
        )
        .first()
    )


def handout_context(version: HomeProgramVersion) -> dict[str, Any]:
    clinic = version.clinic
    patient = version.program.episode.patient
    therapist = version.prescribed_by
    items = list(version.items.all())
    return {
        "clinic": clinic,
        "patient_name": patient.full_name,
        "mrn": patient.mrn,
        "therapist_name": therapist.get_full_name() or therapist.username,
        "version": version,
        "printed_on": timezone.localdate(timezone=clinic.tz),
        "items": [
            {
                "number": number,
                "name": item.exercise.name,
                "instructions": item.exercise.instructions,
                "dose": item.dose_text,
                "notes": item.notes,
                "boxes": range(item.times_per_day or 1),
            }
            for number, item in enumerate(items, 1)
        ],
        "weekdays": WEEKDAYS,
    }


def handout_html(version: HomeProgramVersion, *, for_pdf: bool = False) -> str:
    context = handout_context(version)
    context["for_pdf"] = for_pdf
    return render_to_string(TEMPLATE, context)


def handout_pdf(version: HomeProgramVersion) -> bytes:
    """The handout as PDF bytes."""
    from weasyprint import CSS, HTML  # heavy import, only where a PDF is made

    stylesheet = finders.find(STYLESHEET)
    if not isinstance(stylesheet, str):
        raise FileNotFoundError(f"{STYLESHEET} is missing from the static files")
    document = HTML(string=handout_html(version, for_pdf=True))
    return bytes(document.write_pdf(stylesheets=[CSS(filename=stylesheet)]))


def handout_filename(version: HomeProgramVersion, extension: str) -> str:
    """A file name without patient data: the patient's MRN, the version."""
    mrn = version.program.episode.patient.mrn
    return f"home-programme-{mrn}-v{version.version}.{extension}"
