"""Follow-ups: the next visit after a completed one, as a database row (DESIGN.md mechanism 4).

Completing a visit creates one FollowUp (one per completed visit: `after_visit` is unique) with
a due window of clinic-local dates computed from the plan of care's frequency. A dispatcher on
beat books each due follow-up with the same therapist into a free slot inside the window through
the booking service (patients.visits.visit_book), or hands it to the front desk with the reason.

The due window, in days after the completed visit: gap = 7 / frequency_per_week, window
[max(1, round(gap * 0.6)), max(from, round(gap * 1.2))]. That is:

    visits a week   1     2     3     4     5     6     7
    window (days)   4-8   2-4   1-3   1-2   1-2   1-1   1-1

A follow-up whose patient already has a booked visit after the completed one, up to the end of
the window (booked by the front desk or a series), is marked booked with that visit instead.

Follow-ups stop at the end of the plan (starts_on + duration_weeks * 7 - 1) or of its
certification (certified_until), whichever is first, and when the episode is not active
(discharged). A window that runs past the end is cut at the end; a window that starts after it
creates no follow-up. At dispatch time the same rules are checked again: a discharged episode
cancels the follow-up; a plan that ended or was superseded hands it to the front desk.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from clinic.errors import ConflictError
from patients.availability import Slot, free_slots
from patients.models import EpisodeOfCare, Visit
from patients.scheduling import local_day_bounds
from programs.models import FollowUp, PlanOfCare
from programs.selectors import plan_active, visit_day

logger = logging.getLogger(__name__)

USUAL_TIME_VISITS = 10  # the patient's usual time of day: the commonest of their last visits
MAX_BOOKING_ATTEMPTS = 20  # slots tried per dispatch before handing to the front desk


@dataclass(frozen=True)
class FollowUpPlan:
    due_from: dt.date | None
    due_until: dt.date | None
    reason: str = ""  # why there is no follow-up, when due_from is None


def due_window_days(frequency_per_week: int) -> tuple[int, int]:
    """(first, last) day after the visit, from the plan's visits a week (see the module)."""
    gap = 7 / frequency_per_week
    first = max(1, round(gap * 0.6))
    return first, max(first, round(gap * 1.2))


def plan_ends_on(plan: PlanOfCare) -> dt.date:
    """The last day follow-ups may fall on: the plan's duration or its certification."""
    by_duration = plan.starts_on + dt.timedelta(days=plan.duration_weeks * 7 - 1)
    return min(by_duration, plan.certified_until)


def followup_plan_for(visit: Visit, *, plan: PlanOfCare | None = None) -> FollowUpPlan:
    """The due window after `visit` (completed, of an episode), or why there is none."""
    episode = visit.episode
    if episode is None:
        return FollowUpPlan(None, None, "The visit belongs to no episode of care.")
    if episode.status != EpisodeOfCare.Status.ACTIVE:
        return FollowUpPlan(None, None, "The episode of care is not active.")
    plan = plan or plan_active(episode=episode)
    if plan is None:
        return FollowUpPlan(None, None, "The episode has no active plan of care.")
    first, last = due_window_days(plan.frequency_per_week)
    day = visit_day(visit)
    due_from, due_until = day + dt.timedelta(days=first), day + dt.timedelta(days=last)
    ends = plan_ends_on(plan)
    if episode.ended_on is not None:
        ends = min(ends, episode.ended_on)
    if due_from > ends:
        return FollowUpPlan(None, None, f"The plan of care ends on {ends.isoformat()}.")
    return FollowUpPlan(due_from, min(due_until, ends))


def followup_create_for_visit(visit_id: int) -> FollowUp | None:
    """The follow-up of a completed visit, created once (idempotent); None when the plan says
    there is none (no episode or plan, episode not active, plan ended)."""
    visit = (
        Visit.objects.select_related("clinic", "episode")
        .filter(pk=visit_id, status=Visit.Status.COMPLETED)
        .first()
    )
    if visit is None or visit.episode is None:
        return None
    existing = FollowUp.objects.filter(after_visit_id=visit_id).first()
    if existing is not None:
        return existing
    found = followup_plan_for(visit)
    if found.due_from is None or found.due_until is None:
        logger.info("followup.none visit=%s reason=%s", visit_id, found.reason)
        return None
    try:
        with transaction.atomic():
            return FollowUp.objects.create(
                clinic=visit.clinic,
                episode=visit.episode,
                after_visit=visit,
                due_from=found.due_from,
                due_until=found.due_until,
            )
    except IntegrityError:  # written meanwhile by another worker or the sweeper
        return FollowUp.objects.get(after_visit_id=visit_id)


def usual_start_time(*, patient_id: int, clinic_tz: dt.tzinfo) -> dt.time | None:
    """The commonest local start time of the patient's last visits (one query)."""
    starts = list(
        Visit.objects.filter(patient_id=patient_id, status__in=Visit.OCCUPYING_STATUSES)
        .order_by("-starts_at")
        .values_list("starts_at", flat=True)[:USUAL_TIME_VISITS]
    )
    if not starts:
        return None
    counts = Counter(s.astimezone(clinic_tz).time() for s in starts)
    # Most common; ties go to the most recent visit's time (Counter keeps insertion order).
    return counts.most_common(1)[0][0]


def _minutes(t: dt.time) -> int:
    return t.hour * 60 + t.minute


def _ordered(slots: list[Slot], usual: dt.time | None) -> list[Slot]:
    """Slots nearest the usual time of day first, then earliest."""
    if usual is None:
        return slots
    target = _minutes(usual)
    return sorted(
        slots,
        key=lambda s: (abs(_minutes(s.starts_at.time()) - target), s.starts_at.astimezone(dt.UTC)),
    )


def _to_front_desk(followup: FollowUp, reason: str) -> FollowUp:
    followup.status = FollowUp.Status.NEEDS_FRONT_DESK
    followup.reason = reason
    followup.save(update_fields=["status", "reason", "attempts", "updated_at"])
    logger.info("followup.front_desk followup=%s", followup.pk)
    return followup


def followup_dispatch(followup_id: int, *, now: dt.datetime | None = None) -> FollowUp | None:
    """Book a pending follow-up into the first fitting free slot of the same therapist inside
    its window (the patient's usual time of day first), or hand it to the front desk."""
    now = now or timezone.now()
    with transaction.atomic():
        followup = (
            FollowUp.objects.select_for_update(of=("self",))
            .select_related(
                "clinic", "episode", "after_visit", "after_visit__therapist", "after_visit__patient"
            )
            .filter(pk=followup_id, status=FollowUp.Status.PENDING)
            .first()
        )
        if followup is None:
            return None
        clinic, episode, visit = followup.clinic, followup.episode, followup.after_visit
        followup.attempts += 1
        if episode.status != EpisodeOfCare.Status.ACTIVE:
            followup.status = FollowUp.Status.CANCELLED
            followup.reason = "The episode of care is no longer active."
            followup.save(update_fields=["status", "reason", "attempts", "updated_at"])
            return followup
        plan = plan_active(episode=episode)
        if plan is None:
            return _to_front_desk(followup, "The episode has no active plan of care.")
        ends = plan_ends_on(plan)
        today = timezone.localdate(now, timezone=clinic.tz)
        first_day = max(followup.due_from, today)
        last_day = min(followup.due_until, ends)
        if last_day < followup.due_from:
            return _to_front_desk(
                followup, f"The plan of care ended on {ends.isoformat()}: recertify or discharge."
            )
        if last_day < first_day:
            return _to_front_desk(
                followup,
                f"The due window {followup.due_from.isoformat()} to "
                f"{followup.due_until.isoformat()} has passed without a booking.",
            )
        already = _next_visit_booked(followup)
        if already is not None:
            followup.status = FollowUp.Status.BOOKED
            followup.booked_visit = already
            followup.reason = "The next visit was already booked."
            followup.save(
                update_fields=["status", "booked_visit", "reason", "attempts", "updated_at"]
            )
            logger.info("followup.already_booked followup=%s visit=%s", followup.pk, already.pk)
            return followup
        duration = visit.ends_at - visit.starts_at
        slots = free_slots(
            clinic=clinic,
            first_day=first_day,
            last_day=last_day,
            duration=duration,
            therapist=visit.therapist,
            not_before=now,
        )
        usual = usual_start_time(patient_id=visit.patient_id, clinic_tz=clinic.tz)
        for slot in _ordered(slots, usual)[:MAX_BOOKING_ATTEMPTS]:
            try:
                booked = _book(followup, slot)
            except (ConflictError, ValidationError):
                continue  # taken meanwhile, or refused: try the next slot
            followup.status = FollowUp.Status.BOOKED
            followup.booked_visit = booked
            followup.reason = ""
            followup.save(
                update_fields=["status", "booked_visit", "reason", "attempts", "updated_at"]
            )
            logger.info("followup.booked followup=%s visit=%s", followup.pk, booked.pk)
            return followup
        return _to_front_desk(
            followup,
            f"No free slot with the same therapist between {first_day.isoformat()} and "
            f"{last_day.isoformat()}.",
        )


def _next_visit_booked(followup: FollowUp) -> Visit | None:
    """A booked or checked-in visit of the patient at the clinic after the completed one and no
    later than the window's last day (booked by the front desk, a series, or earlier): it is the
    next visit, and booking another would put one more visit in the week than the plan says."""
    visit = followup.after_visit
    _, window_end = local_day_bounds(followup.due_until, followup.clinic.tz)
    return (
        Visit.objects.filter(
            clinic=followup.clinic,
            patient_id=visit.patient_id,
            status__in=Visit.LIVE_STATUSES,
            starts_at__gte=visit.ends_at,
            starts_at__lt=window_end,
        )
        .order_by("starts_at", "pk")
        .first()
    )


def _book(followup: FollowUp, slot: Slot) -> Visit:
    from patients.visits import visit_book

    visit = followup.after_visit
    return visit_book(
        clinic=followup.clinic,
        patient=visit.patient,
        therapist=visit.therapist,
        starts_at=slot.starts_at,
        ends_at=slot.ends_at,
        by=None,
        room=slot.room,
        kind=Visit.Kind.TREATMENT,
        episode=followup.episode,
    )


def followups_due(*, limit: int = 200) -> list[int]:
    """Ids of the pending follow-ups, soonest window first. All are due for booking: the next
    visit is booked ahead as soon as the follow-up exists, not on the day its window opens."""
    return list(
        FollowUp.objects.filter(status=FollowUp.Status.PENDING)
        .order_by("due_from", "pk")
        .values_list("pk", flat=True)[:limit]
    )


def followups_cancel_for_ended_episodes() -> int:
    """Cancel the open follow-ups (pending, or waiting for the front desk) of episodes that are
    no longer active, so a discharged patient leaves the front desk's list. One UPDATE; the
    dispatcher runs it first on every beat."""
    return (
        FollowUp.objects.filter(
            status__in=(FollowUp.Status.PENDING, FollowUp.Status.NEEDS_FRONT_DESK)
        )
        .exclude(episode__status=EpisodeOfCare.Status.ACTIVE)
        .update(
            status=FollowUp.Status.CANCELLED,
            reason="The episode of care is no longer active.",
            updated_at=timezone.now(),
        )
    )


def followup_cancel_for_episode(episode: EpisodeOfCare, reason: str) -> int:
    """Cancel the pending follow-ups of an episode (discharge)."""
    return FollowUp.objects.filter(episode=episode, status=FollowUp.Status.PENDING).update(
        status=FollowUp.Status.CANCELLED, reason=reason, updated_at=timezone.now()
    )
