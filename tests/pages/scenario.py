"""The scenario of the page and browser tests: a clinic whose day is in full swing whatever
the hour of the run.

The clinic's zone is a fixed-offset zone chosen so that its local time is late morning when the
test runs: then "today" has free slots ahead for booking, visits already started for check-in and
signing, and the tests never depend on the hour CI happens to run them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone

from clinic.capabilities import Role
from clinic.models import Clinic, Room, User
from patients.models import EpisodeOfCare, Patient, Visit
from tests.factories import (
    ClinicFactory,
    EpisodeOfCareFactory,
    PatientFactory,
    RoomFactory,
    UserFactory,
    VisitFactory,
    open_every_day,
    therapist_in,
    working_every_day,
)


def midday_zone(now: dt.datetime | None = None) -> str:
    """A fixed-offset IANA zone in which it is now between 10:00 and 11:00."""
    now = now or timezone.now()
    offset = 10 - now.hour  # hours to add to UTC
    if offset < -12:
        offset += 24
    if offset > 14:
        offset -= 24
    # Etc/GMT zones have the POSIX sign: Etc/GMT-3 is UTC+3.
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"


@dataclass
class Practice:
    clinic: Clinic
    receptionist: User
    therapist: User
    other_therapist: User
    room: Room
    patient: Patient
    episode: EpisodeOfCare
    visit_now: Visit  # started a few minutes ago, booked, in the episode

    def today(self) -> dt.date:
        return timezone.localdate(timezone=self.clinic.tz)

    def local(self, day: dt.date, hhmm: str) -> dt.datetime:
        return dt.datetime.combine(day, dt.time.fromisoformat(hhmm), tzinfo=self.clinic.tz)


def make_practice() -> Practice:
    clinic = ClinicFactory(name="Lakeside Physio", timezone=midday_zone(), country="US")
    open_every_day(clinic, dt.time(7, 0), dt.time(19, 0))
    therapist = working_every_day(
        clinic, therapist_in(clinic, discipline="PT"), dt.time(7, 0), dt.time(19, 0)
    )
    therapist.first_name, therapist.last_name = "Sarah", "Kim"
    therapist.save(update_fields=["first_name", "last_name"])
    other = working_every_day(clinic, None, dt.time(7, 0), dt.time(19, 0))
    receptionist = UserFactory(clinic=clinic, role=Role.RECEPTIONIST)
    room = RoomFactory(clinic=clinic, name="Room A")
    patient = PatientFactory(clinic=clinic, first_name="Maria", last_name="Lopez")
    episode = EpisodeOfCareFactory(patient=patient, clinic=clinic, therapist=therapist)
    now = timezone.now().replace(second=0, microsecond=0)
    visit_now = VisitFactory(
        clinic=clinic,
        patient=patient,
        therapist=therapist,
        room=room,
        episode=episode,
        starts_at=now - dt.timedelta(minutes=now.minute % 15 + 15),
        ends_at=now - dt.timedelta(minutes=now.minute % 15 + 15) + dt.timedelta(minutes=45),
    )
    return Practice(
        clinic=clinic,
        receptionist=receptionist,
        therapist=therapist,
        other_therapist=other,
        room=room,
        patient=patient,
        episode=episode,
        visit_now=visit_now,
    )
