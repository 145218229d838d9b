"""Demo data of the clinic app: two clinics, their rooms, hours and closures, staff and rosters.

Called by `manage.py seed_demo` (see clinic/management/commands/seed_demo.py for the contract
every app's `demo.py` follows). Every write goes through clinic.services; every row is looked up
by its natural key first, so a second run adds nothing. Rows that already exist are left exactly
as they are, even if an administrator has edited them since. Dates that must stay in the future
(the next public holiday, next week's time off) are computed from today in the clinic's zone.

All demo logins share `DEMO_PASSWORD`; apps above clinic that add demo users use it too.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from django.core.management.base import OutputWrapper
from django.db.models import Prefetch
from django.utils import timezone

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
from clinic.services import (
    clinic_create,
    closure_add,
    membership_grant,
    opening_hours_add,
    room_create,
    staff_create,
    therapist_profile_set,
    time_off_add,
    working_hours_add,
)

DEMO_PASSWORD = "demo-clinic-2026"  # noqa: S105 - printed on purpose; demo databases only.
SUPERUSER = "practice"

MON, TUE, WED, THU, FRI, SAT = (
    Weekday.MONDAY,
    Weekday.TUESDAY,
    Weekday.WEDNESDAY,
    Weekday.THURSDAY,
    Weekday.FRIDAY,
    Weekday.SATURDAY,
)
WEEKDAYS = (MON, TUE, WED, THU, FRI)


class DemoLogin(NamedTuple):
    """One row of the login table the command prints: username, role(s), clinic(s)."""

    username: str
    roles: str
    clinics: str


# --- What the demo holds ---------------------------------------------------------------------

Block = tuple[dt.time, dt.time]


def _t(hhmm: str) -> dt.time:
    return dt.time.fromisoformat(hhmm)


def _b(starts: str, ends: str) -> Block:
    return (_t(starts), _t(ends))


@dataclass(frozen=True)
class ClinicSpec:
    slug: str
    name: str
    timezone: str
    country: str
    medicare_rules: bool
    address: str
    phone: str
    opening_hours: dict[int, tuple[Block, ...]]
    rooms: tuple[tuple[str, str], ...]
    holidays: Callable[[int], list[tuple[dt.date, str]]]


@dataclass(frozen=True)
class StaffSpec:
    username: str
    first_name: str
    last_name: str
    # (clinic slug, role) in the order they are granted; the first one creates the user.
    memberships: tuple[tuple[str, str], ...]
    licence_number: str = ""
    discipline: str = TherapistProfile.Discipline.PT
    # clinic slug -> weekday -> working blocks in that clinic's local time.
    working_hours: dict[str, dict[int, tuple[Block, ...]]] = field(default_factory=dict)

    @property
    def email(self) -> str:
        return f"{self.username}@demo.example"


# --- Public holidays (so the demo closure is a real one, whatever today is) -------------------


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> dt.date:
    """The n-th `weekday` of a month (n=1 the first); n=-1 the last."""
    if n > 0:
        first = dt.date(year, month, 1)
        return first + dt.timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    next_month = dt.date(year + month // 12, month % 12 + 1, 1)
    last = next_month - dt.timedelta(days=1)
    return last - dt.timedelta(days=(last.weekday() - weekday) % 7)


def _easter_sunday(year: int) -> dt.date:
    """Gregorian Easter Sunday (the anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    ell = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * ell) // 451
    month, day = divmod(h + ell - 7 * m + 114, 31)
    return dt.date(year, month, day + 1)


def us_holidays(year: int) -> list[tuple[dt.date, str]]:
    """US federal holidays most private practices close for, on their observed dates."""

    def observed(day: dt.date) -> dt.date:  # Saturday -> Friday, Sunday -> Monday
        return day + dt.timedelta(days={5: -1, 6: 1}.get(day.weekday(), 0))

    return sorted(
        [
            (observed(dt.date(year, 1, 1)), "New Year's Day"),
            (_nth_weekday(year, 1, MON, 3), "Martin Luther King Jr. Day"),
            (_nth_weekday(year, 2, MON, 3), "Presidents' Day"),
            (_nth_weekday(year, 5, MON, -1), "Memorial Day"),
            (observed(dt.date(year, 6, 19)), "Juneteenth"),
            (observed(dt.date(year, 7, 4)), "Independence Day"),
            (_nth_weekday(year, 9, MON, 1), "Labor Day"),
            (_nth_weekday(year, 11, THU, 4), "Thanksgiving Day"),
            (observed(dt.date(year, 12, 25)), "Christmas Day"),
        ]
    )


def england_bank_holidays(year: int) -> list[tuple[dt.date, str]]:
    """Bank holidays of England and Wales; one on a weekend moves to the next free weekday."""
    easter = _easter_sunday(year)
    nominal = [
        (dt.date(year, 1, 1), "New Year's Day"),
        (easter - dt.timedelta(days=2), "Good Friday"),
        (easter + dt.timedelta(days=1), "Easter Monday"),
        (_nth_weekday(year, 5, MON, 1), "Early May bank holiday"),
        (_nth_weekday(year, 5, MON, -1), "Spring bank holiday"),
        (_nth_weekday(year, 8, MON, -1), "Summer bank holiday"),
        (dt.date(year, 12, 25), "Christmas Day"),
        (dt.date(year, 12, 26), "Boxing Day"),
    ]
    taken: set[dt.date] = set()
    result = []
    for day, name in nominal:
        while day.weekday() >= SAT or day in taken:
            day += dt.timedelta(days=1)
        taken.add(day)
        result.append((day, name))
    return result


def next_holiday(
    holidays: Callable[[int], list[tuple[dt.date, str]]], after: dt.date
) -> tuple[dt.date, str]:
    """The first holiday strictly after `after`."""
    upcoming = [h for year in (after.year, after.year + 1) for h in holidays(year) if h[0] > after]
    return min(upcoming)


# --- The demo practice -----------------------------------------------------------------------

CLINICS: tuple[ClinicSpec, ...] = (
    ClinicSpec(
        slug="riverside",
        name="Riverside Physical Therapy",
        timezone="America/New_York",
        country="US",
        medicare_rules=True,
        address="215 Riverside Avenue, Suite 300\nHartford, CT 06106\nUnited States",
        phone="+1 860-555-0142",
        opening_hours={
            **{day: (_b("07:30", "19:00"),) for day in WEEKDAYS},
            SAT: (_b("08:00", "12:00"),),
        },
        rooms=(
            ("Treatment 1", Room.Kind.TREATMENT),
            ("Treatment 2", Room.Kind.TREATMENT),
            ("Treatment 3", Room.Kind.TREATMENT),
            ("Gym", Room.Kind.GYM),
            ("Aquatic pool", Room.Kind.POOL),
            ("Consult room", Room.Kind.OFFICE),
        ),
        holidays=us_holidays,
    ),
    ClinicSpec(
        slug="harbourside",
        name="Harbourside Physio",
        timezone="Europe/London",
        country="GB",
        medicare_rules=False,
        address="Unit 4, Harbourside Quay\nBristol BS1 5ZZ\nUnited Kingdom",
        phone="+44 117 496 0321",
        opening_hours={day: (_b("08:00", "12:30"), _b("13:30", "18:00")) for day in WEEKDAYS},
        rooms=(
            ("Treatment room A", Room.Kind.TREATMENT),
            ("Treatment room B", Room.Kind.TREATMENT),
            ("Rehab gym", Room.Kind.GYM),
            ("Assessment room", Room.Kind.OFFICE),
        ),
        holidays=england_bank_holidays,
    ),
)

ADMIN, DESK, PT = Role.CLINIC_ADMIN, Role.RECEPTIONIST, Role.THERAPIST
PTA = TherapistProfile.Discipline.PTA

STAFF: tuple[StaffSpec, ...] = (
    StaffSpec("manager", "Dana", "Whitfield", (("riverside", ADMIN), ("harbourside", ADMIN))),
    StaffSpec("julia", "Julia", "Morales", (("riverside", DESK),)),
    StaffSpec("tyler", "Tyler", "Brooks", (("riverside", DESK),)),
    StaffSpec(
        "sarah",
        "Sarah",
        "Kim",
        (("riverside", PT),),
        licence_number="CT PT 004812",
        working_hours={"riverside": {day: (_b("07:30", "15:30"),) for day in WEEKDAYS}},
    ),
    StaffSpec(
        "david",
        "David",
        "Okafor",
        (("riverside", PT), ("harbourside", PT)),
        licence_number="CT PT 009921; HCPC PH118842",
        working_hours={
            "riverside": {day: (_b("08:00", "16:30"),) for day in (MON, TUE, WED)},
            "harbourside": {day: (_b("09:00", "17:00"),) for day in (THU, FRI)},
        },
    ),
    StaffSpec(
        "linh",
        "Linh",
        "Nguyen",
        (("riverside", PT),),
        licence_number="CT PTA 001377",
        discipline=PTA,
        working_hours={
            "riverside": {
                **{day: (_b("11:00", "19:00"),) for day in (MON, TUE, WED, THU)},
                SAT: (_b("08:00", "12:00"),),
            }
        },
    ),
    StaffSpec("emma", "Emma", "Hughes", (("harbourside", DESK),)),
    StaffSpec(
        "oliver",
        "Oliver",
        "Patel",
        (("harbourside", PT),),
        licence_number="HCPC PH104233",
        working_hours={
            "harbourside": {day: (_b("08:00", "12:30"), _b("13:30", "17:00")) for day in WEEKDAYS}
        },
    ),
    StaffSpec(
        "grace",
        "Grace",
        "Williams",
        (("harbourside", PT),),
        licence_number="CSP associate 55120",
        discipline=PTA,
        working_hours={
            "harbourside": {
                day: (_b("09:00", "12:30"), _b("13:30", "18:00")) for day in (MON, TUE, WED)
            }
        },
    ),
)

# Who is away next week: two whole working days the clinic is open, in its local time.
TIME_OFF = ("sarah", "riverside", "Continuing-education course")


# --- Seeding ---------------------------------------------------------------------------------


def seed(*, stdout: OutputWrapper) -> list[DemoLogin]:
    """Add whatever of the demo clinics and staff is missing; return the login rows."""
    created: Counter[str] = Counter()
    clinics = {spec.slug: _ensure_clinic(spec, created) for spec in CLINICS}
    if not User.objects.filter(username__iexact=SUPERUSER).exists():
        User.objects.create_superuser(
            username=SUPERUSER,
            email=f"{SUPERUSER}@demo.example",
            password=DEMO_PASSWORD,
            first_name="Morgan",
            last_name="Ellis",
        )
        created["superuser"] += 1
    for staff in STAFF:
        _ensure_staff(staff, clinics, created)
    username, slug, reason = TIME_OFF
    _ensure_time_off(User.objects.get(username=username), clinics[slug], reason, created)

    if created:
        summary = ", ".join(f"{what} {count}" for what, count in created.items())
        stdout.write(f"clinic demo data added: {summary}.")
    else:
        stdout.write("clinic: demo clinics and staff already present, nothing added.")
    return demo_logins()


def _ensure_clinic(spec: ClinicSpec, created: Counter[str]) -> Clinic:
    clinic = Clinic.objects.filter(slug=spec.slug).first()
    if clinic is None:
        clinic = clinic_create(
            name=spec.name,
            slug=spec.slug,
            timezone=spec.timezone,
            country=spec.country,
            medicare_rules=spec.medicare_rules,
            address=spec.address,
            phone=spec.phone,
            late_cancel_hours=24,
            by=None,
        )
        created["clinics"] += 1

    for weekday, blocks in spec.opening_hours.items():
        for opens, closes in blocks:
            hours = OpeningHours.objects.for_clinic(clinic)
            if not hours.filter(weekday=weekday, opens=opens, closes=closes).exists():
                opening_hours_add(
                    clinic=clinic, weekday=weekday, opens=opens, closes=closes, by=None
                )
                created["opening-hour blocks"] += 1

    for name, kind in spec.rooms:
        if not Room.objects.for_clinic(clinic).filter(name__iexact=name).exists():
            room_create(clinic=clinic, name=name, kind=kind, by=None)
            created["rooms"] += 1

    holiday, holiday_name = next_holiday(spec.holidays, after=timezone.localdate(None, clinic.tz))
    covered = Closure.objects.for_clinic(clinic).filter(
        starts_on__lte=holiday, ends_on__gte=holiday
    )
    if not covered.exists():
        closure_add(
            clinic=clinic,
            starts_on=holiday,
            ends_on=holiday,
            reason=f"{holiday_name} (public holiday)",
            by=None,
        )
        created["closures"] += 1
    return clinic


def _ensure_staff(spec: StaffSpec, clinics: dict[str, Clinic], created: Counter[str]) -> None:
    user = User.objects.filter(username__iexact=spec.username).first()
    if user is None:
        slug, role = spec.memberships[0]
        user = staff_create(
            clinic=clinics[slug],
            username=spec.username,
            password=DEMO_PASSWORD,
            role=role,
            first_name=spec.first_name,
            last_name=spec.last_name,
            email=spec.email,
            licence_number=spec.licence_number,
            discipline=spec.discipline,
            by=None,
        ).user
        created["staff users"] += 1
        created["memberships"] += 1

    for slug, role in spec.memberships:
        # An existing membership is left alone, even one an administrator has deactivated.
        if not Membership.objects.filter(user=user, clinic=clinics[slug], role=role).exists():
            membership_grant(clinic=clinics[slug], user=user, role=role, by=None)
            created["memberships"] += 1

    if spec.licence_number and not TherapistProfile.objects.filter(user=user).exists():
        therapist_profile_set(
            user=user, licence_number=spec.licence_number, discipline=spec.discipline, by=None
        )
        created["therapist profiles"] += 1

    for slug, week in spec.working_hours.items():
        for weekday, blocks in week.items():
            for starts, ends in blocks:
                same = WorkingHours.objects.for_clinic(clinics[slug]).filter(
                    therapist=user, weekday=weekday, starts=starts, ends=ends
                )
                if not same.exists():
                    working_hours_add(
                        clinic=clinics[slug],
                        therapist=user,
                        weekday=weekday,
                        starts=starts,
                        ends=ends,
                        by=None,
                    )
                    created["working-hour blocks"] += 1


def _ensure_time_off(therapist: User, clinic: Clinic, reason: str, created: Counter[str]) -> None:
    today = timezone.localdate(None, clinic.tz)
    next_monday = today + dt.timedelta(days=7 - today.weekday())
    closures = Closure.objects.for_clinic(clinic)

    def open_on(day: dt.date) -> bool:
        return not closures.filter(starts_on__lte=day, ends_on__gte=day).exists()

    # The first two consecutive weekdays of next week on which the clinic is open.
    first = next(
        (
            day
            for day in (next_monday + dt.timedelta(days=n) for n in range(MON, FRI))
            if open_on(day) and open_on(day + dt.timedelta(days=1))
        ),
        next_monday,
    )
    starts_at = dt.datetime.combine(first, dt.time(), clinic.tz)
    ends_at = dt.datetime.combine(first + dt.timedelta(days=2), dt.time(), clinic.tz)
    overlapping = TimeOff.objects.filter(
        therapist=therapist, starts_at__lt=ends_at, ends_at__gt=starts_at
    )
    if not overlapping.exists():
        time_off_add(
            therapist=therapist, starts_at=starts_at, ends_at=ends_at, reason=reason, by=None
        )
        created["time off"] += 1


def demo_logins() -> list[DemoLogin]:
    """The demo users as they are now in the database (roles and clinics of active memberships)."""
    usernames = [SUPERUSER, *(spec.username for spec in STAFF)]
    users = {
        user.username: user
        for user in User.objects.filter(username__in=usernames)
        .select_related("therapist_profile")
        .prefetch_related(
            Prefetch(
                "memberships",
                queryset=Membership.objects.filter(active=True).select_related("clinic"),
                to_attr="active_memberships",
            )
        )
    }
    rows = []
    for username in usernames:
        user = users.get(username)
        if user is None:
            continue
        roles: list[str] = []
        clinic_names: list[str] = []
        if user.is_superuser:
            roles.append("superuser")
            clinic_names.append("all clinics")
        for membership in user.active_memberships:
            role = membership.get_role_display()
            if membership.role == Role.THERAPIST and hasattr(user, "therapist_profile"):
                role = f"{role} ({user.therapist_profile.discipline})"
            if role not in roles:
                roles.append(role)
            if membership.clinic.name not in clinic_names:
                clinic_names.append(membership.clinic.name)
        rows.append(DemoLogin(username, ", ".join(roles), ", ".join(clinic_names)))
    return rows
