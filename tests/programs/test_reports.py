"""The reports' numbers against hand-computed fixtures, and their query counts (constant)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from clinic.models import Clinic
from patients.models import OutcomeMeasure, Visit
from programs import reports
from programs.reports import Period
from programs.selectors import episode_compliance
from tests.factories import (
    ClosureFactory,
    EpisodeOfCareFactory,
    OpeningHoursFactory,
    OutcomeMeasureFactory,
    PatientFactory,
    PlanOfCareFactory,
    RoomFactory,
    TimeOffFactory,
    VisitFactory,
    WorkingHoursFactory,
    therapist_in,
)

pytestmark = pytest.mark.django_db

SEPTEMBER = Period(dt.date(2026, 9, 1), dt.date(2026, 9, 30))
S = Visit.Status


def visit(clinic: Clinic, day: dt.date, at: dt.time, minutes: int = 45, **fields: Any) -> Visit:
    starts = dt.datetime.combine(day, at, tzinfo=clinic.tz)
    return VisitFactory(
        clinic=clinic, starts_at=starts, ends_at=starts + dt.timedelta(minutes=minutes), **fields
    )


def named(clinic: Clinic, first: str, last: str) -> Any:
    user = therapist_in(clinic)
    user.first_name, user.last_name = first, last
    user.save(update_fields=["first_name", "last_name"])
    return user


def rows(report: reports.Report, table: str) -> list[dict[str, Any]]:
    found = report.table(table)
    assert found is not None
    return found.rows


# --- Attendance --------------------------------------------------------------------------------


@pytest.fixture
def attendance(clinic, other_clinic):
    """Riverside (New York) in September: Ann has 3 completed, 1 no-show, 1 late cancellation by
    the patient, 1 cancellation in time and 1 cancelled by a closure (never late); Ben 1
    completed, 1 no-show, and 1 completed at 23:30 on 30 September New York time (already 1
    October in UTC). Zentrum (Berlin): a no-show on 15 September and one visit at 00:30 on
    1 October Berlin time (still 30 September in UTC), which is outside the period."""
    ann = named(clinic, "Ann", "Archer")
    ben = named(clinic, "Ben", "Baker")
    day = dt.date(2026, 9, 1)
    for n, status in enumerate([S.COMPLETED] * 3 + [S.NO_SHOW, S.LATE_CANCELLED, S.CANCELLED]):
        visit(clinic, day + dt.timedelta(days=n), dt.time(10), therapist=ann, status=status)
    visit(
        clinic,
        day + dt.timedelta(days=10),
        dt.time(10),
        therapist=ann,
        status=S.CANCELLED,  # the clinic cancelled: never a late cancellation
        cancel_reason="Clinic closed: power cut",
    )
    visit(clinic, day + dt.timedelta(days=11), dt.time(10), therapist=ben, status=S.COMPLETED)
    visit(clinic, day + dt.timedelta(days=12), dt.time(10), therapist=ben, status=S.NO_SHOW)
    visit(clinic, dt.date(2026, 9, 30), dt.time(23, 30), therapist=ben, status=S.COMPLETED)
    visit(clinic, dt.date(2026, 10, 2), dt.time(10), therapist=ben, status=S.NO_SHOW)
    visit(other_clinic, dt.date(2026, 9, 15), dt.time(10), status=S.NO_SHOW)
    visit(other_clinic, dt.date(2026, 10, 1), dt.time(0, 30), status=S.NO_SHOW)
    return ann, ben


def test_attendance_rates_per_clinic_therapist_and_month(
    attendance, clinic, other_clinic, django_assert_num_queries
):
    with django_assert_num_queries(1):
        report = reports.attendance_report(clinics=[clinic, other_clinic], period=SEPTEMBER)

    by_clinic = {row["clinic"]: row for row in rows(report, "clinics")}
    assert by_clinic["Riverside Physio"] == {
        "clinic": "Riverside Physio",
        "month": "2026-09",
        "due": 8,
        "completed": 5,
        "no_shows": 2,
        "late_cancels": 1,
        "no_show_rate": Decimal("25.0"),
        "late_cancel_rate": Decimal("12.5"),
    }
    assert by_clinic["Zentrum Physio"]["due"] == 1
    assert by_clinic["Zentrum Physio"]["no_show_rate"] == Decimal("100.0")
    by_therapist = {row["therapist"]: row for row in rows(report, "therapists")}
    ann = by_therapist["Ann Archer"]
    assert (ann["due"], ann["no_shows"], ann["late_cancels"]) == (5, 1, 1)
    assert (ann["no_show_rate"], ann["late_cancel_rate"]) == (Decimal("20.0"), Decimal("20.0"))
    ben = by_therapist["Ben Baker"]
    assert (ben["due"], ben["completed"], ben["no_show_rate"]) == (3, 2, Decimal("33.3"))


def test_attendance_splits_months_by_the_clinics_own_calendar(attendance, clinic):
    october = Period(dt.date(2026, 10, 1), dt.date(2026, 10, 31))
    report = reports.attendance_report(clinics=[clinic], period=october)
    [row] = rows(report, "clinics")
    assert (row["month"], row["due"], row["no_shows"]) == ("2026-10", 1, 1)


def test_attendance_keeps_one_query_as_visits_grow(
    attendance, clinic, other_clinic, django_assert_num_queries
):
    extra = therapist_in(clinic)
    for n in range(20):
        visit(clinic, dt.date(2026, 9, 1) + dt.timedelta(days=n), dt.time(15), therapist=extra)
    with django_assert_num_queries(1):
        report = reports.attendance_report(clinics=[clinic, other_clinic], period=SEPTEMBER)
    assert sum(row["due"] for row in rows(report, "clinics")) == 29


# --- Utilisation -------------------------------------------------------------------------------


@pytest.fixture
def week(clinic):
    """Riverside, Monday 7 to Sunday 13 September 2026: open Monday to Friday 08-18, closed on
    Wednesday. Ann works Monday to Friday 09-17 and Saturday 09-12 (the clinic is shut then),
    is off Thursday 13-17. She has two one-hour visits (Monday, Tuesday) in Room 1 and one
    cancelled visit on Friday."""
    for weekday in range(5):
        OpeningHoursFactory(clinic=clinic, weekday=weekday, opens=dt.time(8), closes=dt.time(18))
    ClosureFactory(clinic=clinic, starts_on=dt.date(2026, 9, 9), ends_on=dt.date(2026, 9, 9))
    ann = named(clinic, "Ann", "Archer")
    for weekday in range(5):
        WorkingHoursFactory(
            clinic=clinic, therapist=ann, weekday=weekday, starts=dt.time(9), ends=dt.time(17)
        )
    WorkingHoursFactory(
        clinic=clinic, therapist=ann, weekday=5, starts=dt.time(9), ends=dt.time(12)
    )
    thursday = dt.datetime(2026, 9, 10, 13, tzinfo=clinic.tz)
    TimeOffFactory(therapist=ann, starts_at=thursday, ends_at=thursday + dt.timedelta(hours=4))
    one = RoomFactory(clinic=clinic, name="Room 1")
    RoomFactory(clinic=clinic, name="Room 2")
    for day in (7, 8):
        visit(clinic, dt.date(2026, 9, day), dt.time(10), 60, therapist=ann, room=one)
    visit(
        clinic, dt.date(2026, 9, 11), dt.time(10), 60, therapist=ann, room=one, status=S.CANCELLED
    )
    return ann


def test_utilisation_booked_over_available_hours(week, clinic, django_assert_max_num_queries):
    period = Period(dt.date(2026, 9, 7), dt.date(2026, 9, 13))
    with django_assert_max_num_queries(7):
        report = reports.utilisation_report(clinics=[clinic], period=period)

    [ann] = rows(report, "therapists")
    # 5 days x 8 h, minus Wednesday (closed) and Thursday 13-17 (time off) = 28 h; Saturday's
    # hours fall outside the opening hours.
    assert ann["available_hours"] == Decimal("28.00")
    assert ann["booked_hours"] == Decimal("2.00")
    assert ann["utilisation"] == Decimal("7.1")
    by_room = {row["room"]: row for row in rows(report, "rooms")}
    assert by_room["Room 1"]["available_hours"] == Decimal("40.00")  # 4 open days x 10 h
    assert by_room["Room 1"]["utilisation"] == Decimal("5.0")
    assert by_room["Room 2"]["booked_hours"] == Decimal("0.00")
    assert by_room["Room 2"]["utilisation"] == Decimal("0.0")


def test_utilisation_query_count_does_not_grow_with_therapists(
    week, clinic, django_assert_num_queries
):
    period = Period(dt.date(2026, 9, 7), dt.date(2026, 9, 13))
    with django_assert_num_queries(7):
        reports.utilisation_report(clinics=[clinic], period=period)
    for _ in range(3):
        other = therapist_in(clinic)
        WorkingHoursFactory(clinic=clinic, therapist=other, weekday=0)
        visit(clinic, dt.date(2026, 9, 7), dt.time(16), 30, therapist=other)
    with django_assert_num_queries(7):
        report = reports.utilisation_report(clinics=[clinic], period=period)
    assert len(rows(report, "therapists")) == 4


# --- Visits per therapist and per episode -----------------------------------------------------


def test_visits_per_therapist_and_per_episode(clinic, django_assert_num_queries):
    ann = named(clinic, "Ann", "Archer")
    episode = EpisodeOfCareFactory(clinic=clinic, therapist=ann)
    patient = episode.patient
    common = {"therapist": ann, "patient": patient, "status": S.COMPLETED}
    visit(clinic, dt.date(2026, 8, 28), dt.time(10), episode=episode, **common)
    visit(clinic, dt.date(2026, 9, 3), dt.time(10), episode=episode, **common)
    visit(clinic, dt.date(2026, 9, 10), dt.time(10), episode=episode, **common)
    visit(clinic, dt.date(2026, 9, 11), dt.time(10), therapist=ann, status=S.COMPLETED)
    visit(clinic, dt.date(2026, 9, 12), dt.time(10), therapist=ann, status=S.NO_SHOW)

    with django_assert_num_queries(2):
        report = reports.visits_report(clinics=[clinic], period=SEPTEMBER)

    [row] = rows(report, "therapists")
    assert row == {
        "clinic": "Riverside Physio",
        "therapist": "Ann Archer",
        "visits": 3,
        "patients": 2,
        "episodes": 1,
        "visits_per_episode": Decimal("2.0"),
    }
    [per_episode] = rows(report, "episodes")
    assert per_episode["mrn"] == patient.mrn
    assert (per_episode["visits"], per_episode["total"]) == (2, 3)


# --- Outcomes ----------------------------------------------------------------------------------


def measure(episode, instrument: str, score: str, day: dt.date, **fields: Any) -> OutcomeMeasure:
    answers = {"pain": int(Decimal(score))} if instrument == "nprs" else {"sections": {}}
    version = "0-10" if instrument == "nprs" else "2.1a"
    return OutcomeMeasureFactory(
        episode=episode,
        instrument=instrument,
        version=version,
        answers=answers,
        score=Decimal(score),
        recorded_on=day,
        **fields,
    )


def test_outcomes_mean_change_and_mcid_share_per_therapist_and_clinic(
    clinic, django_assert_num_queries
):
    ann = named(clinic, "Ann", "Archer")
    ben = named(clinic, "Ben", "Baker")
    august, september = dt.date(2026, 8, 20), dt.date(2026, 9, 20)
    one = EpisodeOfCareFactory(clinic=clinic, therapist=ann)
    measure(one, "odi", "40", august)
    measure(one, "odi", "28", september)  # 12 better: MCID (10 points)
    measure(one, "nprs", "6", august)
    measure(one, "nprs", "5", september)  # 1 better, 16.7 %: no MCID
    two = EpisodeOfCareFactory(clinic=clinic, therapist=ann)
    measure(two, "odi", "50", august)
    measure(two, "odi", "40", september)  # 10 better: MCID
    three = EpisodeOfCareFactory(clinic=clinic, therapist=ben)
    measure(three, "odi", "30", august)
    measure(three, "odi", "24", september)  # 6 better, 20 %: no MCID
    measure(three, "odi", "0", september + dt.timedelta(days=1), entered_in_error=True)
    single = EpisodeOfCareFactory(clinic=clinic, therapist=ben)
    measure(single, "odi", "44", september)  # nothing to compare with
    later = EpisodeOfCareFactory(clinic=clinic, therapist=ben)
    measure(later, "odi", "44", august)
    measure(later, "odi", "20", dt.date(2026, 10, 5))  # its latest is after the period

    with django_assert_num_queries(2):
        report = reports.outcomes_report(clinics=[clinic], period=SEPTEMBER)

    [per_clinic] = rows(report, "clinics")
    assert per_clinic["odi_episodes"] == 3
    assert per_clinic["odi_mean_improvement"] == Decimal("9.3")  # (12 + 10 + 6) / 3
    assert per_clinic["odi_mcid_share"] == Decimal("66.7")
    assert per_clinic["nprs_episodes"] == 1
    assert per_clinic["nprs_mean_improvement"] == Decimal("1.0")
    assert per_clinic["nprs_mcid_share"] == Decimal("0.0")
    by_therapist = {row["therapist"]: row for row in rows(report, "therapists")}
    assert by_therapist["Ann Archer"]["odi_mean_improvement"] == Decimal("11.0")
    assert by_therapist["Ann Archer"]["odi_mcid_share"] == Decimal("100.0")
    assert by_therapist["Ben Baker"]["odi_episodes"] == 1
    assert by_therapist["Ben Baker"]["odi_mcid_share"] == Decimal("0.0")
    episodes = {row["episode"]: row for row in rows(report, "episodes")}
    assert set(episodes) == {str(one.public_id), str(two.public_id), str(three.public_id)}
    assert episodes[str(one.public_id)]["nprs_mcid"] is False
    assert episodes[str(two.public_id)]["odi_mcid"] is True
    assert episodes[str(three.public_id)]["odi_latest"] == Decimal("24")


def test_outcomes_read_only_the_periods_scores_and_keep_a_baseline_from_years_before(
    clinic, django_assert_num_queries
):
    """The report starts from the scores recorded in the period (an index on the date), so an
    episode counts exactly when its latest score up to the period's end is in the period: one
    that started years before keeps its first score as the baseline; one whose only score in
    the period is void (entered in error, or without a score) or of another instrument, or
    whose scores all lie before or after the period, is left out."""
    ann = named(clinic, "Ann", "Archer")
    long_ago = dt.date(2022, 3, 1)
    old = EpisodeOfCareFactory(clinic=clinic, therapist=ann, started_on=long_ago)
    measure(old, "odi", "60", long_ago)  # the baseline, four years before
    measure(old, "odi", "50", dt.date(2024, 6, 1))
    measure(old, "odi", "30", dt.date(2026, 9, 1))  # first day of the period: 30 better
    measure(old, "nprs", "8", long_ago)
    measure(old, "nprs", "7", dt.date(2026, 8, 31))  # NPRS latest before the period: not shown
    edge = EpisodeOfCareFactory(clinic=clinic, therapist=ann)
    measure(edge, "nprs", "6", dt.date(2026, 8, 1))
    measure(edge, "nprs", "2", dt.date(2026, 9, 30))  # last day of the period
    void = EpisodeOfCareFactory(clinic=clinic, therapist=ann)
    measure(void, "odi", "40", dt.date(2026, 8, 1))
    measure(void, "odi", "10", dt.date(2026, 9, 10), entered_in_error=True)
    unscored = measure(void, "odi", "12", dt.date(2026, 9, 11))
    OutcomeMeasure.objects.filter(pk=unscored.pk).update(score=None)
    other = EpisodeOfCareFactory(clinic=clinic, therapist=ann)
    measure(other, "odi", "40", dt.date(2026, 8, 1))
    OutcomeMeasureFactory(
        episode=other,
        instrument="psfs",
        version="1",
        score=Decimal("5"),
        recorded_on=SEPTEMBER.ends_on,
    )
    before = EpisodeOfCareFactory(clinic=clinic, therapist=ann)
    measure(before, "odi", "40", dt.date(2026, 7, 1))
    measure(before, "odi", "20", dt.date(2026, 8, 31))
    after = EpisodeOfCareFactory(clinic=clinic, therapist=ann)
    measure(after, "odi", "40", dt.date(2026, 10, 1))
    measure(after, "odi", "20", dt.date(2026, 10, 2))

    with django_assert_num_queries(2):
        report = reports.outcomes_report(clinics=[clinic], period=SEPTEMBER)

    episodes = {row["episode"]: row for row in rows(report, "episodes")}
    assert set(episodes) == {str(old.public_id), str(edge.public_id)}
    row = episodes[str(old.public_id)]
    assert (row["odi_baseline"], row["odi_latest"], row["odi_improvement"]) == (
        Decimal("60"),
        Decimal("30"),
        Decimal("30"),
    )
    assert "nprs_latest" not in row
    assert episodes[str(edge.public_id)]["nprs_baseline"] == Decimal("6")
    assert episodes[str(edge.public_id)]["nprs_latest"] == Decimal("2")
    [per_clinic] = rows(report, "clinics")
    assert (per_clinic["odi_episodes"], per_clinic["nprs_episodes"]) == (1, 1)


# --- Compliance --------------------------------------------------------------------------------


def test_compliance_flags_match_each_episodes_own_clocks_in_four_queries(
    clinic, django_assert_num_queries
):
    today = timezone.localdate(timezone=clinic.tz)
    due = EpisodeOfCareFactory(
        clinic=clinic,
        started_on=today - dt.timedelta(days=30),
        progress_report_clock=True,
        auth_visits=11,
        auth_ends_on=today + dt.timedelta(days=40),
    )
    for n in range(10):  # ten treatment days, no progress report: due
        visit(
            clinic,
            today - dt.timedelta(days=28 - 2 * n),
            dt.time(10),
            episode=due,
            patient=due.patient,
            therapist=due.therapist,
            status=S.COMPLETED,
        )
    PlanOfCareFactory(
        episode=due,
        starts_on=today - dt.timedelta(days=30),
        certified_until=today + dt.timedelta(days=5),
    )
    quiet = EpisodeOfCareFactory(clinic=clinic, started_on=today - dt.timedelta(days=3))
    PlanOfCareFactory(
        episode=quiet,
        starts_on=today - dt.timedelta(days=3),
        certified_until=today + dt.timedelta(days=60),
        physician_signed_on=today - dt.timedelta(days=1),
    )

    with django_assert_num_queries(4):
        report = reports.compliance_report(clinics=[clinic], today=today)

    [counts] = rows(report, "clinics")
    assert counts["progress_due"] == 1
    assert counts["plan_ending"] == 1
    assert counts["auth_nearly"] == 1
    assert counts["plan_expired"] == counts["auth_used"] == 0
    flagged = rows(report, "flags")
    assert {row["episode"] for row in flagged} == {str(due.public_id)}
    own = episode_compliance(episode=due, today=today)
    expected = {f.message for f in own.flags if f.area != "plan"}
    assert {row["message"] for row in flagged} == expected


def test_compliance_query_count_does_not_grow_with_episodes(clinic, django_assert_num_queries):
    today = timezone.localdate(timezone=clinic.tz)
    for _ in range(4):
        episode = EpisodeOfCareFactory(clinic=clinic, auth_visits=3)
        PlanOfCareFactory(episode=episode)
        visit(
            clinic,
            today - dt.timedelta(days=1),
            dt.time(9 + _),
            episode=episode,
            patient=episode.patient,
            therapist=episode.therapist,
            status=S.COMPLETED,
        )
    with django_assert_num_queries(4):
        report = reports.compliance_report(clinics=[clinic], today=today)
    assert rows(report, "clinics")[0]["auth_nearly"] == 4


def test_compliance_and_outcomes_read_the_episodes_rows_by_their_ids(clinic):
    """The reports over the present read each table's rows by the episodes' ids (on PostgreSQL
    one array parameter, `= ANY(%s)`, not thousands of literals), and the patient's MRN by the
    patient's id: never a join that PostgreSQL may answer by hashing a whole history table."""
    today = timezone.localdate(timezone=clinic.tz)
    episodes = [EpisodeOfCareFactory(clinic=clinic) for _ in range(3)]
    for episode in episodes:
        PlanOfCareFactory(episode=episode)
        measure(episode, "nprs", "6", SEPTEMBER.starts_on)
        measure(episode, "nprs", "3", SEPTEMBER.ends_on)
    with CaptureQueriesContext(connection) as compliance_queries:
        reports.compliance_report(clinics=[clinic], today=today)
    with CaptureQueriesContext(connection) as outcomes_queries:
        report = reports.outcomes_report(clinics=[clinic], period=SEPTEMBER)
    assert len(rows(report, "episodes")) == 3
    statements = [q["sql"] for q in [*compliance_queries, *outcomes_queries]]
    operator = "= ANY(" if connection.vendor == "postgresql" else "IN ("
    by_ids = [
        sql
        for sql in statements
        for column in (
            '"patients_evaluation"."episode_id"',
            '"programs_planofcare"."episode_id"',
            '"patients_episodeofcare"."id"',
        )
        if f"{column} {operator}" in sql
    ]
    assert len(by_ids) == 3  # evaluations and plans of compliance, the outcomes' episodes
    assert not [sql for sql in statements if 'JOIN "patients_patient"' in sql]


def test_compliance_and_outcomes_of_a_clinic_without_episodes_are_empty(clinic):
    """No active or scored episode: the lists of ids are empty (on PostgreSQL an empty array),
    and the reports answer with zero counts and no rows."""
    EpisodeOfCareFactory(clinic=clinic, status="discharged")
    compliance = reports.compliance_report(clinics=[clinic])
    assert rows(compliance, "clinics") == [
        {"clinic": clinic.name, **dict.fromkeys(reports.COMPLIANCE_COUNTS, 0)}
    ]
    assert rows(compliance, "flags") == []
    outcomes = reports.outcomes_report(clinics=[clinic], period=SEPTEMBER)
    assert [len(table.rows) for table in outcomes.tables] == [0, 0, 0]


def test_reports_cover_only_the_clinics_given(attendance, clinic, other_clinic):
    report = reports.attendance_report(clinics=[other_clinic], period=SEPTEMBER)
    assert {row["clinic"] for row in rows(report, "therapists")} == {"Zentrum Physio"}


def test_report_clinics_are_those_with_the_reports_capability(
    clinic, other_clinic, clinic_admin, receptionist, superuser
):
    assert list(reports.report_clinics(clinic_admin)) == [clinic]
    assert list(reports.report_clinics(receptionist)) == []
    assert set(reports.report_clinics(superuser)) == {clinic, other_clinic}


def test_a_period_longer_than_a_year_or_backwards_is_refused():
    with pytest.raises(ValueError, match="at most 366 days"):
        Period(dt.date(2026, 1, 1), dt.date(2027, 1, 2))
    with pytest.raises(ValueError, match="cannot end before"):
        Period(dt.date(2026, 2, 1), dt.date(2026, 1, 1))


def test_patients_fixture_names_stay_out_of_reports(attendance, clinic):
    patient = PatientFactory(clinic=clinic, first_name="Zebulon", last_name="Quartermaine")
    visit(clinic, dt.date(2026, 9, 25), dt.time(9), patient=patient, status=S.NO_SHOW)
    report = reports.attendance_report(clinics=[clinic], period=SEPTEMBER)
    text = repr([t.values() for t in report.tables])
    assert "Zebulon" not in text
    assert "Quartermaine" not in text
