"""Booking a visit within an episode of care answers with the episode's clocks."""

from __future__ import annotations

import datetime as dt

from django.urls import reverse

from patients.models import EpisodeOfCare, Visit
from tests.factories import RoomFactory, open_every_day, working_every_day
from tests.programs.helpers import local_today


def book_url(episode: EpisodeOfCare) -> str:
    return reverse(
        "episode-visit-book",
        kwargs={"clinic_id": episode.clinic.public_id, "episode_id": episode.public_id},
    )


def tomorrow_at(episode: EpisodeOfCare, hour: int) -> str:
    return f"{local_today(episode.clinic) + dt.timedelta(days=1)}T{hour:02d}:00"


def test_episode_booking_answers_with_the_authorization_for_the_front_desk(
    client_for, receptionist, episode, visit_on
):
    open_every_day(episode.clinic)
    working_every_day(episode.clinic, episode.therapist)
    EpisodeOfCare.objects.filter(pk=episode.pk).update(auth_visits=3)
    visit_on(episode, days_ago=3, status=Visit.Status.COMPLETED)

    response = client_for(receptionist).post(
        book_url(episode),
        {"starts_at": tomorrow_at(episode, 10), "duration_minutes": 45},
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    visit = Visit.objects.get(public_id=body["visit"]["id"])
    assert (visit.episode_id, visit.patient_id, visit.therapist_id) == (
        episode.pk,
        episode.patient_id,
        episode.therapist_id,
    )
    assert body["visit"]["starts_at"].startswith(tomorrow_at(episode, 10))
    compliance = body["compliance"]
    assert compliance["clinical"] is False
    assert compliance["progress_report"] is None
    assert compliance["authorization"]["visits_left"] == 2
    assert [f["area"] for f in compliance["flags"]] == ["authorization"]


def test_episode_booking_shows_the_therapist_every_clock(client_for, therapist, episode):
    open_every_day(episode.clinic)
    working_every_day(episode.clinic, episode.therapist)

    body = (
        client_for(therapist)
        .post(book_url(episode), {"starts_at": tomorrow_at(episode, 11), "duration_minutes": 30})
        .json()
    )

    assert body["compliance"]["clinical"] is True
    assert "progress_report" in body["compliance"]
    assert body["visit"]["episode"] == str(episode.public_id)


def test_episode_booking_conflict_is_409_and_room_of_another_clinic_400(
    client_for, receptionist, episode, other_clinic
):
    open_every_day(episode.clinic)
    working_every_day(episode.clinic, episode.therapist)
    client = client_for(receptionist)
    first = {"starts_at": tomorrow_at(episode, 9), "duration_minutes": 45}
    assert client.post(book_url(episode), first, format="json").status_code == 201

    clash = client.post(
        book_url(episode),
        {"starts_at": tomorrow_at(episode, 9).replace(":00", ":30"), "duration_minutes": 30},
        format="json",
    )
    assert clash.status_code == 409
    assert clash.json()["code"] == "double_booking"

    foreign_room = RoomFactory(clinic=other_clinic)
    refused = client.post(
        book_url(episode),
        {
            "starts_at": tomorrow_at(episode, 14),
            "duration_minutes": 30,
            "room": str(foreign_room.public_id),
        },
        format="json",
    )
    assert refused.status_code == 400
    assert "room" in refused.json()["errors"]
    assert Visit.objects.filter(episode=episode).count() == 1


def test_episode_booking_of_an_ended_episode_is_400(client_for, receptionist, episode):
    open_every_day(episode.clinic)
    working_every_day(episode.clinic, episode.therapist)
    EpisodeOfCare.objects.filter(pk=episode.pk).update(status=EpisodeOfCare.Status.DISCHARGED)

    response = client_for(receptionist).post(
        book_url(episode), {"starts_at": tomorrow_at(episode, 10), "duration_minutes": 30}
    )

    assert response.status_code == 400
    assert "episode" in response.json()["errors"]
    assert not Visit.objects.filter(episode=episode).exists()
