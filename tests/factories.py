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
from decimal import Decimal
from typing import Any

import factory
from django.db.models import Model
from django.utils import timezone
from factory.django import DjangoModelFactory

from clinic.capabilities import Role
from clinic.models import (
    AccessLog,
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
from patients.models import (
    BillingRule,
    Diagnosis,
    EpisodeOfCare,
    Evaluation,
    EvaluationAddendum,
    Goal,
    OutcomeMeasure,
    Patient,
    PatientMessage,
    Precaution,
    PrecautionKind,
    Visit,
    VisitSeries,
)
from patients.services import derive_search_fields
from programs.models import (
    Exercise,
    FollowUp,
    HomeProgram,
    HomeProgramItem,
    HomeProgramLink,
    HomeProgramVersion,
    PlanOfCare,
    ProgressSummary,
    TreatmentNote,
    TreatmentNoteAddendum,
)

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


class AccessLogFactory(DjangoModelFactory):
    """One read of a chart in `clinic`, by a new member of its staff (append-only rows)."""

    class Meta:
        model = AccessLog

    clinic = factory.SubFactory(ClinicFactory)
    actor = factory.LazyAttribute(lambda o: UserFactory(clinic=o.clinic))
    patient_public_id = factory.Faker("uuid4", cast_to=None)
    subject = factory.LazyAttribute(lambda o: f"patient:{o.patient_public_id}")
    record = AccessLog.Record.CHART
    what = "patient"
    path = "/api/v1/clinics/x/patients/y/"
    method = "GET"


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
    AccessLog: AccessLogFactory,
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


class VisitSeriesFactory(DjangoModelFactory):
    """A recurring booking of `clinic` (the row only; its visits are not made)."""

    class Meta:
        model = VisitSeries

    clinic = factory.SubFactory(ClinicFactory)
    patient = factory.LazyAttribute(lambda o: PatientFactory(clinic=o.clinic))
    therapist = factory.LazyAttribute(lambda o: therapist_in(o.clinic))
    weekdays = factory.LazyFunction(lambda: [0, 3])
    local_time = dt.time(10, 0)
    duration_minutes = 45
    first_day = factory.LazyFunction(lambda: dt.date.today() + dt.timedelta(days=7))
    occurrences = 6


CLINIC_ROW_FACTORIES[VisitSeries] = VisitSeriesFactory


class PatientMessageFactory(DjangoModelFactory):
    """A sent reminder of a booked visit of `clinic` (or of `visit=`)."""

    class Meta:
        model = PatientMessage

    clinic = None
    visit = factory.LazyAttribute(
        lambda o: VisitFactory(clinic=o.clinic) if o.clinic else VisitFactory()
    )
    patient = factory.LazyAttribute(lambda o: o.visit.patient)
    kind = PatientMessage.Kind.VISIT_REMINDER
    status = PatientMessage.Status.SENT
    sent_at = factory.LazyFunction(timezone.now)

    @classmethod
    def _adjust_kwargs(cls, **kwargs: Any) -> dict[str, Any]:
        if kwargs.get("clinic") is None:
            kwargs["clinic"] = kwargs["visit"].clinic
        return kwargs


CLINIC_ROW_FACTORIES[PatientMessage] = PatientMessageFactory


def open_every_day(
    clinic: Clinic, opens: dt.time = dt.time(8, 0), closes: dt.time = dt.time(18, 0)
) -> list[OpeningHours]:
    """Opening hours on all seven weekdays, so a booking test can use any date."""
    return [
        OpeningHoursFactory(clinic=clinic, weekday=day, opens=opens, closes=closes)
        for day in Weekday.values
    ]


def working_every_day(
    clinic: Clinic,
    therapist: User | None = None,
    starts: dt.time = dt.time(8, 0),
    ends: dt.time = dt.time(18, 0),
) -> User:
    """`therapist` (a new therapist of `clinic` if None) working at `clinic` all seven weekdays."""
    therapist = therapist or therapist_in(clinic)
    for day in Weekday.values:
        WorkingHoursFactory(
            clinic=clinic, therapist=therapist, weekday=day, starts=starts, ends=ends
        )
    return therapist


def next_dst_change(timezone_name: str, *, forward: bool, after: dt.date) -> dt.date:
    """The first local date after `after` on which the clocks of the zone go forward (or back).

    Tests that book across a change use this instead of a fixed date, so they never drift into
    the past."""
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(timezone_name)
    day = after + dt.timedelta(days=1)
    for _ in range(800):
        noon_before = dt.datetime.combine(day - dt.timedelta(days=1), dt.time(12), tzinfo=tz)
        noon = dt.datetime.combine(day, dt.time(12), tzinfo=tz)
        change = noon.utcoffset() - noon_before.utcoffset()  # type: ignore[operator]
        if (change > dt.timedelta(0)) if forward else (change < dt.timedelta(0)):
            return day
        day += dt.timedelta(days=1)
    raise LookupError(f"{timezone_name} has no DST change within two years of {after}")


# --- The clinical record ---------------------------------------------------------------------


class EpisodeOfCareFactory(_PatientRowFactory):
    """An active episode of `clinic` (or of `patient=`), started three weeks ago, treated by a new
    PT of the clinic unless `therapist=` is given; commercial payer defaults (rule of eights)."""

    class Meta:
        model = EpisodeOfCare

    therapist = factory.LazyAttribute(lambda o: therapist_in(o.patient.clinic))
    started_on = factory.LazyFunction(lambda: dt.date.today() - dt.timedelta(days=21))
    billing_rule = BillingRule.PER_CODE_8
    progress_report_clock = False


class _EpisodeRowFactory(DjangoModelFactory):
    """Rows owned by an episode: pass `episode=` (the clinic follows) or `clinic=` (a new episode
    of that clinic is made)."""

    class Meta:
        abstract = True

    clinic = None
    episode = factory.LazyAttribute(
        lambda o: EpisodeOfCareFactory(clinic=o.clinic) if o.clinic else EpisodeOfCareFactory()
    )

    @classmethod
    def _adjust_kwargs(cls, **kwargs: Any) -> dict[str, Any]:
        if kwargs.get("clinic") is None:
            kwargs["clinic"] = kwargs["episode"].clinic
        return kwargs


class EvaluationFactory(_EpisodeRowFactory):
    """A draft initial evaluation by the episode's therapist on the episode's first day."""

    class Meta:
        model = Evaluation

    kind = Evaluation.Kind.INITIAL
    author = factory.LazyAttribute(lambda o: o.episode.therapist)
    performed_on = factory.LazyAttribute(lambda o: o.episode.started_on)
    subjective = factory.LazyFunction(
        lambda: {"history": "Low back pain for three weeks after lifting.", "red_flags": {}}
    )
    objective = factory.LazyFunction(lambda: {"range_of_motion": {"lumbar_flexion": 40}})
    diagnoses = factory.LazyFunction(
        lambda: [{"icd10_code": "M54.50", "description": "Low back pain, unspecified"}]
    )
    complexity = Evaluation.Complexity.MODERATE
    assessment = "Mechanical low back pain."
    plan = "Twice a week for four weeks."


class SignedEvaluationFactory(EvaluationFactory):
    """A signed evaluation (the database refuses any later change to it)."""

    status = Evaluation.Status.SIGNED
    signed_at = factory.LazyFunction(timezone.now)
    signed_by = factory.LazyAttribute(lambda o: o.author)


class GoalFactory(_EpisodeRowFactory):
    class Meta:
        model = Goal

    term = Goal.Term.SHORT
    description = "Sit for 30 minutes without pain above 3/10 within 4 weeks."
    target_date = factory.LazyFunction(lambda: dt.date.today() + dt.timedelta(days=28))


class OutcomeMeasureFactory(_EpisodeRowFactory):
    """An NPRS of 6 recorded on the episode's first day by its therapist."""

    class Meta:
        model = OutcomeMeasure

    instrument = OutcomeMeasure.Instrument.NPRS
    version = "0-10"
    answers = factory.LazyFunction(lambda: {"pain": 6})
    score = Decimal("6")
    recorded_on = factory.LazyAttribute(lambda o: o.episode.started_on)
    recorded_by = factory.LazyAttribute(lambda o: o.episode.therapist)


class EvaluationAddendumFactory(DjangoModelFactory):
    """An addendum to a signed evaluation of `clinic` (or to `evaluation=`)."""

    class Meta:
        model = EvaluationAddendum

    clinic = None
    evaluation = factory.LazyAttribute(
        lambda o: (
            SignedEvaluationFactory(clinic=o.clinic) if o.clinic else SignedEvaluationFactory()
        )
    )
    author = factory.LazyAttribute(lambda o: o.evaluation.author)
    text = "Correction: the straight-leg raise was positive on the left, not the right."

    @classmethod
    def _adjust_kwargs(cls, **kwargs: Any) -> dict[str, Any]:
        if kwargs.get("clinic") is None:
            kwargs["clinic"] = kwargs["evaluation"].clinic
        return kwargs


CLINIC_ROW_FACTORIES.update(
    {
        EpisodeOfCare: EpisodeOfCareFactory,
        Evaluation: EvaluationFactory,
        EvaluationAddendum: EvaluationAddendumFactory,
        Goal: GoalFactory,
        OutcomeMeasure: OutcomeMeasureFactory,
    }
)

# URL kwargs whose name is not the model's (`episode_id` names an EpisodeOfCare): the tenancy
# walker finds the parent row of such a route here.
URL_KWARG_MODELS: dict[str, type[Model]] = {"episode": EpisodeOfCare}


# --- Plans of care and treatment notes (programs) --------------------------------------------


class PlanOfCareFactory(_EpisodeRowFactory):
    """The episode's active plan (version 1), written straight to the table: twice a week for
    six weeks from the episode's start, certified for 60 days, no planned items. Tests of the
    rules go through programs.care.plan_create."""

    class Meta:
        model = PlanOfCare

    frequency_per_week = 2
    duration_weeks = 6
    starts_on = factory.LazyAttribute(lambda o: o.episode.started_on)
    certified_until = factory.LazyAttribute(lambda o: o.starts_on + dt.timedelta(days=60))
    created_by = factory.LazyAttribute(lambda o: o.episode.therapist)


class EpisodeVisitFactory(VisitFactory):
    """A completed treatment visit of an episode, in the past (two days ago, earlier hours for
    later rows). Pass `clinic=` (a new episode of it is made) or `clinic=` and `episode=`."""

    episode = factory.LazyAttribute(lambda o: EpisodeOfCareFactory(clinic=o.clinic))
    patient = factory.LazyAttribute(lambda o: o.episode.patient)
    therapist = factory.LazyAttribute(lambda o: o.episode.therapist)
    starts_at = factory.Sequence(
        lambda n: (
            (timezone.now() - dt.timedelta(days=2)).replace(
                hour=15, minute=0, second=0, microsecond=0
            )
            - dt.timedelta(hours=n)
        )
    )
    status = Visit.Status.COMPLETED


class TreatmentNoteFactory(DjangoModelFactory):
    """A draft treatment note (no items) of a completed episode visit of `clinic` (or of
    `visit=`), by the visit's therapist."""

    class Meta:
        model = TreatmentNote

    clinic = None
    visit = factory.LazyAttribute(
        lambda o: EpisodeVisitFactory(clinic=o.clinic) if o.clinic else EpisodeVisitFactory()
    )
    episode = factory.LazyAttribute(lambda o: o.visit.episode)
    author = factory.LazyAttribute(lambda o: o.visit.therapist)
    billing_rule = factory.LazyAttribute(lambda o: o.episode.billing_rule)
    subjective = "Pain 4/10, easier since the last visit."
    notes = "Tolerated treatment well."

    @classmethod
    def _adjust_kwargs(cls, **kwargs: Any) -> dict[str, Any]:
        if kwargs.get("clinic") is None:
            kwargs["clinic"] = kwargs["visit"].clinic
        return kwargs


class SignedTreatmentNoteFactory(TreatmentNoteFactory):
    """A signed note (the database refuses any later change to it or its rows)."""

    status = TreatmentNote.Status.SIGNED
    version = 2
    signed_at = factory.LazyFunction(timezone.now)
    signed_by = factory.LazyAttribute(lambda o: o.author)


class TreatmentNoteAddendumFactory(DjangoModelFactory):
    """An addendum to a signed note of `clinic` (or to `note=`)."""

    class Meta:
        model = TreatmentNoteAddendum

    clinic = None
    note = factory.LazyAttribute(
        lambda o: (
            SignedTreatmentNoteFactory(clinic=o.clinic)
            if o.clinic
            else SignedTreatmentNoteFactory()
        )
    )
    author = factory.LazyAttribute(lambda o: o.note.author)
    text = "Addendum: the hot pack was applied with three towel layers, not two."

    @classmethod
    def _adjust_kwargs(cls, **kwargs: Any) -> dict[str, Any]:
        if kwargs.get("clinic") is None:
            kwargs["clinic"] = kwargs["note"].clinic
        return kwargs


CLINIC_ROW_FACTORIES.update(
    {
        PlanOfCare: PlanOfCareFactory,
        TreatmentNote: TreatmentNoteFactory,
        TreatmentNoteAddendum: TreatmentNoteAddendumFactory,
    }
)


# --- Background jobs: follow-ups and progress summaries --------------------------------------


class FollowUpFactory(DjangoModelFactory):
    """A follow-up of a completed episode visit of `clinic` (or of `after_visit=`), waiting for
    the front desk."""

    class Meta:
        model = FollowUp

    clinic = None
    after_visit = factory.LazyAttribute(
        lambda o: EpisodeVisitFactory(clinic=o.clinic) if o.clinic else EpisodeVisitFactory()
    )
    episode = factory.LazyAttribute(lambda o: o.after_visit.episode)
    due_from = factory.LazyAttribute(lambda o: o.after_visit.starts_at.date() + dt.timedelta(2))
    due_until = factory.LazyAttribute(lambda o: o.due_from + dt.timedelta(days=2))
    status = FollowUp.Status.NEEDS_FRONT_DESK
    reason = "No free slot with the same therapist."

    @classmethod
    def _adjust_kwargs(cls, **kwargs: Any) -> dict[str, Any]:
        if kwargs.get("clinic") is None:
            kwargs["clinic"] = kwargs["after_visit"].clinic
        return kwargs


class ProgressSummaryFactory(DjangoModelFactory):
    """A progress summary of a completed episode visit of `clinic` (or of `visit=`)."""

    class Meta:
        model = ProgressSummary

    clinic = None
    visit = factory.LazyAttribute(
        lambda o: EpisodeVisitFactory(clinic=o.clinic) if o.clinic else EpisodeVisitFactory()
    )
    data = factory.LazyFunction(lambda: {"visit": {"number_in_episode": 1}})
    text = "Visit 1 of the episode."

    @classmethod
    def _adjust_kwargs(cls, **kwargs: Any) -> dict[str, Any]:
        if kwargs.get("clinic") is None:
            kwargs["clinic"] = kwargs["visit"].clinic
        return kwargs


CLINIC_ROW_FACTORIES.update({FollowUp: FollowUpFactory, ProgressSummary: ProgressSummaryFactory})


# --- Home exercise programmes (programs.home) ------------------------------------------------


class HomeProgramFactory(DjangoModelFactory):
    """An active home programme of a new episode of `clinic` (or of `episode=`), written
    straight to the tables: version 1 from the episode's start, with bird-dog and the bridge at
    the library's doses. Tests of the rules go through programs.home.home_program_create."""

    class Meta:
        model = HomeProgram
        skip_postgeneration_save = True

    clinic = None
    episode = factory.LazyAttribute(
        lambda o: EpisodeOfCareFactory(clinic=o.clinic) if o.clinic else EpisodeOfCareFactory()
    )
    created_by = factory.LazyAttribute(lambda o: o.episode.therapist)
    current_version = 1

    @classmethod
    def _adjust_kwargs(cls, **kwargs: Any) -> dict[str, Any]:
        if kwargs.get("clinic") is None:
            kwargs["clinic"] = kwargs["episode"].clinic
        return kwargs

    @factory.post_generation
    def versions(obj: HomeProgram, create: bool, extracted: Any, **kwargs: Any) -> None:
        if not create:
            return
        version = HomeProgramVersion.objects.create(
            clinic=obj.clinic,
            program=obj,
            version=1,
            starts_on=obj.episode.started_on,
            prescribed_by=obj.created_by,
        )
        exercises = Exercise.objects.filter(slug__in=("bird-dog", "bridge")).order_by("slug")
        HomeProgramItem.objects.bulk_create(
            HomeProgramItem(
                version=version,
                position=position,
                exercise=e,
                sets=e.sets,
                reps=e.reps,
                hold_seconds=e.hold_seconds,
                times_per_day=e.times_per_day,
                days_per_week=e.days_per_week,
            )
            for position, e in enumerate(exercises)
        )


class HomeProgramLinkFactory(DjangoModelFactory):
    """A live patient link (28 days) to a home programme of `clinic` (or of `program=`)."""

    class Meta:
        model = HomeProgramLink

    clinic = None
    program = factory.LazyAttribute(
        lambda o: HomeProgramFactory(clinic=o.clinic) if o.clinic else HomeProgramFactory()
    )
    created_by = factory.LazyAttribute(lambda o: o.program.created_by)
    expires_at = factory.LazyFunction(lambda: timezone.now() + dt.timedelta(days=28))

    @classmethod
    def _adjust_kwargs(cls, **kwargs: Any) -> dict[str, Any]:
        if kwargs.get("clinic") is None:
            kwargs["clinic"] = kwargs["program"].clinic
        return kwargs


CLINIC_ROW_FACTORIES.update(
    {HomeProgram: HomeProgramFactory, HomeProgramLink: HomeProgramLinkFactory}
)
