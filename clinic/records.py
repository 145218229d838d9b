"""Saving and deleting records from services: validated, and attributed in the history."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import Model

from clinic.errors import ConflictError, VersionRequired
from clinic.models import User


def actor(request: Any) -> User:
    """The signed-in member of staff behind a request (API, page or admin), to attribute writes."""
    user = getattr(request, "user", None)
    if not isinstance(user, User) or not user.is_authenticated:
        raise PermissionDenied("Sign in first.")
    return user


def record_save(obj: Model, *, by: User | None, update_fields: list[str] | None = None) -> None:
    """Validate the row as the model declares it (fields and constraints), then save it.

    With `update_fields` only those fields are validated and written (plus `updated_at`).
    `by` is recorded as the author of the change in the row's history.
    """
    exclude = None
    if update_fields is not None:
        exclude = [f.name for f in obj._meta.concrete_fields if f.name not in update_fields]
    obj.full_clean(exclude=exclude)
    if by is not None:
        obj._history_user = by  # type: ignore[attr-defined]
    if update_fields is not None and obj.pk is not None:
        if any(f.name == "updated_at" for f in obj._meta.concrete_fields):
            update_fields = [*update_fields, "updated_at"]
        obj.save(update_fields=update_fields)
    else:
        obj.save()


def record_delete(obj: Model, *, by: User | None) -> None:
    """Delete a row that is not clinical data (an opening block, a closure), keeping who did it."""
    if by is not None:
        obj._history_user = by  # type: ignore[attr-defined]
    obj.delete()


def check_draft_version(*, status: str, current: int, version: int | None, what: str) -> None:
    """The one rule for editing or signing a clinical draft (an evaluation, a treatment note):
    signed records refuse (409 `signed`); an edit must name the version it is based on (428
    `version_required`) and that version must be the current one (409 `stale_version`), so no
    edit silently overwrites a colleague's. Call it on the row locked for the write."""
    if status == "signed":
        raise ConflictError(
            f"The {what} is signed and cannot be changed; add an addendum instead.", code="signed"
        )
    if version is None:
        raise VersionRequired(
            f"Say which version of the {what} the change is based on (If-Match or `version`); "
            f"the current version is {current}.",
            code="version_required",
            extra={"current_version": current},
        )
    if version != current:
        raise ConflictError(
            f"The {what} was changed since version {version}; the current version is "
            f"{current}. Reload it and apply your change again.",
            code="stale_version",
            extra={"current_version": current},
        )
