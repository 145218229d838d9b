"""Background tasks of the programs app: thin wrappers that take ids, call a service and declare
their retries (STYLE.md). Every task is idempotent, so acks_late redelivery is safe."""

from __future__ import annotations

import logging

from celery import shared_task

from clinic.jobs import BATCH_TASK_OPTIONS, TASK_OPTIONS, TRANSIENT_ERRORS, publish_on_commit
from programs.followups import (
    followup_create_for_visit,
    followup_dispatch,
    followups_cancel_for_ended_episodes,
    followups_due,
)
from programs.summaries import (
    progress_summaries_write,
    progress_summary_write,
    visits_missing_work,
)

logger = logging.getLogger(__name__)

DISPATCH_BATCH = 200
SWEEP_DAYS = 7
SUMMARY_CHUNK = 100  # summaries the sweeper writes per progress_summaries_write call


@shared_task(name="programs.progress_summary_write", **TASK_OPTIONS)
def progress_summary_write_task(visit_id: int) -> None:
    progress_summary_write(visit_id)


@shared_task(name="programs.followup_create", **TASK_OPTIONS)
def followup_create_task(visit_id: int) -> None:
    followup = followup_create_for_visit(visit_id)
    if followup is not None and followup.status == followup.Status.PENDING:
        followup_dispatch_task.delay_on_commit(followup.pk)


@shared_task(name="programs.followup_dispatch", **TASK_OPTIONS)
def followup_dispatch_task(followup_id: int) -> None:
    followup_dispatch(followup_id)


@shared_task(
    name="programs.followup_dispatch_due",
    **BATCH_TASK_OPTIONS,
)
def followup_dispatch_due_task() -> int:
    """Beat, every 5 minutes: cancel the open follow-ups of ended episodes, then dispatch the
    pending ones, one batch per run (one failing follow-up is logged and left pending for the
    next run)."""
    followups_cancel_for_ended_episodes()
    done = 0
    for followup_id in followups_due(limit=DISPATCH_BATCH):
        try:
            followup_dispatch(followup_id)
        except TRANSIENT_ERRORS:
            raise
        except Exception:
            logger.exception("followup.dispatch_failed followup=%s", followup_id)
            continue
        done += 1
    return done


@shared_task(name="programs.summary_sweep", **BATCH_TASK_OPTIONS)
def summary_sweep_task() -> tuple[int, int]:
    """Beat, every 10 minutes: write the missing summaries and follow-ups of visits completed in
    the last days (a lost message, a broker that was down, a killed worker). The summaries are
    written in chunks of SUMMARY_CHUNK by progress_summaries_write (reads once per chunk, not
    once per visit); returns (summaries written, follow-up visits handled)."""
    no_summary, no_followup = visits_missing_work(days=SWEEP_DAYS)
    written = sum(
        progress_summaries_write(no_summary[start : start + SUMMARY_CHUNK])
        for start in range(0, len(no_summary), SUMMARY_CHUNK)
    )
    for visit_id in no_followup:
        followup_create_for_visit(visit_id)
    if no_summary or no_followup:
        logger.info("sweep.caught_up summaries=%s followups=%s", written, len(no_followup))
    return written, len(no_followup)


def enqueue_after_visit_completed(visit_id: int) -> None:
    """Publish the summary and follow-up tasks of a completed visit, ids only, after commit:
    what `task.delay_on_commit(visit_id)` does, with the publish error of a broker that is down
    logged rather than raised (the broker connection times out in 2 s; the sweeper catches up)."""
    for task in (progress_summary_write_task, followup_create_task):
        publish_on_commit(task, visit_id)


@shared_task(name="programs.home_program_email_send", **TASK_OPTIONS)
def home_program_email_send_task(email_id: int) -> str:
    """E-mail one version's handout to the patient, once (programs.home); the id of its
    HomeProgramEmail row only."""
    from programs.home import home_program_email_deliver

    return home_program_email_deliver(email_id=email_id)


@shared_task(name="programs.home_program_email_sweep", **BATCH_TASK_OPTIONS)
def home_program_email_sweep_task() -> int:
    """Beat, every 10 minutes: send the handout e-mails requested but still unsent (a lost
    message, a broker that was down)."""
    from programs.home import home_program_email_deliver, home_program_emails_unsent

    sent = 0
    for email_id in home_program_emails_unsent():
        try:
            if home_program_email_deliver(email_id=email_id) == "sent":
                sent += 1
        except TRANSIENT_ERRORS:
            raise
        except Exception:
            logger.exception("home_program.email_failed email=%s", email_id)
    return sent
