"""Compliance clocks (CLINICAL.md §3): progress reports, certification, authorizations."""

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from programs.compliance import (
    AuthorizationRule,
    CertificationError,
    ProgressReport,
    ProgressReportRule,
    authorization_status,
    certification_latest_until,
    certification_status,
    progress_report_status,
)

START = dt.date(2025, 3, 3)  # a Monday; the evaluation


def treatment_days(n, start=START):
    """`n` treatment days, Monday, Wednesday and Friday from `start`."""
    days, day = [], start
    while len(days) < n:
        if day.weekday() in (0, 2, 4):
            days.append(day)
        day += dt.timedelta(days=1)
    return days


def pt_report(on):
    return ProgressReport(written_on=on, by_licensed_therapist=True)


def clock(days, reports=(), today=None, **kwargs):
    return progress_report_status(
        treatment_dates=days,
        reports=reports,
        today=today or (days[-1] if days else START),
        **kwargs,
    )


# --- Progress reports --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "status", "days_left", "flag"),
    [
        (1, "ok", 9, None),  # the evaluation day is treatment day 1
        (6, "ok", 4, None),
        (7, "ok", 3, None),
        (
            8,
            "warn",
            2,
            "Progress report due in 2 treatment days "
            "(8 of 10 since the start of the episode on 2025-03-03)",
        ),
        (
            9,
            "warn",
            1,
            "Progress report due in 1 treatment day "
            "(9 of 10 since the start of the episode on 2025-03-03)",
        ),
        (
            10,
            "due",
            0,
            "Progress report due now: 10 treatment days since the start of the episode on "
            "2025-03-03; the next treatment needs a progress report first",
        ),
        (
            11,
            "due",
            0,
            "Progress report overdue: 11 treatment days since the start of the episode on "
            "2025-03-03, the limit is 10; write it before the next treatment",
        ),
    ],
)
def test_progress_report_status_counts_treatment_days_from_the_evaluation(
    count, status, days_left, flag
):
    result = clock(treatment_days(count))
    assert (result.status, result.treatment_days, result.days_left) == (status, count, days_left)
    assert result.flags == (() if flag is None else (flag,))
    assert result.period_started_on == START
    assert result.last_report_on is None


@pytest.mark.parametrize(
    ("after_report", "status", "days_left"),
    [(0, "ok", 10), (1, "ok", 9), (7, "ok", 3), (8, "warn", 2), (9, "warn", 1), (10, "due", 0)],
)
def test_progress_report_on_a_treatment_day_ends_the_period_that_day(
    after_report, status, days_left
):
    # Report written on treatment day 9; the next period begins with the next treatment day.
    days = treatment_days(9 + after_report)
    result = clock(days, [pt_report(days[8])])
    assert (result.status, result.treatment_days, result.days_left) == (
        status,
        after_report,
        days_left,
    )
    assert result.last_report_on == days[8]
    assert result.period_started_on == (days[9] if after_report else None)


def test_progress_report_on_a_day_without_treatment_counts_the_treatment_days_after_it():
    days = treatment_days(12)  # Mon, Wed, Fri, ...
    tuesday = days[4] + dt.timedelta(days=1)  # between treatment days 5 and 6
    result = clock(days, [pt_report(tuesday)])
    assert (result.treatment_days, result.period_started_on) == (7, days[5])


@pytest.mark.parametrize(
    ("report", "counts"),
    [
        (ProgressReport(dt.date(2025, 3, 14), by_licensed_therapist=True), True),
        (ProgressReport(dt.date(2025, 3, 14), by_licensed_therapist=False), False),  # a PTA's
        (ProgressReport(dt.date(2025, 3, 14), by_licensed_therapist=True, signed=False), False),
    ],
)
def test_only_a_signed_report_by_a_licensed_therapist_resets_the_clock(report, counts):
    days = treatment_days(10)  # 2025-03-14 is treatment day 6
    result = clock(days, [report])
    assert result.treatment_days == (4 if counts else 10)
    assert result.status == ("ok" if counts else "due")


def test_latest_counted_report_wins_and_earlier_episode_reports_are_ignored():
    days = treatment_days(10)
    reports = [
        pt_report(START - dt.timedelta(days=30)),  # another episode
        pt_report(days[2]),
        pt_report(days[5]),
        ProgressReport(days[7], by_licensed_therapist=False),
    ]
    result = clock(days, reports)
    assert (result.treatment_days, result.last_report_on) == (4, days[5])
    assert clock(days, reports[:1]).treatment_days == 10


def test_two_visits_on_one_day_are_one_treatment_day():
    days = treatment_days(8)
    result = clock([*days, days[3], days[7]][::-1], today=days[-1])
    assert (result.treatment_days, result.status) == (8, "warn")


def test_days_and_reports_after_today_are_not_counted_yet():
    days = treatment_days(12)
    result = clock(days, [pt_report(days[10])], today=days[8])
    assert (result.treatment_days, result.status, result.last_report_on) == (9, "warn", None)


def test_progress_report_status_off():
    result = clock(treatment_days(12), clock_on=False)
    assert (result.status, result.treatment_days, result.days_left, result.flags) == (
        "off",
        12,
        None,
        (),
    )


def test_progress_report_status_without_treatment_yet():
    result = clock([], today=START)
    assert (result.status, result.treatment_days, result.days_left) == ("ok", 0, 10)


def test_progress_report_rule_is_configurable():
    rule = ProgressReportRule(every=6, warn_from=5)
    assert clock(treatment_days(4), rule=rule).status == "ok"
    assert clock(treatment_days(5), rule=rule).status == "warn"
    assert clock(treatment_days(6), rule=rule).status == "due"
    with pytest.raises(ValueError, match="on or before"):
        ProgressReportRule(every=10, warn_from=11)


@given(st.integers(min_value=1, max_value=40), st.integers(min_value=0, max_value=39))
def test_progress_report_days_left_and_count_add_up(count, report_after):
    days = treatment_days(count)
    reports = [pt_report(days[report_after])] if report_after < count else []
    result = clock(days, reports)
    expected = count - report_after - 1 if reports else count
    assert result.treatment_days == expected
    assert result.days_left == max(0, 10 - expected)
    assert result.status == ("ok" if expected < 8 else "warn" if expected < 10 else "due")


# --- Plan-of-care certification ----------------------------------------------------------------

FIRST = dt.date(2025, 1, 1)


def certification(**kwargs):
    values = {
        "first_treatment": FIRST,
        "certified_until": dt.date(2025, 3, 31),
        "physician_signed_on": None,
        "verbal_order_on": None,
        "today": FIRST,
    }
    return certification_status(**{**values, **kwargs})


@pytest.mark.parametrize(
    ("first", "latest"),
    [
        (dt.date(2025, 1, 1), dt.date(2025, 3, 31)),  # 31 + 28 + 31 = 90 days
        (dt.date(2024, 1, 1), dt.date(2024, 3, 30)),  # leap year: 31 + 29 + 30
        (dt.date(2025, 11, 15), dt.date(2026, 2, 12)),
    ],
)
def test_certification_is_at_most_90_calendar_days_counting_the_first_day(first, latest):
    assert certification_latest_until(first) == latest
    assert (latest - first).days + 1 == 90
    ok = certification(
        first_treatment=first, certified_until=latest, today=first, physician_signed_on=first
    )
    assert ok.latest_allowed_until == latest
    with pytest.raises(CertificationError, match="at most 90 calendar days"):
        certification(
            first_treatment=first, certified_until=latest + dt.timedelta(days=1), today=first
        )


def test_certification_cannot_end_before_the_first_treatment():
    with pytest.raises(CertificationError, match="before the first treatment"):
        certification(certified_until=dt.date(2024, 12, 31))


@pytest.mark.parametrize(
    ("today", "days_left", "expired"),
    [
        (dt.date(2025, 1, 1), 89, False),
        (dt.date(2025, 3, 30), 1, False),
        (dt.date(2025, 3, 31), 0, False),  # the last certified day
        (dt.date(2025, 4, 1), -1, True),
    ],
)
def test_certification_days_left_and_expiry(today, days_left, expired):
    result = certification(today=today, physician_signed_on=FIRST)
    assert (result.days_left, result.expired) == (days_left, expired)
    ended = "Plan of care certification ended on 2025-03-31: recertify before the next treatment"
    assert result.flags == ((ended,) if expired else ())


@pytest.mark.parametrize(
    ("signed_on", "verbal_on", "today", "signature", "due_on", "days_left", "late"),
    [
        # Signature due within 30 days of the first treatment: by 31 January.
        (None, None, dt.date(2025, 1, 1), "missing", dt.date(2025, 1, 31), 30, False),
        (None, None, dt.date(2025, 1, 31), "missing", dt.date(2025, 1, 31), 0, False),
        (None, None, dt.date(2025, 2, 1), "overdue", dt.date(2025, 1, 31), -1, False),
        (
            dt.date(2025, 1, 31),
            None,
            dt.date(2025, 2, 5),
            "signed",
            dt.date(2025, 1, 31),
            None,
            False,
        ),
        (
            dt.date(2025, 2, 1),
            None,
            dt.date(2025, 2, 5),
            "signed",
            dt.date(2025, 1, 31),
            None,
            True,
        ),
        # A verbal order within the 30 days: the signature within 14 days of the order.
        (None, dt.date(2025, 1, 20), dt.date(2025, 2, 1), "missing", dt.date(2025, 2, 3), 2, False),
        (None, dt.date(2025, 1, 20), dt.date(2025, 2, 3), "missing", dt.date(2025, 2, 3), 0, False),
        (
            None,
            dt.date(2025, 1, 20),
            dt.date(2025, 2, 4),
            "overdue",
            dt.date(2025, 2, 3),
            -1,
            False,
        ),
        (
            dt.date(2025, 2, 3),
            dt.date(2025, 1, 20),
            dt.date(2025, 2, 3),
            "signed",
            dt.date(2025, 2, 3),
            None,
            False,
        ),
        (
            dt.date(2025, 2, 4),
            dt.date(2025, 1, 20),
            dt.date(2025, 2, 4),
            "signed",
            dt.date(2025, 2, 3),
            None,
            True,
        ),
        # On the 30th day: the signature by 14 February.
        (
            None,
            dt.date(2025, 1, 31),
            dt.date(2025, 2, 14),
            "missing",
            dt.date(2025, 2, 14),
            0,
            False,
        ),
        (
            None,
            dt.date(2025, 1, 31),
            dt.date(2025, 2, 15),
            "overdue",
            dt.date(2025, 2, 14),
            -1,
            False,
        ),
        # An early verbal order does not shorten the 30 days.
        (
            None,
            dt.date(2025, 1, 5),
            dt.date(2025, 1, 25),
            "missing",
            dt.date(2025, 1, 31),
            6,
            False,
        ),
        # A verbal order after the 30 days is not a timely certification.
        (
            None,
            dt.date(2025, 2, 1),
            dt.date(2025, 2, 1),
            "overdue",
            dt.date(2025, 1, 31),
            -1,
            False,
        ),
        # A signature dated after today is not there yet.
        (
            dt.date(2025, 1, 20),
            None,
            dt.date(2025, 1, 10),
            "missing",
            dt.date(2025, 1, 31),
            21,
            False,
        ),
    ],
)
def test_physician_signature_due_within_30_days_or_14_days_after_a_verbal_order(
    signed_on, verbal_on, today, signature, due_on, days_left, late
):
    result = certification(physician_signed_on=signed_on, verbal_order_on=verbal_on, today=today)
    assert (result.signature, result.signature_due_on) == (signature, due_on)
    assert (result.signature_days_left, result.signed_late) == (days_left, late)


@pytest.mark.parametrize(
    ("kwargs", "flags"),
    [
        (
            {"today": dt.date(2025, 1, 21)},
            ("Physician's signature on the plan of care due by 2025-01-31 (in 10 days)",),
        ),
        (
            {"today": dt.date(2025, 1, 31)},
            ("Physician's signature on the plan of care due by 2025-01-31 (today)",),
        ),
        (
            {"today": dt.date(2025, 2, 3)},
            ("Physician's signature on the plan of care overdue since 2025-01-31 (3 days late)",),
        ),
        (
            {"today": dt.date(2025, 1, 25), "verbal_order_on": dt.date(2025, 1, 24)},
            (
                "Physician's signature on the plan of care due by 2025-02-07 (in 13 days) "
                "(verbal order on 2025-01-24)",
            ),
        ),
        (
            {"today": dt.date(2025, 2, 2), "verbal_order_on": dt.date(2025, 2, 1)},
            (
                "The verbal order on 2025-02-01 came after the 30 days for a timely "
                "certification (by 2025-01-31)",
                "Physician's signature on the plan of care overdue since 2025-01-31 (2 days late)",
            ),
        ),
        (
            {"today": dt.date(2025, 2, 5), "physician_signed_on": dt.date(2025, 2, 1)},
            (
                "Certification signed on 2025-02-01, 1 day after it was due (2025-01-31): a "
                "delayed certification; document the reason for the delay",
            ),
        ),
        ({"today": dt.date(2025, 2, 5), "physician_signed_on": dt.date(2025, 1, 2)}, ()),
    ],
)
def test_certification_flags(kwargs, flags):
    assert certification(**kwargs).flags == flags


@pytest.mark.parametrize("field", ["physician_signed_on", "verbal_order_on"])
def test_certification_refuses_a_signature_or_order_before_the_first_treatment(field):
    with pytest.raises(CertificationError, match="predates the first treatment"):
        certification(**{field: dt.date(2024, 12, 31), "today": dt.date(2025, 1, 5)})


# --- Authorizations ----------------------------------------------------------------------------

TODAY = dt.date(2025, 6, 2)


def authorization(**kwargs):
    values = {
        "visits_approved": None,
        "visits_used": 0,
        "units_approved": None,
        "units_used": 0,
        "ends_on": None,
        "today": TODAY,
    }
    return authorization_status(**{**values, **kwargs})


@pytest.mark.parametrize(
    ("used", "status", "left", "flags"),
    [
        (0, "ok", 12, ()),
        (9, "ok", 3, ()),
        (10, "warn", 2, ("2 visits left of 12",)),
        (11, "warn", 1, ("1 visit left of 12",)),
        (12, "exhausted", 0, ("All 12 approved visits used",)),
        (13, "exhausted", -1, ("13 of 12 approved visits used (1 over)",)),
    ],
)
def test_authorization_visits_warn_at_2_left(used, status, left, flags):
    result = authorization(visits_approved=12, visits_used=used)
    assert (result.status, result.visits_left, result.flags) == (status, left, flags)


@pytest.mark.parametrize(
    ("used", "status", "left", "flags"),
    [
        (0, "ok", 40, ()),
        (30, "ok", 10, ()),
        (31, "warn", 9, ("9 units left of 40",)),
        (39, "warn", 1, ("1 unit left of 40",)),
        (40, "exhausted", 0, ("All 40 approved units used",)),
    ],
)
def test_authorization_units_warn_under_10_left(used, status, left, flags):
    result = authorization(units_approved=40, units_used=used)
    assert (result.status, result.units_left, result.flags) == (status, left, flags)


@pytest.mark.parametrize(
    ("days", "status", "flags"),
    [
        (30, "ok", ()),
        (8, "ok", ()),
        (7, "warn", ("Authorization ends on 2025-06-09 (in 7 days)",)),
        (1, "warn", ("Authorization ends on 2025-06-03 (in 1 day)",)),
        (0, "warn", ("Authorization ends on 2025-06-02 (today)",)),
        (-1, "exhausted", ("Authorization ended on 2025-06-01",)),
    ],
)
def test_authorization_date_range_warns_7_days_before_the_end(days, status, flags):
    result = authorization(ends_on=TODAY + dt.timedelta(days=days))
    assert (result.status, result.days_left, result.flags) == (status, days, flags)


def test_authorization_gives_every_reason():
    result = authorization(
        visits_approved=12,
        visits_used=12,
        units_approved=40,
        units_used=35,
        ends_on=TODAY + dt.timedelta(days=3),
    )
    assert result.status == "exhausted"
    assert result.flags == (
        "All 12 approved visits used",
        "5 units left of 40",
        "Authorization ends on 2025-06-05 (in 3 days)",
    )


def test_authorization_without_limits_is_ok():
    result = authorization(visits_used=40, units_used=200)
    assert (result.status, result.visits_left, result.units_left, result.days_left) == (
        "ok",
        None,
        None,
        None,
    )


def test_authorization_not_started_yet():
    result = authorization(
        visits_approved=12, starts_on=TODAY + dt.timedelta(days=1), ends_on=dt.date(2025, 9, 1)
    )
    assert result.status == "not_started"
    assert result.flags == ("Authorization starts on 2025-06-03; not valid yet",)
    assert authorization(visits_approved=12, starts_on=TODAY).status == "ok"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"visits_used": -1}, "visits_used must be a whole number of at least 0, not -1"),
        ({"units_used": -1}, "units_used must be a whole number of at least 0, not -1"),
        ({"visits_approved": -3}, "visits_approved must be a whole number"),
        ({"units_approved": 2.5}, "units_approved must be a whole number"),
        ({"visits_used": True}, "visits_used must be a whole number"),
        (
            {"starts_on": TODAY, "ends_on": TODAY - dt.timedelta(days=1)},
            "cannot end before it starts",
        ),
    ],
)
def test_authorization_refuses_impossible_counts(kwargs, message):
    with pytest.raises(ValueError, match=message):
        authorization(**kwargs)


def test_authorization_thresholds_are_configurable():
    rule = AuthorizationRule(warn_visits_left=4, warn_units_below=20, warn_days_left=14)
    assert authorization(visits_approved=12, visits_used=8, rule=rule).status == "warn"
    assert authorization(units_approved=40, units_used=21, rule=rule).status == "warn"
    assert authorization(ends_on=TODAY + dt.timedelta(days=14), rule=rule).status == "warn"
    assert authorization(ends_on=TODAY + dt.timedelta(days=15), rule=rule).status == "ok"
