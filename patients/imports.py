"""Importing patients from CSV: every row is checked first; any bad row means nothing is saved."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from clinic.models import Clinic, User
from patients.models import Patient
from patients.services import PATIENT_FIELDS, patient_register_many

REQUIRED_COLUMNS = ("first_name", "last_name", "date_of_birth")
OPTIONAL_COLUMNS = ("mrn", *[f for f in PATIENT_FIELDS if f not in REQUIRED_COLUMNS])
BOOLEAN_COLUMNS = ("consent_email", "consent_sms")
MAX_ROWS = 5000


@dataclass
class ImportRow:
    line: int
    values: dict[str, str]
    errors: list[str] = field(default_factory=list)


@dataclass
class ImportPreview:
    rows: list[ImportRow]
    errors: list[str] = field(default_factory=list)  # errors about the file as a whole

    @property
    def ok(self) -> bool:
        return not self.errors and all(not row.errors for row in self.rows)

    @property
    def error_count(self) -> int:
        return len(self.errors) + sum(1 for row in self.rows if row.errors)


def _as_bool(value: str) -> bool:
    if value.strip().lower() in ("1", "true", "yes", "y"):
        return True
    if value.strip().lower() in ("", "0", "false", "no", "n"):
        return False
    raise ValidationError("use yes or no")


def _build(clinic: Clinic, values: dict[str, str]) -> Patient:
    fields: dict[str, Any] = {k: v.strip() for k, v in values.items() if v is not None}
    for name in BOOLEAN_COLUMNS:
        if name in fields:
            try:
                fields[name] = _as_bool(fields[name])
            except ValidationError as exc:
                raise ValidationError({name: exc.messages}) from exc
    fields = {k: v for k, v in fields.items() if v != "" or k in REQUIRED_COLUMNS}
    patient = Patient(clinic=clinic, **fields)
    # No query per row: the clinic is the caller's, and the preview checks MRNs for the whole file.
    exclude = ["clinic", "search_name", "phone_digits", *([] if patient.mrn else ["mrn"])]
    patient.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)
    return patient


def patient_import_preview(*, clinic: Clinic, text: str) -> ImportPreview:
    """Parse and check every row without saving anything."""
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
    seen_mrns: dict[str, int] = {}
    taken = set(Patient.objects.for_clinic(clinic).values_list("mrn", flat=True))
    for number, raw in enumerate(reader, start=2):
        if len(preview.rows) >= MAX_ROWS:
            preview.errors.append(f"More than {MAX_ROWS} rows; split the file.")
            break
        values = {k.strip(): (v or "") for k, v in raw.items() if k is not None}
        row = ImportRow(line=number, values=values)
        try:
            _build(clinic, values)
        except ValidationError as exc:
            row.errors = [
                f"{name}: {message}"
                for name, messages in exc.message_dict.items()
                for message in messages
            ]
        mrn = values.get("mrn", "").strip()
        if mrn:
            if mrn in taken:
                row.errors.append(f"mrn: another patient of this clinic has the MRN {mrn}.")
            elif mrn in seen_mrns:
                row.errors.append(f"mrn: {mrn} is also on line {seen_mrns[mrn]}.")
            seen_mrns[mrn] = number
        preview.rows.append(row)
    if not preview.rows and not preview.errors:
        preview.errors.append("The file has no rows.")
    return preview


@transaction.atomic
def patient_import(*, clinic: Clinic, text: str, by: User | None) -> list[Patient]:
    """Import every row or none: a file with any bad row raises and saves nothing."""
    preview = patient_import_preview(clinic=clinic, text=text)
    if not preview.ok:
        raise ValidationError(
            f"The file has {preview.error_count} error(s); nothing was imported.", code="invalid"
        )
    return patient_register_many(
        patients=[_build(clinic, row.values) for row in preview.rows], by=by
    )
