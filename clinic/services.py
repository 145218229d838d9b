"""Every write to clinics, rooms, staff, hours, closures and time off goes through here."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Model

from clinic.capabilities import Role
from clinic.models import (
    Clinic,
    Closure,
    Membership,
    OpeningHours,
    Room,
    TherapistProfile,
    TimeOff,
    User,
    WorkingHours,
)
from clinic.records import record_delete, record_save


def _check_block(start: dt.time, end: dt.time, *, start_field: str, end_field: str) -> None:
    if end <= start:
        raise ValidationError({end_field: f"Must be after {start_field} ({start:%H:%M})."})


def _overlapping(blocks: list[tuple[dt.time, dt.time]], start: dt.time, end: dt.time) -> bool:
    return any(s < end and start < e for s, e in blocks)


def _lock_row(model: type[Model], pk: Any) -> None:
    """Take the row lock that serialises writes about one clinic's or one person's schedule."""
    list(model._default_manager.select_for_update().filter(pk=pk).values_list("pk", flat=True))


# --- Clinics ---------------------------------------------------------------------------------


CLINIC_EDITABLE_FIELDS = (
    "name",
    "slug",
    "timezone",
    "country",
    "address",
    "phone",
    "late_cancel_hours",
    "reminder_lead_hours",
    "medicare_rules",
    "active",
)


@transaction.atomic
def clinic_create(
    *,
    name: str,
    slug: str,
    timezone: str,
    by: User | None,
    country: str = "US",
    medicare_rules: bool | None = None,
    **fields: Any,
) -> Clinic:
    """Create a clinic. Medicare rules default to on for US clinics and off elsewhere."""
    unknown = set(fields) - set(CLINIC_EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"Unknown clinic fields: {sorted(unknown)}")
    if medicare_rules is None:
        medicare_rules = country == "US"
    clinic = Clinic(
        name=name,
        slug=slug,
        timezone=timezone,
        country=country,
        medicare_rules=medicare_rules,
        **fields,
    )
    record_save(clinic, by=by)
    return clinic


@transaction.atomic
def clinic_update(*, clinic: Clinic, by: User | None, **fields: Any) -> Clinic:
    unknown = set(fields) - set(CLINIC_EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"Unknown clinic fields: {sorted(unknown)}")
    for name, value in fields.items():
        setattr(clinic, name, value)
    record_save(clinic, by=by, update_fields=list(fields))
    return clinic


def opening_hours_check(block: OpeningHours) -> None:
    """Blocks of one weekday may not overlap (a lunch break is a gap between two blocks)."""
    _check_block(block.opens, block.closes, start_field="opens", end_field="closes")
    existing = list(
        OpeningHours.objects.for_clinic(block.clinic_id)
        .filter(weekday=block.weekday)
        .exclude(pk=block.pk)
        .values_list("opens", "closes")
    )
    if _overlapping(existing, block.opens, block.closes):
        raise ValidationError(
            {"opens": "Overlaps another opening block of the clinic on the same weekday."}
        )


@transaction.atomic
def opening_hours_save(*, block: OpeningHours, by: User | None) -> OpeningHours:
    """Add or change an opening block, serialised per clinic."""
    _lock_row(Clinic, block.clinic_id)
    opening_hours_check(block)
    record_save(block, by=by)
    return block


def opening_hours_add(
    *, clinic: Clinic, weekday: int, opens: dt.time, closes: dt.time, by: User | None
) -> OpeningHours:
    block = OpeningHours(clinic=clinic, weekday=weekday, opens=opens, closes=closes)
    return opening_hours_save(block=block, by=by)


@transaction.atomic
def opening_hours_remove(*, block: OpeningHours, by: User | None) -> None:
    record_delete(block, by=by)


@transaction.atomic
def closure_add(
    *, clinic: Clinic, starts_on: dt.date, ends_on: dt.date | None, reason: str, by: User | None
) -> Closure:
    ends_on = ends_on or starts_on
    if ends_on < starts_on:
        raise ValidationError({"ends_on": "Must be on or after starts_on."})
    closure = Closure(clinic=clinic, starts_on=starts_on, ends_on=ends_on, reason=reason)
    record_save(closure, by=by)
    return closure


@transaction.atomic
def closure_remove(*, closure: Closure, by: User | None) -> None:
    record_delete(closure, by=by)


# --- Rooms -----------------------------------------------------------------------------------


def _check_room_name_free(*, clinic: Clinic, name: str, exclude_pk: int | None = None) -> None:
    taken = Room.objects.for_clinic(clinic).filter(name__iexact=name)
    if exclude_pk is not None:
        taken = taken.exclude(pk=exclude_pk)
    if taken.exists():
        raise ValidationError({"name": "The clinic already has a room of this name."})


@transaction.atomic
def room_create(*, clinic: Clinic, name: str, kind: str, by: User | None) -> Room:
    _check_room_name_free(clinic=clinic, name=name)
    room = Room(clinic=clinic, name=name, kind=kind)
    record_save(room, by=by)
    return room


@transaction.atomic
def room_update(*, room: Room, by: User | None, **fields: Any) -> Room:
    unknown = set(fields) - {"name", "kind", "active"}
    if unknown:
        raise TypeError(f"Unknown room fields: {sorted(unknown)}")
    if "name" in fields:
        _check_room_name_free(clinic=room.clinic, name=fields["name"], exclude_pk=room.pk)
    for name, value in fields.items():
        setattr(room, name, value)
    record_save(room, by=by, update_fields=list(fields))
    return room


# --- Staff -----------------------------------------------------------------------------------


@transaction.atomic
def membership_grant(*, clinic: Clinic, user: User, role: str, by: User | None) -> Membership:
    """Give a user a role in a clinic; granting a role the user already holds is refused."""
    if role not in Role.values:
        raise ValidationError({"role": f"Unknown role {role!r}; use one of {Role.values}."})
    existing = Membership.objects.filter(clinic=clinic, user=user, role=role).first()
    if existing is not None and existing.active:
        raise ValidationError(
            {"role": "The user is already a member of this clinic with this role."}
        )
    if existing is not None:
        existing.active = True
        record_save(existing, by=by, update_fields=["active"])
        return existing
    membership = Membership(clinic=clinic, user=user, role=role)
    record_save(membership, by=by)
    return membership


@transaction.atomic
def membership_deactivate(*, membership: Membership, by: User | None) -> Membership:
    if not membership.active:
        return membership
    membership.active = False
    record_save(membership, by=by, update_fields=["active"])
    return membership


@transaction.atomic
def staff_create(
    *,
    clinic: Clinic,
    username: str,
    password: str | None,
    role: str,
    by: User | None,
    first_name: str = "",
    last_name: str = "",
    email: str = "",
    licence_number: str = "",
    discipline: str = TherapistProfile.Discipline.PT,
) -> Membership:
    """Create a staff user with a role in a clinic (and a therapist profile for therapists)."""
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationError({"username": "This username is taken."})
    user = User(username=username, first_name=first_name, last_name=last_name, email=email)
    if password:
        from django.contrib.auth.password_validation import validate_password

        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise ValidationError({"password": exc.messages}) from exc
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.full_clean(exclude=["password"])
    user.save()
    if role == Role.THERAPIST:
        if not licence_number:
            raise ValidationError({"licence_number": "A therapist needs a licence number."})
        therapist_profile_set(
            user=user, licence_number=licence_number, discipline=discipline, by=by
        )
    return membership_grant(clinic=clinic, user=user, role=role, by=by)


@transaction.atomic
def therapist_profile_set(
    *, user: User, licence_number: str, discipline: str, by: User | None
) -> TherapistProfile:
    profile = TherapistProfile.objects.filter(user=user).first() or TherapistProfile(user=user)
    profile.licence_number = licence_number
    profile.discipline = discipline
    record_save(profile, by=by)
    return profile


def working_hours_check(block: WorkingHours) -> None:
    """The therapist works at the clinic; their blocks on a weekday do not overlap (same zone)."""
    _check_block(block.starts, block.ends, start_field="starts", end_field="ends")
    if (
        not Membership.objects.for_clinic(block.clinic_id)
        .filter(user_id=block.therapist_id, role=Role.THERAPIST, active=True)
        .exists()
    ):
        raise ValidationError({"therapist": "Not an active therapist of this clinic."})
    # Local wall-clock times compare only between clinics of one time zone; across zones the
    # booking service's per-therapist lock and constraint keep the real calendar free of overlap.
    same_zone = Clinic.objects.filter(
        timezone=Clinic.objects.filter(pk=block.clinic_id).values("timezone")[:1]
    )
    existing = list(
        WorkingHours.objects.filter(
            therapist_id=block.therapist_id, weekday=block.weekday, clinic__in=same_zone
        )
        .exclude(pk=block.pk)
        .values_list("starts", "ends")
    )
    if _overlapping(existing, block.starts, block.ends):
        raise ValidationError(
            {"starts": "Overlaps another working block of this therapist on the same weekday."}
        )


@transaction.atomic
def working_hours_save(*, block: WorkingHours, by: User | None) -> WorkingHours:
    """Add or change a working block, serialised per therapist."""
    _lock_row(User, block.therapist_id)
    working_hours_check(block)
    record_save(block, by=by)
    return block


def working_hours_add(
    *,
    clinic: Clinic,
    therapist: User,
    weekday: int,
    starts: dt.time,
    ends: dt.time,
    by: User | None,
) -> WorkingHours:
    block = WorkingHours(
        clinic=clinic, therapist=therapist, weekday=weekday, starts=starts, ends=ends
    )
    return working_hours_save(block=block, by=by)


@transaction.atomic
def working_hours_remove(*, block: WorkingHours, by: User | None) -> None:
    record_delete(block, by=by)


@transaction.atomic
def time_off_add(
    *, therapist: User, starts_at: dt.datetime, ends_at: dt.datetime, reason: str, by: User | None
) -> TimeOff:
    if ends_at <= starts_at:
        raise ValidationError({"ends_at": "Must be after starts_at."})
    _lock_row(User, therapist.pk)
    time_off = TimeOff(therapist=therapist, starts_at=starts_at, ends_at=ends_at, reason=reason)
    record_save(time_off, by=by)
    return time_off


@transaction.atomic
def time_off_remove(*, time_off: TimeOff, by: User | None) -> None:
    record_delete(time_off, by=by)
