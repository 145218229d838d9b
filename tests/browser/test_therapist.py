"""The therapist in a real browser: the worklist, the chart, an initial evaluation with an ODI
scored as it is filled in, and a treatment note whose billing units appear live, with a
contraindication warned inline, signed at the end. Screenshots of each page; no CSP violation."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from patients.models import Evaluation, OutcomeMeasure, PrecautionKind
from programs.models import Exercise, Modality, TreatmentNote
from tests.browser.conftest import shoot, sign_in
from tests.factories import DEFAULT_PASSWORD, PrecautionFactory
from tests.pages.scenario import make_practice

pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True)]

ODI = {
    "pain_intensity": "2",
    "personal_care": "1",
    "lifting": "3",
    "walking": "1",
    "sitting": "2",
    "standing": "2",
    "sleeping": "1",
    "sex_life": "0",
    "social_life": "2",
    "travelling": "2",
}


def test_therapist_records_an_evaluation_with_an_odi_and_signs_a_treatment_note(page, live_server):
    practice = make_practice()
    PrecautionFactory(
        patient=practice.patient,
        clinic=practice.clinic,
        kind=PrecautionKind.objects.get(code="pacemaker"),
    )
    sign_in(page, practice.therapist.username, DEFAULT_PASSWORD)
    expect(page.get_by_role("heading", level=1)).to_contain_text("My day")
    expect(page.get_by_role("row", name="Lopez, Maria")).to_contain_text("Pacemaker")
    shoot(page, "therapist-worklist")

    # The chart: precautions in plain sight, then an initial evaluation.
    page.get_by_role("link", name="Chart").first.click()
    expect(page.get_by_role("note", name="Precautions")).to_contain_text(
        "Pacemaker or implanted defibrillator"
    )
    shoot(page, "therapist-chart")
    page.get_by_label("New evaluation").select_option("initial")
    page.get_by_role("button", name="Start").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Initial evaluation")
    page.get_by_label("History").fill("Low back pain for six weeks after lifting a crate.")
    page.get_by_label("Complexity").select_option("moderate")
    page.get_by_role("button", name="Save draft").click()
    expect(page.locator(".alert.ok")).to_have_text("Saved.")

    # The ODI scores as each section is answered: the server's scorer, via htmx.
    odi = page.locator("#odi-form")
    for code, value in ODI.items():
        odi.locator(f"#odi-{code}").select_option(value)
    expect(page.locator("#score-odi")).to_have_text("32.0 % (moderate disability)")
    odi.locator("#odi-sex_life").select_option("")  # skipped: 16 / 45
    expect(page.locator("#score-odi")).to_have_text("35.6 % (moderate disability)")
    shoot(page, "therapist-evaluation-odi")
    odi.get_by_role("button", name="Record ODI").click()
    expect(page.locator('[data-instrument="odi"]')).to_contain_text("35.6 %")
    measure = OutcomeMeasure.objects.get(episode=practice.episode, instrument="odi")
    assert measure.answers["sections"]["sex_life"] is None
    assert str(measure.score) == "35.5556"

    page.get_by_role("button", name="Sign evaluation").click()
    expect(page.locator("#evaluation-status")).to_have_text("Signed")
    evaluation = Evaluation.objects.get(episode=practice.episode)
    assert evaluation.status == Evaluation.Status.SIGNED
    assert evaluation.complexity == "moderate"
    shoot(page, "therapist-evaluation-signed")

    # The treatment note of today's visit.
    page.get_by_role("link", name="My day").click()
    page.get_by_role("link", name="Treatment note").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Treatment note")
    tens = Modality.objects.filter(kind="electrotherapy_attended").order_by("name").first()
    exercise = Modality.objects.get(cpt_code="97110", kind="therapeutic_exercise")
    row = page.locator("#m-row-0")
    row.get_by_label("Modality", exact=True).select_option(str(tens.public_id))
    page.locator("#m-row-0").get_by_label("Body region", exact=True).select_option("lumbar")
    expect(page.locator("#m-row-0 .finding.refuse")).to_contain_text("acemaker")
    shoot(page, "therapist-note-contraindication")

    # Not TENS then: therapeutic exercise, 33 minutes -> 2 units under the rule of eights, and
    # the evaluation signed at this visit bills 97162 (one untimed unit).
    page.locator("#m-row-0").get_by_label("Modality", exact=True).select_option(
        str(exercise.public_id)
    )
    expect(page.locator("#m-row-0 .finding.refuse")).to_have_count(0)
    expect(page.locator("#m-row-0 .params")).to_have_count(0)
    page.locator("#m-row-0").get_by_label("Minutes", exact=True).fill("33")
    expect(page.locator("#billing td[data-code='97110']")).to_have_text("2")
    expect(page.locator("#billing td[data-code='97162']")).to_have_text("1")
    expect(page.locator("#total-units")).to_have_text("3")
    page.locator("#notes").fill("Core stabilisation progressed; tolerated well.")
    shoot(page, "therapist-note-units")
    page.get_by_role("button", name="Sign and complete visit").click()
    expect(page.locator(".alert.ok")).to_have_text("Signed.")
    expect(page.locator("#note-status")).to_have_text("Signed")
    note = TreatmentNote.objects.get(visit=practice.visit_now)
    assert note.status == TreatmentNote.Status.SIGNED
    assert sorted((b.cpt_code, b.units) for b in note.billing_lines.all()) == [
        ("97110", 2),
        ("97162", 1),
    ]
    practice.visit_now.refresh_from_db()
    assert practice.visit_now.status == "completed"
    shoot(page, "therapist-note-signed")

    # The home programme from the chart, then its handout.
    page.get_by_role("link", name="Chart").click()
    page.get_by_role("link", name="Home programme").click()
    walking = Exercise.objects.filter(active=True, category="low_impact_aerobic").order_by("name")[
        0
    ]
    page.locator("#h-0-exercise").select_option(str(walking.public_id))
    page.locator("#h-0-minutes").fill("30")
    page.get_by_label("General advice (printed on the handout)").fill("Walk every day.")
    shoot(page, "therapist-home-programme")
    page.get_by_role("button", name="Prescribe").click()
    expect(page.locator(".alert.ok")).to_contain_text("Saved")
    page.get_by_role("button", name="Create a link for the patient").click()
    expect(page.get_by_label("Link")).to_have_value(re.compile(r"/home-programme/"))
    with page.expect_popup() as popup:
        page.get_by_role("link", name="Print view").click()
    handout = popup.value
    expect(handout.get_by_text(walking.name).first).to_be_visible()
    shoot(handout, "therapist-handout")
