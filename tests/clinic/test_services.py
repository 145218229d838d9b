"""Every service of clinic/services.py, against the database."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from clinic import selectors, services
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
    Weekday,
    WorkingHours,
)
from tests.factories import (
    DEFAULT_PASSWORD,
    ClinicFactory,
    MembershipFactory,
    OpeningHoursFactory,
    RoomFactory,
    UserFactory,
    WorkingHoursFactory,
    therapist_in,
)

pytestmark = pytest.mark.django_db

MON = Weekday.MONDAY


def t(hhmm: str) -> dt.time:
    return dt.time.fromisoformat(hhmm)


def error_fields(exc_info: pytest.ExceptionInfo[ValidationError]) -> set[str]:
    return set(exc_info.value.message_dict)


def last_history_user(obj):
    return obj.history.order_by("-history_id").first().history_user


# --- Clinics ---------------------------------------------------------------------------------


def test_clinic_create_saves_clinic_and_records_actor(superuser):
    clinic = services.clinic_create(
        name="Lakeside", slug="lakeside", timezone="America/Chicago", by=superuser
    )

    clinic.refresh_from_db()
    assert clinic.timezone == "America/Chicago"
    assert clinic.history.count() == 1
    assert last_history_user(clinic) == superuser


@pytest.mark.parametrize(
    ("country", "expected"), [("US", True), ("DE", False), ("GB", False), ("CA", False)]
)
def test_clinic_create_medicare_rules_default_on_for_us_only(db, country, expected):
    clinic = services.clinic_create(
        name="C", slug=f"c-{country.lower()}", timezone="UTC", country=country, by=None
    )
    assert clinic.medicare_rules is expected


def test_clinic_create_explicit_medicare_rules_wins(db):
    clinic = services.clinic_create(
        name="C", slug="c", timezone="Europe/Berlin", country="DE", medicare_rules=True, by=None
    )
    assert clinic.medicare_rules is True


@pytest.mark.parametrize("tz", ["Mars/Olympus", "", "EST5EDT ", "europe/berlin", "UTC+2"])
def test_clinic_create_refuses_invalid_timezone_naming_timezone(db, tz):
    with pytest.raises(ValidationError) as exc_info:
        services.clinic_create(name="C", slug="c", timezone=tz, by=None)
    assert "timezone" in error_fields(exc_info)
    assert not Clinic.objects.exists()


def test_clinic_create_refuses_duplicate_slug_naming_slug(clinic):
    with pytest.raises(ValidationError) as exc_info:
        services.clinic_create(name="Other", slug=clinic.slug, timezone="UTC", by=None)
    assert "slug" in error_fields(exc_info)


def test_clinic_create_refuses_unknown_field(db):
    with pytest.raises(TypeError):
        services.clinic_create(name="C", slug="c", timezone="UTC", by=None, colour="red")


def test_clinic_update_changes_fields_and_records_actor(clinic, clinic_admin):
    services.clinic_update(clinic=clinic, by=clinic_admin, timezone="America/Denver", phone="1")

    clinic.refresh_from_db()
    assert (clinic.timezone, clinic.phone) == ("America/Denver", "1")
    assert last_history_user(clinic) == clinic_admin


def test_clinic_update_refuses_invalid_timezone_and_keeps_the_old_one(clinic):
    with pytest.raises(ValidationError) as exc_info:
        services.clinic_update(clinic=clinic, by=None, timezone="Mars/Olympus")
    assert error_fields(exc_info) == {"timezone"}
    assert Clinic.objects.get(pk=clinic.pk).timezone == "America/New_York"


def test_clinic_update_refuses_unknown_field(clinic):
    with pytest.raises(TypeError):
        services.clinic_update(clinic=clinic, by=None, public_id="x")


# --- Opening hours and closures ----------------------------------------------------------------


def test_opening_hours_add_saves_block_and_records_actor(clinic, clinic_admin):
    block = services.opening_hours_add(
        clinic=clinic, weekday=MON, opens=t("08:00"), closes=t("12:00"), by=clinic_admin
    )
    assert OpeningHours.objects.get(pk=block.pk).closes == t("12:00")
    assert last_history_user(block) == clinic_admin


@pytest.mark.parametrize(("opens", "closes"), [("12:00", "08:00"), ("09:00", "09:00")])
def test_opening_hours_add_refuses_closes_not_after_opens_naming_closes(clinic, opens, closes):
    with pytest.raises(ValidationError) as exc_info:
        services.opening_hours_add(
            clinic=clinic, weekday=MON, opens=t(opens), closes=t(closes), by=None
        )
    assert error_fields(exc_info) == {"closes"}
    assert not OpeningHours.objects.exists()


@pytest.mark.parametrize(
    ("opens", "closes"),
    [("07:00", "09:00"), ("11:00", "13:00"), ("09:00", "10:00"), ("07:00", "13:00")],
    ids=["overlaps-start", "overlaps-end", "inside", "around"],
)
def test_opening_hours_add_refuses_overlapping_block(clinic, opens, closes):
    OpeningHoursFactory(clinic=clinic, weekday=MON, opens=t("08:00"), closes=t("12:00"))
    with pytest.raises(ValidationError) as exc_info:
        services.opening_hours_add(
            clinic=clinic, weekday=MON, opens=t(opens), closes=t(closes), by=None
        )
    assert error_fields(exc_info) == {"opens"}
    assert OpeningHours.objects.count() == 1


def test_opening_hours_add_accepts_back_to_back_blocks(clinic):
    OpeningHoursFactory(clinic=clinic, weekday=MON, opens=t("08:00"), closes=t("12:00"))
    services.opening_hours_add(
        clinic=clinic, weekday=MON, opens=t("12:00"), closes=t("16:00"), by=None
    )
    services.opening_hours_add(
        clinic=clinic, weekday=MON, opens=t("06:00"), closes=t("08:00"), by=None
    )
    assert OpeningHours.objects.for_clinic(clinic).count() == 3


def test_opening_hours_add_ignores_other_weekdays_and_other_clinics(clinic, other_clinic):
    OpeningHoursFactory(clinic=clinic, weekday=Weekday.TUESDAY, opens=t("08:00"))
    OpeningHoursFactory(clinic=other_clinic, weekday=MON, opens=t("08:00"))
    services.opening_hours_add(
        clinic=clinic, weekday=MON, opens=t("08:00"), closes=t("17:00"), by=None
    )
    assert OpeningHours.objects.for_clinic(clinic).filter(weekday=MON).count() == 1


def test_opening_hours_save_may_move_a_block_over_its_own_old_times(clinic):
    block = OpeningHoursFactory(clinic=clinic, weekday=MON, opens=t("08:00"), closes=t("12:00"))
    block.closes = t("13:00")
    services.opening_hours_save(block=block, by=None)
    assert OpeningHours.objects.get(pk=block.pk).closes == t("13:00")


def test_opening_hours_remove_deletes_and_records_actor(clinic, clinic_admin):
    block = OpeningHoursFactory(clinic=clinic)
    pk = block.pk
    services.opening_hours_remove(block=block, by=clinic_admin)

    assert not OpeningHours.objects.filter(pk=pk).exists()
    deletion = OpeningHours.history.filter(id=pk).latest("history_id")
    assert (deletion.history_type, deletion.history_user) == ("-", clinic_admin)


def test_closure_add_defaults_ends_on_to_starts_on(clinic, clinic_admin):
    day = dt.date(2030, 12, 25)
    closure = services.closure_add(
        clinic=clinic, starts_on=day, ends_on=None, reason="Holiday", by=clinic_admin
    )
    assert (closure.starts_on, closure.ends_on) == (day, day)
    assert last_history_user(closure) == clinic_admin


def test_closure_add_refuses_end_before_start_naming_ends_on(clinic):
    with pytest.raises(ValidationError) as exc_info:
        services.closure_add(
            clinic=clinic,
            starts_on=dt.date(2030, 12, 25),
            ends_on=dt.date(2030, 12, 24),
            reason="Holiday",
            by=None,
        )
    assert error_fields(exc_info) == {"ends_on"}
    assert not Closure.objects.exists()


def test_closure_remove_deletes_and_records_actor(clinic, clinic_admin):
    closure = services.closure_add(
        clinic=clinic, starts_on=dt.date(2030, 1, 1), ends_on=None, reason="x", by=None
    )
    pk = closure.pk
    services.closure_remove(closure=closure, by=clinic_admin)
    assert not Closure.objects.filter(pk=pk).exists()
    assert Closure.history.filter(id=pk).latest("history_id").history_user == clinic_admin


# --- Rooms -----------------------------------------------------------------------------------


def test_room_create_saves_and_records_actor(clinic, clinic_admin):
    room = services.room_create(clinic=clinic, name="Gym", kind=Room.Kind.GYM, by=clinic_admin)
    assert Room.objects.get(pk=room.pk).kind == Room.Kind.GYM
    assert last_history_user(room) == clinic_admin


@pytest.mark.parametrize("name", ["Room 1", "ROOM 1"])
def test_room_create_refuses_name_taken_in_clinic_naming_name(clinic, name):
    RoomFactory(clinic=clinic, name="Room 1")
    with pytest.raises(ValidationError) as exc_info:
        services.room_create(clinic=clinic, name=name, kind=Room.Kind.TREATMENT, by=None)
    assert error_fields(exc_info) == {"name"}
    assert Room.objects.count() == 1


def test_room_create_allows_same_name_in_another_clinic(clinic, other_clinic):
    RoomFactory(clinic=other_clinic, name="Room 1")
    services.room_create(clinic=clinic, name="Room 1", kind=Room.Kind.TREATMENT, by=None)
    assert Room.objects.filter(name="Room 1").count() == 2


def test_room_create_refuses_unknown_kind_naming_kind(clinic):
    with pytest.raises(ValidationError) as exc_info:
        services.room_create(clinic=clinic, name="X", kind="sauna", by=None)
    assert error_fields(exc_info) == {"kind"}


def test_room_update_renames_and_records_actor(clinic, clinic_admin):
    room = RoomFactory(clinic=clinic, name="A")
    services.room_update(room=room, by=clinic_admin, name="B", active=False)
    room.refresh_from_db()
    assert (room.name, room.active) == ("B", False)
    assert last_history_user(room) == clinic_admin


def test_room_update_keeping_own_name_is_allowed(clinic):
    room = RoomFactory(clinic=clinic, name="A")
    services.room_update(room=room, by=None, name="a")
    assert Room.objects.get(pk=room.pk).name == "a"


def test_room_update_refuses_name_of_another_room_naming_name(clinic):
    RoomFactory(clinic=clinic, name="A")
    room = RoomFactory(clinic=clinic, name="B")
    with pytest.raises(ValidationError) as exc_info:
        services.room_update(room=room, by=None, name="A")
    assert error_fields(exc_info) == {"name"}
    assert Room.objects.get(pk=room.pk).name == "B"


def test_room_update_refuses_unknown_field(clinic):
    with pytest.raises(TypeError):
        services.room_update(room=RoomFactory(clinic=clinic), by=None, clinic=clinic)


# --- Staff -----------------------------------------------------------------------------------


def test_membership_grant_creates_role_and_records_actor(clinic, clinic_admin):
    user = UserFactory()
    membership = services.membership_grant(
        clinic=clinic, user=user, role=Role.THERAPIST, by=clinic_admin
    )
    assert membership.active
    assert last_history_user(membership) == clinic_admin


def test_membership_grant_same_role_twice_refused_naming_role(clinic, receptionist):
    with pytest.raises(ValidationError) as exc_info:
        services.membership_grant(clinic=clinic, user=receptionist, role=Role.RECEPTIONIST, by=None)
    assert error_fields(exc_info) == {"role"}
    assert Membership.objects.filter(user=receptionist).count() == 1


def test_membership_grant_second_role_is_a_second_row(clinic, receptionist):
    services.membership_grant(clinic=clinic, user=receptionist, role=Role.CLINIC_ADMIN, by=None)
    assert set(receptionist.memberships.values_list("role", flat=True)) == {
        Role.RECEPTIONIST,
        Role.CLINIC_ADMIN,
    }


def test_membership_grant_reactivates_inactive_membership(clinic, receptionist, clinic_admin):
    membership = receptionist.memberships.get()
    services.membership_deactivate(membership=membership, by=None)

    again = services.membership_grant(
        clinic=clinic, user=receptionist, role=Role.RECEPTIONIST, by=clinic_admin
    )

    assert again.pk == membership.pk
    assert Membership.objects.get(pk=membership.pk).active is True
    assert last_history_user(again) == clinic_admin


def test_membership_grant_refuses_unknown_role_naming_role(clinic):
    with pytest.raises(ValidationError) as exc_info:
        services.membership_grant(clinic=clinic, user=UserFactory(), role="janitor", by=None)
    assert error_fields(exc_info) == {"role"}
    assert not Membership.objects.exists()


def test_membership_deactivate_is_idempotent_and_records_actor(receptionist, clinic_admin):
    membership = receptionist.memberships.get()
    services.membership_deactivate(membership=membership, by=clinic_admin)
    services.membership_deactivate(membership=membership, by=None)

    assert Membership.objects.get(pk=membership.pk).active is False
    assert membership.history.count() == 2  # created, deactivated; the repeat wrote nothing
    assert last_history_user(membership) == clinic_admin


def test_staff_create_makes_user_membership_and_profile(clinic, clinic_admin):
    membership = services.staff_create(
        clinic=clinic,
        username="new.pt",
        password=DEFAULT_PASSWORD,
        role=Role.THERAPIST,
        by=clinic_admin,
        licence_number="PT-1",
        discipline=TherapistProfile.Discipline.PTA,
    )
    user = User.objects.get(username="new.pt")
    assert membership.user == user
    assert membership.role == Role.THERAPIST
    assert user.check_password(DEFAULT_PASSWORD)
    assert user.therapist_profile.discipline == TherapistProfile.Discipline.PTA
    assert last_history_user(user.therapist_profile) == clinic_admin


def test_staff_create_without_password_makes_unusable_password(clinic):
    membership = services.staff_create(
        clinic=clinic, username="desk", password=None, role=Role.RECEPTIONIST, by=None
    )
    assert not membership.user.has_usable_password()
    assert not TherapistProfile.objects.filter(user=membership.user).exists()


@pytest.mark.parametrize("password", ["short", "password1234", "123456789012345"])
def test_staff_create_refuses_weak_password_naming_password(clinic, password):
    with pytest.raises(ValidationError) as exc_info:
        services.staff_create(
            clinic=clinic, username="desk", password=password, role=Role.RECEPTIONIST, by=None
        )
    assert error_fields(exc_info) == {"password"}
    assert not User.objects.filter(username="desk").exists()


def test_staff_create_refuses_taken_username_case_insensitively(clinic, receptionist):
    with pytest.raises(ValidationError) as exc_info:
        services.staff_create(
            clinic=clinic,
            username=receptionist.username.upper(),
            password=None,
            role=Role.RECEPTIONIST,
            by=None,
        )
    assert error_fields(exc_info) == {"username"}


def test_staff_create_therapist_without_licence_refused_and_nothing_saved(clinic):
    with pytest.raises(ValidationError) as exc_info:
        services.staff_create(
            clinic=clinic, username="pt", password=None, role=Role.THERAPIST, by=None
        )
    assert error_fields(exc_info) == {"licence_number"}
    assert not User.objects.filter(username="pt").exists()


def test_therapist_profile_set_creates_then_updates(therapist, clinic_admin):
    services.therapist_profile_set(
        user=therapist, licence_number="NEW-1", discipline="PTA", by=clinic_admin
    )
    profile = TherapistProfile.objects.get(user=therapist)
    assert (profile.licence_number, profile.discipline) == ("NEW-1", "PTA")
    assert not profile.is_licensed_therapist
    assert last_history_user(profile) == clinic_admin


def test_therapist_profile_set_refuses_unknown_discipline(db):
    user = UserFactory()
    with pytest.raises(ValidationError) as exc_info:
        services.therapist_profile_set(user=user, licence_number="1", discipline="MD", by=None)
    assert error_fields(exc_info) == {"discipline"}


# --- Working hours ----------------------------------------------------------------------------


def add_hours(clinic, therapist, starts, ends, weekday=MON, by=None):
    return services.working_hours_add(
        clinic=clinic, therapist=therapist, weekday=weekday, starts=t(starts), ends=t(ends), by=by
    )


def test_working_hours_add_saves_and_records_actor(clinic, therapist, clinic_admin):
    block = add_hours(clinic, therapist, "09:00", "13:00", by=clinic_admin)
    assert WorkingHours.objects.get(pk=block.pk).therapist == therapist
    assert last_history_user(block) == clinic_admin


@pytest.mark.parametrize(("starts", "ends"), [("13:00", "09:00"), ("09:00", "09:00")])
def test_working_hours_add_refuses_ends_not_after_starts_naming_ends(
    clinic, therapist, starts, ends
):
    with pytest.raises(ValidationError) as exc_info:
        add_hours(clinic, therapist, starts, ends)
    assert error_fields(exc_info) == {"ends"}
    assert not WorkingHours.objects.exists()


def test_working_hours_add_requires_therapist_role_in_the_clinic(clinic, receptionist):
    with pytest.raises(ValidationError) as exc_info:
        add_hours(clinic, receptionist, "09:00", "13:00")
    assert error_fields(exc_info) == {"therapist"}


def test_working_hours_add_refuses_therapist_of_another_clinic(clinic, outsider):
    with pytest.raises(ValidationError) as exc_info:
        add_hours(clinic, outsider, "09:00", "13:00")
    assert error_fields(exc_info) == {"therapist"}
    assert not WorkingHours.objects.exists()


def test_working_hours_add_refuses_inactive_therapist_membership(clinic, therapist):
    services.membership_deactivate(membership=therapist.memberships.get(), by=None)
    with pytest.raises(ValidationError) as exc_info:
        add_hours(clinic, therapist, "09:00", "13:00")
    assert error_fields(exc_info) == {"therapist"}


def test_working_hours_add_refuses_overlap_in_same_clinic(clinic, therapist):
    add_hours(clinic, therapist, "09:00", "13:00")
    with pytest.raises(ValidationError) as exc_info:
        add_hours(clinic, therapist, "12:00", "14:00")
    assert error_fields(exc_info) == {"starts"}
    assert WorkingHours.objects.count() == 1


def test_working_hours_add_refuses_overlap_across_clinics_for_same_therapist(clinic, therapist):
    sister = ClinicFactory(timezone=clinic.timezone)
    MembershipFactory(user=therapist, clinic=sister, role=Role.THERAPIST)
    add_hours(sister, therapist, "08:00", "12:00")
    with pytest.raises(ValidationError) as exc_info:
        add_hours(clinic, therapist, "11:30", "15:00")
    assert error_fields(exc_info) == {"starts"}
    assert not WorkingHours.objects.for_clinic(clinic).exists()


def test_working_hours_add_accepts_back_to_back_across_clinics(clinic, therapist):
    sister = ClinicFactory(timezone=clinic.timezone)
    MembershipFactory(user=therapist, clinic=sister, role=Role.THERAPIST)
    add_hours(sister, therapist, "08:00", "12:00")
    add_hours(clinic, therapist, "12:00", "16:00")
    add_hours(clinic, therapist, "07:00", "08:00")
    assert WorkingHours.objects.filter(therapist=therapist).count() == 3


def test_working_hours_add_compares_wall_clock_only_within_one_time_zone(
    clinic, other_clinic, therapist
):
    # 08:00-12:00 in Berlin and 09:00-13:00 in New York are different hours of the day
    MembershipFactory(user=therapist, clinic=other_clinic, role=Role.THERAPIST)
    add_hours(other_clinic, therapist, "08:00", "12:00")
    add_hours(clinic, therapist, "09:00", "13:00")
    assert WorkingHours.objects.filter(therapist=therapist).count() == 2


def test_working_hours_add_other_therapists_and_weekdays_do_not_overlap(clinic, therapist):
    WorkingHoursFactory(clinic=clinic, starts=t("09:00"), ends=t("13:00"))  # someone else
    add_hours(clinic, therapist, "09:00", "13:00", weekday=Weekday.TUESDAY)
    add_hours(clinic, therapist, "09:00", "13:00")
    assert WorkingHours.objects.filter(therapist=therapist).count() == 2


def test_working_hours_save_may_extend_its_own_block(clinic, therapist):
    block = add_hours(clinic, therapist, "09:00", "13:00")
    block.ends = t("14:00")
    services.working_hours_save(block=block, by=None)
    assert WorkingHours.objects.get(pk=block.pk).ends == t("14:00")


def test_working_hours_remove_deletes_and_records_actor(clinic, therapist, clinic_admin):
    block = add_hours(clinic, therapist, "09:00", "13:00")
    pk = block.pk
    services.working_hours_remove(block=block, by=clinic_admin)
    assert not WorkingHours.objects.filter(pk=pk).exists()
    assert WorkingHours.history.filter(id=pk).latest("history_id").history_user == clinic_admin


# --- Time off ---------------------------------------------------------------------------------


def test_time_off_add_saves_and_records_actor(therapist, clinic_admin):
    starts = timezone.now().replace(microsecond=0) + dt.timedelta(days=3)
    time_off = services.time_off_add(
        therapist=therapist,
        starts_at=starts,
        ends_at=starts + dt.timedelta(days=1),
        reason="Course",
        by=clinic_admin,
    )
    assert TimeOff.objects.get(pk=time_off.pk).starts_at == starts
    assert last_history_user(time_off) == clinic_admin


@pytest.mark.parametrize("delta", [dt.timedelta(hours=-1), dt.timedelta(0)])
def test_time_off_add_refuses_end_not_after_start_naming_ends_at(therapist, delta):
    starts = timezone.now() + dt.timedelta(days=3)
    with pytest.raises(ValidationError) as exc_info:
        services.time_off_add(
            therapist=therapist, starts_at=starts, ends_at=starts + delta, reason="", by=None
        )
    assert error_fields(exc_info) == {"ends_at"}
    assert not TimeOff.objects.exists()


def test_time_off_remove_deletes_and_records_actor(therapist, clinic_admin):
    starts = timezone.now() + dt.timedelta(days=3)
    time_off = services.time_off_add(
        therapist=therapist,
        starts_at=starts,
        ends_at=starts + dt.timedelta(hours=2),
        reason="",
        by=None,
    )
    pk = time_off.pk
    services.time_off_remove(time_off=time_off, by=clinic_admin)
    assert not TimeOff.objects.filter(pk=pk).exists()
    assert TimeOff.history.filter(id=pk).latest("history_id").history_user == clinic_admin


def test_time_off_is_seen_through_the_therapists_clinics(clinic, other_clinic, therapist):
    starts = timezone.now() + dt.timedelta(days=3)
    services.time_off_add(
        therapist=therapist,
        starts_at=starts,
        ends_at=starts + dt.timedelta(hours=2),
        reason="",
        by=None,
    )
    assert TimeOff.objects.for_clinic(clinic).count() == 1
    assert TimeOff.objects.for_clinic(other_clinic).count() == 0


def test_services_with_no_actor_record_no_history_user(db):
    clinic = ClinicFactory()
    room = services.room_create(clinic=clinic, name="X", kind=Room.Kind.GYM, by=None)
    assert last_history_user(room) is None


def test_therapist_in_factory_makes_an_active_therapist(clinic):
    # guards the factory the service tests above lean on
    user = therapist_in(clinic)
    assert Membership.objects.filter(
        user=user, clinic=clinic, role=Role.THERAPIST, active=True
    ).exists()


def test_therapist_list_holds_only_therapists_of_that_clinic(clinic, other_clinic, therapist):
    receptionist_here_therapist_there = UserFactory(clinic=clinic)
    MembershipFactory(
        user=receptionist_here_therapist_there, clinic=other_clinic, role=Role.THERAPIST
    )
    WorkingHoursFactory(clinic=clinic, therapist=therapist)

    therapists = list(selectors.therapist_list(clinic=clinic))

    assert therapists == [therapist]
    assert len(therapists[0].working_hours.all()) == 1
