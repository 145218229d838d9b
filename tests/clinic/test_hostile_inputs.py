"""The inputs that have hurt other health systems, as explicit tests: SQL and script injection in
names and notes, other clinics' ids, huge pages, malformed dates and time zones, overlong
strings, NUL bytes and odd unicode. Each is refused with a 4xx naming the field, or stored
verbatim and escaped on output; never a 500, never executed. (The access matrix,
tests/clinic/test_access_matrix.py, walks every endpoint with foreign ids; these are the cases
spelled out.)"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.test import Client
from django.utils import timezone

from clinic.capabilities import Role
from patients.models import Patient
from tests.factories import (
    EpisodeOfCareFactory,
    EpisodeVisitFactory,
    PatientFactory,
    UserFactory,
    open_every_day,
    working_every_day,
)

pytestmark = pytest.mark.django_db

SQL = "Robert'); DROP TABLE patients_patient;--"
SQL_OR = "' OR '1'='1"
SCRIPT = '<script>alert("owned")</script>'
IMG = "<img src=x onerror=alert(1)>"


@pytest.fixture
def base(clinic) -> str:
    return f"/api/v1/clinics/{clinic.public_id}"


@pytest.fixture
def desk(client_for, receptionist):
    return client_for(receptionist)


def new_patient(**fields) -> dict:
    return {
        "first_name": "Ann",
        "last_name": "Lee",
        "date_of_birth": "1970-01-01",
        "sex": "female",
        "payer_type": "commercial",
        **fields,
    }


# --- Injection -----------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [SQL, SQL_OR, SCRIPT, IMG, "Zoë Ñúñez-Øster 李小龍 🙂"])
def test_names_are_stored_verbatim_and_never_executed(desk, base, text):
    created = desk.post(f"{base}/patients/", new_patient(last_name=text, first_name=text[:100]))

    assert created.status_code == 201, created.content
    assert created["Content-Type"].startswith("application/json")
    got = desk.get(f"{base}/patients/{created.json()['id']}/").json()
    assert got["last_name"] == text
    assert Patient.objects.filter(last_name=text).count() == 1  # the table is still there


@pytest.mark.parametrize(
    "query", [SQL, SQL_OR, "Pl%n", "Pl_in", "Pl\\ain", "' UNION SELECT * FROM clinic_user--"]
)
def test_search_with_injection_or_wildcards_matches_only_what_it_says(desk, base, clinic, query):
    """LIKE wildcards and quotes are text to match, not SQL: nothing matches "Ann Plain"."""
    PatientFactory(clinic=clinic, first_name="Ann", last_name="Plain")

    response = desk.post(f"{base}/patients/search/", {"q": query}, format="json")

    assert response.status_code == 200
    assert response.json()["results"] == []


def test_injected_name_is_escaped_in_the_admin(clinic, clinic_admin):
    patient = PatientFactory(clinic=clinic, last_name=SCRIPT, first_name=IMG)
    client = Client()
    client.force_login(clinic_admin)

    page = client.get(f"/admin/patients/patient/{patient.pk}/change/").content.decode()

    assert SCRIPT not in page
    assert IMG not in page
    assert "&lt;script&gt;alert(&quot;owned&quot;)&lt;/script&gt;" in page


def test_injected_treatment_note_is_stored_verbatim(client_for, clinic, therapist):
    episode = EpisodeOfCareFactory(clinic=clinic, therapist=therapist)
    visit = EpisodeVisitFactory(clinic=clinic, episode=episode)
    url = f"/api/v1/clinics/{clinic.public_id}/visits/{visit.public_id}/note/"
    text = f"{SQL} {SCRIPT} {IMG}"

    response = client_for(therapist).put(url, {"subjective": text, "notes": text}, format="json")

    assert response.status_code in (200, 201), response.content
    body = client_for(therapist).get(url).json()
    assert (body["subjective"], body["notes"]) == (text, text)


# --- Other clinics' ids --------------------------------------------------------------------------


def test_booking_with_another_clinics_patient_is_refused_naming_patient(
    desk, base, clinic, other_clinic
):
    open_every_day(clinic)
    therapist = working_every_day(clinic)
    theirs = PatientFactory(clinic=other_clinic)
    day = timezone.localdate(None, clinic.tz) + dt.timedelta(days=8)

    response = desk.post(
        f"{base}/visits/",
        {
            "patient": str(theirs.public_id),
            "therapist": str(therapist.public_id),
            "starts_at": f"{day}T10:00",
            "duration_minutes": 30,
        },
        format="json",
    )

    assert response.status_code == 400
    assert "patient" in response.json()["errors"]
    assert not theirs.visits.exists()


def test_another_clinics_patient_in_the_url_is_404(client_for, therapist, base, other_clinic):
    theirs = PatientFactory(clinic=other_clinic)
    client = client_for(therapist)

    for suffix in ("", "episodes/", "precautions/", "diagnoses/", "archive/"):
        method = client.post if suffix == "archive/" else client.get
        assert method(f"{base}/patients/{theirs.public_id}/{suffix}").status_code == 404


# --- Huge and odd pages --------------------------------------------------------------------------


def test_page_size_is_capped(desk, base, clinic):
    for n in range(3):
        PatientFactory(clinic=clinic, last_name=f"Many{n}")

    response = desk.get(f"{base}/patients/", {"page_size": 10**9})

    assert response.status_code == 200
    assert len(response.json()["results"]) == 3
    from clinic.api.pagination import Pagination

    assert Pagination.max_page_size == 200


@pytest.mark.parametrize(
    "params",
    [
        {"page_size": "-1"},
        {"page_size": "abc"},
        {"page_size": "9" * 40},
        {"page": "0"},
        {"page": "-1"},
        {"page": "9" * 40},
        {"page": "abc"},
        {"ordering": "secret_field"},
        {"ordering": "-" * 500},
    ],
)
def test_odd_paging_and_ordering_is_never_a_server_error(desk, base, params):
    response = desk.get(f"{base}/rooms/", params)

    assert response.status_code in (200, 404), response.content


# --- Dates and time zones ------------------------------------------------------------------------

BAD_TIMES = [
    "2026-13-45T25:61",
    "0000-00-00T00:00",
    "not a time",
    "2026-03-09T10:00+25:00",
    "9999-12-31T23:59:59+14:00",
    "1228-02-05T10:00",
    "2026-03-09T10:00:00.123456789123Z",
    "",
]


@pytest.mark.parametrize("starts_at", BAD_TIMES)
def test_malformed_or_out_of_range_times_are_400_naming_the_field(desk, base, clinic, starts_at):
    patient = PatientFactory(clinic=clinic)
    therapist = working_every_day(clinic)

    response = desk.post(
        f"{base}/visits/",
        {
            "patient": str(patient.public_id),
            "therapist": str(therapist.public_id),
            "starts_at": starts_at,
            "duration_minutes": 30,
        },
        format="json",
    )

    assert response.status_code == 400, response.content
    assert "starts_at" in response.json()["errors"]


def test_a_local_time_skipped_by_the_dst_change_is_400(desk, base, clinic):
    from tests.factories import next_dst_change

    open_every_day(clinic)
    therapist = working_every_day(clinic)
    day = next_dst_change(clinic.timezone, forward=True, after=dt.date.today())

    response = desk.post(
        f"{base}/visits/",
        {
            "patient": str(PatientFactory(clinic=clinic).public_id),
            "therapist": str(therapist.public_id),
            "starts_at": f"{day}T02:30",
            "duration_minutes": 30,
        },
        format="json",
    )

    assert response.status_code == 400
    assert "starts_at" in response.json()["errors"]


@pytest.mark.parametrize("day", ["1228-02-05", "99999-01-01", "2026-02-30", "today", "0001-01-01"])
def test_calendar_and_slots_refuse_days_outside_the_calendar(desk, base, day):
    for url, param in ((f"{base}/calendar/", "date"), (f"{base}/slots/", "date_from")):
        response = desk.get(url, {param: day})
        assert response.status_code == 400, (url, response.content)
        assert param in response.json()["errors"]


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "UTC+3", "../../etc/passwd", "", "A" * 200])
def test_unknown_time_zone_is_400_naming_timezone(client_for, clinic, zone):
    admin = UserFactory(clinic=clinic, role=Role.CLINIC_ADMIN)

    response = client_for(admin).patch(
        f"/api/v1/clinics/{clinic.public_id}/", {"timezone": zone}, format="json"
    )

    assert response.status_code == 400, response.content
    assert "timezone" in response.json()["errors"]
    clinic.refresh_from_db()
    assert clinic.timezone == "America/New_York"


# --- Overlong strings, NUL bytes, odd unicode ----------------------------------------------------


def test_overlong_name_is_400_naming_the_field(desk, base):
    response = desk.post(f"{base}/patients/", new_patient(last_name="x" * 10_000))

    assert response.status_code == 400
    assert "last_name" in response.json()["errors"]
    assert not Patient.objects.exists()


def test_a_body_over_the_upload_limit_is_refused(desk, base, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100_000

    response = desk.post(f"{base}/patients/", new_patient(address="x" * 200_000), format="json")

    assert response.status_code in (400, 413), response.content[:200]
    assert not Patient.objects.exists()


@pytest.mark.parametrize("field", ["first_name", "last_name", "address", "email"])
def test_nul_byte_in_a_text_field_is_400_naming_it(desk, base, field):
    response = desk.post(f"{base}/patients/", new_patient(**{field: "Ann\x00Lee"}))

    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert not Patient.objects.exists()


def test_nul_byte_inside_structured_json_is_400(client_for, clinic, therapist):
    episode = EpisodeOfCareFactory(clinic=clinic, therapist=therapist)
    url = f"/api/v1/clinics/{clinic.public_id}/episodes/{episode.public_id}/evaluations/"

    response = client_for(therapist).post(
        url,
        {
            "kind": "initial",
            "performed_on": str(dt.date.today()),
            "subjective": {"history": "pain\x00", "red_flags": {}},
        },
        format="json",
    )

    assert response.status_code == 400, response.content
    assert not episode.evaluations.exists()


@pytest.mark.parametrize("value", ["\x00", "Lee\x00"])
def test_nul_byte_in_a_query_string_is_400_not_a_server_error(desk, base, value, clinic_admin):
    response = desk.get(f"{base}/patients/", {"q": value})
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid"

    admin = Client()
    admin.force_login(clinic_admin)
    assert admin.get("/admin/patients/patient/", {"q": value}).status_code == 400
    assert admin.get(f"/admin/patients/patient/{value}/change/").status_code == 400
    assert desk.get(f"{base}/patients/?q=%00").status_code == 400


def test_nul_byte_in_a_raw_json_body_is_400(desk, base):
    raw = json.dumps(new_patient(last_name="Lee\u0000"))

    response = desk.post(f"{base}/patients/", raw, content_type="application/json")

    assert response.status_code == 400
    assert not Patient.objects.exists()


def test_invalid_json_and_wrong_types_are_400(desk, base):
    assert (
        desk.post(f"{base}/patients/", "{not json", content_type="application/json").status_code
        == 400
    )
    assert (
        desk.post(f"{base}/patients/", "[1, 2]", content_type="application/json").status_code == 400
    )
    wrong = desk.post(f"{base}/patients/", new_patient(first_name=["a"], date_of_birth=5))
    assert wrong.status_code == 400
    assert {"first_name", "date_of_birth"} <= set(wrong.json()["errors"])


def test_lone_surrogates_are_400(desk, base):
    raw = '{"first_name": "\\ud800", "last_name": "Lee", "date_of_birth": "1970-01-01"}'

    response = desk.post(f"{base}/patients/", raw, content_type="application/json")

    assert response.status_code == 400, response.content
    assert not Patient.objects.exists()


def test_control_characters_other_than_nul_are_stored_verbatim(desk, base):
    response = desk.post(f"{base}/patients/", new_patient(last_name="Lee\u0007\u200b"))

    assert response.status_code == 201, response.content
    assert Patient.objects.get().last_name == "Lee\u0007\u200b"


@pytest.mark.parametrize(
    "value", ["2026-03-09T10:00:00+20:26", "0456-06-18T14:35:42-19:42", "0001-01-01T00:00:00+14:00"]
)
def test_date_time_filter_with_an_offset_postgres_cannot_hold_is_never_a_server_error(
    client_for, clinic, clinic_admin, value
):
    """Python takes offsets up to 23:59, PostgreSQL up to 15:59: the filter converts to UTC."""
    url = f"/api/v1/clinics/{clinic.public_id}/time-off/"

    for name in ("starts_at__gte", "starts_at__lt"):
        response = client_for(clinic_admin).get(url, {name: value})
        assert response.status_code in (200, 400), response.content
        if response.status_code == 400:
            assert name in response.json()["errors"]
