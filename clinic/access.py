"""The access log: who read which patient's chart or clinical record, and when.

`access_record` is the only writer and it only inserts. The API views call it through
`log_patient_read` after they have resolved (and so authorised) the record they answer with.
"""

from __future__ import annotations

import uuid
from typing import Any

from clinic.models import AccessLog, Clinic, User


def access_record(
    *,
    request_or_actor: Any,
    clinic: Clinic,
    patient_public_id: uuid.UUID | str,
    what: str,
    record: str = AccessLog.Record.CLINICAL,
) -> AccessLog:
    """Append one row saying that the actor read `what` of the patient. Never names anyone."""
    if isinstance(request_or_actor, User):
        actor, path, method = request_or_actor, "", ""
    else:
        actor = request_or_actor.user
        path, method = request_or_actor.path[:300], request_or_actor.method or ""
    public_id = uuid.UUID(str(patient_public_id))
    return AccessLog.objects.create(
        clinic=clinic,
        actor=actor,
        subject=f"patient:{public_id}",
        patient_public_id=public_id,
        record=record,
        what=what[:60],
        path=path,
        method=method,
    )


class LogsPatientReads:
    """Mixin for clinic-scoped API views: `self.log_read(patient_public_id, what=...)` after a
    successful read of a patient's chart or clinical record."""

    access_record_kind: str = AccessLog.Record.CLINICAL

    def log_read(self, patient_public_id: Any, *, what: str, record: str | None = None) -> None:
        request = self.request  # type: ignore[attr-defined]
        access_record(
            request_or_actor=request,
            clinic=request.clinic,
            patient_public_id=patient_public_id,
            what=what,
            record=record or self.access_record_kind,
        )
