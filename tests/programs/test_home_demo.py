"""The home-programme demo data: programmes with a link and patient-recorded sessions, once."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from programs import home
from programs.models import HomeProgram, HomeProgramLink, HomeSession

pytestmark = pytest.mark.django_db


def seed() -> str:
    out = io.StringIO()
    call_command("seed_demo", "--force", stdout=out)
    return out.getvalue()


def test_seed_demo_adds_home_programmes_with_recorded_sessions_once():
    first = seed()
    programs = list(HomeProgram.objects.select_related("clinic", "episode"))
    assert len(programs) == 2
    assert all(p.status == "active" and p.episode.status == "active" for p in programs)
    assert HomeProgramLink.objects.count() == 2
    sessions = HomeSession.objects.all()
    assert sessions.exists()
    assert not sessions.filter(link__isnull=True).exists()
    for program in programs:
        adherence = home.home_program_adherence(program=program)
        assert adherence.done == program.sessions.count()
        assert adherence.prescribed > 0
    assert "home programmes with" in first

    counts = (HomeProgram.objects.count(), HomeSession.objects.count())
    second = seed()
    assert (HomeProgram.objects.count(), HomeSession.objects.count()) == counts
    assert "already present" in second
