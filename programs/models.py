"""The practice-wide catalogues: modalities (billable services) and exercises, with their
contraindication rules.

Both catalogues belong to the practice, not to a clinic (no clinic FK): every member of staff
reads them, only superusers edit them. Retired entries are deactivated, never deleted, so that
recorded treatment keeps pointing at them.
"""

from __future__ import annotations

import uuid
from typing import Any, Self

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from clinic.ids import time_ordered_uuid
from clinic.models import TimeStamped
from clinic.tenancy import ClinicScopedQuerySet
from patients.vocabulary import BodyRegion, Side
from programs.contraindications import ANY, OVER_AREA, REFUSE, REGIONS, WARN
from programs.parameters import spec_problems

validate_cpt_code = RegexValidator(
    r"^\d{5}$", "A CPT code is five digits (for example 97110).", code="invalid_cpt"
)
validate_hcpcs_code = RegexValidator(
    r"^[A-Z]\d{4}$",
    "A HCPCS Level II code is a capital letter and four digits (for example G0283).",
    code="invalid_hcpcs",
)
validate_static_path = RegexValidator(
    r"^(?!/)(?!.*\.\.)[A-Za-z0-9_\-/.]+\.(png|jpe?g|svg|webp|gif)$",
    "A relative path to an image under the static files (for example "
    "programs/exercises/bird-dog.svg).",
    code="invalid_static_path",
)


def validate_parameter_spec(value: Any) -> None:
    if problems := spec_problems(value):
        raise ValidationError(problems, code="invalid_parameter_spec")


def validate_regions(value: Any) -> None:
    if not isinstance(value, list) or not all(isinstance(r, str) for r in value):
        raise ValidationError("A list of body regions.", code="invalid_regions")
    if unknown := sorted(set(value) - set(BodyRegion.values)):
        raise ValidationError(
            "Not body regions: %(unknown)s.",
            code="invalid_regions",
            params={"unknown": ", ".join(unknown)},
        )
    if len(set(value)) != len(value):
        raise ValidationError("A region is listed twice.", code="invalid_regions")


def dose_text(dose: Any, *, side: str = "") -> str:
    """A dose (a library exercise's default or a prescribed item) as a therapist writes it:
    '2 x 10, hold 5 s, left, 2/day, 5 days/week'; blank parts are left out."""
    parts: list[str] = []
    if dose.sets and dose.reps:
        parts.append(f"{dose.sets} x {dose.reps}")
    elif dose.reps:
        parts.append(f"{dose.reps} reps")
    elif dose.sets:
        parts.append(f"{dose.sets} sets")
    if dose.hold_seconds:
        parts.append(f"hold {dose.hold_seconds} s")
    if dose.minutes:
        parts.append(f"{dose.minutes} min")
    if side:
        parts.append(side)
    if dose.times_per_day:
        parts.append(f"{dose.times_per_day}/day")
    if dose.days_per_week:
        parts.append(f"{dose.days_per_week} days/week")
    return ", ".join(parts)


def _dose(low: int, high: int, help_text: str) -> models.PositiveSmallIntegerField:
    return models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(low), MaxValueValidator(high)],
        help_text=help_text,
    )


class ModalityQuerySet(models.QuerySet["Modality"]):
    EVALUATION_KINDS = ("evaluation", "re_evaluation")

    def active(self) -> Self:
        return self.filter(active=True)

    def treatments(self) -> Self:
        """What a therapist delivers at a treatment visit: everything but the evaluations."""
        return self.exclude(kind__in=self.EVALUATION_KINDS)


class Modality(TimeStamped):
    """A billable service: a treatment modality, or a PT (re-)evaluation.

    Evaluations (97161-97164) live here too, as kinds `evaluation` and `re_evaluation`, so that
    every CPT code a visit bills, timed or untimed, comes from this one table.
    """

    class Kind(models.TextChoices):
        EVALUATION = "evaluation", "PT evaluation"
        RE_EVALUATION = "re_evaluation", "PT re-evaluation"
        HEAT = "heat", "Superficial heat"
        COLD = "cold", "Cold"
        ELECTROTHERAPY_ATTENDED = "electrotherapy_attended", "Electrotherapy, attended"
        ELECTROTHERAPY_UNATTENDED = "electrotherapy_unattended", "Electrotherapy, unattended"
        ULTRASOUND = "ultrasound", "Ultrasound"
        TRACTION = "traction", "Mechanical traction"
        MANUAL_THERAPY = "manual_therapy", "Manual therapy"
        THERAPEUTIC_EXERCISE = "therapeutic_exercise", "Therapeutic exercise"
        NEUROMUSCULAR_REEDUCATION = "neuromuscular_reeducation", "Neuromuscular re-education"
        AQUATIC = "aquatic", "Aquatic therapy"
        GAIT = "gait", "Gait training"
        THERAPEUTIC_ACTIVITIES = "therapeutic_activities", "Therapeutic activities"
        HOME_PROGRAMME_TEACHING = "home_programme_teaching", "Home programme teaching"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=120, unique=True)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    description = models.TextField(blank=True)
    cpt_code = models.CharField(
        "CPT code", max_length=5, validators=[validate_cpt_code], db_index=True
    )
    medicare_code = models.CharField(
        "Medicare code",
        max_length=5,
        blank=True,
        validators=[validate_hcpcs_code],
        help_text="The HCPCS code Medicare bills instead of the CPT code (G0283 for unattended "
        "electrical stimulation); blank when Medicare uses the CPT code.",
    )
    medicare_bundled = models.BooleanField(
        default=False,
        help_text="Medicare does not pay this code separately (97010 hot or cold packs).",
    )
    timed = models.BooleanField(
        help_text="Timed codes bill by minutes (8-minute rule); untimed codes bill one unit per "
        "encounter."
    )
    typical_minutes = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(240)]
    )
    parameter_spec = models.JSONField(
        default=list,
        validators=[validate_parameter_spec],
        help_text='The parameters recorded at delivery: [{"name", "label", "unit", "kind": '
        'number|integer|choice|text, "min", "max", "required", "choices"}]; "minutes" is always '
        "one.",
    )
    active = models.BooleanField(default=True)

    history = HistoricalRecords()
    objects = ModalityQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "modalities"
        constraints = [
            models.CheckConstraint(
                condition=Q(typical_minutes__gte=1), name="programs_modality_typical_minutes"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.cpt_code})"

    @property
    def is_evaluation(self) -> bool:
        return self.kind in ModalityQuerySet.EVALUATION_KINDS


class ExerciseQuerySet(models.QuerySet["Exercise"]):
    def active(self) -> Self:
        return self.filter(active=True)


class Exercise(TimeStamped):
    """An exercise of the library, with the default dose a prescription starts from."""

    class Category(models.TextChoices):
        STRETCH = "stretch", "Stretch"
        STRENGTHENING = "strengthening", "Strengthening"
        STABILISATION = "stabilisation", "Stabilisation"
        MCKENZIE_EXTENSION = "mckenzie_extension", "McKenzie extension"
        FLEXION_LOADING = "flexion_loading", "Flexion-loading"
        LOW_IMPACT_AEROBIC = "low_impact_aerobic", "Low-impact aerobic"
        HIGH_IMPACT_AEROBIC = "high_impact_aerobic", "High-impact aerobic"
        AQUATIC = "aquatic", "Aquatic"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=120, unique=True)
    slug = models.SlugField(max_length=120, unique=True)
    category = models.CharField(max_length=24, choices=Category.choices)
    body_region = models.CharField(max_length=24, choices=BodyRegion.choices)
    instructions = models.TextField(help_text="What the patient reads on the home programme.")
    sets = _dose(1, 10, "Sets per session.")
    reps = _dose(1, 100, "Repetitions per set (per side where the instructions say so).")
    hold_seconds = _dose(1, 300, "Seconds each repetition is held.")
    minutes = _dose(1, 120, "Minutes per session (aerobic work).")
    times_per_day = _dose(1, 10, "Sessions per day.")
    days_per_week = _dose(1, 7, "Days per week.")
    image = models.CharField(
        max_length=200,
        blank=True,
        validators=[validate_static_path],
        help_text="Path of an illustration under the static files, e.g. "
        "programs/exercises/bird-dog.svg.",
    )
    active = models.BooleanField(default=True)

    history = HistoricalRecords()
    objects = ExerciseQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["category", "body_region"], name="programs_exercise_cat")]

    def __str__(self) -> str:
        return self.name

    @property
    def dose_text(self) -> str:
        """The default dose as a therapist writes it: '2 x 10, hold 5 s, 5 days/week'."""
        return dose_text(self)


class ContraindicationRule(TimeStamped):
    """A condition that refuses or warns against one modality or one exercise.

    `condition` is a PrecautionKind code or a derived flag (acute_back_pain); blank makes a
    placement rule that the treated region alone triggers (electrodes over the anterior neck).
    One rule per item and condition: several regions go into one rule's `regions`.
    """

    class Severity(models.TextChoices):
        REFUSE = REFUSE, "Refuse (override needs a justification)"
        WARN = WARN, "Warn"

    class RegionScope(models.TextChoices):
        ANY = ANY, "Anywhere: the condition itself contraindicates"
        OVER_AREA = OVER_AREA, "Over the area: the treated region is the condition's region"
        REGIONS = REGIONS, "Over listed regions only"

    modality = models.ForeignKey(
        Modality,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="contraindication_rules",
    )
    exercise = models.ForeignKey(
        Exercise,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="contraindication_rules",
    )
    condition = models.CharField(
        max_length=40,
        blank=True,
        help_text="A precaution kind's code, or acute_back_pain; blank for a placement rule "
        "(the treated region alone refuses).",
    )
    severity = models.CharField(max_length=8, choices=Severity.choices, default=Severity.REFUSE)
    reason = models.TextField(help_text="Why, naming the condition; shown to the therapist.")
    region_scope = models.CharField(max_length=10, choices=RegionScope.choices, default=ANY)
    regions = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_regions],
        help_text="Body regions, for the 'listed regions' scope only.",
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["modality", "exercise", "condition"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(modality__isnull=False, exercise__isnull=True)
                    | Q(modality__isnull=True, exercise__isnull=False)
                ),
                name="programs_contraindicationrule_one_item",
                violation_error_message="A rule belongs to exactly one modality or exercise.",
            ),
            models.CheckConstraint(
                condition=~Q(condition="") | Q(region_scope=REGIONS),
                name="programs_contraindicationrule_placement_has_regions",
                violation_error_message="A rule without a condition (a placement rule) must be "
                "scoped to listed regions.",
            ),
            models.CheckConstraint(
                condition=Q(severity__in=[REFUSE, WARN]),
                name="programs_contraindicationrule_severity",
            ),
            models.CheckConstraint(
                condition=Q(region_scope__in=[ANY, OVER_AREA, REGIONS]),
                name="programs_contraindicationrule_region_scope",
            ),
            models.UniqueConstraint(
                fields=["modality", "condition"],
                name="programs_contraindicationrule_unique_modality_condition",
                violation_error_message="This modality already has a rule for this condition.",
            ),
            models.UniqueConstraint(
                fields=["exercise", "condition"],
                name="programs_contraindicationrule_unique_exercise_condition",
                violation_error_message="This exercise already has a rule for this condition.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.condition or 'placement'}: {self.severity} ({self.region_scope})"

    def clean(self) -> None:
        super().clean()
        if self.region_scope == REGIONS and not self.regions:
            raise ValidationError({"regions": "List the regions this rule applies over."})
        if self.region_scope != REGIONS and self.regions:
            raise ValidationError(
                {"regions": "Regions apply only to the 'listed regions' scope; clear them."}
            )


# --- Plan of care ----------------------------------------------------------------------------


class PlanOfCare(TimeStamped):
    """The therapist's plan for an episode: how often, how long, what. Certified for at most 90
    days from the first treatment; recertification makes a new version that supersedes this one."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUPERSEDED = "superseded", "Superseded"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    clinic = models.ForeignKey("clinic.Clinic", on_delete=models.PROTECT, related_name="+")
    episode = models.ForeignKey(
        "patients.EpisodeOfCare", on_delete=models.PROTECT, related_name="plans"
    )
    version = models.PositiveSmallIntegerField(default=1)
    supersedes = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="superseded_by"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    frequency_per_week = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(7)]
    )
    duration_weeks = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(52)]
    )
    starts_on = models.DateField()
    first_treatment_on = models.DateField(
        null=True, blank=True, help_text="The 90-day certification counts from this day."
    )
    certified_until = models.DateField()
    physician_name = models.CharField(max_length=200, blank=True)
    physician_signed_on = models.DateField(null=True, blank=True)
    verbal_order_on = models.DateField(null=True, blank=True)
    notes = models.TextField(blank=True)
    created_by = models.ForeignKey("clinic.User", on_delete=models.PROTECT, related_name="+")

    history = HistoricalRecords()
    objects = ClinicScopedQuerySet.as_manager()

    class Meta:
        ordering = ["episode", "-version"]
        verbose_name_plural = "plans of care"
        constraints = [
            models.UniqueConstraint(
                fields=["episode", "version"], name="programs_planofcare_unique_version"
            ),
            models.UniqueConstraint(
                fields=["episode"],
                condition=Q(status="active"),
                name="programs_planofcare_one_active_per_episode",
            ),
        ]

    def __str__(self) -> str:
        return f"Plan {self.public_id} v{self.version}"


class PlannedModality(models.Model):
    plan = models.ForeignKey(PlanOfCare, on_delete=models.CASCADE, related_name="modalities")
    modality = models.ForeignKey(Modality, on_delete=models.PROTECT, related_name="+")
    parameters = models.JSONField(default=dict, blank=True)
    body_region = models.CharField(max_length=24, choices=BodyRegion.choices, blank=True)
    minutes = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(120)]
    )
    override_justification = models.TextField(blank=True)
    warnings = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["plan", "pk"]

    def __str__(self) -> str:
        return f"Planned {self.modality_id}"


class PlannedExercise(models.Model):
    plan = models.ForeignKey(PlanOfCare, on_delete=models.CASCADE, related_name="exercises")
    exercise = models.ForeignKey(Exercise, on_delete=models.PROTECT, related_name="+")
    sets = _dose(1, 20, "Sets.")
    reps = _dose(1, 100, "Repetitions per set.")
    hold_seconds = _dose(1, 600, "Seconds each repetition is held.")
    times_per_day = _dose(1, 10, "Sessions a day.")
    days_per_week = _dose(1, 7, "Days a week.")
    override_justification = models.TextField(blank=True)
    warnings = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["plan", "pk"]

    def __str__(self) -> str:
        return f"Planned {self.exercise_id}"


# --- Treatment notes -------------------------------------------------------------------------


class TreatmentNote(TimeStamped):
    """What was done at one visit, with its billing lines. Signed notes are immutable (the
    service refuses, and on PostgreSQL a trigger refuses too); corrections are addenda. Edits of
    a draft carry `version`, so a stale write is refused rather than silently lost."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SIGNED = "signed", "Signed"

    public_id = models.UUIDField(default=time_ordered_uuid, unique=True, editable=False)
    clinic = models.ForeignKey("clinic.Clinic", on_delete=models.PROTECT, related_name="+")
    visit = models.OneToOneField(
        "patients.Visit", on_delete=models.PROTECT, related_name="treatment_note"
    )
    episode = models.ForeignKey(
        "patients.EpisodeOfCare", on_delete=models.PROTECT, related_name="treatment_notes"
    )
    author = models.ForeignKey("clinic.User", on_delete=models.PROTECT, related_name="+")
    subjective = models.TextField(blank=True)
    assessment = models.TextField(blank=True)
    notes = models.TextField(blank=True)
    billing_rule = models.CharField(
        max_length=20, help_text="The episode's rule when the units were computed."
    )
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.DRAFT)
    version = models.PositiveIntegerField(default=1)
    signed_at = models.DateTimeField(null=True, blank=True)
    signed_by = models.ForeignKey(
        "clinic.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    history = HistoricalRecords()
    objects = ClinicScopedQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="draft") | Q(signed_at__isnull=False, signed_by__isnull=False),
                name="programs_treatmentnote_signed_has_signer",
            ),
        ]
        indexes = [  # the admin's change list (one note per visit: a large table)
            models.Index(fields=["created_at", "id"], name="programs_note_created"),
            models.Index(fields=["clinic", "created_at"], name="programs_note_clinic_created"),
        ]

    def __str__(self) -> str:
        return f"Treatment note {self.public_id}"


class DeliveredModality(models.Model):
    note = models.ForeignKey(TreatmentNote, on_delete=models.CASCADE, related_name="modalities")
    modality = models.ForeignKey(Modality, on_delete=models.PROTECT, related_name="+")
    parameters = models.JSONField(default=dict, blank=True)
    minutes = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(240)]
    )
    body_region = models.CharField(max_length=24, choices=BodyRegion.choices, blank=True)
    override_justification = models.TextField(blank=True)
    warnings = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["note", "pk"]
        verbose_name_plural = "delivered modalities"

    def __str__(self) -> str:
        return f"Delivered {self.modality_id}"


class DeliveredExercise(models.Model):
    note = models.ForeignKey(TreatmentNote, on_delete=models.CASCADE, related_name="exercises")
    exercise = models.ForeignKey(Exercise, on_delete=models.PROTECT, related_name="+")
    sets = _dose(1, 20, "Sets.")
    reps = _dose(1, 100, "Repetitions per set.")
    hold_seconds = _dose(1, 600, "Seconds each repetition is held.")
    notes = models.CharField(max_length=300, blank=True)
    override_justification = models.TextField(blank=True)
    warnings = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["note", "pk"]

    def __str__(self) -> str:
        return f"Delivered {self.exercise_id}"


class BillingLine(models.Model):
    """One CPT code billed for a visit: minutes, units by the episode's rule, modifiers."""

    note = models.ForeignKey(TreatmentNote, on_delete=models.CASCADE, related_name="billing_lines")
    cpt_code = models.CharField(max_length=5, validators=[validate_cpt_code])
    minutes = models.PositiveSmallIntegerField()
    units = models.PositiveSmallIntegerField()
    timed = models.BooleanField()
    modifiers = models.CharField(max_length=20, default="GP")

    class Meta:
        ordering = ["note", "cpt_code"]

    def __str__(self) -> str:
        return f"{self.cpt_code} x{self.units}"


class TreatmentNoteAddendum(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    clinic = models.ForeignKey("clinic.Clinic", on_delete=models.PROTECT, related_name="+")
    note = models.ForeignKey(TreatmentNote, on_delete=models.PROTECT, related_name="addenda")
    author = models.ForeignKey("clinic.User", on_delete=models.PROTECT, related_name="+")
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ClinicScopedQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name_plural = "treatment note addenda"

    def __str__(self) -> str:
        return f"Addendum {self.public_id}"


# --- Follow-ups and progress summaries (background jobs) -------------------------------------


class FollowUp(TimeStamped):
    """The next visit to book after a completed visit: a row with a due window (clinic-local
    dates), booked by the dispatcher on beat or handed to the front desk with the reason. Never a
    delayed message in the broker (DESIGN.md mechanism 4)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        BOOKED = "booked", "Booked"
        NEEDS_FRONT_DESK = "needs_front_desk", "Needs the front desk"
        CANCELLED = "cancelled", "Cancelled"

    public_id = models.UUIDField(default=time_ordered_uuid, unique=True, editable=False)
    clinic = models.ForeignKey("clinic.Clinic", on_delete=models.PROTECT, related_name="+")
    episode = models.ForeignKey(
        "patients.EpisodeOfCare", on_delete=models.PROTECT, related_name="followups"
    )
    after_visit = models.OneToOneField(
        "patients.Visit", on_delete=models.PROTECT, related_name="followup"
    )
    due_from = models.DateField(help_text="First day of the due window (clinic-local).")
    due_until = models.DateField(help_text="Last day of the due window (clinic-local).")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    booked_visit = models.ForeignKey(
        "patients.Visit", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reason = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)

    history = HistoricalRecords()
    objects = ClinicScopedQuerySet.as_manager()

    class Meta:
        ordering = ["due_from", "pk"]
        indexes = [
            models.Index(fields=["status", "due_from"], name="programs_followup_due"),
            models.Index(fields=["clinic", "due_from"], name="programs_followup_clinic_due"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(due_until__gte=models.F("due_from")),
                name="programs_followup_window_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"Follow-up {self.public_id} ({self.status})"


class ProgressSummary(models.Model):
    """Exactly one per completed visit: the unique visit makes writing it idempotent."""

    clinic = models.ForeignKey("clinic.Clinic", on_delete=models.PROTECT, related_name="+")
    visit = models.OneToOneField(
        "patients.Visit", on_delete=models.PROTECT, related_name="progress_summary"
    )
    data = models.JSONField(default=dict)
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ClinicScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "pk"]
        verbose_name_plural = "progress summaries"
        indexes = [  # the admin's change list (one summary per completed visit)
            models.Index(fields=["created_at", "id"], name="programs_summary_created"),
            models.Index(fields=["clinic", "created_at"], name="programs_summary_clinic"),
        ]

    def __str__(self) -> str:
        return f"Progress summary of visit {self.visit_id}"


# --- Home exercise programmes ----------------------------------------------------------------


class HomeProgram(TimeStamped):
    """An episode's home exercise programme. Its content lives in versions: every change makes a
    new `HomeProgramVersion` and the old ones stay readable. One active programme per episode;
    an archived one keeps its versions and sessions, and its patient links stop working."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        ARCHIVED = "archived", "Archived"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    clinic = models.ForeignKey("clinic.Clinic", on_delete=models.PROTECT, related_name="+")
    episode = models.ForeignKey(
        "patients.EpisodeOfCare", on_delete=models.PROTECT, related_name="home_programs"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    current_version = models.PositiveSmallIntegerField(default=1)
    archived_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey("clinic.User", on_delete=models.PROTECT, related_name="+")

    history = HistoricalRecords()
    objects = ClinicScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["episode"],
                condition=Q(status="active"),
                name="programs_homeprogram_one_active_per_episode",
                violation_error_message="The episode already has an active home programme.",
            ),
            models.CheckConstraint(
                condition=Q(status="active", archived_at__isnull=True)
                | Q(status="archived", archived_at__isnull=False),
                name="programs_homeprogram_archived_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"Home programme {self.public_id} v{self.current_version}"


class HomeProgramVersion(models.Model):
    """One version of a home programme, never changed once written (a change is a new version).
    `starts_on` is the day it was prescribed from: sessions are recorded from that day on."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    clinic = models.ForeignKey("clinic.Clinic", on_delete=models.PROTECT, related_name="+")
    program = models.ForeignKey(HomeProgram, on_delete=models.PROTECT, related_name="versions")
    version = models.PositiveSmallIntegerField(validators=[MinValueValidator(1)])
    starts_on = models.DateField()
    notes = models.TextField(blank=True, help_text="General advice printed on the handout.")
    prescribed_by = models.ForeignKey("clinic.User", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ClinicScopedQuerySet.as_manager()

    class Meta:
        ordering = ["program", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["program", "version"], name="programs_homeprogramversion_unique_version"
            ),
        ]

    def __str__(self) -> str:
        return f"Home programme version {self.public_id} (v{self.version})"


class HomeProgramItem(models.Model):
    """One exercise of a version with its dose (defaults from the library entry), the
    contraindication findings and the therapist's justification of an override."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    version = models.ForeignKey(HomeProgramVersion, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveSmallIntegerField(default=0)
    exercise = models.ForeignKey(Exercise, on_delete=models.PROTECT, related_name="+")
    sets = _dose(1, 20, "Sets per session.")
    reps = _dose(1, 100, "Repetitions per set.")
    hold_seconds = _dose(1, 600, "Seconds each repetition is held.")
    minutes = _dose(1, 120, "Minutes per session (aerobic work).")
    times_per_day = _dose(1, 10, "Sessions a day.")
    days_per_week = _dose(1, 7, "Days a week.")
    side = models.CharField(max_length=10, choices=Side.choices, blank=True, default="")
    notes = models.CharField(max_length=500, blank=True)
    override_justification = models.TextField(blank=True)
    warnings = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["version", "position", "pk"]

    def __str__(self) -> str:
        return f"Home exercise {self.exercise_id}"

    @property
    def dose_text(self) -> str:
        """The dose as the handout prints it: '2 x 10, hold 5 s, 2/day, 5 days/week'."""
        return dose_text(self, side=self.get_side_display().lower() if self.side else "")


class HomeProgramLink(TimeStamped):
    """A patient link: a signed token in the URL path (the link's public id signed with the
    secret key) that opens the programme's current version without a login until it expires or
    is revoked. The row holds expiry, revocation and when it was last opened."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    clinic = models.ForeignKey("clinic.Clinic", on_delete=models.PROTECT, related_name="+")
    program = models.ForeignKey(HomeProgram, on_delete=models.PROTECT, related_name="links")
    created_by = models.ForeignKey("clinic.User", on_delete=models.PROTECT, related_name="+")
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        "clinic.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    last_opened_at = models.DateTimeField(null=True, blank=True)
    open_count = models.PositiveIntegerField(default=0)

    history = HistoricalRecords(excluded_fields=["last_opened_at", "open_count"])
    objects = ClinicScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(revoked_at__isnull=True) | Q(revoked_by__isnull=False),
                name="programs_homeprogramlink_revoked_has_revoker",
            ),
        ]

    def __str__(self) -> str:
        return f"Patient link {self.public_id}"


class HomeSession(models.Model):
    """One home session the patient recorded (through the link) or a therapist recorded for
    them: the day, which exercises of that version were done, pain during (0-10), a comment."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    clinic = models.ForeignKey("clinic.Clinic", on_delete=models.PROTECT, related_name="+")
    program = models.ForeignKey(HomeProgram, on_delete=models.PROTECT, related_name="sessions")
    version = models.ForeignKey(
        HomeProgramVersion, on_delete=models.PROTECT, related_name="sessions"
    )
    link = models.ForeignKey(
        HomeProgramLink, on_delete=models.PROTECT, null=True, blank=True, related_name="sessions"
    )
    recorded_by = models.ForeignKey(
        "clinic.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    performed_on = models.DateField()
    items = models.ManyToManyField(HomeProgramItem, related_name="sessions")
    pain = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(10)], help_text="Pain during, 0-10."
    )
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ClinicScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-performed_on", "-created_at", "pk"]
        indexes = [
            models.Index(fields=["program", "performed_on"], name="programs_homesession_day"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(pain__isnull=True) | Q(pain__lte=10),
                name="programs_homesession_pain_0_10",
            ),
            models.CheckConstraint(
                condition=Q(link__isnull=False) | Q(recorded_by__isnull=False),
                name="programs_homesession_has_source",
            ),
        ]

    def __str__(self) -> str:
        return f"Home session {self.public_id}"


class HomeProgramEmail(models.Model):
    """The handout of one version to send, or sent, to the patient by e-mail. One row per
    version (unique): the request writes it, the task sends and stamps `sent_at` under the
    row's lock, so a redelivered task, a second request or the sweeper sends nothing twice."""

    class Status(models.TextChoices):
        REQUESTED = "requested", "Requested"
        SENT = "sent", "Sent"
        SKIPPED = "skipped", "Not sent"

    clinic = models.ForeignKey("clinic.Clinic", on_delete=models.PROTECT, related_name="+")
    version = models.OneToOneField(
        HomeProgramVersion, on_delete=models.PROTECT, related_name="email"
    )
    requested_by = models.ForeignKey("clinic.User", on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.REQUESTED)
    sent_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(
        max_length=40, blank=True, help_text="Why it was not sent (no_consent, superseded)."
    )

    objects = ClinicScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-requested_at", "pk"]
        verbose_name = "home programme e-mail"
        indexes = [
            models.Index(fields=["status", "requested_at"], name="programs_homeemail_pending")
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="sent", sent_at__isnull=False)
                | (~Q(status="sent") & Q(sent_at__isnull=True)),
                name="programs_homeprogramemail_sent_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"Handout e-mail of version {self.version_id} ({self.status})"


class EpisodeTreatmentLog(models.Model):
    """The treatment days of one episode, as the compliance clocks count them: per clinic-local
    day, its completed visits and the units billed on its signed treatment notes.

    Kept by PostgreSQL triggers (programs/treatment_log.py), so that the compliance report reads
    one row per active episode instead of every visit and billing line the episode ever had.
    The triggers recompute an episode's row from its visits whenever one of its rows changes;
    no application code writes it. On SQLite the table stays empty and the report counts from
    the visits (the same definition, `programs.reports._treatment_tallies`)."""

    episode = models.OneToOneField(
        "patients.EpisodeOfCare",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="treatment_log",
    )
    # [["YYYY-MM-DD", completed visits, signed units], ...] in day order; days with neither
    # are left out, and an episode with no day has no row.
    days = models.JSONField(default=list)

    def __str__(self) -> str:
        return f"Treatment log of episode {self.episode_id}"
