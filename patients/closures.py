"""Closing a clinic for a day: the closure is recorded, the day's live visits are cancelled with
the reason through the visit state machine, and each patient who agreed to e-mail is told.

The notice is queued as a `PatientMessage` in the closure's transaction and goes through
Celery after the commit, with the visit id only (`patients.tasks.visit_cancellation_send_task`);
`visit_cancellation_send` checks everything again when it runs and claims the queued row, so a
retried or redelivered task never sends twice, and a lost one is published again by
`patients.notices_dispatch`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from clinic import services as clinic_services
from clinic.errors import ApplicationError
from clinic.jobs import publish_on_commit
from clinic.models import Clinic, Closure, User
from patients import visits
from patients.models import PatientMessage, Visit
from patients.reminders import (
    _claim_queued,
    _deliver,
    _notice_decline,
    _reachable,
    _visit_context,
    notice_queue,
)
from patients.scheduling import local_day_bounds

# The cancel reason of every visit cancelled by a closure starts so: the reports tell these
# apart from the patients' own (late) cancellations.
CLOSURE_REASON_PREFIX = "Clinic closed"


@dataclass
class DayClosure:
    closure: Closure
    cancelled: list[Visit] = field(default_factory=list)
    refused: list[tuple[Visit, str]] = field(default_factory=list)
    notified: int = 0


def visits_on_day(*, clinic: Clinic, day: dt.date) -> QuerySet[Visit]:
    """The clinic's booked and checked-in visits of a local day, with patient and therapist."""
    start, end = local_day_bounds(day, clinic.tz)
    return (
        Visit.objects.for_clinic(clinic)
        .live()
        .filter(starts_at__gte=start, starts_at__lt=end)
        .select_related("clinic", "patient", "therapist", "room")
        .order_by("starts_at", "pk")
    )


def clinic_close_day_check(*, clinic: Clinic, day: dt.date, reason: str) -> None:
    errors: dict[str, str] = {}
    if day < timezone.localdate(timezone=clinic.tz):
        errors["day"] = f"{day:%Y-%m-%d} has passed at {clinic.name}; choose today or later."
    if not reason.strip():
        errors["reason"] = "Say why the clinic is closed: the patients are told."
    if errors:
        raise ValidationError(errors)


def closure_reason(reason: str) -> str:
    return f"{CLOSURE_REASON_PREFIX}: {reason.strip()}"[:300]


@transaction.atomic
def clinic_close_day(
    *, clinic: Clinic, day: dt.date, reason: str, by: User | None, notify: bool = True
) -> DayClosure:
    """Close `clinic` on `day` (its local date) and cancel that day's live visits, telling the
    patients who agreed to e-mail once the transaction commits. A visit that changed meanwhile
    (checked in and completed, say) is left as it is and reported in `refused`."""
    clinic_close_day_check(clinic=clinic, day=day, reason=reason)
    closure = clinic_services.closure_add(
        clinic=clinic, starts_on=day, ends_on=day, reason=reason.strip(), by=by
    )
    result = DayClosure(closure=closure)
    for visit in visits_on_day(clinic=clinic, day=day):
        try:
            visits.visit_cancel(visit=visit, by=by, reason=closure_reason(reason), by_clinic=True)
        except ApplicationError as exc:
            result.refused.append((visit, exc.message))
            continue
        result.cancelled.append(visit)
        if notify and _reachable(visit.patient):
            from patients.tasks import visit_cancellation_send_task

            notice_queue(kind=PatientMessage.Kind.VISIT_CANCELLED, visit=visit)
            publish_on_commit(visit_cancellation_send_task, visit.pk)
            result.notified += 1
    return result


def visit_cancellation_send(visit_id: int) -> PatientMessage | None:
    """Tell the patient that their visit is cancelled, once; None when nothing was sent (no
    notice was queued, or it was sent already; a visit no longer cancelled, or a patient who
    withdrew consent, has the notice declined)."""
    visit = (
        Visit.objects.select_related("clinic", "patient", "therapist", "room")
        .filter(pk=visit_id)
        .first()
    )
    if visit is None:
        return None
    kind = PatientMessage.Kind.VISIT_CANCELLED
    if visit.status not in (Visit.Status.CANCELLED, Visit.Status.LATE_CANCELLED):
        _notice_decline(kind=kind, visit=visit, reason="not_cancelled")
        return None
    if not _reachable(visit.patient):
        _notice_decline(kind=kind, visit=visit, reason="no_consent")
        return None
    message = _claim_queued(kind=kind, visit=visit)
    if message is None:
        return None
    context = {**_visit_context(visit), "reason": visit.cancel_reason}
    _deliver(
        message,
        to=visit.patient.email,
        subject=f"Your visit at {visit.clinic.name} on {context['when']} is cancelled",
        template="emails/visit_cancelled.txt",
        context=context,
    )
    return message
