"""`manage.py seed_demo` and the clinic app's demo data (clinic/demo.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from io import StringIO

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django.utils import timezone

from clinic.capabilities import Role
from clinic.demo import (
    DEMO_PASSWORD,
    SUPERUSER,
    england_bank_holidays,
    next_holiday,
    us_holidays,
)
from clinic.management.commands.seed_demo import project_apps
from clinic.models import (
    Clinic,
    Closure,
    Membership,
    Room,
    TherapistProfile,
    TimeOff,
    User,
    WorkingHours,
)

Holidays = Callable[[int], list[tuple[dt.date, str]]]


def _seed() -> str:
    out = StringIO()
    call_command("seed_demo", "--force", stdout=out)
    return out.getvalue()


def _row_counts() -> dict[str, int]:
    """Rows of every model of every installed app, history tables included."""
    return {
        model._meta.label: model._default_manager.count()
        for model in apps.get_models(include_auto_created=True)
    }


def test_seed_demo_creates_the_practice_and_a_second_run_changes_nothing(db: None) -> None:
    first_output = _seed()
    counts_after_first = _row_counts()
    second_output = _seed()

    assert _row_counts() == counts_after_first
    assert "nothing added" in second_output

    clinics = {clinic.slug: clinic for clinic in Clinic.objects.all()}
    assert set(clinics) == {"riverside", "harbourside"}
    assert clinics["riverside"].timezone != clinics["harbourside"].timezone
    assert clinics["riverside"].medicare_rules is True
    assert clinics["harbourside"].medicare_rules is False

    for clinic in clinics.values():
        roles = set(
            Membership.objects.for_clinic(clinic).filter(active=True).values_list("role", flat=True)
        )
        assert roles == set(Role.values), clinic.slug
        therapist_ids = list(
            Membership.objects.for_clinic(clinic)
            .filter(role=Role.THERAPIST)
            .values_list("user_id", flat=True)
        )
        assert len(therapist_ids) == 3
        for therapist_id in therapist_ids:
            hours = WorkingHours.objects.for_clinic(clinic).filter(therapist_id=therapist_id)
            assert hours.exists(), (clinic.slug, therapist_id)
        disciplines = TherapistProfile.objects.filter(user_id__in=therapist_ids)
        assert set(disciplines.values_list("discipline", flat=True)) == {"PT", "PTA"}
        assert Room.objects.for_clinic(clinic).values("kind").distinct().count() >= 3
        assert clinic.opening_hours.exists()
        assert clinic.closures.exists()

    practice = User.objects.get(username=SUPERUSER)
    assert practice.is_superuser
    demo_users = User.objects.filter(memberships__isnull=False).distinct()
    for user in [practice, *demo_users]:
        assert user.check_password(DEMO_PASSWORD), user.username
        assert user.username in first_output
        assert user.username in second_output
    assert DEMO_PASSWORD in second_output
    assert "http://127.0.0.1:8000/admin/" in second_output


def test_seed_demo_one_therapist_works_at_both_clinics_on_different_weekdays(db: None) -> None:
    _seed()

    weekdays_by_clinic: dict[int, dict[int, set[int]]] = {}
    for therapist_id, clinic_id, weekday in WorkingHours.objects.values_list(
        "therapist_id", "clinic_id", "weekday"
    ):
        weekdays_by_clinic.setdefault(therapist_id, {}).setdefault(clinic_id, set()).add(weekday)
    at_both = [days for days in weekdays_by_clinic.values() if len(days) == 2]
    assert len(at_both) == 1
    first, second = at_both[0].values()
    assert first.isdisjoint(second)


def test_seed_demo_dates_are_upcoming_in_the_clinics_zone(db: None) -> None:
    _seed()

    for closure in Closure.objects.select_related("clinic"):
        assert closure.starts_on > timezone.localdate(None, closure.clinic.tz)
    time_off = TimeOff.objects.get()
    riverside = Clinic.objects.get(slug="riverside")
    today = timezone.localdate(None, riverside.tz)
    next_monday = today + dt.timedelta(days=7 - today.weekday())
    starts_on = timezone.localtime(time_off.starts_at, riverside.tz).date()
    assert next_monday <= starts_on < next_monday + dt.timedelta(days=5)
    assert not Closure.objects.filter(
        clinic=riverside, starts_on__lte=starts_on, ends_on__gte=starts_on
    ).exists()


def test_seed_demo_adds_back_only_what_is_missing(db: None) -> None:
    _seed()
    Room.objects.filter(name="Gym").delete()
    WorkingHours.objects.filter(therapist__username="sarah", weekday=0).delete()
    counts_after_deletes = _row_counts()

    output = _seed()

    assert Room.objects.filter(name="Gym").count() == 1
    assert WorkingHours.objects.filter(therapist__username="sarah", weekday=0).count() == 1
    assert "rooms 1" in output
    assert "working-hour blocks 1" in output
    changed = {
        label for label, count in _row_counts().items() if count != counts_after_deletes.get(label)
    }
    assert changed == {
        "clinic.Room",
        "clinic.HistoricalRoom",
        "clinic.WorkingHours",
        "clinic.HistoricalWorkingHours",
    }


def test_seed_demo_walks_the_project_apps_in_installed_order() -> None:
    labels = [app_config.label for app_config in project_apps()]

    assert labels[:3] == ["clinic", "patients", "programs"]
    assert "admin" not in labels
    assert "auth" not in labels


@pytest.mark.parametrize(
    ("holidays", "year", "expected"),
    [
        (us_holidays, 2026, (dt.date(2026, 7, 3), "Independence Day")),  # a Saturday
        (us_holidays, 2026, (dt.date(2026, 11, 26), "Thanksgiving Day")),
        (us_holidays, 2026, (dt.date(2026, 5, 25), "Memorial Day")),
        (us_holidays, 2022, (dt.date(2021, 12, 31), "New Year's Day")),  # 2022-01-01, Saturday
        (england_bank_holidays, 2026, (dt.date(2026, 4, 3), "Good Friday")),
        (england_bank_holidays, 2026, (dt.date(2026, 4, 6), "Easter Monday")),
        (england_bank_holidays, 2024, (dt.date(2024, 3, 29), "Good Friday")),
        (england_bank_holidays, 2026, (dt.date(2026, 12, 28), "Boxing Day")),  # a Saturday
        (england_bank_holidays, 2027, (dt.date(2027, 12, 27), "Christmas Day")),  # a Saturday
        (england_bank_holidays, 2027, (dt.date(2027, 12, 28), "Boxing Day")),
        (england_bank_holidays, 2022, (dt.date(2022, 1, 3), "New Year's Day")),
    ],
)
def test_public_holidays_on_their_observed_dates(
    holidays: Holidays, year: int, expected: tuple[dt.date, str]
) -> None:
    assert expected in holidays(year)


@pytest.mark.parametrize("holidays", [us_holidays, england_bank_holidays])
def test_public_holidays_fall_on_weekdays(holidays: Holidays) -> None:
    for year in range(2024, 2036):
        assert all(day.weekday() < 5 for day, _ in holidays(year))


def test_next_holiday_is_strictly_after_the_day_and_crosses_the_year() -> None:
    assert next_holiday(us_holidays, after=dt.date(2026, 11, 26)) == (
        dt.date(2026, 12, 25),
        "Christmas Day",
    )
    assert next_holiday(england_bank_holidays, after=dt.date(2026, 12, 29)) == (
        dt.date(2027, 1, 1),
        "New Year's Day",
    )


def test_seed_demo_refuses_without_debug_or_force(db, settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG=true"):
        call_command("seed_demo", stdout=StringIO())
    assert not Clinic.objects.exists()
