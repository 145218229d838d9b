"""Reading the treatment-note form: rows of modalities and exercises added one by one.

Field names, for row i: `m-i-modality`, `m-i-region`, `m-i-minutes`, `m-i-p-<parameter>`,
`m-i-justification`, `m-i-remove`; `e-i-exercise`, `e-i-sets`, `e-i-reps`, `e-i-hold`,
`e-i-notes`, `e-i-justification`, `e-i-remove`. Only types are read here; the services check
everything else (catalogue, parameter ranges, contraindications) and name the item they refuse
as `modalities[k]` / `exercises[k]`, k counting the rows kept.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.http import QueryDict

from programs.models import Exercise, Modality

ROW = re.compile(r"^(?P<kind>[me])-(?P<index>\d{1,3})-")
MAX_ROWS = 30


@dataclass
class ModalityRow:
    index: int
    modality_id: str = ""
    modality: Modality | None = None
    region: str = ""
    minutes: str = ""
    params: dict[str, str] = field(default_factory=dict)
    justification: str = ""
    errors: list[str] = field(default_factory=list)
    findings: list[dict[str, Any]] = field(default_factory=list)

    def spec(self) -> list[dict[str, Any]]:
        """The modality's parameters other than minutes (minutes has its own field)."""
        if self.modality is None:
            return []
        return [p for p in self.modality.parameter_spec if p["name"] != "minutes"]

    def param_fields(self) -> list[tuple[dict[str, Any], str]]:
        return [(entry, self.params.get(entry["name"], "")) for entry in self.spec()]

    def as_item(self) -> dict[str, Any]:
        return {
            "modality": self.modality_id,
            "body_region": self.region,
            "minutes": _number(self.minutes, whole=True),
            "parameters": {
                entry["name"]: value
                for entry in self.spec()
                if (value := _param(entry, self.params.get(entry["name"], ""))) is not None
            },
            "override_justification": self.justification,
        }


@dataclass
class ExerciseRow:
    index: int
    exercise_id: str = ""
    exercise: Exercise | None = None
    sets: str = ""
    reps: str = ""
    hold: str = ""
    notes: str = ""
    justification: str = ""
    errors: list[str] = field(default_factory=list)
    findings: list[dict[str, Any]] = field(default_factory=list)

    def as_item(self) -> dict[str, Any]:
        return {
            "exercise": self.exercise_id,
            "sets": _number(self.sets, whole=True),
            "reps": _number(self.reps, whole=True),
            "hold_seconds": _number(self.hold, whole=True),
            "notes": self.notes,
            "override_justification": self.justification,
        }


def _number(raw: str, *, whole: bool = False) -> Any:
    """A number typed in a field: int when whole, float otherwise; the text itself when it is
    not a number (the service then says what is wrong); None when blank."""
    raw = (raw or "").strip()
    if raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        return raw
    if value.is_integer():
        return int(value)
    return raw if whole else value


def _param(entry: dict[str, Any], raw: str) -> Any:
    if entry["kind"] in ("number", "integer"):
        return _number(raw, whole=entry["kind"] == "integer")
    raw = (raw or "").strip()
    if entry["kind"] == "choice":
        # A select sends text; the spec's choices may be numbers (2500 Hz).
        return next((c for c in entry.get("choices", []) if str(c) == raw), raw or None)
    return raw or None


def _valid_uuid(raw: str) -> str:
    try:
        return str(uuid.UUID(raw.strip()))
    except (ValueError, AttributeError):
        return ""


def note_rows(
    data: QueryDict, *, modalities: dict[str, Modality], exercises: dict[str, Exercise]
) -> tuple[list[ModalityRow], list[ExerciseRow]]:
    """The rows the form sent, in row order, without those marked to remove or left empty."""
    indices: dict[str, set[int]] = {"m": set(), "e": set()}
    for key in data:
        if match := ROW.match(key):
            indices[match["kind"]].add(int(match["index"]))
    m_rows: list[ModalityRow] = []
    for i in sorted(indices["m"])[:MAX_ROWS]:
        if data.get(f"m-{i}-remove"):
            continue
        row = ModalityRow(
            index=i,
            modality_id=_valid_uuid(data.get(f"m-{i}-modality", "")),
            region=data.get(f"m-{i}-region", "").strip(),
            minutes=data.get(f"m-{i}-minutes", "").strip(),
            justification=data.get(f"m-{i}-justification", "").strip(),
        )
        row.modality = modalities.get(row.modality_id)
        prefix = f"m-{i}-p-"
        row.params = {k[len(prefix) :]: data.get(k, "") for k in data if k.startswith(prefix)}
        if row.modality_id or row.minutes:
            m_rows.append(row)
    e_rows: list[ExerciseRow] = []
    for i in sorted(indices["e"])[:MAX_ROWS]:
        if data.get(f"e-{i}-remove"):
            continue
        row_e = ExerciseRow(
            index=i,
            exercise_id=_valid_uuid(data.get(f"e-{i}-exercise", "")),
            sets=data.get(f"e-{i}-sets", "").strip(),
            reps=data.get(f"e-{i}-reps", "").strip(),
            hold=data.get(f"e-{i}-hold", "").strip(),
            notes=data.get(f"e-{i}-notes", "").strip(),
            justification=data.get(f"e-{i}-justification", "").strip(),
        )
        row_e.exercise = exercises.get(row_e.exercise_id)
        if row_e.exercise_id:
            e_rows.append(row_e)
    return m_rows, e_rows


def rows_from_note(note: Any) -> tuple[list[ModalityRow], list[ExerciseRow]]:
    """The rows of a saved note, for the form."""
    m_rows = [
        ModalityRow(
            index=i,
            modality_id=str(d.modality.public_id),
            modality=d.modality,
            region=d.body_region,
            minutes=str(d.minutes),
            params={k: _show(v) for k, v in (d.parameters or {}).items() if k != "minutes"},
            justification=d.override_justification,
            findings=list(d.warnings or []),
        )
        for i, d in enumerate(note.modalities.all())
    ]
    e_rows = [
        ExerciseRow(
            index=i,
            exercise_id=str(d.exercise.public_id),
            exercise=d.exercise,
            sets=_show(d.sets),
            reps=_show(d.reps),
            hold=_show(d.hold_seconds),
            notes=d.notes,
            justification=d.override_justification,
            findings=list(d.warnings or []),
        )
        for i, d in enumerate(note.exercises.all())
    ]
    return m_rows, e_rows


def _show(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


ITEM = re.compile(r"^(?P<field>modalities|exercises)\[(?P<k>\d+)\](?:\.(?P<rest>.+))?$")


def place_errors(
    errors: dict[str | None, list[str]],
    m_rows: list[ModalityRow],
    e_rows: list[ExerciseRow],
) -> dict[str | None, list[str]]:
    """Move the service's item errors (`modalities[1].parameters`) onto their rows; what names
    no row is returned for the top of the form."""
    rest: dict[str | None, list[str]] = {}
    for name, messages in errors.items():
        match = ITEM.match(name or "")
        rows: list[Any] = m_rows if match and match["field"] == "modalities" else e_rows
        if match and int(match["k"]) < len(rows):
            rows[int(match["k"])].errors.extend(messages)
        else:
            rest.setdefault(name, []).extend(messages)
    return rest


# --- The home-programme builder ----------------------------------------------------------------

HOME_ROW = re.compile(r"^h-(?P<index>\d{1,3})-")
HOME_BLANK_ROWS = 2


@dataclass
class HomeRow:
    """One exercise of a home programme as the builder shows it (`h-i-...` fields)."""

    index: int
    exercise_id: str = ""
    exercise: Exercise | None = None
    sets: str = ""
    reps: str = ""
    hold: str = ""
    minutes: str = ""
    times_per_day: str = ""
    days_per_week: str = ""
    side: str = ""
    notes: str = ""
    justification: str = ""
    errors: list[str] = field(default_factory=list)
    findings: list[dict[str, Any]] = field(default_factory=list)

    def as_item(self) -> dict[str, Any]:
        """The item for programs.home; a blank dose takes the library's default there."""
        return {
            "exercise": self.exercise_id,
            "sets": _number(self.sets, whole=True),
            "reps": _number(self.reps, whole=True),
            "hold_seconds": _number(self.hold, whole=True),
            "minutes": _number(self.minutes, whole=True),
            "times_per_day": _number(self.times_per_day, whole=True),
            "days_per_week": _number(self.days_per_week, whole=True),
            "side": self.side,
            "notes": self.notes,
            "override_justification": self.justification,
        }


def home_rows(data: QueryDict, *, exercises: dict[str, Exercise]) -> list[HomeRow]:
    """The exercises the builder sent, in row order, without removed or empty rows."""
    indices = sorted({int(m["index"]) for key in data if (m := HOME_ROW.match(key))})
    rows: list[HomeRow] = []
    for i in indices[:MAX_ROWS]:
        if data.get(f"h-{i}-remove"):
            continue
        row = HomeRow(
            index=i,
            exercise_id=_valid_uuid(data.get(f"h-{i}-exercise", "")),
            sets=data.get(f"h-{i}-sets", "").strip(),
            reps=data.get(f"h-{i}-reps", "").strip(),
            hold=data.get(f"h-{i}-hold", "").strip(),
            minutes=data.get(f"h-{i}-minutes", "").strip(),
            times_per_day=data.get(f"h-{i}-times_per_day", "").strip(),
            days_per_week=data.get(f"h-{i}-days_per_week", "").strip(),
            side=data.get(f"h-{i}-side", "").strip(),
            notes=data.get(f"h-{i}-notes", "").strip(),
            justification=data.get(f"h-{i}-justification", "").strip(),
        )
        row.exercise = exercises.get(row.exercise_id)
        if row.exercise_id:
            rows.append(row)
    return rows


def home_rows_from_version(version: Any) -> list[HomeRow]:
    return [
        HomeRow(
            index=i,
            exercise_id=str(item.exercise.public_id),
            exercise=item.exercise,
            sets=_show(item.sets),
            reps=_show(item.reps),
            hold=_show(item.hold_seconds),
            minutes=_show(item.minutes),
            times_per_day=_show(item.times_per_day),
            days_per_week=_show(item.days_per_week),
            side=item.side,
            notes=item.notes,
            justification=item.override_justification,
            findings=list(item.warnings or []),
        )
        for i, item in enumerate(version.items.all())
    ]


def place_home_errors(
    errors: dict[str | None, list[str]], rows: list[HomeRow]
) -> dict[str | None, list[str]]:
    """The service's `items[k]...` errors onto their rows; the rest for the top of the form."""
    rest: dict[str | None, list[str]] = {}
    for name, messages in errors.items():
        match = re.match(r"^items\[(?P<k>\d+)\]", name or "")
        if match and int(match["k"]) < len(rows):
            rows[int(match["k"])].errors.extend(messages)
        else:
            rest.setdefault(name, []).extend(messages)
    return rest
