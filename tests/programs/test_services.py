"""Catalogue writes: the rules of a contraindication rule, the billing facts of a code."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from patients.models import PrecautionKind
from programs import services
from programs.models import ContraindicationRule, Exercise, Modality

pytestmark = pytest.mark.django_db


def _rule(**fields) -> ContraindicationRule:
    defaults = {
        "modality": Modality.objects.get(name="Manual therapy"),
        "condition": "pregnancy",
        "severity": "warn",
        "reason": "Pregnancy: no prone positioning.",
    }
    return ContraindicationRule(**{**defaults, **fields})


def test_rule_save_accepts_a_precaution_kind_and_records_who(superuser):
    rule = services.contraindication_rule_save(rule=_rule(), by=superuser)
    assert rule.pk
    assert rule.history.get().history_user == superuser


def test_rule_may_name_a_precaution_kind_an_administrator_added(superuser):
    PrecautionKind.objects.create(code="hypermobility", label="Hypermobility")
    services.contraindication_rule_save(rule=_rule(condition="hypermobility"), by=superuser)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"condition": "vertigo"}, "condition"),
        ({"condition": "", "region_scope": "any"}, "__all__"),  # placement needs regions
        ({"region_scope": "regions", "regions": []}, "regions"),
        ({"region_scope": "any", "regions": ["lumbar"]}, "regions"),
        ({"region_scope": "regions", "regions": ["lumbar", "tail"]}, "regions"),
        ({"region_scope": "regions", "regions": ["lumbar", "lumbar"]}, "regions"),
        ({"severity": "maybe"}, "severity"),
        ({"region_scope": "nearby"}, "region_scope"),
        ({"reason": ""}, "reason"),
        ({"condition": "osteoporosis"}, "__all__"),  # manual therapy already has this rule
        ({"exercise_id": 1}, "__all__"),  # a modality and an exercise
        ({"modality": None}, "__all__"),  # neither
    ],
)
def test_rule_save_refuses(superuser, fields, field):
    before = ContraindicationRule.objects.count()
    with pytest.raises(ValidationError) as raised:
        services.contraindication_rule_save(rule=_rule(**fields), by=superuser)
    assert field in raised.value.message_dict, raised.value.message_dict
    assert ContraindicationRule.objects.count() == before


def test_modality_check_names_the_billing_fact_that_differs():
    modality = Modality(cpt_code="97110", timed=False, medicare_code="G0283", medicare_bundled=True)
    with pytest.raises(ValidationError) as raised:
        services.modality_check(modality)
    assert raised.value.message_dict == {
        "timed": ["97110 (Therapeutic exercise) is timed."],
        "medicare_code": ["Medicare bills 97110 under its CPT code: leave this blank."],
        "medicare_bundled": ["Medicare pays 97110 separately."],
    }


def test_modality_check_leaves_codes_outside_the_table_to_the_administrator():
    services.modality_check(Modality(cpt_code="97018", timed=False))
    services.modality_check(Modality(cpt_code="97018", timed=True))


def test_modality_update_changes_only_the_named_fields(superuser):
    modality = Modality.objects.get(name="Gait training")
    services.modality_update(modality=modality, by=superuser, typical_minutes=20)
    modality.refresh_from_db()
    assert modality.typical_minutes == 20
    assert modality.timed is True


def test_update_refuses_fields_that_are_not_editable(superuser):
    with pytest.raises(ValidationError) as raised:
        services.exercise_update(
            exercise=Exercise.objects.get(slug="plank"), by=superuser, public_id="x"
        )
    assert "public_id" in raised.value.message_dict


def test_exercise_create_derives_the_slug(superuser):
    exercise = services.exercise_create(
        by=superuser,
        name="Standing hip hinge",
        category="strengthening",
        body_region="hip",
        instructions="Hinge at the hips with a straight back.",
    )
    assert exercise.slug == "standing-hip-hinge"
    assert exercise.dose_text == ""
