"""The home-programme handout: the print page and the PDF, opened with pypdf and read."""

from __future__ import annotations

import io
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from pypdf import PdfReader

from clinic.models import User
from programs import handouts, home
from programs.models import Exercise, HomeProgram
from tests.programs.helpers import exercise
from tests.text import mentions

pytestmark = pytest.mark.django_db


@pytest.fixture
def named_therapist(therapist) -> User:
    User.objects.filter(pk=therapist.pk).update(first_name="Dana", last_name="Whitfield")
    therapist.refresh_from_db()
    return therapist


def prescribe(episode, by, slugs) -> HomeProgram:
    return home.home_program_create(
        episode=episode,
        by=by,
        items=[exercise(s) for s in slugs],
        notes="Keep moving through the day.",
    )


def pdf_text(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    return re.sub(r"\s+", " ", " ".join(page.extract_text() for page in reader.pages))


def handout_url(program: HomeProgram, kind: str) -> str:
    return reverse(
        f"home-program-handout-{kind}",
        kwargs={"clinic_id": program.clinic.public_id, "public_id": program.public_id},
    )


def test_handout_pdf_holds_clinic_patient_exercises_dosage_tick_sheet_and_therapist(
    episode, named_therapist, client_for
):
    program = prescribe(episode, named_therapist, ["bird-dog", "hamstring-stretch"])
    response = client_for(named_therapist).get(handout_url(program, "pdf"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    patient = episode.patient
    assert not mentions(response["Content-Disposition"], patient.last_name)
    text = pdf_text(response.content)
    assert "Riverside Physio" in text
    assert f"{patient.first_name} {patient.last_name}" in text
    assert "Bird dog" in text or "Bird-dog" in text
    assert "Hamstring stretch" in text
    assert "2 x 10, hold 5 s, 5 days/week" in text
    assert "3 reps, hold 30 s, 1/day, 7 days/week" in text
    assert "Weekly tick sheet" in text
    for day in ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"):
        assert day in text
    assert "Dana Whitfield" in text
    assert "Keep moving through the day." in text
    library = Exercise.objects.get(slug="hamstring-stretch")
    assert library.instructions.split(".")[0][:40] in text


def test_handout_html_is_print_friendly_and_csp_clean(episode, named_therapist, client_for):
    program = prescribe(episode, named_therapist, ["bridge"])
    response = client_for(named_therapist).get(handout_url(program, "html"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "programs/handout.css" in page
    assert "<script" not in page
    assert "style=" not in page
    assert "<style" not in page
    assert "Weekly tick sheet" in page
    assert "Dana Whitfield" in page
    assert "default-src 'self'" in response["Content-Security-Policy"]


def test_handout_of_an_earlier_version(episode, named_therapist, client_for):
    program = prescribe(episode, named_therapist, ["bridge"])
    home.home_program_revise(
        program=program, by=named_therapist, version=1, items=[exercise("walking")]
    )
    client = client_for(named_therapist)
    assert "Walking" in pdf_text(client.get(handout_url(program, "pdf")).content)
    old = client.get(handout_url(program, "pdf"), {"version": 1})
    assert "Bridge" in pdf_text(old.content)
    assert client.get(handout_url(program, "pdf"), {"version": 9}).status_code == 404
    assert client.get(handout_url(program, "pdf"), {"version": "x"}).status_code == 404


FIFTEEN = [
    "bird-dog",
    "bridge",
    "pelvic-tilt",
    "abdominal-bracing",
    "dead-bug",
    "plank",
    "side-plank",
    "clamshell",
    "wall-squat",
    "heel-raise",
    "hamstring-stretch",
    "piriformis-stretch",
    "hip-flexor-stretch",
    "calf-stretch",
    "walking",
]


def test_handout_for_15_exercises_renders_in_constant_queries(episode, named_therapist):
    few = prescribe(episode, named_therapist, FIFTEEN[:2])
    version_few = home.home_program_version_get(program=few)
    home.home_program_archive(program=few, by=named_therapist)
    many = prescribe(episode, named_therapist, FIFTEEN)
    version_many = home.home_program_version_get(program=many)
    counts = []
    for version in (version_few, version_many):
        with CaptureQueriesContext(connection) as queries:
            found = handouts.handout_version_get(version_id=version.pk)
            pdf = handouts.handout_pdf(found)
            html = handouts.handout_html(found)
        counts.append(len(queries))
    assert counts[0] == counts[1] == 2
    text = pdf_text(pdf)
    assert all(Exercise.objects.get(slug=s).name in text for s in FIFTEEN)
    assert html.count('class="exercise"') == 15
