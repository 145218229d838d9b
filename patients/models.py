"""Patients, their diagnoses and precautions."""

from __future__ import annotations

import datetime as dt
import re
import string
import uuid
from typing import Self

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from clinic.ids import time_ordered_uuid
from clinic.models import Clinic, TimeStamped
from clinic.tenancy import ClinicScopedQuerySet
from patients.rules import is_acute, phone_digits
from patients.vocabulary import BodyRegion, Side

ICD10_CM = re.compile(r"^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$")


def validate_icd10(value: str) -> None:
    if not ICD10_CM.match(value):
        raise ValidationError(
            "%(value)s is not an ICD-10-CM code: a letter, two characters, then optionally a "
            "dot and up to four characters (for example M54.50 or M51.26).",
            code="invalid_icd10",
            params={"value": value},
        )


def validate_not_future(value: dt.date) -> None:
    if value > dt.date.today():
        raise ValidationError("Cannot be in the future.", code="future_date")


DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%d.%m.%Y")


def _as_date(term: str) -> dt.date | None:
    for fmt in DATE_FORMATS:
        try:
            return dt.datetime.strptime(term, fmt).date()
        except ValueError:
            continue
    return None


class PatientQuerySet(ClinicScopedQuerySet):
    def active(self) -> Self:
        return self.filter(archived_at__isnull=True)

    def matching(self, query: str) -> Self:
        """The front desk's search: every word must match a name (any part), a date of birth,
        an MRN, or a phone number (digits, any part). Trigram indexes serve it on PostgreSQL."""
        patients = self
        for term in query.split()[:6]:
            day = _as_date(term)
            digits = phone_digits(term)
            has_letters = any(ch.isalpha() for ch in term)
            if day is not None:
                patients = patients.filter(date_of_birth=day)
            elif "-" in term and digits and has_letters:
                patients = patients.filter(mrn__iexact=term)
            elif digits and (not has_letters or len(digits) >= max(3, len(term) - 2)):
                # A phone written any way: "+1", "(860)", "+1-860-555-0112", "555.0112".
                patients = patients.filter(
                    Q(phone_digits__contains=digits) | Q(mrn__endswith=digits)
                )
            elif name := term.strip(string.punctuation).lower():  # "Holloway," or "-" alone
                patients = patients.filter(search_name__contains=name)
        return patients


class Patient(TimeStamped):
    """A patient of one clinic. `__str__` is the MRN: names never reach logs or the admin log."""

    class Sex(models.TextChoices):
        FEMALE = "female", "Female"
        MALE = "male", "Male"
        OTHER = "other", "Other"
        UNKNOWN = "unknown", "Unknown"

    class Payer(models.TextChoices):
        MEDICARE = "medicare", "Medicare"
        COMMERCIAL = "commercial", "Commercial insurance"
        SELF_PAY = "self_pay", "Self-pay"
        OTHER = "other", "Other"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="patients")
    mrn = models.CharField("medical record number", max_length=20)
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    date_of_birth = models.DateField(validators=[validate_not_future])
    sex = models.CharField(max_length=8, choices=Sex.choices, default=Sex.UNKNOWN)
    phone = models.CharField(max_length=32, blank=True)
    email = models.EmailField(blank=True)
    address = models.TextField(blank=True)
    emergency_contact_name = models.CharField(max_length=200, blank=True)
    emergency_contact_phone = models.CharField(max_length=32, blank=True)
    preferred_language = models.CharField(max_length=35, default="en")
    referring_physician_name = models.CharField(max_length=200, blank=True)
    referring_physician_npi = models.CharField(
        "referring physician identifier (NPI)", max_length=20, blank=True
    )
    payer_type = models.CharField(max_length=12, choices=Payer.choices, default=Payer.OTHER)
    consent_email = models.BooleanField("reminders by e-mail", default=False)
    consent_sms = models.BooleanField("reminders by SMS", default=False)
    archived_at = models.DateTimeField(null=True, blank=True)

    # Derived by the service for fast search (trigram indexes on PostgreSQL).
    search_name = models.CharField(max_length=210, editable=False, default="")
    phone_digits = models.CharField(max_length=32, editable=False, default="", blank=True)

    history = HistoricalRecords(excluded_fields=["search_name", "phone_digits"])
    objects = PatientQuerySet.as_manager()

    class Meta:
        ordering = ["last_name", "first_name", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["clinic", "mrn"], name="patients_patient_unique_mrn"),
        ]
        indexes = [
            models.Index(fields=["clinic", "last_name", "first_name"], name="patients_name"),
            models.Index(fields=["clinic", "date_of_birth"], name="patients_dob"),
            models.Index(fields=["clinic", "phone_digits"], name="patients_phone"),
        ]

    def __str__(self) -> str:
        return f"Patient {self.mrn}"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None


class MrnSequence(models.Model):
    """The last medical record number handed out per clinic; locked while the next is taken."""

    clinic = models.OneToOneField(Clinic, on_delete=models.CASCADE, related_name="+")
    last_value = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"MRN sequence {self.clinic_id}: {self.last_value}"


class PrecautionKind(models.Model):
    """The controlled vocabulary of precautions; the shipped ones come with the migrations."""

    code = models.SlugField(max_length=40, unique=True)
    label = models.CharField(max_length=120)
    needs_region = models.BooleanField(
        default=False, help_text="The precaution applies over a body region, which must be given."
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["label"]

    def __str__(self) -> str:
        return self.label


class PatientOwnedQuerySet(ClinicScopedQuerySet):
    def current(self) -> Self:
        return self.filter(resolved_on__isnull=True)


class Diagnosis(TimeStamped):
    """A condition of the patient, coded in ICD-10-CM. Acute or chronic is derived from onset."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="diagnoses")
    icd10_code = models.CharField("ICD-10-CM code", max_length=8, validators=[validate_icd10])
    description = models.CharField(max_length=200)
    onset_date = models.DateField(null=True, blank=True, validators=[validate_not_future])
    side = models.CharField(max_length=10, choices=Side.choices, blank=True, default="")
    resolved_on = models.DateField(null=True, blank=True)
    notes = models.TextField(blank=True)

    history = HistoricalRecords()
    objects = PatientOwnedQuerySet.as_manager()

    class Meta:
        ordering = ["patient", "-onset_date", "pk"]
        verbose_name_plural = "diagnoses"
        indexes = [models.Index(fields=["clinic", "patient"], name="patients_diagnosis_patient")]

    def __str__(self) -> str:
        return self.icd10_code

    def is_acute(self, on: dt.date | None = None) -> bool | None:
        """Under 3 months since onset is acute; None when the onset is unknown."""
        if self.onset_date is None:
            return None
        return is_acute(self.onset_date, on or dt.date.today())


class Precaution(TimeStamped):
    """A precaution the front desk and therapists must see (pacemaker, pregnancy, ...)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="precautions")
    kind = models.ForeignKey(PrecautionKind, on_delete=models.PROTECT, related_name="+")
    body_region = models.CharField(max_length=24, choices=BodyRegion.choices, blank=True)
    side = models.CharField(max_length=10, choices=Side.choices, blank=True, default="")
    noted_on = models.DateField(default=dt.date.today, validators=[validate_not_future])
    resolved_on = models.DateField(null=True, blank=True)
    notes = models.CharField(max_length=300, blank=True)

    history = HistoricalRecords()
    objects = PatientOwnedQuerySet.as_manager()

    class Meta:
        ordering = ["patient", "kind__label", "pk"]
        indexes = [models.Index(fields=["clinic", "patient"], name="patients_precaution_patient")]
        constraints = [
            models.CheckConstraint(
                condition=Q(resolved_on__isnull=True) | Q(resolved_on__gte=models.F("noted_on")),
                name="patients_precaution_resolved_after_noted",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind_id}:{self.body_region or '-'}"


# --- Scheduling ------------------------------------------------------------------------------


class VisitSeries(TimeStamped):
    """A recurring booking (e.g. Monday and Thursday 10:00 for 6 weeks), kept as wall-clock time
    in the clinic's zone so it stays at 10:00 across daylight-saving changes. Its visits are
    ordinary Visit rows."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="visit_series")
    therapist = models.ForeignKey(
        "clinic.User", on_delete=models.PROTECT, related_name="visit_series"
    )
    weekdays = models.JSONField(help_text="Weekdays, 0 = Monday.")
    local_time = models.TimeField()
    duration_minutes = models.PositiveSmallIntegerField()
    first_day = models.DateField()
    occurrences = models.PositiveSmallIntegerField()
    booked_by = models.ForeignKey(
        "clinic.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    objects = ClinicScopedQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "visit series"

    def __str__(self) -> str:
        return f"Series {self.public_id}"


MAX_VISIT_LENGTH = dt.timedelta(hours=4)
VISIT_HISTORY_UNINDEXED = [
    "public_id",
    "clinic",
    "patient",
    "therapist",
    "room",
    "series",
    "episode",
    "booked_by",
]


class VisitQuerySet(ClinicScopedQuerySet):
    def occupying(self) -> Self:
        """Visits that hold their time: booked, checked in or completed."""
        return self.filter(status__in=Visit.OCCUPYING_STATUSES)

    def live(self) -> Self:
        return self.filter(status__in=Visit.LIVE_STATUSES)

    def overlapping(self, starts_at: dt.datetime, ends_at: dt.datetime) -> Self:
        """Half-open overlap: a visit ending at 10:00 does not overlap one starting at 10:00.

        No visit is longer than MAX_VISIT_LENGTH (the booking service's rule), so the search
        also has a lower bound on the start: the (…, starts_at) indexes then read only the
        window, not every earlier visit of the therapist, room or clinic.
        """
        return self.filter(
            starts_at__lt=ends_at,
            starts_at__gt=starts_at - MAX_VISIT_LENGTH,
            ends_at__gt=starts_at,
        )


class Visit(TimeStamped):
    """A booked appointment and what became of it.

    On PostgreSQL three exclusion constraints (migration 0005) forbid two occupying visits of one
    therapist, one room or one patient overlapping in time; the booking service checks first
    under the therapist's row lock, so the constraints are the last line of defence.
    """

    class Kind(models.TextChoices):
        INITIAL_EVALUATION = "initial_evaluation", "Initial evaluation"
        TREATMENT = "treatment", "Treatment"
        RE_EVALUATION = "re_evaluation", "Re-evaluation"
        PROGRESS_REPORT = "progress_report", "Progress report"
        DISCHARGE = "discharge", "Discharge"

    class Status(models.TextChoices):
        BOOKED = "booked", "Booked"
        CHECKED_IN = "checked_in", "Checked in"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"
        LATE_CANCELLED = "late_cancelled", "Late cancelled"
        NO_SHOW = "no_show", "No-show"

    LIVE_STATUSES = (Status.BOOKED, Status.CHECKED_IN)
    OCCUPYING_STATUSES = (Status.BOOKED, Status.CHECKED_IN, Status.COMPLETED)

    public_id = models.UUIDField(default=time_ordered_uuid, unique=True, editable=False)
    # No index of their own for the keys that lead a composite index below (clinic, therapist,
    # room, patient): every insert would maintain it, and the composite serves the same lookups
    # (issue 11: a booking updates every index of this table). The episode keeps its own: most
    # visits' episode repeats, so that index is small, and the compliance report's join by
    # episode uses it where it would scan the whole table rather than read episode_status.
    clinic = models.ForeignKey(
        Clinic, on_delete=models.PROTECT, related_name="visits", db_index=False
    )
    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, related_name="visits", db_index=False
    )
    therapist = models.ForeignKey(
        "clinic.User", on_delete=models.PROTECT, related_name="visits", db_index=False
    )
    room = models.ForeignKey(
        "clinic.Room",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="visits",
        db_index=False,
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.TREATMENT)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.BOOKED)
    series = models.ForeignKey(
        VisitSeries, on_delete=models.SET_NULL, null=True, blank=True, related_name="visits"
    )
    episode = models.ForeignKey(
        "EpisodeOfCare",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="visits",
    )
    booked_by = models.ForeignKey(
        "clinic.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    cancel_reason = models.CharField(max_length=300, blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)

    # The history is read by visit (the admin's history page, the patient export: its `id`
    # index) and by date; the copies of the other keys need no index to be written on every
    # booking and change.
    history = HistoricalRecords(no_db_index=VISIT_HISTORY_UNINDEXED)
    objects = VisitQuerySet.as_manager()

    class Meta:
        ordering = ["starts_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")),
                name="patients_visit_ends_after_starts",
            ),
        ]
        indexes = [
            models.Index(fields=["clinic", "starts_at"], name="patients_visit_clinic_day"),
            models.Index(fields=["therapist", "starts_at"], name="patients_visit_therapist_day"),
            models.Index(fields=["room", "starts_at"], name="patients_visit_room_day"),
            models.Index(fields=["patient", "starts_at"], name="patients_visit_patient"),
            models.Index(fields=["clinic", "status", "starts_at"], name="patients_visit_status"),
            # The admin's change list: unfiltered order, and its status and kind filters.
            models.Index(fields=["starts_at", "id"], name="patients_visit_starts"),
            models.Index(fields=["status", "starts_at"], name="patients_visit_status_any"),
            models.Index(fields=["clinic", "kind", "starts_at"], name="patients_visit_kind"),
            # The visits report's completed visits per episode: counted from the index alone.
            models.Index(fields=["episode", "status", "id"], name="patients_visit_episode_status"),
        ]

    def __str__(self) -> str:
        return f"Visit {self.public_id}"


# --- The clinical record ---------------------------------------------------------------------


class BillingRule(models.TextChoices):
    """How timed minutes become units; a payer setting (CLINICAL.md section 1)."""

    MEDICARE_8_MINUTE = "medicare_8_minute", "Medicare 8-minute rule (total timed minutes)"
    PER_CODE_8 = "per_code_8", "Rule of eights (each timed code on its own)"


class EpisodeOfCare(TimeStamped):
    """A patient's course of care for one problem, from the initial evaluation to discharge."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        DISCHARGED = "discharged", "Discharged"
        CLOSED = "closed", "Closed without discharge"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="episodes")
    therapist = models.ForeignKey(
        "clinic.User", on_delete=models.PROTECT, related_name="episodes_treated"
    )
    primary_diagnosis = models.ForeignKey(
        Diagnosis, on_delete=models.PROTECT, null=True, blank=True, related_name="episodes"
    )
    started_on = models.DateField()
    ended_on = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ACTIVE)
    billing_rule = models.CharField(max_length=20, choices=BillingRule.choices)
    progress_report_clock = models.BooleanField(
        default=True, help_text="Medicare: a progress report at least every 10 treatment days."
    )
    auth_reference = models.CharField("authorization reference", max_length=60, blank=True)
    auth_visits = models.PositiveSmallIntegerField("authorized visits", null=True, blank=True)
    auth_units = models.PositiveSmallIntegerField("authorized units", null=True, blank=True)
    auth_starts_on = models.DateField("authorization starts", null=True, blank=True)
    auth_ends_on = models.DateField("authorization ends", null=True, blank=True)

    history = HistoricalRecords()
    objects = ClinicScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-started_on", "pk"]
        verbose_name_plural = "episodes of care"
        indexes = [
            models.Index(fields=["clinic", "patient"], name="patients_episode_patient"),
            # The admin's change list and the reports: by clinic or therapist, newest first.
            models.Index(fields=["clinic", "started_on"], name="patients_episode_started"),
            models.Index(fields=["therapist", "started_on"], name="patients_episode_therapist"),
            # The compliance report: the active episodes only, not every episode ever treated.
            models.Index(
                fields=["clinic", "started_on"],
                condition=Q(status="active"),
                name="patients_episode_active",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(ended_on__isnull=True) | Q(ended_on__gte=models.F("started_on")),
                name="patients_episode_ends_after_start",
            ),
            models.CheckConstraint(
                condition=Q(auth_ends_on__isnull=True)
                | Q(auth_starts_on__isnull=True)
                | Q(auth_ends_on__gte=models.F("auth_starts_on")),
                name="patients_episode_auth_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"Episode {self.public_id}"


class SignableQuerySet(ClinicScopedQuerySet):
    def signed(self) -> Self:
        return self.filter(status="signed")


class Evaluation(TimeStamped):
    """An initial evaluation, re-evaluation, progress report or discharge summary: a SOAP note.

    Once signed it is immutable: the service refuses changes and, on PostgreSQL, a trigger
    (migration 0007) refuses them too. Corrections are addenda. Edits of a draft carry its
    `version`, so a stale write is refused instead of silently overwriting a colleague's.
    """

    class Kind(models.TextChoices):
        INITIAL = "initial", "Initial evaluation"
        RE_EVALUATION = "re_evaluation", "Re-evaluation"
        PROGRESS_REPORT = "progress_report", "Progress report"
        DISCHARGE = "discharge", "Discharge summary"

    class Complexity(models.TextChoices):
        LOW = "low", "Low complexity (97161)"
        MODERATE = "moderate", "Moderate complexity (97162)"
        HIGH = "high", "High complexity (97163)"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SIGNED = "signed", "Signed"

    CPT_BY_COMPLEXITY = {"low": "97161", "moderate": "97162", "high": "97163"}
    RE_EVALUATION_CPT = "97164"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    episode = models.ForeignKey(EpisodeOfCare, on_delete=models.PROTECT, related_name="evaluations")
    visit = models.ForeignKey(
        "Visit", on_delete=models.PROTECT, null=True, blank=True, related_name="evaluations"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    author = models.ForeignKey("clinic.User", on_delete=models.PROTECT, related_name="+")
    performed_on = models.DateField()
    # Subjective: history, pain_location, aggravating, easing, red_flags {item: bool}.
    subjective = models.JSONField(default=dict, blank=True)
    # Objective: range_of_motion {movement: degrees}, strength {muscle group: 0-5},
    # special_tests {test: "positive"|"negative"|...}, findings (text).
    objective = models.JSONField(default=dict, blank=True)
    diagnoses = models.JSONField(
        default=list, blank=True, help_text="The diagnoses assessed: [{icd10_code, description}]."
    )
    complexity = models.CharField(max_length=8, choices=Complexity.choices, blank=True)
    assessment = models.TextField(blank=True)
    plan = models.TextField(blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.DRAFT)
    version = models.PositiveIntegerField(default=1)
    signed_at = models.DateTimeField(null=True, blank=True)
    signed_by = models.ForeignKey(
        "clinic.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    history = HistoricalRecords()
    objects = SignableQuerySet.as_manager()

    class Meta:
        ordering = ["performed_on", "pk"]
        indexes = [models.Index(fields=["clinic", "episode"], name="patients_evaluation_episode")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="draft") | Q(signed_at__isnull=False, signed_by__isnull=False),
                name="patients_evaluation_signed_has_signer",
            ),
        ]

    def __str__(self) -> str:
        return f"Evaluation {self.public_id}"

    @property
    def cpt_code(self) -> str | None:
        if self.kind == self.Kind.INITIAL:
            return self.CPT_BY_COMPLEXITY.get(self.complexity)
        if self.kind == self.Kind.RE_EVALUATION:
            return self.RE_EVALUATION_CPT
        return None


class Goal(TimeStamped):
    class Term(models.TextChoices):
        SHORT = "short", "Short term"
        LONG = "long", "Long term"

    class Status(models.TextChoices):
        PROGRESSING = "progressing", "Progressing"
        MET = "met", "Met"
        NOT_MET = "not_met", "Not met"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    episode = models.ForeignKey(EpisodeOfCare, on_delete=models.PROTECT, related_name="goals")
    term = models.CharField(max_length=5, choices=Term.choices)
    description = models.CharField(max_length=300, help_text="Measurable: what, how much, when.")
    target_date = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PROGRESSING)

    history = HistoricalRecords()
    objects = ClinicScopedQuerySet.as_manager()

    class Meta:
        ordering = ["term", "target_date", "pk"]

    def __str__(self) -> str:
        return f"Goal {self.public_id}"


# A score that counts: computed and not entered in error (the reports' and charts' filter).
VALID_SCORE = Q(entered_in_error=False, score__isnull=False)


class OutcomeMeasure(TimeStamped):
    """A questionnaire or scale as answered: the raw answers and the instrument version are kept;
    the score is computed from them by patients.outcomes (and stored for reports)."""

    class Instrument(models.TextChoices):
        NPRS = "nprs", "Numeric Pain Rating Scale"
        ODI = "odi", "Oswestry Disability Index"
        RMDQ = "rmdq", "Roland-Morris Disability Questionnaire"
        PSFS = "psfs", "Patient-Specific Functional Scale"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    episode = models.ForeignKey(
        EpisodeOfCare, on_delete=models.PROTECT, related_name="outcome_measures"
    )
    evaluation = models.ForeignKey(
        Evaluation,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="outcome_measures",
    )
    visit = models.ForeignKey(
        "Visit", on_delete=models.PROTECT, null=True, blank=True, related_name="outcome_measures"
    )
    instrument = models.CharField(max_length=8, choices=Instrument.choices)
    version = models.CharField(max_length=12)
    answers = models.JSONField()
    score = models.DecimalField(max_digits=8, decimal_places=4, null=True, blank=True)
    recorded_on = models.DateField()
    recorded_by = models.ForeignKey("clinic.User", on_delete=models.PROTECT, related_name="+")
    entered_in_error = models.BooleanField(default=False)

    history = HistoricalRecords()
    objects = ClinicScopedQuerySet.as_manager()

    class Meta:
        ordering = ["recorded_on", "pk"]
        indexes = [
            models.Index(
                fields=["clinic", "episode", "instrument", "recorded_on"],
                name="patients_outcome_series",
            ),
            # The outcomes report: the scores recorded in a period, then each of those episodes'
            # first and latest score, read from the index alone (no row fetched).
            models.Index(
                fields=["recorded_on", "instrument", "episode"],
                condition=VALID_SCORE,
                name="patients_outcome_recorded",
            ),
            models.Index(
                fields=["episode", "instrument", "recorded_on", "id", "score"],
                condition=VALID_SCORE,
                name="patients_outcome_first_last",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.instrument} {self.public_id}"


class EvaluationAddendum(models.Model):
    """A correction or addition to a signed evaluation: append-only, with author and time."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    evaluation = models.ForeignKey(Evaluation, on_delete=models.PROTECT, related_name="addenda")
    author = models.ForeignKey("clinic.User", on_delete=models.PROTECT, related_name="+")
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ClinicScopedQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name_plural = "evaluation addenda"

    def __str__(self) -> str:
        return f"Addendum {self.public_id}"


# --- Messages to patients --------------------------------------------------------------------


class PatientMessage(models.Model):
    """One e-mail to a patient about a visit, recorded before it is sent so that it goes at most
    once: one of each kind per visit (the reminder of a visit; the nudge about the gap after a
    visit when nothing is booked next, which also names the episode), whatever the retries and
    redeliveries.

    `status` is `sending` from the claim until the mail server took it (`sent`), or `failed`
    when it refused (a later retry may claim the row again). A worker killed between the two
    leaves `sending`: that message is not sent a second time. A notice that staff asked for
    (a clinic closed for a day, an episode ended: the visits they cancelled) is written
    `queued` in the same transaction as the cancellation, so the request survives a broker
    that is down; its task claims it, and a dispatcher publishes the task again for a queued
    row whose message was lost. A queued notice that its task finds no longer due (the patient
    withdrew consent, the visit is no longer cancelled) is `declined`, with the reason in
    `error`. No content is stored: the text is made from the visit or episode when sending."""

    class Kind(models.TextChoices):
        VISIT_REMINDER = "visit_reminder", "Visit reminder"
        NO_NEXT_VISIT = "no_next_visit", "No next visit booked"
        VISIT_CANCELLED = "visit_cancelled", "Visit cancelled (clinic closed)"
        EPISODE_ENDED = "episode_ended", "Visits cancelled (episode ended)"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        DECLINED = "declined", "Not sent (no longer due)"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="messages")
    kind = models.CharField(max_length=24, choices=Kind.choices)
    visit = models.ForeignKey(Visit, on_delete=models.PROTECT, related_name="messages")
    episode = models.ForeignKey(
        EpisodeOfCare, on_delete=models.PROTECT, null=True, blank=True, related_name="messages"
    )
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.SENDING)
    attempts = models.PositiveSmallIntegerField(default=1)
    error = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    objects = ClinicScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "visit"], name="patients_patientmessage_once_per_visit"
            ),
        ]
        indexes = [
            models.Index(fields=["clinic", "created_at"], name="patients_message_clinic"),
            # The few notices still waiting for their task, for the dispatcher of lost ones.
            models.Index(
                fields=["created_at"],
                name="patients_message_queued",
                condition=models.Q(status="queued"),
            ),
        ]

    def __str__(self) -> str:
        return f"Message {self.public_id}"
