"""The catalogue admin: superusers edit, clinic administrators read, others stay out."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from programs.models import ContraindicationRule, Exercise, Modality

pytestmark = pytest.mark.django_db

CHANGELISTS = [
    "admin:programs_modality_changelist",
    "admin:programs_exercise_changelist",
    "admin:programs_contraindicationrule_changelist",
]


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("name", CHANGELISTS)
def test_clinic_admin_reads_the_catalogues(clinic_admin, name, django_assert_max_num_queries):
    client = signed_in(clinic_admin)
    with django_assert_max_num_queries(12):
        response = client.get(reverse(name))
    assert response.status_code == 200
    add_url = reverse(name.replace("_changelist", "_add")).encode()
    assert add_url not in response.content


def test_clinic_admin_sees_a_modality_read_only_and_cannot_change_it(clinic_admin):
    client = signed_in(clinic_admin)
    tens = Modality.objects.get(name="TENS (attended)")
    url = reverse("admin:programs_modality_change", args=[tens.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert b"pacemaker" in page.content.lower()
    assert b'name="_save"' not in page.content
    assert client.post(url, {"name": "Hacked"}).status_code == 403
    assert client.get(reverse("admin:programs_modality_add")).status_code == 403
    tens.refresh_from_db()
    assert tens.name == "TENS (attended)"


@pytest.mark.parametrize("role", ["receptionist", "therapist"])
def test_other_staff_are_sent_to_the_login(request, role):
    client = signed_in(request.getfixturevalue(role))
    response = client.get(reverse("admin:programs_modality_changelist"))
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def _modality_form(**overrides) -> dict[str, str]:
    data = {
        "name": "Paraffin bath",
        "kind": "heat",
        "description": "",
        "cpt_code": "97018",
        "medicare_code": "",
        "timed": "",
        "typical_minutes": "15",
        "parameter_spec": '[{"name": "minutes", "label": "Minutes", "unit": "min", '
        '"kind": "integer", "min": 1, "max": 30, "required": true}]',
        "active": "on",
        "contraindication_rules-TOTAL_FORMS": "1",
        "contraindication_rules-INITIAL_FORMS": "0",
        "contraindication_rules-MIN_NUM_FORMS": "0",
        "contraindication_rules-MAX_NUM_FORMS": "1000",
        "contraindication_rules-0-condition": "open_wound",
        "contraindication_rules-0-severity": "refuse",
        "contraindication_rules-0-reason": "Open wound over the area: the wax burns it.",
        "contraindication_rules-0-region_scope": "over_area",
    }
    return {**data, **overrides}


def test_superuser_adds_a_modality_with_a_rule_through_the_admin(superuser):
    response = signed_in(superuser).post(reverse("admin:programs_modality_add"), _modality_form())
    assert response.status_code == 302, response.content.decode()[:2000]
    paraffin = Modality.objects.get(name="Paraffin bath")
    rule = paraffin.contraindication_rules.get()
    assert (rule.condition, rule.region_scope, rule.regions) == ("open_wound", "over_area", [])
    assert paraffin.history.get().history_user == superuser
    assert rule.history.get().history_user == superuser


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"cpt_code": "97110"}, b"97110 (Therapeutic exercise) is timed."),
        ({"contraindication_rules-0-condition": "vertigo"}, b"Select a valid choice"),
        ({"contraindication_rules-0-region_scope": "regions"}, b"List the regions"),
        (
            {"parameter_spec": '[{"name": "x", "label": "X", "kind": "number"}]'},
            b"add a &#x27;minutes&#x27; parameter",
        ),
    ],
)
def test_admin_shows_the_service_errors(superuser, overrides, message):
    response = signed_in(superuser).post(
        reverse("admin:programs_modality_add"), _modality_form(**overrides)
    )
    assert response.status_code == 200
    assert message in response.content
    assert not Modality.objects.filter(name="Paraffin bath").exists()


def test_superuser_edits_an_exercise_page(superuser):
    plank = Exercise.objects.get(slug="plank")
    response = signed_in(superuser).get(reverse("admin:programs_exercise_change", args=[plank.pk]))
    assert response.status_code == 200
    assert b'name="_save"' in response.content


def test_nobody_deletes_catalogue_entries(superuser):
    plank = Exercise.objects.get(slug="crunch")
    response = signed_in(superuser).post(
        reverse("admin:programs_exercise_delete", args=[plank.pk]), {"post": "yes"}
    )
    assert response.status_code == 403
    assert Exercise.objects.filter(pk=plank.pk).exists()
    assert ContraindicationRule.objects.filter(exercise=plank).exists()
