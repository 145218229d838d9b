"""An episode's progress summaries through the API: newest visit first, paginated, in a constant
number of queries, clinical staff only."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import EpisodeOfCareFactory, EpisodeVisitFactory, ProgressSummaryFactory

pytestmark = pytest.mark.django_db


def summaries_url(episode) -> str:
    return reverse(
        "episode-progress-summaries",
        kwargs={"clinic_id": episode.clinic.public_id, "episode_id": episode.public_id},
    )


@pytest.fixture
def episode(clinic, therapist):
    return EpisodeOfCareFactory(clinic=clinic, therapist=therapist)


def summarise(episode, n: int) -> list:
    visits = [EpisodeVisitFactory(clinic=episode.clinic, episode=episode) for _ in range(n)]
    return [ProgressSummaryFactory(visit=v, text=f"Summary {v.pk}") for v in visits]


def test_episode_summaries_newest_visit_first(episode, therapist, client_for):
    written = summarise(episode, 3)
    summarise(EpisodeOfCareFactory(clinic=episode.clinic), 1)  # another episode's
    response = client_for(therapist).get(summaries_url(episode))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == 3
    newest_first = sorted(written, key=lambda s: s.visit.starts_at, reverse=True)
    assert [r["visit"] for r in body["results"]] == [str(s.visit.public_id) for s in newest_first]
    assert body["results"][0]["text"] == newest_first[0].text


def test_episode_summaries_in_constant_queries(episode, therapist, client_for):
    client = client_for(therapist)
    counts = []
    for _ in range(2):
        summarise(episode, 4)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(summaries_url(episode)).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_episode_summaries_are_clinical(episode, receptionist, outsider, client_for):
    summarise(episode, 1)
    assert client_for(receptionist).get(summaries_url(episode)).status_code == 403
    assert client_for(outsider).get(summaries_url(episode)).status_code == 404
