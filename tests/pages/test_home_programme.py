"""The home-programme builder and its handout through the test client: prescribing, a new
version based on the one on the page, contraindicated exercises with the override, the
patient's link, the handout page and PDF."""

from __future__ import annotations

import pytest
from django.urls import reverse

from programs.models import Exercise, HomeProgram, HomeProgramLink
from tests.factories import DiagnosisFactory

HTMX = {"HTTP_HX_REQUEST": "true"}


def url(practice, name: str, **kwargs: object) -> str:
    return reverse(name, kwargs={"clinic_id": practice.clinic.public_id, **kwargs})


def builder(practice) -> str:
    return url(practice, "pages:home_programme", episode_id=practice.episode.public_id)


def walking() -> Exercise:
    return Exercise.objects.filter(active=True, category="low_impact_aerobic").order_by("name")[0]


def crunch() -> Exercise:
    return Exercise.objects.filter(active=True, category="flexion_loading").order_by("name")[0]


def test_prescribing_then_changing_makes_versions(practice, login):
    client = login(practice.therapist)
    assert client.get(builder(practice)).status_code == 200
    created = client.post(
        builder(practice),
        {
            "version": "",
            "h-0-exercise": walking().public_id,
            "h-0-minutes": "30",
            "notes": "Daily.",
        },
    )
    assert created.status_code == 302
    program = HomeProgram.objects.get(episode=practice.episode)
    assert program.current_version == 1
    data = {"version": "1", "h-0-exercise": walking().public_id, "h-0-minutes": "20", "notes": ""}
    assert client.post(builder(practice), data).status_code == 302
    program.refresh_from_db()
    assert program.current_version == 2
    stale = client.post(builder(practice), {**data, "h-0-minutes": "25"})
    assert stale.status_code == 409
    program.refresh_from_db()
    assert program.current_version == 2
    page = client.get(builder(practice)).content.decode()
    assert "Save as version 3" in page


def test_an_empty_programme_is_a_400(practice, login):
    response = login(practice.therapist).post(builder(practice), {"version": "", "notes": ""})
    assert response.status_code == 400
    assert "Prescribe at least one exercise." in response.content.decode()
    assert not HomeProgram.objects.exists()


def test_a_contraindicated_exercise_needs_a_justification(practice, login):
    DiagnosisFactory(
        patient=practice.patient,
        clinic=practice.clinic,
        icd10_code="M51.26",
        description="Lumbar disc displacement",
    )
    client = login(practice.therapist)
    data = {"version": "", "h-0-exercise": crunch().public_id, "notes": ""}
    preview = client.post(
        url(practice, "pages:home_programme_preview", episode_id=practice.episode.public_id),
        data,
        **HTMX,
    ).content.decode()
    assert 'class="finding refuse"' in preview
    refused = client.post(builder(practice), data)
    assert refused.status_code == 400
    assert "Contraindicated" in refused.content.decode()
    assert not HomeProgram.objects.exists()
    accepted = client.post(
        builder(practice), {**data, "h-0-justification": "Pain-free range, supervised first."}
    )
    assert accepted.status_code == 302
    item = HomeProgram.objects.get().versions.get().items.get()
    assert item.override_justification == "Pain-free range, supervised first."


def test_the_patient_link_and_the_handout(practice, login):
    client = login(practice.therapist)
    client.post(builder(practice), {"version": "", "h-0-exercise": walking().public_id})
    program = HomeProgram.objects.get()
    created = client.post(url(practice, "pages:home_link_new", program_id=program.public_id))
    assert created.status_code == 200
    assert HomeProgramLink.objects.filter(program=program).count() == 1
    body = created.content.decode()
    assert "/home-programme/" in body
    handout = client.get(url(practice, "pages:handout", program_id=program.public_id))
    assert handout.status_code == 200
    assert walking().name in handout.content.decode()
    pdf = client.get(url(practice, "pages:handout_pdf", program_id=program.public_id))
    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")


@pytest.mark.parametrize("who", ["receptionist", "outsider"])
def test_only_the_clinics_therapists_use_the_builder(practice, login, outsider, who):
    user = practice.receptionist if who == "receptionist" else outsider
    response = login(user).post(
        builder(practice), {"version": "", "h-0-exercise": walking().public_id}
    )
    assert response.status_code == (403 if who == "receptionist" else 404)
    assert not HomeProgram.objects.exists()


def test_the_builder_takes_a_constant_number_of_queries(
    practice, login, django_assert_max_num_queries
):
    client = login(practice.therapist)
    client.post(builder(practice), {"version": "", "h-0-exercise": walking().public_id})
    client.get(builder(practice))
    with django_assert_max_num_queries(25) as small:
        assert client.get(builder(practice)).status_code == 200
    items = {
        f"h-{i}-exercise": e.public_id
        for i, e in enumerate(
            Exercise.objects.filter(
                active=True, category__in=["stretch", "strengthening", "low_impact_aerobic"]
            )[:8]
        )
    }
    assert client.post(builder(practice), {"version": "1", **items}).status_code == 302
    with django_assert_max_num_queries(25) as large:
        assert client.get(builder(practice)).status_code == 200
    assert len(large.captured_queries) == len(small.captured_queries)
