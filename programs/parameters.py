"""Modality parameters: the shape of a parameter spec, and checking recorded values against it.

Pure functions, no database. A modality's `parameter_spec` is a list of entries such as

    {"name": "frequency_hz", "label": "Frequency", "unit": "Hz", "kind": "number",
     "min": 1, "max": 250, "required": True}

`kind` is one of number, integer, choice, text; `choices` (a list of values) only for choice;
`min`/`max` only for number and integer. Every spec has a required integer `minutes`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

KINDS = ("number", "integer", "choice", "text")
ENTRY_KEYS = frozenset({"name", "label", "unit", "kind", "required", "min", "max", "choices"})
NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MINUTES = "minutes"
MINUTES_CEILING = 240  # no single modality is delivered for longer than four hours
TEXT_MAX_LENGTH = 500


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _show(value: Any) -> str:
    """A value as the therapist would write it: 3.0 as 3, 0.5 as 0.5."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _with_unit(value: Any, unit: str) -> str:
    return f"{_show(value)} {unit}".strip()


def spec_problems(spec: Any) -> list[str]:
    """What is wrong with a parameter spec (empty when it is well formed)."""
    if not isinstance(spec, list):
        return ["The parameter spec must be a list of parameters."]
    problems: list[str] = []
    seen: set[str] = set()
    for position, entry in enumerate(spec, start=1):
        if not isinstance(entry, dict):
            problems.append(f"Parameter {position} must be an object.")
            continue
        name = entry.get("name")
        where = f"Parameter {name!r}" if isinstance(name, str) and name else f"Parameter {position}"
        if not isinstance(name, str) or not NAME.match(name):
            problems.append(f"{where}: name must be lower-case letters, digits and underscores.")
        elif name in seen:
            problems.append(f"{where}: named twice.")
        else:
            seen.add(name)
        if unknown := sorted(set(entry) - ENTRY_KEYS):
            problems.append(f"{where}: unknown keys {', '.join(unknown)}.")
        if not isinstance(entry.get("label"), str) or not entry["label"].strip():
            problems.append(f"{where}: a label is required.")
        if not isinstance(entry.get("unit", ""), str):
            problems.append(f"{where}: unit must be text.")
        if not isinstance(entry.get("required", False), bool):
            problems.append(f"{where}: required must be true or false.")
        kind = entry.get("kind")
        if kind not in KINDS:
            problems.append(f"{where}: kind must be one of {', '.join(KINDS)}.")
            continue
        bounds = {key: entry[key] for key in ("min", "max") if key in entry}
        if bounds and kind not in ("number", "integer"):
            problems.append(f"{where}: min and max apply only to number and integer parameters.")
        for key, bound in bounds.items():
            if not _is_number(bound) or (kind == "integer" and not float(bound).is_integer()):
                problems.append(
                    f"{where}: {key} must be {'an integer' if kind == 'integer' else 'a number'}."
                )
        if (
            len(bounds) == 2
            and all(_is_number(b) for b in bounds.values())
            and bounds["min"] > bounds["max"]
        ):
            problems.append(f"{where}: min is above max.")
        choices = entry.get("choices")
        if kind == "choice":
            if (
                not isinstance(choices, list)
                or not choices
                or not all(isinstance(c, str) or _is_number(c) for c in choices)
            ):
                problems.append(f"{where}: a choice needs a non-empty list of choices.")
            elif len(set(choices)) != len(choices):
                problems.append(f"{where}: a choice is listed twice.")
        elif choices is not None:
            problems.append(f"{where}: choices apply only to choice parameters.")
    minutes = next(
        (e for e in spec if isinstance(e, dict) and e.get("name") == MINUTES),
        None,
    )
    if minutes is None:
        problems.append("Every modality records its minutes: add a 'minutes' parameter.")
    elif (
        minutes.get("kind") != "integer"
        or minutes.get("required") is not True
        or not _is_number(minutes.get("min"))
        or not _is_number(minutes.get("max"))
        or minutes["min"] < 1
        or minutes["max"] > MINUTES_CEILING
    ):
        problems.append(
            f"'minutes' must be a required integer with min at least 1 and max at most "
            f"{MINUTES_CEILING}."
        )
    return problems


def _check_value(entry: Mapping[str, Any], value: Any) -> tuple[Any, str | None]:
    """The cleaned value and the reason it is refused (None when it is fine)."""
    kind = entry["kind"]
    unit = entry.get("unit", "")
    if kind == "text":
        if not isinstance(value, str):
            return value, "must be text"
        value = value.strip()
        if len(value) > TEXT_MAX_LENGTH:
            return value, f"is longer than {TEXT_MAX_LENGTH} characters"
        if not value and entry.get("required", False):
            return value, "is required"
        return value, None
    if kind == "choice":
        choices = entry["choices"]
        if not (isinstance(value, str) or _is_number(value)) or value not in choices:
            listed = ", ".join(_show(c) for c in choices)
            shown = repr(value) if isinstance(value, str) else _show(value)
            return value, f"{shown} is not one of {listed} {unit}".rstrip()
        # 1.0 is the choice 1: keep the spec's own spelling
        return choices[choices.index(value)], None
    if not _is_number(value):
        return value, "must be a whole number" if kind == "integer" else "must be a number"
    if kind == "integer":
        if not float(value).is_integer():
            return value, f"{_show(value)} is not a whole number"
        value = int(value)
    if "min" in entry and value < entry["min"]:
        return value, f"{_show(value)} is below the minimum {_with_unit(entry['min'], unit)}"
    if "max" in entry and value > entry["max"]:
        return value, f"{_show(value)} is above the maximum {_with_unit(entry['max'], unit)}"
    return value, None


def clean_parameters(
    spec: list[dict[str, Any]], params: Any
) -> tuple[dict[str, Any], dict[str, str]]:
    """The cleaned parameters and the problems, as {parameter name: reason}.

    A reason starts with the parameter's name ("frequency_hz: 300 is above the maximum 250 Hz"),
    so it reads on its own in an error list. An optional parameter given as null is left out.
    """
    if not isinstance(params, Mapping):
        return {}, {"parameters": "parameters: must be an object of name: value"}
    by_name = {entry["name"]: entry for entry in spec}
    cleaned: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for name in params:
        if name not in by_name:
            expected = ", ".join(by_name)
            problems[str(name)] = (
                f"{name}: not a parameter of this modality (expected one of: {expected})"
            )
    for name, entry in by_name.items():
        value = params.get(name)
        if value is None:
            if entry.get("required", False):
                problems[name] = f"{name}: is required ({entry['label']})"
            continue
        value, reason = _check_value(entry, value)
        if reason is not None:
            problems[name] = f"{name}: {reason}"
        elif value != "" or entry["kind"] != "text":
            cleaned[name] = value
    return cleaned, problems


def validate_parameters(spec: list[dict[str, Any]], params: Any) -> dict[str, str]:
    """Problems of recorded parameters against a spec, as {parameter name: reason}; {} when fine."""
    return clean_parameters(spec, params)[1]
