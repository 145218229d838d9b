"""The catalogue API: every member of staff reads, superusers write; errors name the field."""

from __future__ import annotations

import uuid

import pytest
from django.urls import reverse

from clinic.capabilities import Role
from programs.models import ContraindicationRule, Exercise, Modality
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

MODALITIES = reverse("modality-list")
EXERCISES = reverse("exercise-list")


def modality_url(modality: Modality) -> str:
    return reverse("modality-detail", kwargs={"public_id": modality.public_id})


def exercise_url(exercise: Exercise) -> str:
    return reverse("exercise-detail", kwargs={"public_id": exercise.public_id})


def names(response) -> set[str]:
    assert response.status_code == 200, response.content
    return {row["name"] for row in response.json()["results"]}


def assert_400(response, field: str) -> None:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid"
    assert field in body["errors"], body
    assert all(isinstance(r, str) and r for r in body["errors"][field])


def assert_refused(response, status: int) -> None:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"detail", "code"}


NEW_MODALITY = {
    "name": "Paraffin bath",
    "kind": "heat",
    "cpt_code": "97018",
    "timed": False,
    "typical_minutes": 15,
    "parameter_spec": [
        {
            "name": "minutes",
            "label": "Minutes",
            "unit": "min",
            "kind": "integer",
            "min": 1,
            "max": 30,
            "required": True,
        }
    ],
}


# --- Reading ---------------------------------------------------------------------------------


def test_receptionist_lists_modalities_paginated_with_rules(client_for, receptionist):
    response = client_for(receptionist).get(MODALITIES)
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == Modality.objects.count()
    tens = next(row for row in body["results"] if row["name"] == "TENS (attended)")
    assert tens["cpt_code"] == "97032"
    assert tens["timed"] is True
    assert {p["name"] for p in tens["parameter_spec"]} >= {"frequency_hz", "minutes"}
    assert {"condition": "pacemaker", "severity": "refuse"}.items() <= next(
        r for r in tens["contraindications"] if r["condition"] == "pacemaker"
    ).items()
    assert uuid.UUID(tens["id"])


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"kind": "heat"}, {"Hot pack"}),
        (
            {"cpt_code": "97032"},
            {"TENS (attended)", "Interferential current (attended)", "NMES (attended)"},
        ),
        (
            {"cpt_code": "97014"},
            {"TENS (unattended)", "Interferential current (unattended)"},
        ),
        ({"medicare_bundled": "true"}, {"Hot pack", "Cold pack"}),
        ({"search": "tens"}, {"TENS (attended)", "TENS (unattended)"}),
        ({"kind": "ultrasound", "timed": "true"}, {"Therapeutic ultrasound"}),
        ({"kind": "ultrasound", "timed": "false"}, set()),
    ],
)
def test_modality_filters(client_for, therapist, query, expected):
    assert names(client_for(therapist).get(MODALITIES, query)) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"search": "plank"}, {"Plank", "Side plank"}),
        ({"category": "high_impact_aerobic"}, {"Running", "Jumping jacks", "Skipping rope"}),
        (
            {"category": "stretch", "body_region": "thigh"},
            {"Hamstring stretch", "Quadriceps stretch (standing)"},
        ),
        ({"body_region": "ankle_foot"}, {"Heel raise"}),
    ],
)
def test_exercise_filters(client_for, receptionist, query, expected):
    assert names(client_for(receptionist).get(EXERCISES, query)) == expected


def test_exercise_list_is_paginated(client_for, receptionist):
    body = client_for(receptionist).get(EXERCISES, {"page_size": 10}).json()
    assert body["count"] == Exercise.objects.count()
    assert len(body["results"]) == 10
    assert body["next"]


def test_retrieve_by_public_id(client_for, receptionist):
    client = client_for(receptionist)
    crunch = Exercise.objects.get(slug="crunch")
    body = client.get(exercise_url(crunch)).json()
    assert body["id"] == str(crunch.public_id)
    assert body["dose"] == "2 x 10, 3 days/week"
    assert body["image_url"] is None
    assert [r["condition"] for r in body["contraindications"]] == [
        "lumbar_disc_herniation",
        "osteoporosis",
    ]
    hot_pack = Modality.objects.get(name="Hot pack")
    assert client.get(modality_url(hot_pack)).json()["medicare_bundled"] is True


@pytest.mark.parametrize("public_id", ["not-a-uuid", "6f1c2a34-0000-4000-8000-000000000000"])
def test_retrieve_unknown_is_404(client_for, receptionist, public_id):
    client = client_for(receptionist)
    for name in ("modality-detail", "exercise-detail"):
        assert_refused(client.get(reverse(name, kwargs={"public_id": public_id})), 404)


@pytest.mark.parametrize("url", [MODALITIES, EXERCISES])
@pytest.mark.parametrize("method", ["get", "post"])
def test_anonymous_is_401(api_client, url, method):
    response = getattr(api_client, method)(url, {})
    assert_refused(response, 401)


@pytest.mark.parametrize("url", [MODALITIES, EXERCISES])
def test_a_user_without_an_active_membership_is_403(client_for, clinic, url):
    nobody = UserFactory()
    former = UserFactory()
    MembershipFactory(user=former, clinic=clinic, role=Role.THERAPIST, active=False)
    for user in (nobody, former):
        assert_refused(client_for(user).get(url), 403)


def test_superuser_reads_without_a_membership(client_for, superuser):
    assert client_for(superuser).get(MODALITIES).status_code == 200


# --- Writing ---------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["receptionist", "therapist", "clinic_admin"])
def test_staff_cannot_write_the_catalogues(client_for, request, role):
    client = client_for(request.getfixturevalue(role))
    before = (Modality.objects.count(), Exercise.objects.count())
    assert_refused(client.post(MODALITIES, NEW_MODALITY, format="json"), 403)
    assert_refused(client.post(EXERCISES, {"name": "X"}, format="json"), 403)
    hot_pack = Modality.objects.get(name="Hot pack")
    assert_refused(client.patch(modality_url(hot_pack), {"active": False}, format="json"), 403)
    assert (Modality.objects.count(), Exercise.objects.count()) == before
    assert Modality.objects.get(name="Hot pack").active


def test_superuser_adds_a_modality(client_for, superuser):
    response = client_for(superuser).post(MODALITIES, NEW_MODALITY, format="json")
    assert response.status_code == 201, response.content
    modality = Modality.objects.get(public_id=response.json()["id"])
    assert modality.cpt_code == "97018"
    assert modality.parameter_spec == NEW_MODALITY["parameter_spec"]
    assert modality.history.get().history_user == superuser


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": "Hot pack"}, "name"),
        ({"cpt_code": "9701"}, "cpt_code"),
        ({"kind": "sauna"}, "kind"),
        ({"parameter_spec": []}, "parameter_spec"),
        ({"parameter_spec": [{"name": "minutes", "kind": "integer"}]}, "parameter_spec"),
        ({"cpt_code": "97032", "timed": False}, "timed"),  # CLINICAL.md: 97032 is timed
        ({"cpt_code": "97014", "timed": False}, "medicare_code"),  # Medicare bills G0283
        ({"medicare_code": "g283"}, "medicare_code"),
        ({"typical_minutes": 0}, "typical_minutes"),
    ],
)
def test_modality_add_refuses_bad_input_naming_the_field(client_for, superuser, change, field):
    before = Modality.objects.count()
    response = client_for(superuser).post(MODALITIES, {**NEW_MODALITY, **change}, format="json")
    assert_400(response, field)
    assert Modality.objects.count() == before


def test_superuser_retires_a_modality_and_history_keeps_it(client_for, superuser):
    hot_pack = Modality.objects.get(name="Hot pack")
    response = client_for(superuser).patch(modality_url(hot_pack), {"active": False}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["active"] is False
    hot_pack.refresh_from_db()
    assert hot_pack.active is False
    assert hot_pack.history.latest().history_user == superuser


def test_patch_cannot_make_a_timed_code_untimed(client_for, superuser):
    ultrasound = Modality.objects.get(name="Therapeutic ultrasound")
    assert_400(
        client_for(superuser).patch(modality_url(ultrasound), {"timed": False}, format="json"),
        "timed",
    )
    ultrasound.refresh_from_db()
    assert ultrasound.timed is True


def test_superuser_adds_an_exercise_with_a_slug_from_its_name(client_for, superuser):
    response = client_for(superuser).post(
        EXERCISES,
        {
            "name": "Quadruped rock back",
            "category": "stretch",
            "body_region": "lumbar",
            "instructions": "On hands and knees, rock back towards your heels.",
            "reps": 10,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["slug"] == "quadruped-rock-back"
    assert Exercise.objects.get(slug="quadruped-rock-back").reps == 10


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": "Plank"}, "name"),
        ({"slug": "plank"}, "slug"),
        ({"sets": 0}, "sets"),
        ({"days_per_week": 8}, "days_per_week"),
        ({"body_region": "tail"}, "body_region"),
        ({"image": "../../etc/passwd"}, "image"),
        ({"image": "/abs/bird-dog.png"}, "image"),
    ],
)
def test_exercise_add_refuses_bad_input_naming_the_field(client_for, superuser, change, field):
    data = {
        "name": "New exercise",
        "category": "stretch",
        "body_region": "lumbar",
        "instructions": "Do it.",
        **change,
    }
    assert_400(client_for(superuser).post(EXERCISES, data, format="json"), field)
    assert not Exercise.objects.filter(name=data["name"], instructions="Do it.").exists()


# --- Query counts ----------------------------------------------------------------------------


def _grow_catalogues(n: int) -> None:
    for i in range(n):
        modality = Modality.objects.create(
            name=f"Extra modality {i}",
            kind="heat",
            cpt_code="97010",
            timed=False,
            typical_minutes=15,
            parameter_spec=NEW_MODALITY["parameter_spec"],
        )
        exercise = Exercise.objects.create(
            name=f"Extra exercise {i}",
            slug=f"extra-exercise-{i}",
            category="stretch",
            body_region="lumbar",
            instructions="Stretch.",
        )
        for item in ({"modality": modality}, {"exercise": exercise}):
            ContraindicationRule.objects.create(condition="dvt", reason="DVT.", **item)


@pytest.mark.parametrize("url", [MODALITIES, EXERCISES])
def test_list_query_count_does_not_grow_with_the_catalogue(
    client_for, receptionist, url, django_assert_max_num_queries
):
    client = client_for(receptionist)
    # membership check, count, page, rules of the page
    with django_assert_max_num_queries(4):
        assert client.get(url, {"page_size": 200}).status_code == 200
    _grow_catalogues(40)
    with django_assert_max_num_queries(4):
        body = client.get(url, {"page_size": 200}).json()
    assert len(body["results"]) > 40
