"""The shipped catalogues against CLINICAL.md sections 2, 5 and 6."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
from django.apps import apps as django_apps
from django.conf import settings

from patients.models import PrecautionKind
from patients.vocabulary import ACUTE_BACK_PAIN
from programs.catalogue_data import CPT_CODES, EXERCISES, MODALITIES
from programs.models import ContraindicationRule, Exercise, Modality
from programs.parameters import spec_problems
from programs.services import known_condition_codes

# CLINICAL.md section 2, copied by hand: code -> timed.
SECTION_2 = {
    "97161": False,
    "97162": False,
    "97163": False,
    "97164": False,
    "97010": False,
    "97012": False,
    "97014": False,
    "97032": True,
    "97035": True,
    "97110": True,
    "97112": True,
    "97113": True,
    "97116": True,
    "97140": True,
    "97530": True,
    "97535": True,
}

CLINICAL_MD = Path(settings.BASE_DIR).parent / "shared" / "CLINICAL.md"


def _section_2_of_clinical_md() -> dict[str, bool]:
    text = CLINICAL_MD.read_text()
    section = text.split("## 2.")[1].split("\n## ")[0]
    table: dict[str, bool] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[2] in ("yes", "no"):
            for code in re.findall(r"\b\d{5}\b", cells[0]):
                table[code] = cells[2] == "yes"
    return table


@pytest.mark.skipif(not CLINICAL_MD.exists(), reason="../shared/CLINICAL.md is not beside")
def test_section_2_table_is_copied_from_clinical_md():
    assert _section_2_of_clinical_md() == SECTION_2


def test_cpt_code_table_matches_section_2():
    assert {code: c.timed for code, c in CPT_CODES.items()} == SECTION_2
    assert CPT_CODES["97014"].medicare_code == "G0283"
    assert CPT_CODES["97010"].medicare_bundled is True
    assert [c for c in CPT_CODES.values() if c.medicare_bundled] == [CPT_CODES["97010"]]


@pytest.mark.django_db
@pytest.mark.parametrize(("code", "timed"), sorted(SECTION_2.items()))
def test_shipped_modalities_bill_each_code_timed_as_section_2_says(code, timed):
    rows = list(Modality.objects.filter(cpt_code=code))
    assert rows, f"no modality bills {code}"
    assert {m.timed for m in rows} == {timed}
    assert {m.medicare_code for m in rows} == {"G0283" if code == "97014" else ""}
    assert {m.medicare_bundled for m in rows} == {code == "97010"}


@pytest.mark.django_db
def test_evaluation_codes_are_evaluation_kinds_and_not_treatments():
    kinds = dict(
        Modality.objects.filter(cpt_code__in=["97161", "97162", "97163", "97164"]).values_list(
            "cpt_code", "kind"
        )
    )
    assert kinds == {
        "97161": "evaluation",
        "97162": "evaluation",
        "97163": "evaluation",
        "97164": "re_evaluation",
    }
    assert not Modality.objects.treatments().filter(cpt_code__startswith="9716").exists()
    typical = dict(
        Modality.objects.filter(kind="evaluation").values_list("cpt_code", "typical_minutes")
    )
    assert typical == {"97161": 20, "97162": 30, "97163": 45}


@pytest.mark.django_db
def test_every_shipped_modality_is_valid_and_records_minutes():
    for modality in Modality.objects.all():
        modality.full_clean()
        assert spec_problems(modality.parameter_spec) == [], modality.name
        minutes = next(p for p in modality.parameter_spec if p["name"] == "minutes")
        assert minutes["min"] <= modality.typical_minutes <= minutes["max"], modality.name


def _spec(name: str) -> dict[str, dict]:
    return {p["name"]: p for p in Modality.objects.get(name=name).parameter_spec}


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["TENS (attended)", "TENS (unattended)", "NMES (attended)"])
def test_electrotherapy_parameters_follow_section_5(name):
    spec = _spec(name)
    assert (spec["frequency_hz"]["min"], spec["frequency_hz"]["max"]) == (1, 250)
    assert (spec["pulse_width_us"]["min"], spec["pulse_width_us"]["max"]) == (20, 400)
    assert spec["pulse_width_us"]["unit"] == "µs"
    assert (spec["intensity_ma"]["min"], spec["intensity_ma"]["max"]) == (0, 100)
    assert (spec["minutes"]["min"], spec["minutes"]["max"]) == (1, 60)
    assert spec["electrode_placement"]["kind"] == "text"
    assert spec["electrode_placement"]["required"] is True


@pytest.mark.django_db
def test_interferential_ultrasound_and_hot_pack_parameters():
    ifc = _spec("Interferential current (attended)")
    assert {"beat_frequency_hz", "carrier_frequency_hz", "intensity_ma", "minutes"} <= set(ifc)
    ultrasound = _spec("Therapeutic ultrasound")
    assert ultrasound["frequency_mhz"]["choices"] == [1, 3]
    assert (ultrasound["intensity_w_cm2"]["min"], ultrasound["intensity_w_cm2"]["max"]) == (
        0.1,
        3.0,
    )
    hot_pack = _spec("Hot pack")
    assert hot_pack["minutes"]["min"] <= 15
    assert hot_pack["minutes"]["max"] >= 20
    assert hot_pack["towel_layers"]["kind"] == "integer"
    assert Modality.objects.get(name="Hot pack").typical_minutes in range(15, 21)


# (modality, condition, severity, region scope, regions) from CLINICAL.md section 5.
SECTION_5_RULES = [
    ("Hot pack", "acute_injury", "refuse", "over_area", []),
    ("Hot pack", "impaired_sensation", "refuse", "over_area", []),
    ("Hot pack", "dvt", "refuse", "any", []),
    ("Hot pack", "peripheral_vascular_disease", "refuse", "any", []),
    ("Hot pack", "open_wound", "refuse", "over_area", []),
    ("Hot pack", "malignancy", "refuse", "over_area", []),
    ("TENS (attended)", "pacemaker", "refuse", "any", []),
    ("TENS (attended)", "active_implant", "refuse", "any", []),
    ("TENS (attended)", "pregnancy", "refuse", "regions", ["abdomen", "lumbar", "pelvis_sacrum"]),
    ("TENS (attended)", "", "refuse", "regions", ["anterior_neck"]),
    ("TENS (attended)", "open_wound", "refuse", "over_area", []),
    ("TENS (attended)", "epilepsy", "refuse", "any", []),
    ("Interferential current (unattended)", "pacemaker", "refuse", "any", []),
    ("NMES (attended)", "", "refuse", "regions", ["anterior_neck"]),
    ("Therapeutic ultrasound", "malignancy", "refuse", "over_area", []),
    (
        "Therapeutic ultrasound",
        "pregnancy",
        "refuse",
        "regions",
        ["abdomen", "lumbar", "pelvis_sacrum"],
    ),
    ("Therapeutic ultrasound", "", "refuse", "regions", ["eyes"]),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "condition", "severity", "scope", "regions"), SECTION_5_RULES)
def test_section_5_contraindications_are_shipped(name, condition, severity, scope, regions):
    rule = ContraindicationRule.objects.get(modality__name=name, condition=condition)
    assert (rule.severity, rule.region_scope, sorted(rule.regions)) == (severity, scope, regions)
    assert rule.reason.strip()


@pytest.mark.django_db
def test_every_electrotherapy_modality_carries_the_same_rules():
    rule_sets = {
        m.name: {(r.condition, r.severity, r.region_scope) for r in m.contraindication_rules.all()}
        for m in Modality.objects.filter(kind__startswith="electrotherapy")
    }
    assert len(rule_sets) == 5
    assert len({frozenset(rules) for rules in rule_sets.values()}) == 1


@pytest.mark.django_db
def test_every_shipped_rule_is_valid_and_names_a_known_condition():
    known = known_condition_codes()
    assert ACUTE_BACK_PAIN in known
    assert set(PrecautionKind.objects.values_list("code", flat=True)) <= known
    for rule in ContraindicationRule.objects.all():
        rule.full_clean()
        assert rule.condition == "" or rule.condition in known, rule.condition


# --- Exercises (section 6) ---------------------------------------------------------------------


@pytest.mark.django_db
def test_library_has_thirty_exercises_covering_every_category():
    assert Exercise.objects.count() >= 30
    assert set(Exercise.objects.values_list("category", flat=True)) == set(Exercise.Category.values)
    for exercise in Exercise.objects.all():
        exercise.full_clean()


NAMED = [
    ("mckenzie-prone-press-up", "mckenzie_extension"),
    ("prone-on-elbows", "mckenzie_extension"),
    ("hamstring-stretch", "stretch"),
    ("walking", "low_impact_aerobic"),
    ("stationary-cycling", "low_impact_aerobic"),
    ("swimming", "low_impact_aerobic"),
    ("elliptical-trainer", "low_impact_aerobic"),
    ("water-walking", "aquatic"),
    ("sit-up", "flexion_loading"),
    ("crunch", "flexion_loading"),
    ("toe-touch", "flexion_loading"),
    ("knees-to-chest", "flexion_loading"),
    ("trunk-twist", "flexion_loading"),
    ("running", "high_impact_aerobic"),
    ("jumping-jacks", "high_impact_aerobic"),
    ("bird-dog", "stabilisation"),
    ("dead-bug", "stabilisation"),
    ("plank", "stabilisation"),
    ("side-plank", "stabilisation"),
    ("pelvic-tilt", "stabilisation"),
    ("bridge", "strengthening"),
    ("clamshell", "strengthening"),
    ("wall-squat", "strengthening"),
    ("cat-camel", "stretch"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("slug", "category"), NAMED)
def test_named_exercises_are_in_the_library(slug, category):
    assert Exercise.objects.get(slug=slug).category == category


@pytest.mark.django_db
def test_doses_follow_section_6():
    press_up = Exercise.objects.get(slug="mckenzie-prone-press-up")
    assert press_up.reps == 10
    assert 1 <= press_up.hold_seconds <= 2
    elbows = Exercise.objects.get(slug="prone-on-elbows")
    assert 5 <= elbows.hold_seconds <= 30
    hamstring = Exercise.objects.get(slug="hamstring-stretch")
    assert 15 <= hamstring.hold_seconds <= 60
    assert 2 <= hamstring.reps <= 3
    assert "per leg" in hamstring.instructions
    for word in ("leg", "numbness", "tingling"):
        assert word in hamstring.instructions
    for slug in (
        "walking",
        "stationary-cycling",
        "swimming",
        "elliptical-trainer",
        "water-walking",
    ):
        aerobic = Exercise.objects.get(slug=slug)
        assert aerobic.minutes == 30, slug
        assert 3 <= aerobic.days_per_week <= 4, slug


# (category, condition, severity): CLINICAL.md section 6.
SECTION_6_FLAGS = [
    ("flexion_loading", "lumbar_disc_herniation", "refuse"),
    ("mckenzie_extension", "lumbar_spinal_stenosis", "refuse"),
    ("mckenzie_extension", "facet_arthropathy", "refuse"),
    ("high_impact_aerobic", ACUTE_BACK_PAIN, "refuse"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("category", "condition", "severity"), SECTION_6_FLAGS)
def test_every_exercise_of_a_category_is_flagged(category, condition, severity):
    exercises = Exercise.objects.filter(category=category)
    assert exercises.exists()
    for exercise in exercises:
        rule = exercise.contraindication_rules.get(condition=condition)
        assert (rule.severity, rule.region_scope) == (severity, "any"), exercise.slug


@pytest.mark.django_db
def test_low_impact_exercises_are_not_flagged_for_acute_back_pain():
    assert not ContraindicationRule.objects.filter(
        exercise__category__in=["low_impact_aerobic", "stabilisation"], condition=ACUTE_BACK_PAIN
    ).exists()


def test_catalogue_data_names_are_unique():
    assert len({m.name for m in MODALITIES}) == len(MODALITIES)
    assert len({e.slug for e in EXERCISES}) == len(EXERCISES)
    assert len({e.name for e in EXERCISES}) == len(EXERCISES)
    for item in [*MODALITIES, *EXERCISES]:
        conditions = [r.condition for r in item.rules]
        assert len(set(conditions)) == len(conditions), item.name


@pytest.mark.django_db
def test_shipping_again_changes_nothing_and_keeps_the_rows():
    modality_ids = set(Modality.objects.values_list("pk", flat=True))
    rule_count = ContraindicationRule.objects.count()
    exercise_ids = set(Exercise.objects.values_list("pk", flat=True))

    importlib.import_module("programs.migrations.0002_ship_modality_catalogue").ship_modalities(
        django_apps, None
    )
    importlib.import_module("programs.migrations.0003_ship_exercise_library").ship_exercises(
        django_apps, None
    )

    assert set(Modality.objects.values_list("pk", flat=True)) == modality_ids
    assert set(Exercise.objects.values_list("pk", flat=True)) == exercise_ids
    assert ContraindicationRule.objects.count() == rule_count
