"""Errors the services raise. The API turns them into 4xx bodies; the admin and pages show them.

Field rules use Django's `ValidationError({"field": "reason"})`, which forms and the API both
understand. `ApplicationError` is for rules about state rather than one field, `ConflictError` for
what stands in the way (a double booking, a stale version, a signed note).
"""

from __future__ import annotations

from typing import Any


class ApplicationError(Exception):
    status_code = 400

    def __init__(
        self,
        message: str,
        *,
        code: str = "invalid",
        field: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.field = field
        self.extra = extra or {}


class ConflictError(ApplicationError):
    status_code = 409


class VersionRequired(ApplicationError):
    """An edit of a draft that does not say which version it was based on (HTTP 428)."""

    status_code = 428
