"""factory_boy factories for the whole test suite.

Each factory makes a valid row with the fewest arguments. Factories write through the ORM, not
through the services: they build the world a test starts from; the services are what tests test.

Clinic-owned factories take `clinic=`; `CLINIC_ROW_FACTORIES` at the bottom maps every
clinic-scoped model to a factory that makes one row of it in a given clinic. The tenancy walker
(tests/clinic/test_tenancy.py) and the admin scoping tests use it, so add your model there when
you add a clinic-scoped endpoint or admin (patients, visits, plans of care, ...).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import factory
from django.db.models import Model
from django.utils import timezone
from factory.django import DjangoModelFactory

from clinic.capabilities import Role
from clinic.models import (
    Clinic,
    Closure,
    Membership,
    OpeningHours,
    Room,
    TherapistProfile,
    TimeOff,
    User,
    Weekday,
    WorkingHours,
)
from patients.models import Diagnosis, Patient, Precaution, PrecautionKind, Visit
from patients.services import derive_search_fields

# Strong enough for AUTH_PASSWORD_VALIDATORS, so the real login and token flows work with it.
DEFAULT_PASSWORD = "correct-horse-battery-staple-42"


# --- Users and clinics -----------------------------------------------------------------------


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"staff{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda o: f"{o.username}@clinic.example.org")
    password = factory.django.Password(DEFAULT_PASSWORD)

    class Params:
        # UserFactory(clinic=c) makes a member of staff of `c` (a receptionist unless `role=`).
        clinic = None
        role = Role.RECEPTIONIST

    membership = factory.Maybe(
        "clinic",
        yes_declaration=factory.RelatedFactory(
            "tests.factories.MembershipFactory",
            factory_related_name="user",
            clinic=factory.SelfAttribute("..clinic"),
            role=factory.SelfAttribute("..role"),
        ),
        no_declaration=None,
    )


class ClinicFactory(DjangoModelFactory):
    class Meta:
        model = Clinic

    name = factory.Sequence(lambda n: f"Clinic {n}")
    slug = factory.Sequence(lambda n: f"clinic-{n}")
    timezone = "America/New_York"
    country = "US"
    medicare_rules = factory.LazyAttribute(lambda o: o.country == "US")


class RoomFactory(DjangoModelFactory):
    class Meta:
        model = Room

    clinic = factory.SubFactory(ClinicFactory)
    name = factory.Sequence(lambda n: f"Room {n}")
    kind = Room.Kind.TREATMENT


class OpeningHoursFactory(DjangoModelFactory):
    class Meta:
        model = OpeningHours

    clinic = factory.SubFactory(ClinicFactory)
    weekday = Weekday.MONDAY
    opens = dt.time(8, 0)
    closes = dt.time(17, 0)


class ClosureFactory(DjangoModelFactory):
    class Meta:
        model = Closure

    clinic = factory.SubFactory(ClinicFactory)
    starts_on = factory.Sequence(lambda n: dt.date(2030, 1, 1) + dt.timedelta(days=n))
    ends_on = factory.LazyAttribute(lambda o: o.starts_on)
    reason = "Public holiday"


# --- Staff -----------------------------------------------------------------------------------


class MembershipFactory(DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    clinic = factory.SubFactory(ClinicFactory)
    role = Role.RECEPTIONIST
    active = True


class TherapistProfileFactory(DjangoModelFactory):
    class Meta:
        model = TherapistProfile
        django_get_or_create = ["user"]

    user = factory.SubFactory(UserFactory)
    licence_number = factory.Sequence(lambda n: f"PT-{n:06d}")
    discipline = TherapistProfile.Discipline.PT


def therapist_in(clinic: Clinic, **profile: Any) -> User:
    """A new user with an active therapist membership of `clinic` and a therapist profile."""
    user = MembershipFactory(clinic=clinic, role=Role.THERAPIST).user
    TherapistProfileFactory(user=user, **profile)
    return user


class WorkingHoursFactory(DjangoModelFactory):
    """A working block; without `therapist=` a new therapist of the clinic is made."""

    class Meta:
        model = WorkingHours

    clinic = factory.SubFactory(ClinicFactory)
    therapist = factory.LazyAttribute(lambda o: therapist_in(o.clinic))
    weekday = Weekday.MONDAY
    starts = dt.time(9, 0)
    ends = dt.time(13, 0)


class TimeOffFactory(DjangoModelFactory):
    """Time off belongs to a person; `clinic=` picks a new therapist of that clinic."""

    class Meta:
        model = TimeOff
        exclude = ["clinic"]

    clinic = None
    therapist = factory.LazyAttribute(lambda o: therapist_in(o.clinic or ClinicFactory()))
    starts_at = factory.LazyFunction(
        lambda: (timezone.now() + dt.timedelta(days=7)).replace(microsecond=0)
    )
    ends_at = factory.LazyAttribute(lambda o: o.starts_at + dt.timedelta(hours=8))
    reason = "Course"


# --- Registry of clinic-scoped rows ------------------------------------------------------------


def _clinic_itself(*, clinic: Clinic) -> Clinic:
    return clinic


# model -> callable(clinic=...) making one row of that model that belongs to the clinic.
CLINIC_ROW_FACTORIES: dict[type[Model], Callable[..., Model]] = {
    Clinic: _clinic_itself,
    User: UserFactory,
    Membership: MembershipFactory,
    Room: RoomFactory,
    OpeningHours: OpeningHoursFactory,
    Closure: ClosureFactory,
    WorkingHours: WorkingHoursFactory,
    TimeOff: TimeOffFactory,
}


# --- Patients --------------------------------------------------------------------------------


class PatientFactory(DjangoModelFactory):
    """A patient of `clinic`; the search fields are derived as the services derive them."""

    class Meta:
        model = Patient

    clinic = factory.SubFactory(ClinicFactory)
    mrn = factory.Sequence(lambda n: f"T-{n:06d}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    date_of_birth = factory.Faker("date_of_birth", minimum_age=18, maximum_age=90)
    sex = Patient.Sex.UNKNOWN
    payer_type = Patient.Payer.COMMERCIAL

    @classmethod
    def _create(cls, model_class: type[Patient], *args: Any, **kwargs: Any) -> Patient:
        patient = model_class(*args, **kwargs)
        derive_search_fields(patient)
        patient.save()
        return patient


class _PatientRowFactory(DjangoModelFactory):
    """Rows owned by a patient: pass `patient=` (the clinic follows) or `clinic=` (a new patient
    of that clinic is made)."""

    class Meta:
        abstract = True

    clinic = None
    patient = factory.LazyAttribute(
        lambda o: PatientFactory(clinic=o.clinic) if o.clinic else PatientFactory()
    )

    @classmethod
    def _adjust_kwargs(cls, **kwargs: Any) -> dict[str, Any]:
        if kwargs.get("clinic") is None:
            kwargs["clinic"] = kwargs["patient"].clinic
        return kwargs


class DiagnosisFactory(_PatientRowFactory):
    class Meta:
        model = Diagnosis

    icd10_code = "M54.50"
    description = "Low back pain, unspecified"
    onset_date = factory.LazyFunction(lambda: dt.date.today() - dt.timedelta(days=30))


class PrecautionFactory(_PatientRowFactory):
    """A precaution of a shipped kind (they come with the migrations); `dvt` needs no region."""

    class Meta:
        model = Precaution

    kind = factory.LazyFunction(lambda: PrecautionKind.objects.get(code="dvt"))
    noted_on = factory.LazyFunction(dt.date.today)


CLINIC_ROW_FACTORIES.update(
    {Patient: PatientFactory, Diagnosis: DiagnosisFactory, Precaution: PrecautionFactory}
)


# --- Scheduling ------------------------------------------------------------------------------


class VisitFactory(DjangoModelFactory):
    """A booked visit of `clinic`, written straight to the table (tests of the booking service
    go through patients.visits.visit_book instead). Next week at 10:00 UTC, 45 minutes."""

    class Meta:
        model = Visit

    clinic = factory.SubFactory(ClinicFactory)
    patient = factory.LazyAttribute(lambda o: PatientFactory(clinic=o.clinic))
    therapist = factory.LazyAttribute(lambda o: therapist_in(o.clinic))
    starts_at = factory.Sequence(
        lambda n: (
            (timezone.now() + dt.timedelta(days=7)).replace(
                hour=10, minute=0, second=0, microsecond=0
            )
            + dt.timedelta(hours=n)
        )
    )
    ends_at = factory.LazyAttribute(lambda o: o.starts_at + dt.timedelta(minutes=45))
    kind = Visit.Kind.TREATMENT
    status = Visit.Status.BOOKED


CLINIC_ROW_FACTORIES[Visit] = VisitFactory
