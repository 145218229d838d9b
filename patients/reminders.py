"""E-mail to patients about their visits: the reminder before each visit, and the nudge to
patients of an active episode who have nothing booked next.

Rules (each checked again when the message is sent, not only when it is chosen):

- Only to a patient who agreed to e-mail (`consent_email`), has an address and is not archived.
- Reminder: a booked visit (not checked in, cancelled, no-show or done) that starts within the
  clinic's `reminder_lead_hours` (default 24; 0 turns reminders off) and has not started yet.
  One per visit.
- Nudge: an active episode whose patient has no booked or checked-in visit to come at the
  clinic, whose last completed visit was at least NUDGE_AFTER_DAYS ago (the follow-up
  dispatcher and the front desk get those days first), sent between NUDGE_HOURS in the clinic's
  time. One per gap: it is keyed on the last completed visit, so a patient is nudged again only
  after another visit.

- Episode ended: when a discharge or a closure cancels visits the patient had booked, one
  message lists them (`episode_end_notice_send`). One per episode.

"At most once" comes from `PatientMessage`: the row is claimed (unique per kind and visit) and
committed before the mail goes out; see its docstring. The text is made when sending, from the
visit, so no patient data sits in the broker.
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
import zoneinfo
from collections import defaultdict
from typing import Any

from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Subquery
from django.template.loader import render_to_string
from django.utils import timezone

from clinic.models import Clinic
from patients.models import EpisodeOfCare, Patient, PatientMessage, Visit

logger = logging.getLogger(__name__)

NUDGE_AFTER_DAYS = 2
NUDGE_HOURS = range(9, 18)  # 09:00 to 17:59, clinic time
BATCH = 500  # rows chosen per run of a dispatcher; the next run takes the rest

# What a mail server or the network raise; the task retries them with backoff.
MAIL_ERRORS: tuple[type[BaseException], ...] = (smtplib.SMTPException, OSError)


def _reachable(patient: Patient) -> bool:
    return bool(patient.consent_email and patient.email and patient.archived_at is None)


def _reachable_q(prefix: str = "patient__") -> Q:
    return Q(**{f"{prefix}consent_email": True, f"{prefix}archived_at__isnull": True}) & ~Q(
        **{f"{prefix}email": ""}
    )


def _not_messaged(kind: str, visit_ref: str = "pk") -> Exists:
    return Exists(PatientMessage.objects.filter(kind=kind, visit=OuterRef(visit_ref)))


# --- Reminders -------------------------------------------------------------------------------


def _reminder_window_q(now: dt.datetime) -> Q | None:
    """Visits starting within each active clinic's lead time: one OR-term per distinct lead
    time (one query for the clinics, whatever their number)."""
    by_hours: dict[int, list[int]] = defaultdict(list)
    for pk, hours in (
        Clinic.objects.filter(active=True, reminder_lead_hours__gt=0)
        .values_list("pk", "reminder_lead_hours")
        .order_by()
    ):
        by_hours[hours].append(pk)
    window: Q | None = None
    for hours, clinic_ids in by_hours.items():
        term = Q(clinic_id__in=clinic_ids, starts_at__lte=now + dt.timedelta(hours=hours))
        window = term if window is None else window | term
    return window


def visits_due_for_reminder(*, now: dt.datetime | None = None, limit: int = BATCH) -> list[int]:
    """Ids of booked visits inside their clinic's reminder window with no reminder yet, soonest
    first. Two queries."""
    moment = now or timezone.now()
    window = _reminder_window_q(moment)
    if window is None:
        return []
    return list(
        Visit.objects.filter(window, status=Visit.Status.BOOKED, starts_at__gt=moment)
        .filter(_reachable_q())
        .filter(~_not_messaged(PatientMessage.Kind.VISIT_REMINDER))
        .order_by("starts_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )


def _reminder_wanted(visit: Visit, now: dt.datetime) -> bool:
    clinic = visit.clinic
    lead = dt.timedelta(hours=clinic.reminder_lead_hours)
    return (
        clinic.active
        and clinic.reminder_lead_hours > 0
        and visit.status == Visit.Status.BOOKED
        and now < visit.starts_at <= now + lead
        and _reachable(visit.patient)
    )


def visit_reminder_send(visit_id: int, *, now: dt.datetime | None = None) -> PatientMessage | None:
    """Send the reminder of one visit if it is still wanted and was not sent before; the
    message row, or None when nothing was sent."""
    visit = (
        Visit.objects.select_related("clinic", "patient", "therapist", "room")
        .filter(pk=visit_id)
        .first()
    )
    if visit is None or not _reminder_wanted(visit, now or timezone.now()):
        return None
    message = _claim(kind=PatientMessage.Kind.VISIT_REMINDER, visit=visit)
    if message is None:
        return None
    context = _visit_context(visit)
    _deliver(
        message,
        to=visit.patient.email,
        subject=f"Your visit at {visit.clinic.name} on {context['when']}",
        template="emails/visit_reminder.txt",
        context=context,
    )
    return message


# --- Patients with no next visit -------------------------------------------------------------


def _last_completed(ref: str) -> QuerySet[Visit]:
    return Visit.objects.filter(
        clinic_id=OuterRef("clinic_id"),
        patient_id=OuterRef(ref),
        status=Visit.Status.COMPLETED,
    ).order_by("-starts_at", "-pk")


def episodes_due_for_nudge(*, now: dt.datetime | None = None, limit: int = BATCH) -> list[int]:
    """Ids of active episodes whose patient should get the no-next-visit nudge now (see the
    module's rules). Two queries, whatever the number of clinics and episodes."""
    moment = now or timezone.now()
    clinic_ids = [
        pk
        for pk, zone in Clinic.objects.filter(active=True).values_list("pk", "timezone").order_by()
        if moment.astimezone(zoneinfo.ZoneInfo(zone)).hour in NUDGE_HOURS
    ]
    if not clinic_ids:
        return []
    upcoming = Visit.objects.filter(
        clinic_id=OuterRef("clinic_id"),
        patient_id=OuterRef("patient_id"),
        status__in=Visit.LIVE_STATUSES,
        ends_at__gt=moment,
    )
    last = _last_completed("patient_id")
    return list(
        EpisodeOfCare.objects.filter(clinic_id__in=clinic_ids, status=EpisodeOfCare.Status.ACTIVE)
        .filter(_reachable_q())
        .filter(~Exists(upcoming))
        .annotate(
            last_visit_id=Subquery(last.values("pk")[:1]),
            last_visit_at=Subquery(last.values("starts_at")[:1]),
        )
        .filter(last_visit_at__lte=moment - dt.timedelta(days=NUDGE_AFTER_DAYS))
        .filter(~_not_messaged(PatientMessage.Kind.NO_NEXT_VISIT, "last_visit_id"))
        .order_by("last_visit_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )


def no_next_visit_nudge_send(
    episode_id: int, *, now: dt.datetime | None = None
) -> PatientMessage | None:
    """Send the nudge of one episode if it is still wanted and was not sent for this gap."""
    moment = now or timezone.now()
    last = _last_completed("patient_id")
    episode = (
        EpisodeOfCare.objects.select_related("clinic", "patient", "therapist")
        .annotate(last_visit_id=Subquery(last.values("pk")[:1]))
        .filter(pk=episode_id)
        .first()
    )
    if episode is None or episode.status != EpisodeOfCare.Status.ACTIVE:
        return None
    if not (episode.clinic.active and _reachable(episode.patient)):
        return None
    last_visit_id: Any = getattr(episode, "last_visit_id", None)
    last_visit = Visit.objects.filter(pk=last_visit_id).first() if last_visit_id else None
    if last_visit is None or last_visit.starts_at > moment - dt.timedelta(days=NUDGE_AFTER_DAYS):
        return None
    booked = Visit.objects.filter(
        clinic=episode.clinic,
        patient=episode.patient,
        status__in=Visit.LIVE_STATUSES,
        ends_at__gt=moment,
    )
    if booked.exists():
        return None
    message = _claim(kind=PatientMessage.Kind.NO_NEXT_VISIT, visit=last_visit, episode=episode)
    if message is None:
        return None
    clinic = episode.clinic
    _deliver(
        message,
        to=episode.patient.email,
        subject=f"Your next visit at {clinic.name}",
        template="emails/no_next_visit.txt",
        context={
            "clinic": clinic,
            "patient": episode.patient,
            "therapist": episode.therapist,
            "last_visit_on": last_visit.starts_at.astimezone(clinic.tz).date(),
        },
    )
    return message


# --- Claim and delivery ----------------------------------------------------------------------


def _message_new(
    *, kind: str, visit: Visit, episode: EpisodeOfCare | None, **state: Any
) -> PatientMessage | None:
    """A new message row of this kind for the visit, or None when there is one already."""
    try:
        with transaction.atomic():
            return PatientMessage.objects.create(
                clinic_id=visit.clinic_id,
                patient_id=visit.patient_id,
                kind=kind,
                visit=visit,
                episode=episode,
                **state,
            )
    except IntegrityError:
        return None


def _message_take(*, kind: str, visit: Visit, statuses: tuple[str, ...]) -> PatientMessage | None:
    """The visit's message of this kind, now `sending` if it was in one of `statuses`: taken by
    the UPDATE itself (committed with it outside a transaction), so a second task finds it
    taken. None when it is not in one of them (sent, being sent) or does not exist."""
    taken = PatientMessage.objects.filter(kind=kind, visit=visit, status__in=statuses).update(
        status=PatientMessage.Status.SENDING, attempts=F("attempts") + 1, error=""
    )
    return PatientMessage.objects.get(kind=kind, visit=visit) if taken else None


def _claim(
    *, kind: str, visit: Visit, episode: EpisodeOfCare | None = None
) -> PatientMessage | None:
    """The committed message row that allows this one sending, or None when the message was
    sent or is being sent already. A row that failed before is claimed again."""
    new = _message_new(kind=kind, visit=visit, episode=episode)
    if new is not None:
        return new
    return _message_take(kind=kind, visit=visit, statuses=(PatientMessage.Status.FAILED,))


def notice_queue(
    *, kind: str, visit: Visit, episode: EpisodeOfCare | None = None
) -> PatientMessage | None:
    """Record, in the caller's transaction, that staff asked for this notice (`queued`); None
    when one of this kind for the visit exists already. The caller publishes its task after the
    commit; `notices_lost` finds the row again if that message never arrives."""
    return _message_new(
        kind=kind, visit=visit, episode=episode, status=PatientMessage.Status.QUEUED, attempts=0
    )


def _claim_queued(*, kind: str, visit: Visit) -> PatientMessage | None:
    """The queued (or failed) notice of this kind for the visit, now `sending`; None when none
    was asked for, or it was sent or is being sent already."""
    statuses = (PatientMessage.Status.QUEUED, PatientMessage.Status.FAILED)
    return _message_take(kind=kind, visit=visit, statuses=statuses)


def _notice_decline(*, kind: str, reason: str, visit: Visit | None = None, **where: Any) -> None:
    """Mark the queued (or failed) notice of this kind `declined`: its task found it no longer
    due, and the dispatcher stops publishing it. `reason` goes in `error`."""
    if visit is not None:
        where["visit"] = visit
    PatientMessage.objects.filter(
        kind=kind,
        status__in=(PatientMessage.Status.QUEUED, PatientMessage.Status.FAILED),
        **where,
    ).update(status=PatientMessage.Status.DECLINED, error=reason)


# Queued notices whose task has not run after this long are published again (the broker was
# down, the message was lost), until the (first) cancelled visit's time has come, and for at
# most NOTICE_GIVE_UP: a notice the task declined (consent withdrawn) stays queued meanwhile.
NOTICE_LOST_AFTER = dt.timedelta(minutes=5)
NOTICE_GIVE_UP = dt.timedelta(days=7)
NOTICE_KINDS = (PatientMessage.Kind.VISIT_CANCELLED, PatientMessage.Kind.EPISODE_ENDED)


def notices_lost(*, now: dt.datetime | None = None) -> list[tuple[str, int, int | None]]:
    """(kind, visit id, episode id) of the queued notices still unsent NOTICE_LOST_AFTER after
    they were asked for and whose visit is still to come, the oldest first (the partial index
    `patients_message_queued` holds only the queued rows)."""
    moment = now or timezone.now()
    return list(
        PatientMessage.objects.filter(
            status=PatientMessage.Status.QUEUED,
            kind__in=NOTICE_KINDS,
            created_at__lte=moment - NOTICE_LOST_AFTER,
            created_at__gte=moment - NOTICE_GIVE_UP,
            visit__starts_at__gt=moment,
        )
        .order_by("created_at", "pk")
        .values_list("kind", "visit_id", "episode_id")
    )


def _deliver(
    message: PatientMessage, *, to: str, subject: str, template: str, context: dict[str, Any]
) -> None:
    body = render_to_string(template, context)
    try:
        send_mail(subject, body, None, [to], fail_silently=False)
    except MAIL_ERRORS as exc:
        PatientMessage.objects.filter(pk=message.pk).update(
            status=PatientMessage.Status.FAILED, error=type(exc).__name__
        )
        logger.warning("patient_message.failed message=%s kind=%s", message.public_id, message.kind)
        raise
    message.status = PatientMessage.Status.SENT
    message.sent_at = timezone.now()
    message.save(update_fields=["status", "sent_at"])
    logger.info("patient_message.sent message=%s kind=%s", message.public_id, message.kind)


def _visit_context(visit: Visit) -> dict[str, Any]:
    clinic = visit.clinic
    local = visit.starts_at.astimezone(clinic.tz)
    return {
        "clinic": clinic,
        "patient": visit.patient,
        "therapist": visit.therapist,
        "room": visit.room,
        "when": f"{local:%A %d %B %Y at %H:%M}",
        "minutes": int((visit.ends_at - visit.starts_at).total_seconds() // 60),
    }


# --- Visits cancelled by the end of an episode -----------------------------------------------

# The cancel reason of the visits an episode's end cancelled (patients.clinical._end).
EPISODE_END_REASONS: dict[str, str] = {
    EpisodeOfCare.Status.DISCHARGED: "Episode discharged",
    EpisodeOfCare.Status.CLOSED: "Episode closed",
}


def episode_end_notice_send(episode_id: int) -> PatientMessage | None:
    """Tell the patient, once, which of their booked visits the end of the episode cancelled;
    None when nothing was sent (no notice was queued, none of its visits was cancelled by its
    end, or it was sent already; a patient who withdrew consent has the notice declined)."""
    episode = (
        EpisodeOfCare.objects.select_related("clinic", "patient", "therapist")
        .filter(pk=episode_id)
        .first()
    )
    if episode is None:
        return None
    kind = PatientMessage.Kind.EPISODE_ENDED
    if episode.status not in EPISODE_END_REASONS:
        return None
    if not _reachable(episode.patient):
        _notice_decline(kind=kind, reason="no_consent", episode=episode)
        return None
    cancelled = list(
        Visit.objects.filter(
            episode=episode,
            status=Visit.Status.CANCELLED,
            cancel_reason=EPISODE_END_REASONS[episode.status],
        ).order_by("starts_at", "pk")
    )
    if not cancelled:
        return None
    message = _claim_queued(kind=kind, visit=cancelled[0])
    if message is None:
        return None
    clinic = episode.clinic
    _deliver(
        message,
        to=episode.patient.email,
        subject=f"Your booked visits at {clinic.name} are cancelled",
        template="emails/episode_ended.txt",
        context={
            "clinic": clinic,
            "patient": episode.patient,
            "therapist": episode.therapist,
            "discharged": episode.status == EpisodeOfCare.Status.DISCHARGED,
            "ended_on": episode.ended_on,
            "visits": [
                f"{visit.starts_at.astimezone(clinic.tz):%A %d %B %Y at %H:%M}"
                for visit in cancelled
            ],
        },
    )
    return message
