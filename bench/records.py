"""Operations on patients and their records: patient search, the chart (its API reads and its
page), the front desk's day-calendar page, completing a visit with a treatment note, a progress
summary, the administrators' reports and the admin's change list of visits.

Everything here reads the seed (bench/seed.py and its clinical history, bench/clinical.py) and
leaves it as it was: the visits completed here are the bench bookers' own (made before the clock
starts, removed with their notes afterwards), and the summaries written here are deleted again.
Reads of a chart append to the access log, as the product does; that log is not part of the seed.
"""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.urls import NoReverseMatch, reverse

from bench.measure import Bench, BenchClinic, Operation, Target
from clinic.errors import ConflictError
from clinic.models import Clinic, User
from patients.models import EpisodeOfCare, Patient, Visit
from programs.models import Exercise, Modality, ProgressSummary, TreatmentNote

RAW_SELECT = "raw SELECT day (psycopg)"
RAW_INSERT = "raw INSERT (psycopg)"
# Issue 11: every read of a list, a calendar or a chart in the same number of queries whatever
# the input, the same at 10k and at 1M visits, and at most 1.3 times slower at 1M.
READ = Target(constant_queries=True, max_growth=1.3)
CONSTANT = Target(constant_queries=True)
# Issue 11: a progress summary in at most 15 queries, 200 a second in one process. One summary
# at a time is the per-visit task's (latency after a completion): at most 15 queries; the rate is
# the sweeper's batch of 100 (programs.summaries.progress_summaries_write), whose queries do not
# grow with the batch.
SUMMARY_TARGET = Target(max_queries=15, constant_queries=True)
SUMMARY_BATCH_TARGET = Target(min_per_second=200, constant_queries=True)


def _page(name: str, **kwargs: Any) -> str | None:
    try:
        return reverse(f"pages:{name}", kwargs=kwargs)
    except NoReverseMatch:
        return None


def _page_url(name: str, **kwargs: Any) -> str:
    url = _page(name, **kwargs)
    if url is None:  # the operation's `unavailable` said so before any call
        raise RuntimeError(f"No page pages:{name}.")
    return url


def _page_missing(name: str, **kwargs: Any) -> Callable[[], str | None]:
    def check() -> str | None:
        if _page(name, **kwargs) is None:
            return f"no page pages:{name} in this code base"
        return None

    return check


# --- Patient search --------------------------------------------------------------------------


def _search_terms(bench: Bench, n: int, *, full_name: bool) -> list[tuple[BenchClinic, str]]:
    """A clinic and the name of one of its patients (so every search finds someone): the first
    and last name, or the last name alone."""
    names: dict[int, list[str]] = {}
    for clinic_id, first_name, last_name in (
        Patient.objects.filter(clinic_id__in=[p.clinic.pk for p in bench.clinics])
        .active()
        .values_list("clinic_id", "first_name", "last_name")
        .distinct()
        .order_by("clinic_id", "last_name", "first_name")
    ):
        names.setdefault(clinic_id, []).append(
            f"{first_name} {last_name}" if full_name else last_name
        )
    places = [place for place in bench.clinics if names.get(place.clinic.pk)]
    inputs = []
    for _ in range(n):
        place = bench.rng.choice(places)
        inputs.append((place, bench.rng.choice(sorted(set(names[place.clinic.pk])))))
    return inputs


def _search_inputs(bench: Bench, n: int) -> list[tuple[BenchClinic, str]]:
    """The front desk's usual search, a first and last name: about one match per clinic at
    both sizes, so what grows from 10k to 1M is the table the search reads, not its answer."""
    return _search_terms(bench, n, full_name=True)


def _broad_search_inputs(bench: Bench, n: int) -> list[tuple[BenchClinic, str]]:
    """A last name alone: about 2 matches per clinic at 10k visits (2,000 patients) and 47 at
    1M (100,000 patients), so the answer itself is 20 times longer at 1M (a page holds 50)."""
    return _search_terms(bench, n, full_name=False)


def _search_over_http(bench: Bench, args: tuple[BenchClinic, str]) -> str:
    place, query = args
    response = place.client.post(
        f"/api/v1/clinics/{place.clinic.public_id}/patients/search/", {"q": query}, format="json"
    )
    return str(response.status_code)


# --- The chart -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Chart:
    clinic: Clinic
    patient: Patient
    episode: EpisodeOfCare
    therapist: User


def _charts(bench: Bench, n: int) -> list[Chart]:
    """Patients with a treated episode, read by the episode's therapist; the newest episode of
    each, as a chart opens on it."""
    places = {place.clinic.pk: place for place in bench.clinics}
    episodes = list(
        EpisodeOfCare.objects.filter(clinic_id__in=list(places), treatment_notes__isnull=False)
        .select_related("patient", "therapist", "clinic")
        .distinct()
        .order_by("-started_on", "pk")[: max(4 * n, 200)]
    )
    if not episodes:
        raise RuntimeError("No episode with a treatment note: seed the clinical history first.")
    bench.rng.shuffle(episodes)
    picks = (episodes * (n // len(episodes) + 1))[:n]
    return [Chart(e.clinic, e.patient, e, e.therapist) for e in picks]


def _charts_over_api(bench: Bench, n: int) -> list[Chart]:
    charts = _charts(bench, n)
    for chart in charts:  # signed in before the clock starts
        bench.client_for(chart.therapist)
    return charts


def _charts_as_pages(bench: Bench, n: int) -> list[Chart]:
    charts = _charts(bench, n)
    for chart in charts:
        bench.session_client(chart.therapist)
    return charts


def _chart_api(bench: Bench, chart: Chart) -> str:
    """The API reads a chart is made of: the patient, their episodes and visits, and the
    episode's outcomes, goals, plans of care and compliance clocks."""
    client = bench.client_for(chart.therapist)
    base = f"/api/v1/clinics/{chart.clinic.public_id}"
    patient, episode = chart.patient.public_id, chart.episode.public_id
    paths: tuple[tuple[str, dict[str, str]], ...] = (
        (f"{base}/patients/{patient}/", {}),
        (f"{base}/patients/{patient}/episodes/", {}),
        (f"{base}/visits/", {"patient": str(patient)}),
        (f"{base}/episodes/{episode}/outcomes/", {}),
        (f"{base}/episodes/{episode}/goals/", {}),
        (f"{base}/episodes/{episode}/plans/", {}),
        (f"{base}/episodes/{episode}/compliance/", {}),
    )
    codes = [client.get(path, params).status_code for path, params in paths]
    bad = [f"{path}: {code}" for (path, _), code in zip(paths, codes, strict=True) if code != 200]
    return "200" if not bad else "; ".join(bad)


def _chart_page(bench: Bench, chart: Chart) -> str:
    url = _page_url("chart", clinic_id=chart.clinic.public_id, patient_id=chart.patient.public_id)
    response = bench.session_client(chart.therapist).get(url)
    return str(response.status_code)


# --- The front desk's day calendar page -------------------------------------------------------


def _calendar_page_inputs(
    seeded_days: Callable[[Bench, int], list[tuple[BenchClinic, dt.date]]],
) -> Callable[[Bench, int], list[tuple[BenchClinic, dt.date]]]:
    def inputs(bench: Bench, n: int) -> list[tuple[BenchClinic, dt.date]]:
        days = seeded_days(bench, n)
        for place, _ in days:  # signed in before the clock starts
            bench.session_client(place.booker)
        return days

    return inputs


def _calendar_page(bench: Bench, args: tuple[BenchClinic, dt.date]) -> str:
    place, day = args
    url = _page_url("frontdesk", clinic_id=place.clinic.public_id)
    response = bench.session_client(place.booker).get(url, {"date": day.isoformat()})
    return str(response.status_code)


# --- Completing a visit with a treatment note ------------------------------------------------


@dataclass(frozen=True)
class Completion:
    clinic: Clinic
    visit: Visit
    therapist: User
    body: dict[str, Any]


def _completions(bench: Bench, n: int) -> list[Completion]:
    """Visits to complete, made before the clock starts: a checked-in visit of the bench booker
    at the time, therapist, room, patient and episode of a seeded visit that was cancelled in
    the past (so nothing overlaps it), in an active episode with a plan of care, where signing
    a note is allowed (no progress report due). Removed again by `_remove_completions`."""
    from programs.care import progress_report_due_check

    places = {place.clinic.pk: place for place in bench.clinics}
    cancelled = list(
        Visit.objects.filter(
            clinic_id__in=list(places),
            status=Visit.Status.CANCELLED,
            ends_at__lte=bench.now,
            episode__status=EpisodeOfCare.Status.ACTIVE,
            episode__plans__status="active",
        )
        .exclude(booked_by_id__in=bench.booker_ids)
        .select_related("clinic", "episode", "episode__clinic", "therapist")
        .order_by("-starts_at", "pk")[: 6 * n]
    )
    bench.rng.shuffle(cancelled)
    chosen: list[Visit] = []
    for seeded in cancelled:
        if len(chosen) >= n:
            break
        if seeded.episode is None:
            continue
        try:
            progress_report_due_check(
                episode=seeded.episode, day=seeded.starts_at.astimezone(seeded.clinic.tz).date()
            )
        except ConflictError:
            continue
        chosen.append(seeded)
    if len(chosen) < n:
        raise RuntimeError(f"Found only {len(chosen)} cancelled visits to complete for {n}.")
    made = Visit.objects.bulk_create(
        [
            Visit(
                clinic_id=v.clinic_id,
                patient_id=v.patient_id,
                therapist_id=v.therapist_id,
                room_id=v.room_id,
                starts_at=v.starts_at,
                ends_at=v.ends_at,
                kind=Visit.Kind.TREATMENT,
                status=Visit.Status.CHECKED_IN,
                episode_id=v.episode_id,
                series_id=None,
                booked_by_id=places[v.clinic_id].booker.pk,
                status_changed_at=v.starts_at,
            )
            for v in chosen
        ]
    )
    timed = Modality.objects.get(cpt_code="97110")
    exercises = list(Exercise.objects.filter(slug__in=("bridge", "bird-dog")).order_by("slug"))
    body = {
        "subjective": "Less pain on sitting.",
        "assessment": "Progressing as planned.",
        "sign": True,
        "modalities": [{"modality": str(timed.public_id), "minutes": 23, "body_region": "lumbar"}],
        "exercises": [{"exercise": str(e.public_id), "sets": 3, "reps": 10} for e in exercises],
    }
    for seeded in chosen:  # signed in before the clock starts
        bench.client_for(seeded.therapist)
    return [
        Completion(seeded.clinic, visit, seeded.therapist, body)
        for seeded, visit in zip(chosen, made, strict=True)
    ]


def _complete_over_http(bench: Bench, completion: Completion) -> str:
    client = bench.client_for(completion.therapist)
    response = client.post(
        f"/api/v1/clinics/{completion.clinic.public_id}/visits/"
        f"{completion.visit.public_id}/note/complete/",
        completion.body,
        format="json",
    )
    if response.status_code == 200:
        return "200"
    return f"{response.status_code}: {response.content[:200]!r}"


def _remove_completions(bench: Bench) -> None:
    """The notes (signed: the guard's triggers are switched off for this transaction only, as
    the superuser the benchmark runs as), their rows and history, then the visits."""
    ids = list(Visit.objects.filter(booked_by_id__in=bench.booker_ids).values_list("pk", flat=True))
    if not ids:
        return
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        note_ids = list(TreatmentNote.objects.filter(visit_id__in=ids).values_list("pk", flat=True))
        for table, column, values in (
            ("programs_billingline", "note_id", note_ids),
            ("programs_deliveredmodality", "note_id", note_ids),
            ("programs_deliveredexercise", "note_id", note_ids),
            ("programs_historicaltreatmentnote", "visit_id", ids),
            ("programs_treatmentnote", "visit_id", ids),
            ("programs_progresssummary", "visit_id", ids),
            ("programs_followup", "after_visit_id", ids),
            ("programs_historicalfollowup", "after_visit_id", ids),
        ):
            if _has_table(cursor, table):
                cursor.execute(f"DELETE FROM {table} WHERE {column} = ANY(%s)", [values])  # noqa: S608
    bench.delete_bench_visits()


def _has_table(cursor: Any, table: str) -> bool:
    cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [table])
    row = cursor.fetchone()
    return bool(row and row[0])


# --- Progress summary ------------------------------------------------------------------------


def _summary_candidates(bench: Bench, limit: int) -> list[int]:
    """Completed treatment visits of episodes, with their signed note and no summary, across
    every clinic: the `limit` latest, shuffled."""
    ids = list(
        Visit.objects.filter(
            clinic_id__in=[place.clinic.pk for place in bench.clinics],
            status=Visit.Status.COMPLETED,
            kind=Visit.Kind.TREATMENT,
            episode__isnull=False,
            treatment_note__isnull=False,
            progress_summary__isnull=True,
        )
        .order_by("-starts_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    bench.rng.shuffle(ids)
    return ids


def _summary_inputs(bench: Bench, n: int) -> list[int]:
    ids = _summary_candidates(bench, 4 * n)
    if len(ids) < n:
        raise RuntimeError(f"Only {len(ids)} completed visits with a note for {n} summaries.")
    bench.made.setdefault("summaries", []).extend(ids[:n])
    return ids[:n]


# Visits per call of the sweeper's batch (programs.tasks.SUMMARY_CHUNK); fewer when the seed
# has not that many fresh visits for every call (the tiny seed of the tests).
SUMMARY_BATCH = 100


def _summary_batches(bench: Bench, n: int) -> list[list[int]]:
    """n batches of fresh visits (each visit in one batch only: a summary is written once)."""
    ids = _summary_candidates(bench, n * SUMMARY_BATCH)
    size = min(SUMMARY_BATCH, len(ids) // n)
    if size < 1:
        raise RuntimeError(f"Only {len(ids)} completed visits with a note for {n} batches.")
    batches = [ids[i * size : (i + 1) * size] for i in range(n)]
    bench.made.setdefault("summaries", []).extend(ids[: n * size])
    return batches


def _summaries_write(bench: Bench, visit_ids: list[int]) -> str:
    from programs.summaries import progress_summaries_write

    written = progress_summaries_write(visit_ids)
    return "written" if written == len(visit_ids) else f"{written} of {len(visit_ids)} written"


def _summary_write(bench: Bench, visit_id: int) -> str:
    from programs.summaries import progress_summary_write

    return "written" if progress_summary_write(visit_id) is not None else "none"


def _remove_summaries(bench: Bench) -> None:
    ids = bench.made.pop("summaries", [])
    ProgressSummary.objects.filter(visit_id__in=ids).delete()


# --- Reports ---------------------------------------------------------------------------------


def _reports_module() -> Any:
    try:
        return importlib.import_module("programs.reports")
    except ImportError:
        return None


def _report_inputs(bench: Bench, n: int) -> list[tuple[list[Clinic], Any]]:
    """Every bench clinic, over the week up to today or yesterday: a span the quick seed holds
    too (eight past days), so that quick and full report over the same amount of practice and
    differ only in the history around it."""
    reports = _reports_module()
    clinics = [place.clinic for place in bench.clinics]
    today = bench.now.date()
    inputs = []
    for _ in range(n):
        ends = today - dt.timedelta(days=bench.rng.randrange(0, 2))
        inputs.append((clinics, reports.Period(ends - dt.timedelta(days=6), ends)))
    return inputs


# The outcomes report counts an episode whose latest score in the period has an earlier one:
# over a week, quick's episodes (eight days of history) mostly have none yet, and its answer
# was 30% shorter than full's (1,357 episodes against 2,042). Over the three days up to
# yesterday they have been seen before, as at full, and the two answers are the same length
# (1,131 and 1,123 episodes): the same question at both sizes, with only the history around it
# longer. Always that period: today's visits (some not yet held) would make the answer depend
# on which calls the random days gave each size.
OUTCOMES_DAYS = 3


def _outcomes_inputs(bench: Bench, n: int) -> list[tuple[list[Clinic], Any]]:
    reports = _reports_module()
    clinics = [place.clinic for place in bench.clinics]
    ends = bench.now.date() - dt.timedelta(days=1)
    period = reports.Period(ends - dt.timedelta(days=OUTCOMES_DAYS - 1), ends)
    return [(clinics, period)] * n


def _report(slug: str) -> Callable[[Bench, tuple[list[Clinic], Any]], str]:
    def run(bench: Bench, args: tuple[list[Clinic], Any]) -> str:
        clinics, period = args
        report = _reports_module().report_build(slug=slug, clinics=clinics, period=period)
        # How long the answer is (every table's rows), printed beside the growth verdict: a
        # report over the present may have more to say at one size than at the other.
        rows = sum(len(table.rows) for table in report.tables)
        bench.side.setdefault(f"report: {slug}", {}).setdefault("answer_rows", []).append(rows)
        return "ok"

    return run


def _report_missing(slug: str) -> Callable[[], str | None]:
    def check() -> str | None:
        reports = _reports_module()
        if reports is None:
            return "no programs.reports in this code base"
        if slug not in reports.REPORTS:
            return f"no report {slug!r} in programs.reports"
        return None

    return check


REPORT_SLUGS = ("attendance", "utilisation", "visits", "outcomes", "compliance")


# --- The admin -------------------------------------------------------------------------------


def _admin_pages(bench: Bench, n: int) -> list[dict[str, str]]:
    """The first pages of the change list, newest visits first (the admin's default order)."""
    bench.admin_client()  # signed in before the clock starts
    return [{"p": str(bench.rng.randrange(1, 4))} for _ in range(n)]


def _admin_visits(bench: Bench, params: dict[str, str]) -> str:
    response = bench.admin_client().get("/admin/patients/visit/", params)
    return str(response.status_code)


def record_operations(seeded_days: Any) -> list[Operation]:
    """The operations of this module; the day pickers are bench.operations' (calendar days)."""
    operations = [
        Operation(
            "patients: HTTP POST search",
            _search_inputs,
            _search_over_http,
            expect="200",
            baseline=RAW_SELECT,
            target=READ,
        ),
        # No growth verdict: the answer, not only the table, is bigger at 1M (see its inputs).
        Operation(
            "patients: search, last name only",
            _broad_search_inputs,
            _search_over_http,
            expect="200",
            baseline=RAW_SELECT,
            target=CONSTANT,
        ),
        Operation(
            "chart: HTTP GET its 7 API reads",
            _charts_over_api,
            _chart_api,
            expect="200",
            baseline=RAW_SELECT,
            target=READ,
        ),
        Operation(
            "chart: page",
            _charts_as_pages,
            _chart_page,
            expect="200",
            baseline=RAW_SELECT,
            target=READ,
            unavailable=_page_missing("chart", clinic_id=_ANY_UUID, patient_id=_ANY_UUID),
        ),
        Operation(
            "calendar: front desk page",
            _calendar_page_inputs(seeded_days),
            _calendar_page,
            expect="200",
            baseline=RAW_SELECT,
            target=READ,
            unavailable=_page_missing("frontdesk", clinic_id=_ANY_UUID),
        ),
        Operation(
            "note: HTTP POST complete+sign",
            _completions,
            _complete_over_http,
            expect="200",
            baseline=RAW_INSERT,
            cleanup=_remove_completions,
        ),
        Operation(
            "summary: progress_summary_write",
            _summary_inputs,
            _summary_write,
            expect="written",
            target=SUMMARY_TARGET,
            cleanup=_remove_summaries,
        ),
        Operation(
            f"summaries: batch of {SUMMARY_BATCH} (sweeper)",
            _summary_batches,
            _summaries_write,
            expect="written",
            target=SUMMARY_BATCH_TARGET,
            cleanup=_remove_summaries,
            # Each call takes fresh visits: the quick seed holds about 2,400, enough for
            # 3 warm-up and 15 measured calls.
            max_iterations=15,
            items=len,
        ),
    ]
    for slug in REPORT_SLUGS:
        operations.append(
            Operation(
                f"report: {slug}",
                _outcomes_inputs if slug == "outcomes" else _report_inputs,
                _report(slug),
                expect="ok",
                baseline=RAW_SELECT,
                target=READ,
                max_iterations=30,  # enough for a stable median on a noisy machine
                unavailable=_report_missing(slug),
            )
        )
    operations.append(
        Operation(
            "admin: visit change list",
            _admin_pages,
            _admin_visits,
            expect="200",
            baseline=RAW_SELECT,
            target=READ,
            max_iterations=30,
        )
    )
    return operations


_ANY_UUID = "00000000-0000-4000-8000-000000000000"
