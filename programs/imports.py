"""Importing exercises into the practice-wide library from CSV (superusers, in the admin).

The same contract as the patient import (patients/imports.py): every row is checked first and
the preview lists each row's problems; a file with any bad row imports nothing, and a good file
is saved in one transaction. Rows add new exercises only: a name or slug that the library (or an
earlier line of the file) already has is an error, so an import never changes an exercise that
plans and notes point at.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.text import slugify
from simple_history.utils import bulk_create_with_history

from clinic.models import User
from patients.imports import MAX_ROWS, ImportPreview, ImportRow
from programs.models import Exercise
from programs.services import EXERCISE_EDITABLE_FIELDS

REQUIRED_COLUMNS = ("name", "category", "body_region", "instructions")
OPTIONAL_COLUMNS = tuple(f for f in EXERCISE_EDITABLE_FIELDS if f not in REQUIRED_COLUMNS)
NUMBER_COLUMNS = ("sets", "reps", "hold_seconds", "minutes", "times_per_day", "days_per_week")
TRUE, FALSE = ("1", "true", "yes", "y"), ("", "0", "false", "no", "n")


def _choice(field: str, value: str) -> str:
    """A choice by its value or its label, case-insensitive ("McKenzie extension")."""
    choices = getattr(Exercise._meta.get_field(field), "choices", None) or []
    wanted = value.strip().lower()
    for code, label in choices:
        if wanted in (str(code).lower(), str(label).lower()):
            return str(code)
    return value.strip()


def _build(values: dict[str, str]) -> Exercise:
    fields: dict[str, Any] = {k: v.strip() for k, v in values.items() if v and v.strip()}
    errors: dict[str, list[str]] = {}
    for name in ("category", "body_region"):
        if name in fields:
            fields[name] = _choice(name, fields[name])
    for name in NUMBER_COLUMNS:
        if name in fields:
            try:
                fields[name] = int(fields[name])
            except ValueError:
                errors[name] = [f"{fields[name]!r} is not a whole number."]
                del fields[name]
    if "active" in fields:
        flag = fields["active"].lower()
        if flag not in TRUE + FALSE:
            errors["active"] = ["Use yes or no."]
            del fields["active"]
        else:
            fields["active"] = flag in TRUE
    exercise = Exercise(**fields)
    exercise.slug = exercise.slug or slugify(exercise.name)[:120]
    try:
        # Uniqueness is checked for the whole file at once by the preview (no query per row).
        exercise.full_clean(validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        for name, messages in exc.message_dict.items():
            errors.setdefault(name, []).extend(messages)
    if errors:
        raise ValidationError(errors)
    return exercise


def exercise_import_preview(*, text: str) -> ImportPreview:
    """Parse and check every row without saving anything: two queries (names, slugs)."""
    reader = csv.DictReader(io.StringIO(text))
    columns = [c.strip() for c in (reader.fieldnames or [])]
    preview = ImportPreview(rows=[])
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    unknown = [c for c in columns if c not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
    if missing:
        preview.errors.append(f"Missing columns: {', '.join(missing)}.")
    if unknown:
        preview.errors.append(f"Unknown columns: {', '.join(unknown)}.")
    if preview.errors:
        return preview
    names = {n.lower() for n in Exercise.objects.values_list("name", flat=True)}
    slugs = set(Exercise.objects.values_list("slug", flat=True))
    seen_names: dict[str, int] = {}
    seen_slugs: dict[str, int] = {}
    for number, raw in enumerate(reader, start=2):
        if len(preview.rows) >= MAX_ROWS:
            preview.errors.append(f"More than {MAX_ROWS} rows; split the file.")
            break
        values = {k.strip(): (v or "") for k, v in raw.items() if k is not None}
        row = ImportRow(line=number, values=values)
        try:
            exercise = _build(values)
        except ValidationError as exc:
            row.errors = [
                f"{name}: {message}"
                for name, messages in exc.message_dict.items()
                for message in messages
            ]
            exercise = None
        if exercise is not None:
            key = exercise.name.lower()
            if key in names:
                row.errors.append(f"name: the library already has {exercise.name!r}.")
            elif key in seen_names:
                row.errors.append(f"name: {exercise.name!r} is also on line {seen_names[key]}.")
            seen_names.setdefault(key, number)
            if exercise.slug in slugs:
                row.errors.append(f"slug: the library already has the slug {exercise.slug!r}.")
            elif exercise.slug in seen_slugs:
                row.errors.append(
                    f"slug: {exercise.slug!r} is also on line {seen_slugs[exercise.slug]}."
                )
            seen_slugs.setdefault(exercise.slug, number)
        preview.rows.append(row)
    if not preview.rows and not preview.errors:
        preview.errors.append("The file has no rows.")
    return preview


@transaction.atomic
def exercise_import(*, text: str, by: User | None) -> list[Exercise]:
    """Import every row or none: a file with any bad row raises and saves nothing."""
    preview = exercise_import_preview(text=text)
    if not preview.ok:
        raise ValidationError(
            f"The file has {preview.error_count} error(s); nothing was imported.", code="invalid"
        )
    exercises = [_build(row.values) for row in preview.rows]
    try:
        with transaction.atomic():
            return bulk_create_with_history(exercises, Exercise, default_user=by)
    except IntegrityError as exc:  # another import or an edit took a name meanwhile
        raise ValidationError(
            "Another change to the library took one of these names or slugs meanwhile; "
            "check the file again. Nothing was imported.",
            code="conflict",
        ) from exc
