"""The therapist's pages through the test client: the evaluation (versions, signing), outcome
questionnaires scored by patients.outcomes, the treatment note (billing units by
programs.billing, contraindications with the override), the chart; constant queries per page."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from clinic.models import AccessLog
from patients.models import Evaluation, OutcomeMeasure, PrecautionKind, Visit
from programs.models import DeliveredModality, Modality, TreatmentNote
from tests.factories import (
    EpisodeVisitFactory,
    EvaluationFactory,
    OutcomeMeasureFactory,
    PrecautionFactory,
    ProgressSummaryFactory,
    SignedTreatmentNoteFactory,
)
from tests.text import mentions

HTMX = {"HTTP_HX_REQUEST": "true"}
ODI_16 = {
    "odi-pain_intensity": "2",
    "odi-personal_care": "1",
    "odi-lifting": "3",
    "odi-walking": "1",
    "odi-sitting": "2",
    "odi-standing": "2",
    "odi-sleeping": "1",
    "odi-sex_life": "",
    "odi-social_life": "2",
    "odi-travelling": "2",
}


def url(practice, name: str, **kwargs: object) -> str:
    return reverse(name, kwargs={"clinic_id": practice.clinic.public_id, **kwargs})


@pytest.fixture
def evaluation(practice) -> Evaluation:
    return EvaluationFactory(
        episode=practice.episode,
        clinic=practice.clinic,
        author=practice.therapist,
        visit=practice.visit_now,
        performed_on=practice.today(),
        complexity="",
    )


def eval_form(evaluation: Evaluation, **overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "version": evaluation.version,
        "history": "Pain after lifting a crate.",
        "pain_location": "Lumbar, right side",
        "findings": "Flexion limited to 40 degrees.",
        "icd10_code": "M54.50",
        "diagnosis_description": "Low back pain, unspecified",
        "complexity": "moderate",
        "assessment": "Mechanical low back pain.",
        "plan": "Twice a week for four weeks.",
    }
    data.update(overrides)
    return data


def test_starting_an_evaluation_links_todays_visit(practice, login):
    response = login(practice.therapist).post(
        url(practice, "pages:evaluation_new", episode_id=practice.episode.public_id),
        {"kind": "initial"},
    )
    evaluation = Evaluation.objects.get(episode=practice.episode)
    assert response.status_code == 302
    assert response["Location"] == url(
        practice, "pages:evaluation", evaluation_id=evaluation.public_id
    )
    assert evaluation.visit == practice.visit_now
    assert evaluation.author == practice.therapist
    second = login(practice.therapist).post(
        url(practice, "pages:evaluation_new", episode_id=practice.episode.public_id),
        {"kind": "initial"},
    )
    assert second.status_code == 400  # one initial evaluation per episode, said on the page
    assert Evaluation.objects.filter(episode=practice.episode).count() == 1


def test_saving_an_evaluation_keeps_the_keys_the_page_does_not_show(practice, login, evaluation):
    client = login(practice.therapist)
    page = url(practice, "pages:evaluation", evaluation_id=evaluation.public_id)
    assert client.get(page).status_code == 200
    response = client.post(page, eval_form(evaluation))
    assert response.status_code == 302
    evaluation.refresh_from_db()
    assert evaluation.version == 2
    assert evaluation.subjective["history"] == "Pain after lifting a crate."
    assert evaluation.objective["range_of_motion"] == {"lumbar_flexion": 40}
    assert evaluation.objective["findings"] == "Flexion limited to 40 degrees."
    assert evaluation.complexity == "moderate"


def test_a_stale_evaluation_save_is_a_409_and_changes_nothing(practice, login, evaluation):
    client = login(practice.therapist)
    page = url(practice, "pages:evaluation", evaluation_id=evaluation.public_id)
    assert client.post(page, eval_form(evaluation)).status_code == 302
    stale = client.post(page, eval_form(evaluation, version=1, history="Overwritten?"))
    assert stale.status_code == 409
    assert "version" in stale.content.decode()
    evaluation.refresh_from_db()
    assert evaluation.subjective["history"] == "Pain after lifting a crate."


def test_a_bad_diagnosis_code_is_a_400_on_its_field(practice, login, evaluation):
    response = login(practice.therapist).post(
        url(practice, "pages:evaluation", evaluation_id=evaluation.public_id),
        eval_form(evaluation, icd10_code="not-a-code"),
    )
    assert response.status_code == 400
    assert 'aria-invalid="true"' in response.content.decode()
    evaluation.refresh_from_db()
    assert evaluation.version == 1


def test_signing_needs_the_complexity_then_signs(practice, login, evaluation):
    client = login(practice.therapist)
    sign = url(practice, "pages:evaluation_sign", evaluation_id=evaluation.public_id)
    refused = client.post(sign, {"version": evaluation.version})
    assert refused.status_code == 400
    assert "needs its complexity" in refused.content.decode()
    page = url(practice, "pages:evaluation", evaluation_id=evaluation.public_id)
    client.post(page, eval_form(evaluation))
    signed = client.post(sign, {"version": 2})
    assert signed.status_code == 302
    evaluation.refresh_from_db()
    assert evaluation.status == Evaluation.Status.SIGNED
    assert evaluation.signed_by == practice.therapist


def test_a_receptionist_cannot_sign_or_score(practice, login, evaluation):
    client = login(practice.receptionist)
    sign = url(practice, "pages:evaluation_sign", evaluation_id=evaluation.public_id)
    assert client.post(sign, {"version": 1}).status_code == 403
    assert (
        client.post(url(practice, "pages:outcome_score", instrument="odi"), ODI_16).status_code
        == 403
    )


@pytest.mark.parametrize(
    ("instrument", "data", "shown"),
    [
        ("odi", ODI_16, "35.6 % (moderate disability)"),
        ("odi", {**ODI_16, "odi-sex_life": "0"}, "32.0 % (moderate disability)"),
        ("odi", {**ODI_16, "odi-lifting": "", "odi-walking": ""}, "only 7 of 10 sections answered"),
        ("nprs", {"nprs-pain": "7"}, "7 points"),
        ("nprs", {"nprs-pain": "11"}, "pain:"),
        ("rmdq", {f"rmdq-{n}": "yes" if n <= 9 else "no" for n in range(1, 25)}, "9 points"),
        (
            "psfs",
            {
                "psfs-1-name": "Put on socks",
                "psfs-1-score": "4",
                "psfs-2-name": "Sit 30 minutes",
                "psfs-2-score": "5",
                "psfs-3-name": "Lift a child",
                "psfs-3-score": "3",
            },
            "4.0 mean points",
        ),
    ],
)
def test_questionnaires_score_as_they_are_filled_in(practice, login, instrument, data, shown):
    response = login(practice.therapist).post(
        url(practice, "pages:outcome_score", instrument=instrument), data, **HTMX
    )
    assert response.status_code == 200
    assert shown in response.content.decode()


def test_recording_an_odi_keeps_the_raw_answers(practice, login, evaluation):
    client = login(practice.therapist)
    record = url(
        practice, "pages:outcome_record", evaluation_id=evaluation.public_id, instrument="odi"
    )
    assert client.post(record, ODI_16).status_code == 302
    measure = OutcomeMeasure.objects.get(evaluation=evaluation)
    assert measure.answers["sections"]["sex_life"] is None
    assert measure.score == Decimal("35.5556")
    page = client.get(url(practice, "pages:evaluation", evaluation_id=evaluation.public_id))
    assert "35.6 % (moderate disability)" in page.content.decode()


def test_recording_a_bad_questionnaire_is_a_400_naming_the_answer(practice, login, evaluation):
    response = login(practice.therapist).post(
        url(
            practice, "pages:outcome_record", evaluation_id=evaluation.public_id, instrument="psfs"
        ),
        {"psfs-1-name": "Put on socks", "psfs-1-score": "4"},
    )
    assert response.status_code == 400
    assert "activities" in response.content.decode()
    assert not OutcomeMeasure.objects.exists()


# --- The treatment note ------------------------------------------------------------------------


def _modality(cpt_code: str, kind: str | None = None, name: str = "") -> Modality:
    found = Modality.objects.filter(cpt_code=cpt_code, active=True, name__startswith=name)
    if kind:
        found = found.filter(kind=kind)
    return found.order_by("name").first()


def _params(modality: Modality, index: int = 0) -> dict[str, object]:
    """Every required parameter at its minimum (or first choice)."""
    data: dict[str, object] = {}
    for entry in modality.parameter_spec:
        if entry["name"] == "minutes" or not entry.get("required"):
            continue
        value = entry["choices"][0] if entry["kind"] == "choice" else entry.get("min", 1)
        if entry["kind"] == "text":
            value = "Paravertebral, L4-L5"
        data[f"m-{index}-p-{entry['name']}"] = value
    return data


def note_form(**rows: object) -> dict[str, object]:
    exercise = _modality("97110", "therapeutic_exercise")
    manual = _modality("97140")
    data: dict[str, object] = {
        "version": "",
        "subjective": "Pain 4/10.",
        "assessment": "Improving.",
        "notes": "Core work.",
        "m-0-modality": exercise.public_id,
        "m-0-region": "lumbar",
        "m-0-minutes": "33",
        "m-1-modality": manual.public_id,
        "m-1-region": "lumbar",
        "m-1-minutes": "7",
        **_params(manual, 1),
        "action": "save",
    }
    data.update(rows)
    return data


def test_the_note_preview_computes_units_with_the_episodes_rule(practice, login):
    response = login(practice.therapist).post(
        url(practice, "pages:note_preview", visit_id=practice.visit_now.public_id),
        note_form(),
        **HTMX,
    )
    body = response.content.decode()
    assert response.status_code == 200
    # Rule of eights (the episode's commercial payer): 33 min of 97110 = 2 units, 7 of 97140 = 0.
    assert '<td data-code="97110">2</td>' in body
    assert '<td data-code="97140">0</td>' in body
    assert '<td id="total-units">2</td>' in body
    assert not TreatmentNote.objects.exists()


def test_the_medicare_rule_pools_the_minutes(practice, login):
    practice.episode.billing_rule = "medicare_8_minute"
    practice.episode.save(update_fields=["billing_rule"])
    body = (
        login(practice.therapist)
        .post(
            url(practice, "pages:note_preview", visit_id=practice.visit_now.public_id),
            note_form(),
            **HTMX,
        )
        .content.decode()
    )
    # 40 timed minutes = 3 units: 2 for 97110, 1 for 97140.
    assert '<td data-code="97110">2</td>' in body
    assert '<td data-code="97140">1</td>' in body
    assert '<td id="total-units">3</td>' in body


def test_saving_and_signing_a_note_completes_the_visit(practice, login):
    client = login(practice.therapist)
    page = url(practice, "pages:note", visit_id=practice.visit_now.public_id)
    assert client.get(page).status_code == 200
    saved = client.post(page, note_form())
    assert saved.status_code == 302
    note = TreatmentNote.objects.get(visit=practice.visit_now)
    assert note.status == TreatmentNote.Status.DRAFT
    assert sorted((b.cpt_code, b.units) for b in note.billing_lines.all()) == [
        ("97110", 2),
        ("97140", 0),
    ]
    stale = client.post(page, note_form(version=str(note.version - 1) if note.version > 1 else "0"))
    assert stale.status_code == 409
    signed = client.post(page, note_form(version=str(note.version), action="sign"))
    assert signed.status_code == 302
    note.refresh_from_db()
    assert note.status == TreatmentNote.Status.SIGNED
    practice.visit_now.refresh_from_db()
    assert practice.visit_now.status == Visit.Status.COMPLETED
    shown = client.get(page).content.decode()
    assert "Signed notes cannot change." in shown
    assert '<form method="post" action="' + page not in shown


def test_a_contraindicated_modality_needs_a_justification(practice, login):
    PrecautionFactory(
        patient=practice.patient,
        clinic=practice.clinic,
        kind=PrecautionKind.objects.get(code="pacemaker"),
    )
    tens = _modality("97032", "electrotherapy_attended", "TENS")
    rows = {
        "m-0-modality": tens.public_id,
        "m-0-region": "lumbar",
        "m-0-minutes": "15",
        **_params(tens),
        "m-1-modality": "",
        "m-1-minutes": "",
    }
    client = login(practice.therapist)
    page = url(practice, "pages:note", visit_id=practice.visit_now.public_id)
    preview = client.post(
        url(practice, "pages:note_preview", visit_id=practice.visit_now.public_id),
        note_form(**rows),
        **HTMX,
    ).content.decode()
    assert 'class="finding refuse"' in preview
    assert "acemaker" in preview
    refused = client.post(page, note_form(**rows))
    assert refused.status_code == 400
    body = refused.content.decode()
    assert "Contraindicated:" in body
    assert "write a justification" in body
    assert not TreatmentNote.objects.exists()
    accepted = client.post(
        page, note_form(**rows, **{"m-0-justification": "Demand pacemaker checked by cardiology."})
    )
    assert accepted.status_code == 302
    delivered = DeliveredModality.objects.get(note__visit=practice.visit_now)
    assert delivered.override_justification == "Demand pacemaker checked by cardiology."
    assert delivered.warnings


def test_a_missing_parameter_is_named_on_its_row(practice, login):
    tens = _modality("97032", "electrotherapy_attended", "TENS")
    response = login(practice.therapist).post(
        url(practice, "pages:note", visit_id=practice.visit_now.public_id),
        note_form(**{"m-0-modality": tens.public_id, "m-1-modality": "", "m-1-minutes": ""}),
    )
    assert response.status_code == 400
    assert "is required" in response.content.decode()
    assert not TreatmentNote.objects.exists()


def test_a_receptionist_cannot_write_a_note(practice, login):
    response = login(practice.receptionist).post(
        url(practice, "pages:note", visit_id=practice.visit_now.public_id), note_form()
    )
    assert response.status_code == 403
    assert not TreatmentNote.objects.exists()


def test_the_note_row_offers_the_modalitys_parameters(practice, login):
    tens = _modality("97032", "electrotherapy_attended", "TENS")
    response = login(practice.therapist).get(
        url(practice, "pages:note_row", visit_id=practice.visit_now.public_id, kind="modality")
        + f"?index=0&part=params&m-0-modality={tens.public_id}",
        **HTMX,
    )
    body = response.content.decode()
    required = [e for e in tens.parameter_spec if e.get("required") and e["name"] != "minutes"]
    assert required
    for entry in required:
        assert f'name="m-0-p-{entry["name"]}"' in body


# --- The chart ---------------------------------------------------------------------------------


def test_the_chart_shows_the_record_and_logs_the_read(practice, login):
    PrecautionFactory(
        patient=practice.patient,
        clinic=practice.clinic,
        kind=PrecautionKind.objects.get(code="pacemaker"),
    )
    for days, pain in ((14, 7), (7, 5), (1, 3)):
        OutcomeMeasureFactory(
            episode=practice.episode,
            answers={"pain": pain},
            score=Decimal(pain),
            recorded_on=practice.today() - dt.timedelta(days=days),
        )
    past = EpisodeVisitFactory(clinic=practice.clinic, episode=practice.episode)
    ProgressSummaryFactory(visit=past, text="NPRS 7 to 3: meaningful improvement.")
    response = login(practice.therapist).get(
        url(practice, "pages:chart", patient_id=practice.patient.public_id)
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "Pacemaker or implanted defibrillator" in body
    assert "NPRS 7 to 3: meaningful improvement." in body
    assert body.count('class="chart-point"') == 3
    assert 'class="chart-line"' in body
    assert "style=" not in body
    log = AccessLog.objects.get()
    assert log.patient_public_id == practice.patient.public_id
    assert log.what == "chart"
    assert not mentions(log.path, practice.patient.last_name)


def _grow_the_record(practice, extra: int) -> None:
    for n in range(extra):
        visit = EpisodeVisitFactory(clinic=practice.clinic, episode=practice.episode)
        SignedTreatmentNoteFactory(visit=visit)
        ProgressSummaryFactory(visit=visit, text=f"Visit {n}.")
        OutcomeMeasureFactory(episode=practice.episode, recorded_on=practice.today())
        PrecautionFactory(patient=practice.patient, clinic=practice.clinic)


@pytest.mark.parametrize(
    "page", ["pages:chart", "pages:worklist", "pages:note", "pages:evaluation"]
)
def test_clinical_pages_take_a_constant_number_of_queries(
    practice, login, django_assert_max_num_queries, page
):
    evaluation = EvaluationFactory(episode=practice.episode, clinic=practice.clinic)
    kwargs = {
        "pages:chart": {"patient_id": practice.patient.public_id},
        "pages:worklist": {},
        "pages:note": {"visit_id": practice.visit_now.public_id},
        "pages:evaluation": {"evaluation_id": evaluation.public_id},
    }[page]
    target = url(practice, page, **kwargs)
    client = login(practice.therapist)
    _grow_the_record(practice, 1)
    client.get(target)
    limit = 30
    with django_assert_max_num_queries(limit) as small:
        assert client.get(target).status_code == 200
    _grow_the_record(practice, 6)
    with django_assert_max_num_queries(limit) as large:
        assert client.get(target).status_code == 200
    assert len(large.captured_queries) == len(small.captured_queries)
