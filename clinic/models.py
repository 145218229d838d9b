"""Clinics, rooms, staff, roles, opening hours, closures, working hours and time off."""

from __future__ import annotations

import uuid
import zoneinfo
from functools import cache
from typing import Any, ClassVar, Self

from django.contrib.auth.models import AbstractUser, UserManager
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q
from simple_history.models import HistoricalRecords

from clinic.capabilities import Capability, Role
from clinic.tenancy import ClinicScopedQuerySet, clinic_ids_visible_to


@cache
def _known_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def validate_timezone(value: str) -> None:
    if value not in _known_zones():
        raise ValidationError(
            "%(value)s is not an IANA time zone (for example Europe/Berlin or America/New_York).",
            code="invalid_timezone",
            params={"value": value},
        )


class Weekday(models.IntegerChoices):
    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"


class TimeStamped(models.Model):
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


# --- Users -----------------------------------------------------------------------------------


class UserQuerySet(models.QuerySet):
    def for_clinic(self, clinic: Clinic | int) -> Self:
        return self.filter(
            pk__in=Membership.objects.filter(clinic=clinic, active=True).values("user_id")
        )

    def visible_to(self, user: Any, capability: Capability = Capability.VIEW_STAFF) -> Self:
        if not getattr(user, "is_authenticated", False) or not user.is_active:
            return self.none()
        if user.is_superuser:
            return self.all()
        return self.filter(
            pk__in=Membership.objects.filter(
                clinic_id__in=clinic_ids_visible_to(user, capability)
            ).values("user_id")
        )

    def therapists(self, clinic: Clinic | int | None = None) -> Self:
        """Users with an active therapist role, in `clinic` if given (else in any clinic)."""
        memberships = Membership.objects.filter(role=Role.THERAPIST, active=True)
        if clinic is not None:
            memberships = memberships.for_clinic(clinic)
        return self.filter(pk__in=memberships.values("user_id"))


class PracticeUserManager(UserManager.from_queryset(UserQuerySet)):  # type: ignore[misc]
    pass


class User(AbstractUser):
    """A member of staff. Patients are not users in v1."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)

    objects: ClassVar[PracticeUserManager] = PracticeUserManager()

    class Meta:
        ordering = ["last_name", "first_name", "username"]

    def __str__(self) -> str:
        return self.get_full_name() or self.username


# --- Clinics ---------------------------------------------------------------------------------


class ClinicQuerySet(ClinicScopedQuerySet):
    clinic_lookup = "pk"

    def active(self) -> Self:
        return self.filter(active=True)


class Clinic(TimeStamped):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60, unique=True)
    timezone = models.CharField(
        max_length=64,
        validators=[validate_timezone],
        help_text="IANA time zone; slots, opening hours and 'tomorrow' are computed in it.",
    )
    country = models.CharField(
        max_length=2,
        default="US",
        validators=[RegexValidator(r"^[A-Z]{2}$", "Use a two-letter ISO 3166 country code.")],
    )
    address = models.TextField(blank=True)
    phone = models.CharField(max_length=32, blank=True)
    late_cancel_hours = models.PositiveSmallIntegerField(
        default=24,
        help_text="A cancellation this many hours or fewer before the visit counts as late.",
    )
    medicare_rules = models.BooleanField(
        default=True,
        help_text="Apply US Medicare rules (8-minute rule, progress-report clock) by default.",
    )
    reminder_lead_hours = models.PositiveSmallIntegerField(
        "visit reminder lead time (hours)",
        default=24,
        validators=[MaxValueValidator(14 * 24)],
        help_text="Patients who agreed to e-mail get a reminder this many hours before each "
        "visit; 0 sends no reminders.",
    )
    active = models.BooleanField(default=True)

    history = HistoricalRecords()
    objects = ClinicQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)


class OpeningHours(models.Model):
    """One opening block of a clinic on a weekday, in the clinic's local time."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="opening_hours")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    opens = models.TimeField()
    closes = models.TimeField()

    history = HistoricalRecords()
    objects = ClinicScopedQuerySet.as_manager()

    class Meta:
        ordering = ["clinic", "weekday", "opens"]
        verbose_name_plural = "opening hours"
        constraints = [
            models.CheckConstraint(
                condition=Q(closes__gt=F("opens")), name="clinic_openinghours_closes_after_opens"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.opens:%H:%M}-{self.closes:%H:%M}"


class Closure(models.Model):
    """Days a clinic is closed (holidays, works); inclusive of both dates."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="closures")
    starts_on = models.DateField()
    ends_on = models.DateField()
    reason = models.CharField(max_length=200)

    history = HistoricalRecords()
    objects = ClinicScopedQuerySet.as_manager()

    class Meta:
        ordering = ["clinic", "starts_on"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_on__gte=F("starts_on")),
                name="clinic_closure_ends_on_or_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.starts_on} to {self.ends_on}: {self.reason}"


class Room(TimeStamped):
    class Kind(models.TextChoices):
        TREATMENT = "treatment", "Treatment room"
        GYM = "gym", "Gym"
        POOL = "pool", "Pool"
        OFFICE = "office", "Consulting office"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="rooms")
    name = models.CharField(max_length=80)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.TREATMENT)
    active = models.BooleanField(default=True)

    history = HistoricalRecords()
    objects = ClinicScopedQuerySet.as_manager()

    class Meta:
        ordering = ["clinic", "name"]
        constraints = [
            models.UniqueConstraint(fields=["clinic", "name"], name="clinic_room_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name


# --- Staff -----------------------------------------------------------------------------------


class Membership(TimeStamped):
    """A user's role in a clinic. One row per role; a user may hold several."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="memberships")
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices)
    active = models.BooleanField(default=True)

    history = HistoricalRecords()
    objects = ClinicScopedQuerySet.as_manager()

    class Meta:
        ordering = ["clinic", "user__last_name", "user__first_name", "role"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "clinic", "role"], name="clinic_membership_unique_role"
            ),
        ]
        indexes = [models.Index(fields=["user", "active"], name="clinic_membership_user_active")]

    def __str__(self) -> str:
        return f"{self.user} · {self.get_role_display()}"


class TherapistProfile(TimeStamped):
    """Licence and discipline of a therapist; an assistant (PTA) may not sign progress reports."""

    class Discipline(models.TextChoices):
        PT = "PT", "Physical therapist"
        PTA = "PTA", "Physical therapist assistant"

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="therapist_profile")
    licence_number = models.CharField(max_length=40)
    discipline = models.CharField(max_length=3, choices=Discipline.choices, default=Discipline.PT)

    history = HistoricalRecords()

    def __str__(self) -> str:
        return f"{self.user} ({self.discipline})"

    @property
    def is_licensed_therapist(self) -> bool:
        return self.discipline == self.Discipline.PT


class WorkingHours(models.Model):
    """A block a therapist works at one clinic on a weekday, in the clinic's local time."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="working_hours")
    therapist = models.ForeignKey(User, on_delete=models.CASCADE, related_name="working_hours")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    starts = models.TimeField()
    ends = models.TimeField()

    history = HistoricalRecords()
    objects = ClinicScopedQuerySet.as_manager()

    class Meta:
        ordering = ["clinic", "therapist", "weekday", "starts"]
        verbose_name_plural = "working hours"
        constraints = [
            models.CheckConstraint(
                condition=Q(ends__gt=F("starts")), name="clinic_workinghours_ends_after_starts"
            ),
        ]
        indexes = [
            models.Index(fields=["therapist", "weekday"], name="clinic_workinghours_therapist")
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.starts:%H:%M}-{self.ends:%H:%M}"


class TimeOffQuerySet(models.QuerySet):
    """Time off belongs to a person, not a clinic: it is seen through the therapist's clinics."""

    def for_clinic(self, clinic: Clinic | int) -> Self:
        return self.filter(therapist__in=User.objects.for_clinic(clinic))

    def visible_to(self, user: Any, capability: Capability = Capability.VIEW_STAFF) -> Self:
        return self.filter(therapist__in=User.objects.visible_to(user, capability))


class TimeOff(TimeStamped):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    therapist = models.ForeignKey(User, on_delete=models.CASCADE, related_name="time_off")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    reason = models.CharField(max_length=200, blank=True)

    history = HistoricalRecords()
    objects = TimeOffQuerySet.as_manager()

    class Meta:
        ordering = ["therapist", "starts_at"]
        verbose_name_plural = "time off"
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")), name="clinic_timeoff_ends_after_starts"
            ),
        ]
        indexes = [models.Index(fields=["therapist", "starts_at"], name="clinic_timeoff_therapist")]

    def __str__(self) -> str:
        return f"Time off {self.starts_at:%Y-%m-%d %H:%M} to {self.ends_at:%Y-%m-%d %H:%M}"


# --- Access log ------------------------------------------------------------------------------


class AccessLogQuerySet(ClinicScopedQuerySet):
    pass


class AccessLog(models.Model):
    """One read of a patient's chart or clinical record: who, when, which patient, what kind.

    Append-only: `clinic.access.access_record` only inserts, the admin is read-only and database
    triggers refuse UPDATE and DELETE. No names: the patient is named by public id only.
    """

    class Record(models.TextChoices):
        CHART = "chart", "Chart (demographics)"
        CLINICAL = "clinical", "Clinical record"
        EXPORT = "export", "Export"

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    actor = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    subject = models.CharField(max_length=80, help_text='For example "patient:<public id>".')
    patient_public_id = models.UUIDField(db_index=True)
    record = models.CharField(max_length=20, choices=Record.choices)
    what = models.CharField(max_length=60, blank=True, help_text="The record type read.")
    path = models.CharField(max_length=300, help_text="The request path, without query string.")
    method = models.CharField(max_length=10, blank=True)
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = AccessLogQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["clinic", "at"], name="clinic_accesslog_clinic_at")]

    def __str__(self) -> str:
        return f"{self.record} read of {self.subject} at {self.at:%Y-%m-%d %H:%M:%S}"
