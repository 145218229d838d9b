"""The contraindication check: the pure rule table, the patient's record through the selectors,
and the gate that refuses without a justification."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clinic.api.errors import exception_handler
from clinic.errors import ApplicationError
from patients.rules import PatientFlag
from patients.vocabulary import ACUTE_BACK_PAIN, BodyRegion
from programs.catalogue_data import (
    CATEGORY_RULES,
    ESTIM_RULES,
    HEAT_RULES,
    ULTRASOUND_RULES,
    RuleData,
)
from programs.contraindications import Finding, Rule, check
from programs.models import Exercise, Modality
from programs.selectors import (
    contraindications_for_exercise,
    contraindications_for_items,
    contraindications_for_modality,
    modality_list,
)
from programs.services import contraindication_gate
from tests.programs.conftest import ON


def rules(data: tuple[RuleData, ...]) -> list[Rule]:
    return [
        Rule(
            condition=r.condition,
            severity=r.severity,  # type: ignore[arg-type]
            reason=r.reason,
            region_scope=r.region_scope,
            regions=frozenset(r.regions),
            id=n,
        )
        for n, r in enumerate(data, start=1)
    ]


def flag(code: str, region: str = "", label: str = "") -> PatientFlag:
    return PatientFlag(code=code, label=label or code.replace("_", " ").title(), region=region)


def outcome(findings: list[Finding]) -> set[tuple[str, str]]:
    return {(f.severity, f.condition) for f in findings}


ESTIM = rules(ESTIM_RULES)
HEAT = rules(HEAT_RULES)
ULTRASOUND = rules(ULTRASOUND_RULES)

# (rules, patient flags, treated region, expected {(severity, condition)})
TABLE = [
    # TENS and a pacemaker: refused wherever the electrodes go.
    (ESTIM, [flag("pacemaker")], "knee", {("refuse", "pacemaker")}),
    (ESTIM, [flag("pacemaker")], "lumbar", {("refuse", "pacemaker")}),
    (ESTIM, [flag("pacemaker")], None, {("refuse", "pacemaker")}),
    # Electrodes over the anterior neck: refused with no condition at all.
    (ESTIM, [], "anterior_neck", {("refuse", "")}),
    (ESTIM, [], "cervical", set()),
    (ESTIM, [], None, set()),
    # Pregnancy: refused over the abdomen, lumbar region and pelvis only.
    (ESTIM, [flag("pregnancy")], "lumbar", {("refuse", "pregnancy")}),
    (ESTIM, [flag("pregnancy")], "abdomen", {("refuse", "pregnancy")}),
    (ESTIM, [flag("pregnancy")], "pelvis_sacrum", {("refuse", "pregnancy")}),
    (ESTIM, [flag("pregnancy")], "knee", set()),
    # 'whole body' covers every region, the anterior neck included
    (ESTIM, [flag("pregnancy")], "whole_body", {("refuse", "pregnancy"), ("refuse", "")}),
    (ESTIM, [flag("pregnancy")], None, {("warn", "pregnancy")}),  # region not known yet
    (ESTIM, [flag("epilepsy")], "knee", {("refuse", "epilepsy")}),
    (ESTIM, [flag("open_wound", "knee")], "knee", {("refuse", "open_wound")}),
    (ESTIM, [flag("open_wound", "knee")], "lumbar", set()),
    (ESTIM, [flag("impaired_sensation", "lumbar")], "lumbar", {("warn", "impaired_sensation")}),
    # Heat over impaired sensation: refused over the same region, not over another.
    (HEAT, [flag("impaired_sensation", "lumbar")], "lumbar", {("refuse", "impaired_sensation")}),
    (HEAT, [flag("impaired_sensation", "lumbar")], "knee", set()),
    (HEAT, [flag("impaired_sensation", "")], "knee", {("refuse", "impaired_sensation")}),
    (HEAT, [flag("impaired_sensation", "whole_body")], "knee", {("refuse", "impaired_sensation")}),
    (HEAT, [flag("impaired_sensation", "knee")], None, {("warn", "impaired_sensation")}),
    (HEAT, [flag("acute_injury", "shoulder")], "shoulder", {("refuse", "acute_injury")}),
    (HEAT, [flag("malignancy", "lumbar")], "thoracic", set()),
    (HEAT, [flag("dvt")], "lumbar", {("refuse", "dvt")}),
    (HEAT, [flag("pacemaker")], "lumbar", set()),
    # Ultrasound over a malignancy and over the eyes.
    (ULTRASOUND, [flag("malignancy", "thigh")], "thigh", {("refuse", "malignancy")}),
    (ULTRASOUND, [flag("malignancy", "thigh")], "knee", set()),
    (ULTRASOUND, [], "eyes", {("refuse", "")}),
    (ULTRASOUND, [flag("pregnancy")], "abdomen", {("refuse", "pregnancy")}),
    (ULTRASOUND, [flag("pregnancy")], "shoulder", set()),
    # Several conditions at once: every one is named.
    (
        ESTIM,
        [flag("pacemaker"), flag("pregnancy"), flag("impaired_sensation", "lumbar")],
        "lumbar",
        {("refuse", "pacemaker"), ("refuse", "pregnancy"), ("warn", "impaired_sensation")},
    ),
]


@pytest.mark.parametrize(("rule_set", "flags", "region", "expected"), TABLE)
def test_check_table(rule_set, flags, region, expected):
    assert outcome(check(flags=flags, rules=rule_set, treated_region=region)) == expected


def test_finding_names_the_patients_condition_and_the_rule():
    [finding] = check(
        flags=[flag("pacemaker", label="Pacemaker or implanted defibrillator")],
        rules=ESTIM,
        treated_region="knee",
    )
    assert finding.reason.startswith("Pacemaker or implanted defibrillator: ")
    assert "interfere with the device" in finding.reason
    assert finding.rule_id is not None
    assert finding.region == "knee"


def test_placement_finding_names_the_region():
    [finding] = check(flags=[], rules=ESTIM, treated_region="anterior_neck")
    assert finding.reason.startswith("Over the anterior neck / carotid sinus: ")
    assert "carotid sinus" in finding.reason


def test_region_unknown_warning_says_where_not_to_apply():
    [finding] = check(flags=[flag("pregnancy")], rules=ESTIM, treated_region=None)
    assert finding.severity == "warn"
    assert "do not apply over abdomen, lumbar spine (lower back), pelvis and sacrum" in (
        finding.reason
    )


def test_a_condition_recorded_twice_is_one_finding_naming_both():
    findings = check(
        flags=[
            flag("lumbar_disc_herniation", label="Lumbar disc herniation"),
            flag("lumbar_disc_herniation", label="Disc displacement (M51.26)"),
        ],
        rules=rules(CATEGORY_RULES["flexion_loading"]),
        treated_region="lumbar",
    )
    assert len(findings) == 1
    assert findings[0].reason.startswith("Lumbar disc herniation; Disc displacement (M51.26): ")


def test_refusals_sort_before_warnings():
    findings = check(
        flags=[flag("impaired_sensation", "lumbar"), flag("pacemaker"), flag("epilepsy")],
        rules=ESTIM,
        treated_region="lumbar",
    )
    assert [f.severity for f in findings] == ["refuse", "refuse", "warn"]


REGION = st.sampled_from(BodyRegion.values)
FLAG = st.builds(
    PatientFlag,
    code=st.sampled_from(["pacemaker", "pregnancy", "malignancy", "impaired_sensation", "x"]),
    label=st.text(min_size=1, max_size=10),
    region=st.one_of(st.just(""), REGION),
)


@given(flags=st.lists(FLAG, max_size=6), region=st.one_of(st.none(), REGION))
def test_check_properties(flags, region):
    findings = check(flags=flags, rules=ESTIM + ULTRASOUND, treated_region=region)
    severities = [f.severity for f in findings]
    assert severities == sorted(severities, key=["refuse", "warn"].index)
    codes = {f.code for f in flags}
    for finding in findings:
        assert finding.condition == "" or finding.condition in codes
    # a pacemaker refuses electrotherapy wherever it is applied
    assert ("pacemaker" in codes) == any(f.condition == "pacemaker" for f in findings)
    # with no region given, only 'anywhere' rules refuse
    if region is None:
        assert {f.condition for f in findings if f.severity == "refuse"} <= {"pacemaker"}


# --- Against the patient's record (selectors) ----------------------------------------------------


def _modality(name: str) -> Modality:
    return modality_list().get(name=name)


def _exercise(slug: str) -> Exercise:
    return Exercise.objects.get(slug=slug)


@pytest.mark.django_db
def test_tens_refused_for_a_pacemaker_over_any_region(patient, add_precaution):
    add_precaution("pacemaker")
    tens = _modality("TENS (attended)")
    for region in ("knee", "lumbar", "shoulder"):
        findings = contraindications_for_modality(
            patient=patient, modality=tens, body_region=region, on=ON
        )
        assert outcome(findings) == {("refuse", "pacemaker")}
        assert "Pacemaker or implanted defibrillator" in findings[0].reason


@pytest.mark.django_db
def test_tens_over_the_anterior_neck_refused_without_any_condition(patient):
    tens = _modality("TENS (unattended)")
    assert outcome(
        contraindications_for_modality(
            patient=patient, modality=tens, body_region="anterior_neck", on=ON
        )
    ) == {("refuse", "")}
    assert (
        contraindications_for_modality(
            patient=patient, modality=tens, body_region="cervical", on=ON
        )
        == []
    )


@pytest.mark.django_db
def test_tens_in_pregnancy_refused_over_lumbar_not_over_the_knee(patient, add_precaution):
    add_precaution("pregnancy")
    tens = _modality("TENS (attended)")
    lumbar = contraindications_for_modality(
        patient=patient, modality=tens, body_region="lumbar", on=ON
    )
    knee = contraindications_for_modality(patient=patient, modality=tens, body_region="knee", on=ON)
    assert outcome(lumbar) == {("refuse", "pregnancy")}
    assert knee == []


@pytest.mark.django_db
def test_pregnancy_from_a_diagnosis_refuses_tens_over_lumbar(patient, add_diagnosis):
    add_diagnosis("Z33.1", onset=None, description="Pregnant state")
    tens = _modality("TENS (attended)")
    findings = contraindications_for_modality(
        patient=patient, modality=tens, body_region="lumbar", on=ON
    )
    assert outcome(findings) == {("refuse", "pregnancy")}
    assert "Pregnant state (Z33.1)" in findings[0].reason


@pytest.mark.django_db
def test_heat_refused_over_impaired_sensation_of_the_same_region_only(patient, add_precaution):
    add_precaution("impaired_sensation", "lumbar")
    hot_pack = _modality("Hot pack")
    same = contraindications_for_modality(
        patient=patient, modality=hot_pack, body_region="lumbar", on=ON
    )
    other = contraindications_for_modality(
        patient=patient, modality=hot_pack, body_region="shoulder", on=ON
    )
    assert outcome(same) == {("refuse", "impaired_sensation")}
    assert "Impaired sensation (Lumbar spine (lower back))" in same[0].reason
    assert other == []


@pytest.mark.django_db
def test_ultrasound_over_a_malignancy_region_refused(patient, add_precaution):
    add_precaution("malignancy", "thigh")
    ultrasound = _modality("Therapeutic ultrasound")
    assert outcome(
        contraindications_for_modality(
            patient=patient, modality=ultrasound, body_region="thigh", on=ON
        )
    ) == {("refuse", "malignancy")}
    assert (
        contraindications_for_modality(
            patient=patient, modality=ultrasound, body_region="shoulder", on=ON
        )
        == []
    )


@pytest.mark.django_db
def test_a_resolved_precaution_no_longer_refuses(patient, add_precaution):
    precaution = add_precaution("pacemaker")
    precaution.resolved_on = ON - dt.timedelta(days=1)
    precaution.save(update_fields=["resolved_on"])
    assert (
        contraindications_for_modality(
            patient=patient, modality=_modality("TENS (attended)"), body_region="knee", on=ON
        )
        == []
    )


@pytest.mark.django_db
def test_crunches_refused_for_disc_herniation_by_diagnosis(patient, add_diagnosis):
    add_diagnosis("M51.26", onset=ON - dt.timedelta(days=400), description="Disc displacement")
    findings = contraindications_for_exercise(patient=patient, exercise=_exercise("crunch"), on=ON)
    assert outcome(findings) == {("refuse", "lumbar_disc_herniation")}
    assert "Disc displacement (M51.26)" in findings[0].reason


@pytest.mark.django_db
def test_crunches_refused_for_disc_herniation_by_precaution(patient, add_precaution):
    add_precaution("lumbar_disc_herniation")
    findings = contraindications_for_exercise(patient=patient, exercise=_exercise("crunch"), on=ON)
    assert outcome(findings) == {("refuse", "lumbar_disc_herniation")}
    assert findings[0].reason.startswith("Lumbar disc herniation: ")


@pytest.mark.django_db
def test_disc_herniation_does_not_flag_a_press_up_or_a_bird_dog(patient, add_diagnosis):
    add_diagnosis("M51.26", onset=ON - dt.timedelta(days=400))
    for slug in ("mckenzie-prone-press-up", "bird-dog", "walking"):
        assert (
            contraindications_for_exercise(patient=patient, exercise=_exercise(slug), on=ON) == []
        ), slug


@pytest.mark.django_db
@pytest.mark.parametrize("slug", ["mckenzie-prone-press-up", "prone-on-elbows"])
def test_extension_flagged_for_stenosis(patient, add_diagnosis, slug):
    add_diagnosis("M48.061", onset=ON - dt.timedelta(days=800), description="Spinal stenosis")
    findings = contraindications_for_exercise(patient=patient, exercise=_exercise(slug), on=ON)
    assert outcome(findings) == {("refuse", "lumbar_spinal_stenosis")}
    assert "Spinal stenosis (M48.061)" in findings[0].reason


@pytest.mark.django_db
def test_extension_flagged_for_facet_arthropathy(patient, add_diagnosis):
    add_diagnosis("M47.816", onset=None, description="Spondylosis, lumbar")
    findings = contraindications_for_exercise(
        patient=patient, exercise=_exercise("standing-back-extension"), on=ON
    )
    assert outcome(findings) == {("refuse", "facet_arthropathy")}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("onset_days_before", "flagged"),
    [(10, True), (80, True), (120, False), (400, False)],
)
def test_running_flagged_while_back_pain_is_acute(
    patient, add_diagnosis, onset_days_before, flagged
):
    add_diagnosis("M54.50", onset=ON - dt.timedelta(days=onset_days_before))
    for slug in ("running", "jumping-jacks"):
        findings = contraindications_for_exercise(patient=patient, exercise=_exercise(slug), on=ON)
        assert outcome(findings) == ({("refuse", ACUTE_BACK_PAIN)} if flagged else set()), slug
    assert (
        contraindications_for_exercise(patient=patient, exercise=_exercise("walking"), on=ON) == []
    )


@pytest.mark.django_db
def test_contraindication_selectors_use_a_constant_number_of_queries(
    patient, add_precaution, add_diagnosis, django_assert_num_queries
):
    add_precaution("pregnancy")
    add_precaution("impaired_sensation", "lumbar")
    add_diagnosis("M51.26", onset=ON - dt.timedelta(days=30))
    prefetched = _modality("TENS (attended)")
    with django_assert_num_queries(2):  # precautions, diagnoses; the rules were prefetched
        contraindications_for_modality(
            patient=patient, modality=prefetched, body_region="lumbar", on=ON
        )
    plain = Modality.objects.get(name="Hot pack")
    with django_assert_num_queries(3):
        contraindications_for_modality(patient=patient, modality=plain, body_region="lumbar", on=ON)

    modalities = [(m, "lumbar") for m in Modality.objects.all()]
    exercises = list(Exercise.objects.all())
    with django_assert_num_queries(3):
        by_modality, by_exercise = contraindications_for_items(
            patient=patient, modalities=modalities, exercises=exercises, on=ON
        )
    assert len(by_modality) == len(modalities)
    assert len(by_exercise) == len(exercises)
    crunch = next(f for e, f in zip(exercises, by_exercise, strict=True) if e.slug == "crunch")
    assert ("refuse", "lumbar_disc_herniation") in outcome(crunch)
    tens = next(
        f for (m, _), f in zip(modalities, by_modality, strict=True) if m.name == "TENS (attended)"
    )
    assert outcome(tens) == {("refuse", "pregnancy"), ("warn", "impaired_sensation")}


# --- The gate -----------------------------------------------------------------------------------

REFUSAL = Finding(severity="refuse", condition="pacemaker", reason="Pacemaker: no e-stim.")
WARNING = Finding(severity="warn", condition="impaired_sensation", reason="Check the skin.")


@pytest.mark.parametrize("justification", [None, "", "   \n"])
def test_gate_refuses_without_a_justification(justification):
    with pytest.raises(ApplicationError) as raised:
        contraindication_gate(
            findings=[WARNING, REFUSAL], override_justification=justification, field="modality"
        )
    error = raised.value
    assert error.code == "contraindicated"
    assert error.field == "modality"
    assert "Pacemaker: no e-stim." in error.message
    assert error.extra["findings"] == [WARNING.as_dict(), REFUSAL.as_dict()]


def test_gate_error_becomes_a_400_naming_the_item_with_the_findings():
    with pytest.raises(ApplicationError) as raised:
        contraindication_gate(findings=[REFUSAL], override_justification=None, field="modality")
    response = exception_handler(raised.value, {})
    assert response.status_code == 400
    assert response.data["code"] == "contraindicated"
    assert response.data["errors"] == {"modality": [raised.value.message]}
    assert response.data["findings"][0]["condition"] == "pacemaker"


def test_gate_with_a_justification_passes_and_returns_the_warnings():
    assert contraindication_gate(
        findings=[REFUSAL, WARNING],
        override_justification="Cardiologist cleared TENS over the knee in writing.",
    ) == [WARNING]


@pytest.mark.parametrize(("findings", "expected"), [([], []), ([WARNING], [WARNING])])
def test_gate_without_refusals_needs_no_justification(findings, expected):
    assert contraindication_gate(findings=findings, override_justification=None) == expected
