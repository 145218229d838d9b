"""An episode's compliance (programs.selectors.episode_compliance): the progress-report clock,
the plan's certification and the payer's authorization, with flags, in constant queries."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clinic.models import Clinic
from patients.models import EpisodeOfCare, Evaluation, Goal, Visit
from programs import care, reports
from programs.selectors import EpisodeCompliance, episode_compliance
from tests.factories import GoalFactory, PlanOfCareFactory, SignedEvaluationFactory, therapist_in
from tests.programs.helpers import MANUAL, THER_EX, item, local_today

pytestmark = pytest.mark.django_db


def flags(found, area: str) -> list[tuple[str, str]]:
    return [(f.level, f.message) for f in found.flags if f.area == area]


def completed(visit_on, episode, days_ago_list) -> list[Visit]:
    return [visit_on(episode, days_ago=d, status=Visit.Status.COMPLETED) for d in days_ago_list]


# --- Progress report -------------------------------------------------------------------------


def test_compliance_counts_the_evaluation_day_and_completed_visit_days_once(
    medicare_episode, visit_on
):
    SignedEvaluationFactory(episode=medicare_episode, performed_on=medicare_episode.started_on)
    completed(visit_on, medicare_episode, [20, 19])
    visit_on(medicare_episode, days_ago=19, status=Visit.Status.COMPLETED, at=dt.time(15))
    visit_on(medicare_episode, days_ago=18, status=Visit.Status.NO_SHOW)
    visit_on(medicare_episode, days_ago=-1)  # booked, in the future
    found = episode_compliance(episode=medicare_episode)
    assert found.progress_report.treatment_days == 3
    assert found.progress_report.status == "ok"
    assert found.treatment_dates[0] == medicare_episode.started_on


def test_compliance_warns_at_the_8th_treatment_day(medicare_episode, visit_on):
    SignedEvaluationFactory(episode=medicare_episode, performed_on=medicare_episode.started_on)
    completed(visit_on, medicare_episode, range(20, 13, -1))  # days 2-8
    found = episode_compliance(episode=medicare_episode)
    assert (found.progress_report.status, found.progress_report.treatment_days) == ("warn", 8)
    ((level, message),) = flags(found, "progress_report")
    assert level == "warning"
    assert "Progress report due in 2 treatment days" in message


def test_compliance_is_critical_at_the_10th_treatment_day(medicare_episode, visit_on):
    SignedEvaluationFactory(episode=medicare_episode, performed_on=medicare_episode.started_on)
    completed(visit_on, medicare_episode, range(20, 11, -1))  # days 2-10
    found = episode_compliance(episode=medicare_episode)
    assert found.progress_report.status == "due"
    assert flags(found, "progress_report")[0][0] == "critical"


def test_compliance_pta_report_does_not_reset_the_pt_report_does(
    medicare_episode, therapist, visit_on
):
    SignedEvaluationFactory(episode=medicare_episode, performed_on=medicare_episode.started_on)
    completed(visit_on, medicare_episode, range(20, 11, -1))
    pta = therapist_in(medicare_episode.clinic, discipline="PTA")
    report_day = local_today(medicare_episode.clinic) - dt.timedelta(days=13)
    for by in (pta, therapist):
        SignedEvaluationFactory(
            episode=medicare_episode,
            kind=Evaluation.Kind.PROGRESS_REPORT,
            complexity="",
            author=by,
            signed_by=by,
            performed_on=report_day,
        )
        found = episode_compliance(episode=medicare_episode)
        if by is pta:
            assert found.progress_report.status == "due"
    assert found.progress_report.last_report_on == report_day
    assert (found.progress_report.status, found.progress_report.treatment_days) == ("ok", 1)


def test_compliance_clock_off_reports_off_without_flags(episode, visit_on):
    completed(visit_on, episode, range(20, 8, -1))
    found = episode_compliance(episode=episode)
    assert found.progress_report.status == "off"
    assert flags(found, "progress_report") == []


# --- Certification ---------------------------------------------------------------------------


def test_compliance_flags_a_missing_plan(episode):
    found = episode_compliance(episode=episode)
    assert found.certification is None
    assert flags(found, "plan") == [
        ("warning", "No plan of care: establish one and have the physician certify it")
    ]


def test_compliance_flags_the_certification_ending_and_the_signature_due(episode):
    today = local_today(episode.clinic)
    PlanOfCareFactory(
        episode=episode,
        starts_on=today - dt.timedelta(days=20),
        certified_until=today + dt.timedelta(days=5),
    )
    found = episode_compliance(episode=episode)
    assert found.certification is not None
    status = found.certification.status
    assert (status.days_left, status.signature) == (5, "missing")
    messages = [m for _, m in flags(found, "certification")]
    assert messages[0].startswith(
        f"Plan of care certification ends on {today + dt.timedelta(days=5):%Y-%m-%d} (in 5 days)"
    )
    assert any("Physician's signature on the plan of care due by" in m for m in messages)


def test_compliance_flags_an_expired_certification_and_an_overdue_signature_as_critical(
    episode,
):
    today = local_today(episode.clinic)
    PlanOfCareFactory(
        episode=episode,
        starts_on=today - dt.timedelta(days=60),
        certified_until=today - dt.timedelta(days=1),
    )
    found = episode_compliance(episode=episode)
    assert found.certification.status.expired
    levels = {level for level, _ in flags(found, "certification")}
    assert levels == {"critical"}


def test_compliance_signed_certification_not_ending_soon_has_no_flag(episode):
    today = local_today(episode.clinic)
    PlanOfCareFactory(
        episode=episode,
        starts_on=today - dt.timedelta(days=10),
        certified_until=today + dt.timedelta(days=60),
        physician_signed_on=today - dt.timedelta(days=5),
    )
    found = episode_compliance(episode=episode)
    assert found.certification.status.signature == "signed"
    assert flags(found, "certification") == []
    assert found.flags == ()


def test_compliance_flags_long_term_goals_changed_after_the_plan(episode):
    PlanOfCareFactory(episode=episode, physician_signed_on=episode.started_on)
    GoalFactory(episode=episode, term=Goal.Term.SHORT)
    assert flags(episode_compliance(episode=episode), "plan") == []
    GoalFactory(episode=episode, term=Goal.Term.LONG)
    ((level, message),) = flags(episode_compliance(episode=episode), "plan")
    assert level == "warning"
    assert "Long-term goals changed" in message


# --- Authorization ---------------------------------------------------------------------------


def _authorize(episode: EpisodeOfCare, **fields) -> None:
    EpisodeOfCare.objects.filter(pk=episode.pk).update(**fields)
    episode.refresh_from_db()


def test_compliance_warns_at_two_authorized_visits_left(episode, visit_on):
    today = local_today(episode.clinic)
    _authorize(episode, auth_visits=5, auth_starts_on=today - dt.timedelta(days=15))
    completed(visit_on, episode, [20, 14, 10, 5])  # the first before the authorization
    found = episode_compliance(episode=episode)
    assert (found.authorization.visits_used, found.authorization.status.visits_left) == (3, 2)
    assert flags(found, "authorization") == [("warning", "2 visits left of 5")]


def test_compliance_units_used_are_the_signed_notes_units(episode, therapist, visit_on):
    _authorize(episode, auth_units=12, auth_reference="AUTH-77")
    for days_ago, minutes in ((3, 38), (2, 45)):  # per code: 3 units, then 3 units
        note = care.treatment_note_save(
            visit=visit_on(episode, days_ago=days_ago),
            by=therapist,
            modalities=[item(THER_EX, minutes)],
        )
        if days_ago == 3:
            care.treatment_note_sign(note=note, by=therapist, version=note.version)
    found = episode_compliance(episode=episode)
    assert (found.authorization.units_used, found.authorization.status.units_left) == (3, 9)
    assert found.authorization.reference == "AUTH-77"
    assert flags(found, "authorization") == [("warning", "9 units left of 12")]


def test_compliance_authorization_exhausted_is_critical(episode, visit_on):
    today = local_today(episode.clinic)
    _authorize(episode, auth_visits=2, auth_ends_on=today - dt.timedelta(days=1))
    completed(visit_on, episode, [5, 4])
    found = episode_compliance(episode=episode)
    assert found.authorization.status.status == "exhausted"
    assert {level for level, _ in flags(found, "authorization")} == {"critical"}


def test_compliance_without_an_authorization_has_none(episode):
    assert episode_compliance(episode=episode).authorization is None


# --- Queries ---------------------------------------------------------------------------------


def test_compliance_queries_do_not_grow_with_the_episode(
    medicare_episode, therapist, visit_on, django_assert_num_queries
):
    today = local_today(medicare_episode.clinic)
    _authorize(medicare_episode, auth_visits=30, auth_units=90, auth_ends_on=today)
    PlanOfCareFactory(episode=medicare_episode)
    episode = EpisodeOfCare.objects.select_related("clinic").get(pk=medicare_episode.pk)

    def count() -> int:
        with CaptureQueriesContext(connection) as captured:
            episode_compliance(episode=episode)
        return len(captured)

    small = count()
    for days_ago in range(20, 12, -1):
        visit = visit_on(medicare_episode, days_ago=days_ago)
        care.visit_complete_with_note(
            visit=visit, by=therapist, sign=True, modalities=[item(THER_EX, 20)]
        )
    GoalFactory(episode=medicare_episode, term=Goal.Term.LONG)
    assert count() == small
    with django_assert_num_queries(small):
        episode_compliance(episode=episode)
    assert small <= 6


def test_compliance_takes_the_same_queries_with_or_without_an_authorization(
    medicare_episode, therapist, visit_on
):
    """The billing lines an authorization's units are counted from come in the completed
    visits' query (UNION ALL), not in a query of their own that only some episodes make."""
    for days_ago in (4, 3):
        care.visit_complete_with_note(
            visit=visit_on(medicare_episode, days_ago=days_ago),
            by=therapist,
            sign=True,
            modalities=[item(THER_EX, 38)],
        )

    def read() -> tuple[int, EpisodeCompliance]:
        episode = EpisodeOfCare.objects.select_related("clinic").get(pk=medicare_episode.pk)
        with CaptureQueriesContext(connection) as captured:
            found = episode_compliance(episode=episode)
        return len(captured), found

    unauthorized, found = read()
    assert found.authorization is None
    _authorize(medicare_episode, auth_visits=10, auth_units=20)
    authorized, found = read()
    assert (found.authorization.visits_used, found.authorization.units_used) == (2, 6)
    assert authorized == unauthorized == 4


def test_the_compliance_report_counts_the_local_days_and_units_the_episode_page_counts(
    episode, therapist, visit_on
):
    """The report counts per clinic-local day from all active episodes' visits at once; the
    page from one episode's. In Auckland (UTC+13 in December) a visit at 00:15 is the day
    before in UTC: the window's edges must fall on the local dates. Two visits on one day are
    two visits and one treatment day; units count only from signed notes, each billing line
    once."""

    Clinic.objects.filter(pk=episode.clinic_id).update(timezone="Pacific/Auckland")
    episode.refresh_from_db()
    clinic = episode.clinic
    today = local_today(clinic)
    _authorize(
        episode,
        progress_report_clock=True,
        started_on=today - dt.timedelta(days=14),
        auth_visits=6,
        auth_units=10,
        auth_starts_on=today - dt.timedelta(days=10),
        auth_ends_on=today + dt.timedelta(days=20),
    )
    SignedEvaluationFactory(episode=episode, performed_on=today - dt.timedelta(days=14))
    done = Visit.Status.COMPLETED
    visit_on(episode, days_ago=11, status=done, at=dt.time(23, 10))  # the day before: outside
    first = visit_on(episode, days_ago=10, status=done, at=dt.time(0, 15))  # the first day
    visit_on(episode, days_ago=6, status=done, at=dt.time(8))
    visit_on(episode, days_ago=6, status=done, at=dt.time(17))  # a second visit that day
    unsigned = visit_on(episode, days_ago=3, status=done, at=dt.time(23, 50))
    visit_on(episode, days_ago=2, status=Visit.Status.NO_SHOW)
    # Signed before the visit was completed: its units count, the visit does not (yet).
    checked_in = visit_on(episode, days_ago=1, status=Visit.Status.CHECKED_IN, at=dt.time(9))
    note = care.treatment_note_save(visit=checked_in, by=therapist, modalities=[item(THER_EX, 38)])
    care.treatment_note_sign(note=note, by=therapist, version=note.version)
    for held, sign in ((first, True), (unsigned, False)):
        note = care.treatment_note_save(
            visit=held, by=therapist, modalities=[item(THER_EX, 38), item(MANUAL, 15)]
        )
        if sign:
            care.treatment_note_sign(note=note, by=therapist, version=note.version)
    # Two billing lines on the signed note: the units of both, and still one visit.
    assert first.treatment_note.billing_lines.count() == 2

    page = episode_compliance(episode=episode, today=today)
    assert (page.authorization.visits_used, page.authorization.units_used) == (4, 7)
    assert page.progress_report.treatment_days == 5  # the evaluation day and four visit days

    report = reports.compliance_report(clinics=[clinic], today=today)
    [counts] = report.table("clinics").rows
    flagged = {
        (row["area"], row["level"], row["message"])
        for row in report.table("flags").rows
        if row["episode"] == str(episode.public_id) and row["area"] != "Plan of care"
    }
    expected = {
        (area, f.level, f.message)
        for f in page.flags
        for key, area in (
            ("progress_report", "Progress report"),
            ("authorization", "Authorization"),
        )
        if f.area == key
    }
    assert flagged == expected
    assert ("Authorization", "warning", "2 visits left of 6") in flagged
    assert counts["auth_nearly"] == 1
