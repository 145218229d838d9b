"""Background tasks of the patients app: e-mail to patients about their visits. Thin wrappers
that take ids, call a service in patients/reminders.py and declare their retries (clinic.jobs).

The dispatchers run on beat (schedules in django_celery_beat's tables, created by migrations
0009 and 0014 and editable in the admin); they choose what is due from the database and publish
one send task per message, so a lost message is chosen again by the next run, and the claim in
`PatientMessage` keeps a message from going twice.
"""

from __future__ import annotations

from celery import shared_task

from clinic.jobs import BATCH_TASK_OPTIONS, TASK_OPTIONS, TRANSIENT_ERRORS, publish
from patients.closures import visit_cancellation_send
from patients.models import PatientMessage
from patients.reminders import (
    MAIL_ERRORS,
    episode_end_notice_send,
    episodes_due_for_nudge,
    no_next_visit_nudge_send,
    notices_lost,
    visit_reminder_send,
    visits_due_for_reminder,
)

SEND_OPTIONS = {**TASK_OPTIONS, "autoretry_for": TRANSIENT_ERRORS + MAIL_ERRORS}


@shared_task(name="patients.visit_reminder_send", **SEND_OPTIONS)
def visit_reminder_send_task(visit_id: int) -> bool:
    return visit_reminder_send(visit_id) is not None


@shared_task(name="patients.visit_reminders_dispatch", **BATCH_TASK_OPTIONS)
def visit_reminders_dispatch_task() -> int:
    """Beat, every 15 minutes: one send task per visit inside its clinic's reminder window."""
    due = visits_due_for_reminder()
    return sum(publish(visit_reminder_send_task, visit_id) for visit_id in due)


@shared_task(name="patients.no_next_visit_nudge_send", **SEND_OPTIONS)
def no_next_visit_nudge_send_task(episode_id: int) -> bool:
    return no_next_visit_nudge_send(episode_id) is not None


@shared_task(name="patients.no_next_visit_nudges_dispatch", **BATCH_TASK_OPTIONS)
def no_next_visit_nudges_dispatch_task() -> int:
    """Beat, every hour: one send task per episode whose patient has no next visit (sent in the
    clinics' daytime only, see patients.reminders)."""
    due = episodes_due_for_nudge()
    return sum(publish(no_next_visit_nudge_send_task, episode_id) for episode_id in due)


@shared_task(name="patients.visit_cancellation_send", **SEND_OPTIONS)
def visit_cancellation_send_task(visit_id: int) -> bool:
    """Tell the patient that their visit was cancelled (queued by closing a clinic for a day)."""
    return visit_cancellation_send(visit_id) is not None


@shared_task(name="patients.episode_end_notice_send", **SEND_OPTIONS)
def episode_end_notice_send_task(episode_id: int) -> bool:
    """Tell the patient which booked visits a discharge or a closure cancelled."""
    return episode_end_notice_send(episode_id) is not None


@shared_task(name="patients.notices_dispatch", **BATCH_TASK_OPTIONS)
def notices_dispatch_task() -> int:
    """Beat, every 10 minutes: publish again the send task of each queued cancellation notice
    whose message was lost (the broker was down when staff closed the day or ended the
    episode)."""
    published = 0
    for kind, visit_id, episode_id in notices_lost():
        if kind == PatientMessage.Kind.EPISODE_ENDED and episode_id is not None:
            published += publish(episode_end_notice_send_task, episode_id)
        elif kind == PatientMessage.Kind.VISIT_CANCELLED:
            published += publish(visit_cancellation_send_task, visit_id)
    return published
