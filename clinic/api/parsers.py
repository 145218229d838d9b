"""The API's JSON parser: DRF's, refusing text that no column can store.

PostgreSQL refuses a NUL character in text and in jsonb, and no database stores a lone UTF-16
surrogate; left to the database either is a 500. Here they are a 400 naming the field, before
any view or service sees the data. A document nested deeper than the parser can follow is a 400
too, not a RecursionError.
"""

from __future__ import annotations

from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError, ValidationError

NUL_MESSAGE = "Text may not contain NUL (\\u0000) characters."
SURROGATE_MESSAGE = "Text must be valid Unicode (no unpaired surrogate code points)."


def _text_problem(text: str) -> str | None:
    if "\x00" in text:
        return NUL_MESSAGE
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return SURROGATE_MESSAGE
    return None


def unstorable_text(data: Any) -> tuple[str, str] | None:
    """(field path, reason) of the first string in `data` that cannot be stored, else None."""
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            if problem := _text_problem(value):
                return path or "non_field_errors", problem
        elif isinstance(value, dict):
            for key, item in value.items():
                key_text = str(key)
                child = f"{path}.{key_text}" if path else key_text
                if problem := _text_problem(key_text):
                    return child, problem
                stack.append((child, item))
        elif isinstance(value, list):
            stack.extend((f"{path}[{n}]", item) for n, item in enumerate(value))
    return None


class JSONParser(parsers.JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError("JSON parse error - the document is nested too deeply.") from exc
        if found := unstorable_text(data):
            path, problem = found
            top = path.split(".")[0].split("[")[0]
            raise ValidationError({top: [problem if path == top else f"{path}: {problem}"]})
        return data
