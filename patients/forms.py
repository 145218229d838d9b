"""Forms of the staff pages on the patients side: booking and moving visits, the quick new
patient, opening an episode, the evaluation and the outcome questionnaires.

Forms only parse what the browser sent (types, choices, required fields). Every rule is the
services': the views call them and put what they refuse back on these forms
(clinic.pages.form_errors_from).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.db.models import QuerySet

from clinic.models import Room, User
from patients import outcomes
from patients.models import Evaluation, Patient, Visit

DURATIONS = [(m, f"{m} min") for m in (15, 30, 45, 60, 75, 90, 120)]
DEFAULT_DURATION = 45


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%Y-%m-%d", **kwargs)


class TimeInput(forms.TimeInput):
    input_type = "time"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%H:%M", attrs={"step": 900}, **kwargs)


class _ByPublicId(forms.ModelChoiceField):
    """A choice of the clinic's rows by their public UUID (never a database id in a page)."""

    def __init__(self, queryset: QuerySet[Any], **kwargs: Any) -> None:
        super().__init__(queryset=queryset, to_field_name="public_id", **kwargs)


class TherapistChoice(_ByPublicId):
    def label_from_instance(self, obj: Any) -> str:
        return obj.get_full_name() or obj.username


class BookingForm(forms.Form):
    patient = forms.UUIDField(
        error_messages={"required": "Choose the patient (search above, or add a new one)."}
    )
    therapist = TherapistChoice(queryset=User.objects.none())
    date = forms.DateField(widget=DateInput())
    time = forms.TimeField(widget=TimeInput())
    duration = forms.TypedChoiceField(choices=DURATIONS, coerce=int, initial=DEFAULT_DURATION)
    room = _ByPublicId(queryset=Room.objects.none(), required=False, empty_label="No room")
    kind = forms.ChoiceField(choices=Visit.Kind.choices, initial=Visit.Kind.TREATMENT)

    def __init__(
        self, *args: Any, therapists: QuerySet[User], rooms: QuerySet[Room], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["therapist"].queryset = therapists  # type: ignore[attr-defined]
        self.fields["room"].queryset = rooms  # type: ignore[attr-defined]


class MoveForm(forms.Form):
    date = forms.DateField(widget=DateInput())
    time = forms.TimeField(widget=TimeInput())
    therapist = TherapistChoice(queryset=User.objects.none())
    room = _ByPublicId(queryset=Room.objects.none(), required=False, empty_label="No room")

    def __init__(
        self, *args: Any, therapists: QuerySet[User], rooms: QuerySet[Room], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["therapist"].queryset = therapists  # type: ignore[attr-defined]
        self.fields["room"].queryset = rooms  # type: ignore[attr-defined]


class CancelForm(forms.Form):
    reason = forms.CharField(max_length=300, required=False, label="Reason (optional)")


class PatientSearchForm(forms.Form):
    q = forms.CharField(max_length=100, required=False, label="Find a patient")


class QuickPatientForm(forms.Form):
    """The front desk's new patient: enough to book; the rest is completed later."""

    first_name = forms.CharField(max_length=100)
    last_name = forms.CharField(max_length=100)
    date_of_birth = forms.DateField(widget=DateInput())
    phone = forms.CharField(max_length=32, required=False)
    sex = forms.ChoiceField(choices=Patient.Sex.choices, initial=Patient.Sex.UNKNOWN)
    payer_type = forms.ChoiceField(
        choices=Patient.Payer.choices, initial=Patient.Payer.OTHER, label="Payer"
    )


class EpisodeOpenForm(forms.Form):
    started_on = forms.DateField(widget=DateInput(), label="Starts on")
    auth_visits = forms.IntegerField(
        min_value=1, max_value=999, required=False, label="Authorized visits (if any)"
    )


class EvaluationCreateForm(forms.Form):
    kind = forms.ChoiceField(choices=Evaluation.Kind.choices)


class EvaluationForm(forms.Form):
    """The SOAP parts of an evaluation the page edits; the JSON shapes are the service's."""

    version = forms.IntegerField(widget=forms.HiddenInput())
    history = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    pain_location = forms.CharField(max_length=200, required=False)
    findings = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), required=False, label="Objective findings"
    )
    icd10_code = forms.CharField(max_length=10, required=False, label="Diagnosis (ICD-10-CM)")
    diagnosis_description = forms.CharField(
        max_length=200, required=False, label="Diagnosis description"
    )
    complexity = forms.ChoiceField(
        choices=[("", "Not set"), *Evaluation.Complexity.choices], required=False
    )
    assessment = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    plan = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)

    @classmethod
    def initial_for(cls, evaluation: Evaluation) -> dict[str, Any]:
        diagnosis = (evaluation.diagnoses or [{}])[0]
        return {
            "version": evaluation.version,
            "history": (evaluation.subjective or {}).get("history", ""),
            "pain_location": (evaluation.subjective or {}).get("pain_location", ""),
            "findings": (evaluation.objective or {}).get("findings", ""),
            "icd10_code": diagnosis.get("icd10_code", ""),
            "diagnosis_description": diagnosis.get("description", ""),
            "complexity": evaluation.complexity,
            "assessment": evaluation.assessment,
            "plan": evaluation.plan,
        }

    def service_fields(self, evaluation: Evaluation) -> dict[str, Any]:
        """The changes for `evaluation_update`: the page's keys merged into the stored JSON,
        so that keys the page does not show (range of motion, tests...) are kept."""
        data = self.cleaned_data
        subjective = dict(evaluation.subjective or {})
        objective = dict(evaluation.objective or {})
        for target, key, value in (
            (subjective, "history", data["history"]),
            (subjective, "pain_location", data["pain_location"]),
            (objective, "findings", data["findings"]),
        ):
            if value:
                target[key] = value
            else:
                target.pop(key, None)
        diagnoses = list(evaluation.diagnoses or [])
        if data["icd10_code"] or data["diagnosis_description"]:
            first = {"icd10_code": data["icd10_code"], "description": data["diagnosis_description"]}
            diagnoses = [first, *diagnoses[1:]]
        elif diagnoses:
            diagnoses = diagnoses[1:]
        return {
            "subjective": subjective,
            "objective": objective,
            "diagnoses": diagnoses,
            "complexity": data["complexity"],
            "assessment": data["assessment"],
            "plan": data["plan"],
        }


# --- Outcome questionnaires ------------------------------------------------------------------

PSFS_ROWS = 5
INSTRUMENT_CODES = tuple(outcomes.INSTRUMENTS)


def _whole(value: str) -> int | None:
    value = (value or "").strip()
    if value == "":
        return None
    try:
        return int(value)
    except ValueError:
        return None


def answers_from(instrument: str, data: Any) -> Any:
    """The raw answers of one questionnaire as the outcome service takes them, read from the
    form's fields (`nprs-pain`, `odi-<section>`, `rmdq-<n>`, `psfs-<n>-name|score`). What the
    patient left blank stays blank; the scorer says whether that still gives a score."""
    if instrument == "nprs":
        return {"pain": _whole(data.get("nprs-pain", ""))}
    if instrument == "odi":
        return {
            "sections": {
                code: _whole(data.get(f"odi-{code}", "")) for code in outcomes.ODI_SECTIONS
            }
        }
    if instrument == "rmdq":
        items: list[bool | None] = []
        for n in range(1, outcomes.RMDQ_ITEMS + 1):
            value = data.get(f"rmdq-{n}", "")
            items.append(True if value == "yes" else False if value == "no" else None)
        return {"items": items}
    if instrument == "psfs":
        activities = []
        for n in range(1, PSFS_ROWS + 1):
            name = (data.get(f"psfs-{n}-name", "") or "").strip()
            score = _whole(data.get(f"psfs-{n}-score", ""))
            if name or score is not None:
                activities.append({"name": name, "score": score})
        return {"activities": activities}
    raise outcomes.AnswerError("instrument", f"unknown instrument {instrument!r}")


def today_in(tz: Any) -> dt.date:
    return dt.datetime.now(tz).date()
