"""Home exercise programmes: prescription with versions, patient links, recorded sessions,
adherence, and sending the handout by e-mail. Services write, selectors read (both here).

The rules:

Prescription
- A programme belongs to an active episode; one programme per episode is active (a partial
  unique constraint). Therapists of the clinic prescribe (MANAGE_CLINICAL, which the one
  capability map gives therapists, PT or PTA, and clinic administrators).
- Every change makes a new version (`home_program_revise`, based on the version the therapist
  saw: 428 `version_required` without one, 409 `stale_version` when it is not the current one);
  earlier versions are never changed and stay readable. A change that changes nothing is
  refused (400 `unchanged`).
- Items come from the exercise library: unknown or retired exercises are refused naming the
  item (`items[2].exercise`); the dose defaults to the library entry's and is checked against
  the item's limits (`items[0].sets`: zero or negative sets are refused). Every item passes the
  contraindication check (programs.contraindications.check, through the same helpers as the
  plan of care: programs.care); a refused item needs `override_justification`, which is kept
  with the findings on the item.

Patient links
- A link is a row (expiry, revocation, last opened) and a token in the URL path: the link's
  public id signed with the secret key (django.core.signing), so a tampered or made-up token is
  answered as unknown without a lookup. It opens the programme's *current* version, for that
  patient only; it stops working when it expires, is revoked, or the programme is archived or
  its episode ends (410, with the reason). Opening it is logged with ids only.
- A session recorded through a link (or by a therapist) names the version it was recorded
  against: a version that is no longer current is refused (409 `superseded`, reload), and so
  are a future date, a date before the version was prescribed, exercises not in the version,
  a pain score outside 0-10 and a comment over COMMENT_MAX characters. Nothing is saved then.

Adherence (home_program_adherence)
- Prescribed sessions per week of a version: the largest (days_per_week x times_per_day) over
  its items; a missing days_per_week counts as 7 and a missing times_per_day as 1. A "session"
  is one time through the programme.
- Each day counts 1/7 of the per-week figure of the version in force that day (the latest
  version whose `starts_on` is on or before it); a week's prescribed sessions are the sum over
  its counted days, rounded up. Counted days lie between `since` (default: the first version's
  start) and `until` (default: the clinic's today; an archived programme stops at its archiving).
  So a week that starts mid-way, the current week, and a week in which the version changed
  are prorated.
- Sessions done: the recorded sessions on counted days, at most the version's largest
  times_per_day on one day. Adherence = min(done, prescribed) / prescribed per week; "since a
  date" sums the weeks. Weeks are ISO weeks (Monday to Sunday) of the clinic's calendar.

E-mail
- `home_program_email_request` checks e-mail consent and an address, writes the version's
  `HomeProgramEmail` row (one per version, unique) and enqueues the task after commit with the
  row's id only. `home_program_email_deliver` (the task's work) locks the row, checks consent
  and that the version is still current again, sends the PDF handout and stamps the row sent:
  a redelivered task, a second request or the sweeper sends nothing twice. A request whose
  message was lost (broker down) is sent by the sweeper (`home_program_emails_unsent`).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from clinic.capabilities import Capability
from clinic.errors import ApplicationError, ConflictError
from clinic.models import Clinic, User
from clinic.records import check_draft_version, record_save
from clinic.selectors import clinic_capabilities
from patients.models import EpisodeOfCare
from patients.vocabulary import Side
from programs.care import _check_rows, _dose, _gated, _lock_episode, _resolve, _text
from programs.models import (
    Exercise,
    HomeProgram,
    HomeProgramEmail,
    HomeProgramItem,
    HomeProgramLink,
    HomeProgramVersion,
    HomeSession,
)
from programs.selectors import contraindications_for_items

logger = logging.getLogger(__name__)

MAX_ITEMS = 30
NOTES_MAX = 5_000
COMMENT_MAX = 1_000
SESSIONS_PER_DAY_MAX = 10
LINK_DAYS_DEFAULT = 28
LINK_DAYS_MAX = 90
ADHERENCE_DAYS_MAX = 731  # the longest span one adherence read covers (two years)
TOKEN_SALT = "programs.home_link"  # noqa: S105 (a signing salt, not a secret)
ITEM_FIELDS = (
    "sets",
    "reps",
    "hold_seconds",
    "minutes",
    "times_per_day",
    "days_per_week",
    "side",
    "notes",
    "override_justification",
)


def _today(clinic: Clinic) -> dt.date:
    return timezone.localdate(timezone=clinic.tz)


# --- Reads -------------------------------------------------------------------------------------


def _items_prefetch() -> Prefetch:
    return Prefetch(
        "items",
        queryset=HomeProgramItem.objects.select_related("exercise").order_by("position", "pk"),
    )


def _programs(clinic: Clinic | int) -> QuerySet[HomeProgram]:
    return HomeProgram.objects.for_clinic(clinic).select_related(
        "clinic", "episode", "episode__patient", "created_by"
    )


def home_program_list(*, clinic: Clinic, episode: EpisodeOfCare) -> QuerySet[HomeProgram]:
    """The episode's programmes (the active one first, then archived ones, newest first)."""
    return _programs(clinic).filter(episode=episode).order_by("status", "-created_at", "-pk")


def home_program_get(*, clinic: Clinic, public_id: uuid.UUID | str) -> HomeProgram | None:
    try:
        found = uuid.UUID(str(public_id))
    except ValueError:
        return None
    return _programs(clinic).filter(public_id=found).first()


def home_program_version_list(*, program: HomeProgram) -> QuerySet[HomeProgramVersion]:
    """The programme's versions, newest first, with their items (two queries)."""
    return (
        HomeProgramVersion.objects.for_clinic(program.clinic_id)
        .filter(program=program)
        .select_related("prescribed_by")
        .prefetch_related(_items_prefetch())
        .order_by("-version")
    )


def home_program_version_get(
    *, program: HomeProgram, version: int | None = None
) -> HomeProgramVersion | None:
    """One version of the programme (the current one by default), with its items."""
    number = program.current_version if version is None else version
    return home_program_version_list(program=program).filter(version=number).first()


def home_program_current_versions(
    *, programs: Sequence[HomeProgram]
) -> dict[int, HomeProgramVersion]:
    """{programme pk: its current version, with items}, for a page of programmes, in two
    queries whatever their number."""
    if not programs:
        return {}
    wanted = Q()
    for program in programs:
        wanted |= Q(program_id=program.pk, version=program.current_version)
    versions = (
        HomeProgramVersion.objects.filter(wanted)
        .select_related("prescribed_by")
        .prefetch_related(_items_prefetch())
    )
    return {v.program_id: v for v in versions}


def _current_version(program: HomeProgram) -> HomeProgramVersion:
    """The current version of a programme (every programme has one)."""
    version = home_program_version_get(program=program)
    if version is None:
        raise HomeProgramVersion.DoesNotExist(f"{program} has no version {program.current_version}")
    return version


def _active_programs() -> QuerySet[HomeProgram]:
    return HomeProgram.objects.filter(status=HomeProgram.Status.ACTIVE).order_by("pk")


def home_program_current(*, episode: EpisodeOfCare) -> HomeProgram | None:
    """The episode's active programme, or None."""
    return _active_programs().filter(clinic_id=episode.clinic_id, episode=episode).first()


def home_programs_current(*, episodes: Sequence[EpisodeOfCare]) -> dict[int, HomeProgram]:
    """{episode pk: its active programme} for many episodes in one query (an episode without
    one is missing); a programme counts only for an episode of its own clinic."""
    clinic_of = {e.pk: e.clinic_id for e in episodes}
    if not clinic_of:
        return {}
    found: dict[int, HomeProgram] = {}
    for program in _active_programs().filter(
        clinic_id__in=set(clinic_of.values()), episode_id__in=list(clinic_of)
    ):
        if clinic_of[program.episode_id] == program.clinic_id:
            found.setdefault(program.episode_id, program)
    return found


def home_link_list(*, program: HomeProgram) -> QuerySet[HomeProgramLink]:
    return (
        HomeProgramLink.objects.for_clinic(program.clinic_id)
        .filter(program=program)
        .select_related("created_by", "revoked_by")
        .order_by("-created_at", "-pk")
    )


def home_link_get(*, clinic: Clinic, public_id: uuid.UUID | str) -> HomeProgramLink | None:
    try:
        found = uuid.UUID(str(public_id))
    except ValueError:
        return None
    return (
        HomeProgramLink.objects.for_clinic(clinic)
        .filter(public_id=found)
        .select_related("program", "program__clinic", "created_by", "revoked_by")
        .first()
    )


def home_session_list(*, program: HomeProgram) -> QuerySet[HomeSession]:
    """The programme's sessions, latest first, with the exercises done (two queries)."""
    return (
        HomeSession.objects.for_clinic(program.clinic_id)
        .filter(program=program)
        .select_related("version")
        .prefetch_related(
            Prefetch(
                "items",
                queryset=HomeProgramItem.objects.select_related("exercise").order_by(
                    "position", "pk"
                ),
            )
        )
        .order_by("-performed_on", "-created_at", "-pk")
    )


# --- Who prescribes ----------------------------------------------------------------------------


def _check_prescriber(*, clinic: Clinic, by: User) -> None:
    """Prescribing and managing a programme needs MANAGE_CLINICAL in the clinic (therapists,
    and clinic administrators, by the one capability map); the API checks it too, and the
    pages, the admin and the tasks call these services without it."""
    if Capability.MANAGE_CLINICAL not in clinic_capabilities(user=by, clinic=clinic):
        raise PermissionDenied("Only a therapist of the clinic prescribes a home programme.")


# --- Items -------------------------------------------------------------------------------------


def _home_items(
    *, episode: EpisodeOfCare, on: dt.date, items: Sequence[Mapping[str, Any]]
) -> list[HomeProgramItem]:
    """Unsaved item rows (no version yet), every one checked: library entry, dose, side, the
    contraindication gate."""
    if not isinstance(items, Sequence) or isinstance(items, str | bytes):
        raise ValidationError({"items": "A list of exercises."})
    if not items:
        raise ValidationError({"items": "Prescribe at least one exercise."})
    if len(items) > MAX_ITEMS:
        raise ValidationError({"items": f"At most {MAX_ITEMS} exercises in one programme."})
    resolved = _resolve(
        items, field="items", key="exercise", queryset=Exercise.objects.all(), refuse=None
    )
    errors: dict[str, str] = {}
    for item in resolved:
        side = _text(item.data, "side")
        if side not in Side.values:
            errors[f"{item.field}.side"] = (
                f"{side!r} is not a side; use {', '.join(v for v in Side.values if v)} or leave "
                "it blank."
            )
    if errors:
        raise ValidationError(errors)
    (_, findings) = contraindications_for_items(
        patient=episode.patient, exercises=[i.entry for i in resolved], on=on
    )
    rows: list[HomeProgramItem] = []
    for position, (item, kept) in enumerate(_gated(resolved, findings)):
        exercise: Exercise = item.entry
        rows.append(
            HomeProgramItem(
                position=position,
                exercise=exercise,
                sets=_dose(item.data, "sets", exercise.sets),
                reps=_dose(item.data, "reps", exercise.reps),
                hold_seconds=_dose(item.data, "hold_seconds", exercise.hold_seconds),
                minutes=_dose(item.data, "minutes", exercise.minutes),
                times_per_day=_dose(item.data, "times_per_day", exercise.times_per_day),
                days_per_week=_dose(item.data, "days_per_week", exercise.days_per_week),
                side=_text(item.data, "side"),
                notes=_text(item.data, "notes"),
                override_justification=_text(item.data, "override_justification"),
                warnings=kept,
            )
        )
    _check_rows(
        [(i.field, r) for i, r in zip(resolved, rows, strict=True)],
        exclude=["version", "exercise"],
    )
    return rows


def _items_as_input(version: HomeProgramVersion) -> list[dict[str, Any]]:
    """A version's items as the input of the next version (carried over, checked again)."""
    return [
        {"exercise": row.exercise, **{name: getattr(row, name) for name in ITEM_FIELDS}}
        for row in version.items.all()
    ]


def _signature(rows: Sequence[HomeProgramItem]) -> list[tuple[Any, ...]]:
    return [(r.exercise_id, *(getattr(r, n) for n in ITEM_FIELDS)) for r in rows]


def _check_notes(notes: str) -> str:
    notes = (notes or "").strip()
    if len(notes) > NOTES_MAX:
        raise ValidationError({"notes": f"Keep the notes under {NOTES_MAX} characters."})
    return notes


def _save_version(
    program: HomeProgram,
    *,
    number: int,
    starts_on: dt.date,
    notes: str,
    rows: list[HomeProgramItem],
    by: User,
) -> HomeProgramVersion:
    version = HomeProgramVersion(
        clinic_id=program.clinic_id,
        program=program,
        version=number,
        starts_on=starts_on,
        notes=notes,
        prescribed_by=by,
    )
    record_save(version, by=by)
    for row in rows:
        row.version = version
    HomeProgramItem.objects.bulk_create(rows)
    return version


# --- Prescription ------------------------------------------------------------------------------


@transaction.atomic
def home_program_create(
    *,
    episode: EpisodeOfCare,
    by: User,
    items: Sequence[Mapping[str, Any]],
    starts_on: dt.date | None = None,
    notes: str = "",
) -> HomeProgram:
    """Prescribe the episode's home programme (version 1). 409 `active_program_exists` when the
    episode already has one: revise it instead."""
    episode = _lock_episode(episode)
    clinic = episode.clinic
    _check_prescriber(clinic=clinic, by=by)
    if episode.status != EpisodeOfCare.Status.ACTIVE:
        raise ValidationError({"episode": "The episode of care has ended."})
    if home_program_current(episode=episode) is not None:
        raise ConflictError(
            "The episode already has an active home programme; change it to make a new version.",
            code="active_program_exists",
        )
    today = _today(clinic)
    starts_on = starts_on or today
    if starts_on < episode.started_on:
        raise ValidationError(
            {"starts_on": f"Cannot start before the episode of care ({episode.started_on})."}
        )
    if starts_on > today:
        raise ValidationError({"starts_on": "Cannot start in the future."})
    notes = _check_notes(notes)
    rows = _home_items(episode=episode, on=starts_on, items=items)
    program = HomeProgram(clinic=clinic, episode=episode, current_version=1, created_by=by)
    record_save(program, by=by)
    _save_version(program, number=1, starts_on=starts_on, notes=notes, rows=rows, by=by)
    logger.info("home_program.prescribed program=%s version=1", program.public_id)
    return program


def _lock_program(program: HomeProgram) -> HomeProgram:
    return (
        HomeProgram.objects.select_for_update(of=("self",))
        .select_related("clinic", "episode", "episode__patient", "episode__clinic")
        .get(pk=program.pk)
    )


def _check_live(program: HomeProgram) -> None:
    if program.status != HomeProgram.Status.ACTIVE:
        raise ConflictError("The home programme is archived and cannot change.", code="archived")
    if program.episode.status != EpisodeOfCare.Status.ACTIVE:
        raise ConflictError("The episode of care has ended.", code="episode_ended")


@transaction.atomic
def home_program_revise(
    *,
    program: HomeProgram,
    by: User,
    version: int | None,
    items: Sequence[Mapping[str, Any]] | None = None,
    notes: str | None = None,
    starts_on: dt.date | None = None,
) -> HomeProgram:
    """A new version of the programme, based on `version` (the current one). Omitted items or
    notes carry over; `starts_on` defaults to today. The old version stays as it was."""
    locked = _lock_program(program)
    _check_prescriber(clinic=locked.clinic, by=by)
    _check_live(locked)
    check_draft_version(
        status=locked.status, current=locked.current_version, version=version, what="home programme"
    )
    current = _current_version(locked)
    today = _today(locked.clinic)
    starts_on = starts_on or today
    if starts_on < current.starts_on:
        raise ValidationError(
            {
                "starts_on": f"Cannot start before the version it changes "
                f"(version {current.version} from {current.starts_on})."
            }
        )
    if starts_on > today:
        raise ValidationError({"starts_on": "Cannot start in the future."})
    new_notes = current.notes if notes is None else _check_notes(notes)
    rows = _home_items(
        episode=locked.episode,
        on=starts_on,
        items=_items_as_input(current) if items is None else items,
    )
    if (
        _signature(rows) == _signature(list(current.items.all()))
        and new_notes == current.notes
        and starts_on == current.starts_on
    ):
        raise ApplicationError(
            "Nothing changed: the exercises, doses and notes are those of version "
            f"{current.version}.",
            code="unchanged",
        )
    locked.current_version += 1
    record_save(locked, by=by, update_fields=["current_version"])
    _save_version(
        locked,
        number=locked.current_version,
        starts_on=starts_on,
        notes=new_notes,
        rows=rows,
        by=by,
    )
    logger.info(
        "home_program.revised program=%s version=%s", locked.public_id, locked.current_version
    )
    return locked


@transaction.atomic
def home_program_archive(*, program: HomeProgram, by: User) -> HomeProgram:
    """Archive the programme: its versions and sessions stay; its links stop working; the
    episode may then get a new programme."""
    locked = _lock_program(program)
    _check_prescriber(clinic=locked.clinic, by=by)
    if locked.status == HomeProgram.Status.ARCHIVED:
        raise ConflictError("The home programme is already archived.", code="archived")
    locked.status = HomeProgram.Status.ARCHIVED
    locked.archived_at = timezone.now()
    record_save(locked, by=by, update_fields=["status", "archived_at"])
    return locked


# --- Patient links -----------------------------------------------------------------------------


class LinkRefused(ApplicationError):
    """A patient link that does not open: unknown or tampered (404), or expired, revoked, or of
    an archived programme (410 Gone)."""

    status_code = 410


class LinkUnknown(LinkRefused):
    status_code = 404


def home_link_token(link: HomeProgramLink) -> str:
    """The token of the link's URL: its public id, signed (no patient data, nothing to guess)."""
    return signing.Signer(salt=TOKEN_SALT).sign(link.public_id.hex)


def _link_id(token: str) -> uuid.UUID:
    try:
        return uuid.UUID(hex=signing.Signer(salt=TOKEN_SALT).unsign(token))
    except (signing.BadSignature, ValueError) as exc:
        raise LinkUnknown("This link is not valid.", code="invalid_link") from exc


@transaction.atomic
def home_link_create(
    *, program: HomeProgram, by: User, valid_days: int = LINK_DAYS_DEFAULT
) -> HomeProgramLink:
    """A new patient link to the programme, valid for `valid_days` days (1 to LINK_DAYS_MAX)."""
    locked = _lock_program(program)
    _check_prescriber(clinic=locked.clinic, by=by)
    _check_live(locked)
    if not isinstance(valid_days, int) or not 1 <= valid_days <= LINK_DAYS_MAX:
        raise ValidationError({"valid_days": f"A link is valid for 1 to {LINK_DAYS_MAX} days."})
    link = HomeProgramLink(
        clinic_id=locked.clinic_id,
        program=locked,
        created_by=by,
        expires_at=timezone.now() + dt.timedelta(days=valid_days),
    )
    record_save(link, by=by)
    logger.info("home_link.created link=%s program=%s", link.public_id, locked.public_id)
    return link


@transaction.atomic
def home_link_revoke(*, link: HomeProgramLink, by: User) -> HomeProgramLink:
    """Revoke the link: it stops working at once. Revoking a revoked link changes nothing."""
    locked = (
        HomeProgramLink.objects.select_for_update(of=("self",))
        .select_related("program", "program__clinic")
        .get(pk=link.pk)
    )
    _check_prescriber(clinic=locked.program.clinic, by=by)
    if locked.revoked_at is None:
        locked.revoked_at = timezone.now()
        locked.revoked_by = by
        record_save(locked, by=by, update_fields=["revoked_at", "revoked_by"])
        logger.info("home_link.revoked link=%s", locked.public_id)
    return locked


@dataclass(frozen=True)
class OpenedLink:
    """What a patient link opens: the link, its programme and the current version (with its
    items and exercises)."""

    link: HomeProgramLink
    program: HomeProgram
    version: HomeProgramVersion


def _link_refusal(link: HomeProgramLink) -> LinkRefused | None:
    program = link.program
    if link.revoked_at is not None:
        return LinkRefused(
            "This link was withdrawn by your clinic. Ask your therapist for a new one.",
            code="link_revoked",
        )
    if link.expires_at <= timezone.now():
        return LinkRefused(
            "This link has expired. Ask your therapist for a new one.", code="link_expired"
        )
    if (
        program.status != HomeProgram.Status.ACTIVE
        or program.episode.status != EpisodeOfCare.Status.ACTIVE
    ):
        return LinkRefused(
            "This home programme has ended. Ask your therapist if you should continue.",
            code="program_archived",
        )
    return None


def home_link_open(*, token: str, count: bool = True) -> OpenedLink:
    """The programme a patient link opens, or LinkRefused (404 invalid, 410 expired, revoked,
    archived). With `count`, the opening is counted and logged (ids only)."""
    public_id = _link_id(token)
    link = (
        HomeProgramLink.objects.filter(public_id=public_id)
        .select_related(
            "clinic",
            "program",
            "program__clinic",
            "program__episode",
            "program__episode__patient",
        )
        .first()
    )
    if link is None:
        raise LinkUnknown("This link is not valid.", code="invalid_link")
    refused = _link_refusal(link)
    if refused is not None:
        logger.info("home_link.refused link=%s reason=%s", link.public_id, refused.code)
        raise refused
    program = link.program
    version = (
        HomeProgramVersion.objects.for_clinic(program.clinic_id)
        .filter(program=program, version=program.current_version)
        .select_related("prescribed_by")
        .prefetch_related(_items_prefetch())
        .get()
    )
    if count:
        now = timezone.now()
        HomeProgramLink.objects.filter(pk=link.pk).update(
            last_opened_at=now, open_count=link.open_count + 1
        )
        logger.info(
            "home_link.opened link=%s program=%s version=%s",
            link.public_id,
            program.public_id,
            version.version,
        )
    return OpenedLink(link=link, program=program, version=version)


# --- Sessions ----------------------------------------------------------------------------------


def _as_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        raise ValidationError({"performed_on": "Give a date (YYYY-MM-DD), not a time."})
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError as exc:
        raise ValidationError(
            {"performed_on": "Give the day of the session as a date (YYYY-MM-DD)."}
        ) from exc


def _as_pain(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        pain = int(str(value).strip())
    except ValueError as exc:
        raise ValidationError({"pain": "Pain is a whole number from 0 to 10."}) from exc
    if not 0 <= pain <= 10:
        raise ValidationError({"pain": "Pain is a whole number from 0 to 10."})
    return pain


def _chosen_items(version: HomeProgramVersion, chosen: Any) -> list[HomeProgramItem]:
    if isinstance(chosen, str | bytes) or not isinstance(chosen, Sequence):
        raise ValidationError({"items": "A list of the exercises done."})
    if not chosen:
        raise ValidationError({"items": "Tick at least one exercise you did."})
    by_id = {item.public_id: item for item in version.items.all()}
    picked: dict[uuid.UUID, HomeProgramItem] = {}
    for value in chosen:
        try:
            public_id = uuid.UUID(str(value))
        except ValueError:
            public_id = None
        if public_id is None or public_id not in by_id:
            raise ValidationError(
                {"items": f"{value!s:.40} is not an exercise of the current programme."}
            )
        picked[public_id] = by_id[public_id]
    return list(picked.values())


@transaction.atomic
def home_session_record(
    *,
    program: HomeProgram,
    version: int | None,
    performed_on: Any,
    items: Sequence[Any],
    pain: Any = None,
    comment: str = "",
    link: HomeProgramLink | None = None,
    by: User | None = None,
) -> HomeSession:
    """Record one home session against the current version (`version` says which one the
    patient saw). Through a patient link (`link`) or by a therapist (`by`)."""
    if (link is None) == (by is None):
        raise TypeError("A session is recorded through a link or by a member of staff.")
    locked = _lock_program(program)
    if link is not None:
        fresh = (
            HomeProgramLink.objects.select_related("program", "program__episode")
            .filter(pk=link.pk, program=locked)
            .first()
        )
        if fresh is None:
            raise LinkUnknown("This link is not valid.", code="invalid_link")
        if (refused := _link_refusal(fresh)) is not None:
            raise refused
    elif by is not None:
        _check_prescriber(clinic=locked.clinic, by=by)
        _check_live(locked)
    if version is None:
        raise ValidationError({"version": "Say which version of the programme was done."})
    if version != locked.current_version:
        raise ConflictError(
            "Your therapist has changed the programme since this page was opened. Reload the "
            "page and record the session again.",
            code="superseded",
            extra={"current_version": locked.current_version},
        )
    current = _current_version(locked)
    day = _as_date(performed_on)
    today = _today(locked.clinic)
    if day > today:
        raise ValidationError({"performed_on": "Cannot be in the future."})
    if day < current.starts_on:
        raise ValidationError(
            {
                "performed_on": f"Cannot be before the programme was prescribed "
                f"({current.starts_on:%Y-%m-%d})."
            }
        )
    chosen = _chosen_items(current, items)
    pain_value = _as_pain(pain)
    comment = (comment or "").strip()
    if len(comment) > COMMENT_MAX:
        raise ValidationError({"comment": f"Keep the comment under {COMMENT_MAX} characters."})
    same_day = HomeSession.objects.filter(program=locked, performed_on=day).count()
    if same_day >= SESSIONS_PER_DAY_MAX:
        raise ConflictError(
            f"{same_day} sessions are already recorded on {day:%Y-%m-%d}.", code="too_many"
        )
    session = HomeSession(
        clinic_id=locked.clinic_id,
        program=locked,
        version=current,
        link=link,
        recorded_by=by,
        performed_on=day,
        pain=pain_value,
        comment=comment,
    )
    record_save(session, by=by)
    session.items.set(chosen)
    logger.info(
        "home_session.recorded program=%s version=%s via=%s",
        locked.public_id,
        current.version,
        "link" if link is not None else "staff",
    )
    return session


# --- Adherence ---------------------------------------------------------------------------------


def sessions_per_week(items: Sequence[HomeProgramItem]) -> int:
    """Prescribed sessions a week of a version: the largest days_per_week x times_per_day of
    its items (missing: 7 days, once a day)."""
    return max(((i.days_per_week or 7) * (i.times_per_day or 1) for i in items), default=0)


def sessions_per_day_max(items: Sequence[HomeProgramItem]) -> int:
    return max((i.times_per_day or 1 for i in items), default=0)


@dataclass(frozen=True)
class WeekAdherence:
    year: int
    week: int
    starts_on: dt.date
    ends_on: dt.date
    prescribed: int
    done: int
    percent: int | None

    @property
    def label(self) -> str:
        return f"{self.year}-W{self.week:02d}"


@dataclass(frozen=True)
class Adherence:
    since: dt.date | None
    until: dt.date | None
    prescribed: int
    done: int
    percent: int | None
    weeks: tuple[WeekAdherence, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "prescribed": self.prescribed,
            "done": self.done,
            "percent": self.percent,
            "weeks": [
                {
                    "week": w.label,
                    "starts_on": w.starts_on.isoformat(),
                    "ends_on": w.ends_on.isoformat(),
                    "prescribed": w.prescribed,
                    "done": w.done,
                    "percent": w.percent,
                }
                for w in self.weeks
            ],
        }


def _percent(done: int, prescribed: int) -> int | None:
    if not prescribed:
        return None
    return round(100 * min(done, prescribed) / prescribed)


def adherence_compute(
    *,
    versions: Sequence[tuple[dt.date, int, int]],
    session_days: Sequence[dt.date],
    since: dt.date | None,
    until: dt.date,
) -> Adherence:
    """The pure rule (see the module's docstring). `versions`: (starts_on, sessions per week,
    most sessions a day) in version order; `session_days`: the day of each recorded session."""
    ordered = sorted(versions, key=lambda v: v[0])
    if not ordered:
        return Adherence(since, until, 0, 0, None, ())
    start = max(since or ordered[0][0], ordered[0][0])
    start = max(start, until - dt.timedelta(days=ADHERENCE_DAYS_MAX - 1))
    per_day = Counter(session_days)
    weeks: dict[tuple[int, int], list[Any]] = {}
    day = start
    index = 0
    while day <= until:
        while index + 1 < len(ordered) and ordered[index + 1][0] <= day:
            index += 1
        _, per_week, cap = ordered[index]
        iso = day.isocalendar()
        week = weeks.setdefault(
            (iso.year, iso.week),
            [Fraction(0), 0, day - dt.timedelta(days=day.weekday())],
        )
        week[0] += Fraction(per_week, 7)
        week[1] += min(per_day.get(day, 0), cap)
        day += dt.timedelta(days=1)
    rows = []
    for (year, number), (rate, done, monday) in weeks.items():
        prescribed = math.ceil(rate)
        rows.append(
            WeekAdherence(
                year=year,
                week=number,
                starts_on=monday,
                ends_on=monday + dt.timedelta(days=6),
                prescribed=prescribed,
                done=done,
                percent=_percent(done, prescribed),
            )
        )
    prescribed = sum(w.prescribed for w in rows)
    counted = sum(min(w.done, w.prescribed) for w in rows)
    return Adherence(
        since=start if rows else since,
        until=until,
        prescribed=prescribed,
        done=sum(w.done for w in rows),
        percent=_percent(counted, prescribed),
        weeks=tuple(rows),
    )


@dataclass(frozen=True)
class AdherenceInputs:
    """What the adherence of a programme is computed from: (starts_on, sessions per week, most
    sessions a day) of each version in version order, and the day of each recorded session."""

    versions: tuple[tuple[dt.date, int, int], ...]
    session_days: tuple[dt.date, ...]


def home_program_adherence_inputs(
    *, programs: Sequence[HomeProgram], until: dt.date | None = None
) -> dict[int, AdherenceInputs]:
    """{programme pk: its adherence inputs} for many programmes in three queries whatever their
    number (the versions, their items, the sessions up to `until`, default: all)."""
    if not programs:
        return {}
    clinic_of = {p.pk: p.clinic_id for p in programs}
    clinics, ids = set(clinic_of.values()), list(clinic_of)
    versions: dict[int, list[tuple[dt.date, int, int]]] = {pk: [] for pk in ids}
    for v in (
        HomeProgramVersion.objects.filter(clinic_id__in=clinics, program_id__in=ids)
        .prefetch_related(_items_prefetch())
        .order_by("program_id", "version")
    ):
        if clinic_of[v.program_id] == v.clinic_id:
            items = list(v.items.all())
            versions[v.program_id].append(
                (v.starts_on, sessions_per_week(items), sessions_per_day_max(items))
            )
    sessions = HomeSession.objects.filter(clinic_id__in=clinics, program_id__in=ids)
    if until is not None:
        sessions = sessions.filter(performed_on__lte=until)
    days: dict[int, list[dt.date]] = {pk: [] for pk in ids}
    for program_id, clinic_id, day in sessions.values_list(
        "program_id", "clinic_id", "performed_on"
    ):
        if clinic_of[program_id] == clinic_id:
            days[program_id].append(day)
    return {pk: AdherenceInputs(tuple(versions[pk]), tuple(days[pk])) for pk in ids}


def home_program_adherence(
    *,
    program: HomeProgram,
    since: dt.date | None = None,
    until: dt.date | None = None,
    inputs: AdherenceInputs | None = None,
) -> Adherence:
    """Sessions done against sessions prescribed per ISO week of the clinic's calendar, from
    `since` (default: the programme's start) to `until` (default: today), in three queries;
    none when the caller passes the programme's inputs (`home_program_adherence_inputs`, read
    up to `until` or later) read already."""
    clinic = program.clinic
    last = until or _today(clinic)
    if program.archived_at is not None:
        last = min(last, timezone.localdate(program.archived_at, clinic.tz))
    if inputs is None:
        inputs = home_program_adherence_inputs(programs=[program], until=last)[program.pk]
    return adherence_compute(
        versions=inputs.versions,
        session_days=[day for day in inputs.session_days if day <= last],
        since=since,
        until=last,
    )


# --- E-mail ------------------------------------------------------------------------------------

EMAIL_SWEEP_AFTER = dt.timedelta(minutes=5)  # a request still unsent this long after is re-sent
EMAIL_SWEEP_WITHIN = dt.timedelta(days=2)  # ... unless it is older than this
EMAIL_SWEEP_BATCH = 100


@dataclass(frozen=True)
class EmailRequest:
    """What a request to e-mail the handout found: the version and its e-mail row, new
    (`created`) or already there (sent, or still waiting for the job)."""

    version: HomeProgramVersion
    email: HomeProgramEmail
    created: bool


@transaction.atomic
def home_program_email_request(*, program: HomeProgram, by: User) -> EmailRequest:
    """E-mail the current version's handout to the patient: refused without e-mail consent or
    an address; otherwise the version's e-mail row is written and the task enqueued after
    commit (ids only). A version already requested or sent is not sent again."""
    from clinic.jobs import publish_on_commit
    from programs.tasks import home_program_email_send_task

    locked = _lock_program(program)
    _check_prescriber(clinic=locked.clinic, by=by)
    _check_live(locked)
    patient = locked.episode.patient
    if not patient.consent_email:
        raise ApplicationError(
            "The patient has not agreed to receive e-mail; print the handout instead.",
            code="no_email_consent",
            field="patient",
        )
    if not patient.email:
        raise ApplicationError(
            "The patient has no e-mail address on record.",
            code="no_email_address",
            field="patient",
        )
    version = HomeProgramVersion.objects.get(program=locked, version=locked.current_version)
    email = HomeProgramEmail.objects.filter(version=version).first()
    if email is not None and email.status != HomeProgramEmail.Status.SKIPPED:
        return EmailRequest(version=version, email=email, created=False)
    if email is None:
        email = HomeProgramEmail(clinic_id=locked.clinic_id, version=version, requested_by=by)
    else:  # not sent before (consent was missing then): ask again
        email.status = HomeProgramEmail.Status.REQUESTED
        email.reason = ""
        email.requested_by = by
        email.requested_at = timezone.now()
    record_save(email, by=by)
    publish_on_commit(home_program_email_send_task, email.pk)
    return EmailRequest(version=version, email=email, created=True)


def _skip(email: HomeProgramEmail, reason: str) -> str:
    email.status = HomeProgramEmail.Status.SKIPPED
    email.reason = reason
    email.save(update_fields=["status", "reason"])
    logger.info("home_program.email_skipped email=%s reason=%s", email.pk, reason)
    return reason


def home_program_email_deliver(*, email_id: int) -> str:
    """The task's work: send the handout of the e-mail row's version, once. Returns what
    happened: `sent`, `already_sent`, `missing`, `superseded` (a newer version or an archived
    programme: nothing is sent) or `no_consent` (withdrawn, or the address removed, since the
    request). The row is locked while sending, so two deliveries of one request queue and the
    second finds it sent."""
    from programs.handouts import handout_pdf, handout_version_get

    with transaction.atomic():
        email = HomeProgramEmail.objects.select_for_update().filter(pk=email_id).first()
        if email is None:
            return "missing"
        if email.status != HomeProgramEmail.Status.REQUESTED:
            return "already_sent" if email.status == HomeProgramEmail.Status.SENT else email.reason
        version = handout_version_get(version_id=email.version_id)
        if version is None:
            return "missing"
        program = version.program
        patient = program.episode.patient
        if (
            program.status != HomeProgram.Status.ACTIVE
            or program.current_version != version.version
        ):
            return _skip(email, "superseded")
        if not (patient.consent_email and patient.email):
            return _skip(email, "no_consent")
        clinic = version.clinic
        phone = f" on {clinic.phone}" if clinic.phone else ""
        message = EmailMessage(
            subject=f"Your home exercise programme from {clinic.name}",
            body=(
                f"Hello {patient.first_name},\n\n"
                f"attached is your home exercise programme from {clinic.name}, as your "
                "therapist prescribed it. Print the tick sheet and tick each session you do.\n\n"
                "If an exercise causes pain that spreads, numbness or tingling, stop it and "
                f"call the clinic{phone}.\n\n"
                f"{clinic.name}"
            ),
            to=[patient.email],
        )
        message.attach(
            f"home-programme-v{version.version}.pdf", handout_pdf(version), "application/pdf"
        )
        message.send()
        email.status = HomeProgramEmail.Status.SENT
        email.sent_at = timezone.now()
        email.save(update_fields=["status", "sent_at"])
    logger.info("home_program.emailed email=%s version=%s", email_id, email.version_id)
    return "sent"


def home_program_emails_unsent(*, limit: int = EMAIL_SWEEP_BATCH) -> list[int]:
    """Requested e-mails still unsent a while after the request (a broker that was down, a lost
    message), for the sweeper; the oldest first."""
    now = timezone.now()
    return list(
        HomeProgramEmail.objects.filter(
            status=HomeProgramEmail.Status.REQUESTED,
            requested_at__lte=now - EMAIL_SWEEP_AFTER,
            requested_at__gte=now - EMAIL_SWEEP_WITHIN,
        )
        .order_by("requested_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
