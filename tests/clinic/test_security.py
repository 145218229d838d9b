"""Security: sign-in lockout, session timeouts, CSP, the append-only access log, and no patient
data in what the application logs."""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
import uuid

import pytest
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from clinic.access import access_record
from clinic.capabilities import Role
from clinic.models import AccessLog
from clinic.security import (
    LOCKOUT_MAX_PER_ACCOUNT,
    LOCKOUT_MAX_PER_ADDRESS,
    LOCKOUT_MESSAGE,
    SESSION_LAST_SEEN,
    SESSION_SIGNED_IN_AT,
)
from tests.factories import (
    DEFAULT_PASSWORD,
    AccessLogFactory,
    EpisodeOfCareFactory,
    EvaluationFactory,
    PatientFactory,
    UserFactory,
    open_every_day,
    working_every_day,
)

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/auth/token/"
LOGIN_URL = "/admin/login/?next=/admin/"


@pytest.fixture(autouse=True)
def _empty_lockout_counters():
    cache.clear()
    yield
    cache.clear()


def token_post(username: str, password: str, address: str = "203.0.113.7"):
    return APIClient(REMOTE_ADDR=address).post(
        TOKEN_URL, {"username": username, "password": password}
    )


def admin_login(client: Client, username: str, password: str):
    return client.post(LOGIN_URL, {"username": username, "password": password})


# --- Lockout ---------------------------------------------------------------------------------


def test_lockout_token_endpoint_locks_the_account_after_repeated_failures(receptionist):
    for _ in range(LOCKOUT_MAX_PER_ACCOUNT):
        assert token_post(receptionist.username, "wrong-password").status_code == 400

    response = token_post(receptionist.username, DEFAULT_PASSWORD, address="198.51.100.9")

    assert response.status_code == 429
    assert response.json() == {"detail": LOCKOUT_MESSAGE, "code": "locked_out"}
    assert response["Retry-After"] == "900"


def test_lockout_token_endpoint_allows_one_failure_less_than_the_limit(receptionist):
    for _ in range(LOCKOUT_MAX_PER_ACCOUNT - 1):
        token_post(receptionist.username, "wrong-password")

    assert token_post(receptionist.username, DEFAULT_PASSWORD).status_code == 200


def test_lockout_success_resets_the_account_counter(receptionist):
    for _ in range(2):
        for _ in range(LOCKOUT_MAX_PER_ACCOUNT - 1):
            token_post(receptionist.username, "wrong-password")
        assert token_post(receptionist.username, DEFAULT_PASSWORD).status_code == 200


def test_lockout_per_address_locks_every_account_from_that_address(receptionist):
    for n in range(LOCKOUT_MAX_PER_ADDRESS):
        token_post(f"guess-{n}", "wrong-password", address="192.0.2.50")

    assert token_post(receptionist.username, DEFAULT_PASSWORD, "192.0.2.50").status_code == 429
    assert token_post(receptionist.username, DEFAULT_PASSWORD, "192.0.2.51").status_code == 200


def test_lockout_behind_the_proxy_counts_the_address_the_proxy_saw(settings, receptionist):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

    def post(username: str, password: str, client_address: str):
        return APIClient(REMOTE_ADDR="10.0.0.2").post(
            TOKEN_URL,
            {"username": username, "password": password},
            HTTP_X_FORWARDED_FOR=f"198.18.0.1, {client_address}",  # first entry: forgeable
        )

    for n in range(LOCKOUT_MAX_PER_ADDRESS):
        post(f"guess-{n}", "wrong-password", "192.0.2.60")

    assert post(receptionist.username, DEFAULT_PASSWORD, "192.0.2.60").status_code == 429
    assert post(receptionist.username, DEFAULT_PASSWORD, "192.0.2.61").status_code == 200


def test_lockout_admin_login_locks_the_account_with_a_clear_message(clinic_admin):
    client = Client()
    for _ in range(LOCKOUT_MAX_PER_ACCOUNT):
        assert admin_login(client, clinic_admin.username, "wrong-password").status_code == 200

    response = admin_login(client, clinic_admin.username, DEFAULT_PASSWORD)

    assert response.status_code == 200  # the form again, not the redirect of a sign-in
    assert LOCKOUT_MESSAGE in response.content.decode()
    assert client.get("/admin/").status_code == 302


def test_lockout_admin_and_token_failures_count_together(clinic_admin):
    for _ in range(LOCKOUT_MAX_PER_ACCOUNT - 1):
        admin_login(Client(), clinic_admin.username, "wrong-password")
    token_post(clinic_admin.username, "wrong-password")

    assert token_post(clinic_admin.username, DEFAULT_PASSWORD).status_code == 429


def test_lockout_admin_login_success_resets_the_counter(clinic_admin):
    for _ in range(LOCKOUT_MAX_PER_ACCOUNT - 1):
        admin_login(Client(), clinic_admin.username, "wrong-password")
    assert admin_login(Client(), clinic_admin.username, DEFAULT_PASSWORD).status_code == 302
    for _ in range(LOCKOUT_MAX_PER_ACCOUNT - 1):
        admin_login(Client(), clinic_admin.username, "wrong-password")

    assert admin_login(Client(), clinic_admin.username, DEFAULT_PASSWORD).status_code == 302


def test_token_delete_revokes_the_token(receptionist):
    token = token_post(receptionist.username, DEFAULT_PASSWORD).json()["token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/v1/me/").status_code == 200

    assert client.delete(TOKEN_URL).status_code == 204
    assert client.get("/api/v1/me/").status_code == 401


# --- Session timeouts ------------------------------------------------------------------------


def signed_in(user, *, idle: dt.timedelta, since: dt.timedelta) -> Client:
    client = Client()
    client.force_login(user)
    session = client.session
    now = time.time()
    session[SESSION_LAST_SEEN] = now - idle.total_seconds()
    session[SESSION_SIGNED_IN_AT] = now - since.total_seconds()
    session.save()
    return client


@pytest.mark.parametrize(
    ("idle", "since", "still_in"),
    [
        (dt.timedelta(minutes=14), dt.timedelta(hours=1), True),
        (dt.timedelta(minutes=16), dt.timedelta(hours=1), False),
        (dt.timedelta(minutes=1), dt.timedelta(hours=11, minutes=59), True),
        (dt.timedelta(minutes=1), dt.timedelta(hours=12, minutes=1), False),
    ],
    ids=["idle-14min", "idle-16min", "11h59-in-all", "12h01-in-all"],
)
def test_session_ends_after_15_minutes_idle_or_12_hours_in_all(clinic_admin, idle, since, still_in):
    client = signed_in(clinic_admin, idle=idle, since=since)

    response = client.get("/admin/")

    assert response.status_code == (200 if still_in else 302)
    if not still_in:  # signed out for good, not only for this request
        assert "_auth_user_id" not in client.session
        assert client.get("/admin/").status_code == 302


def test_session_timeout_applies_to_session_authenticated_api_calls(receptionist):
    client = signed_in(receptionist, idle=dt.timedelta(minutes=20), since=dt.timedelta(hours=1))

    assert client.get("/api/v1/me/").status_code in (401, 403)


def test_session_activity_slides_the_idle_window(clinic_admin):
    client = signed_in(clinic_admin, idle=dt.timedelta(minutes=10), since=dt.timedelta(hours=1))
    assert client.get("/admin/").status_code == 200

    assert client.session[SESSION_LAST_SEEN] > time.time() - 60


def test_session_cookie_settings_hold_the_absolute_cap(settings):
    assert settings.SESSION_COOKIE_AGE == 12 * 3600
    assert settings.SESSION_COOKIE_HTTPONLY


def test_admin_add_user_form_validates_passwords(superuser):
    client = Client()
    client.force_login(superuser)

    response = client.post(
        "/admin/clinic/user/add/",
        {
            "username": "new.staff",
            "password1": "short",
            "password2": "short",
            "usable_password": "true",
        },
    )

    assert response.status_code == 200
    assert "too short" in response.content.decode()
    assert not type(superuser).objects.filter(username="new.staff").exists()


# --- Content Security Policy -----------------------------------------------------------------


@pytest.mark.parametrize("path", ["/admin/login/", "/api/docs/"])
def test_csp_header_is_sent_on_the_admin_and_the_api_docs(client, path):
    response = client.get(path)

    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy


def test_csp_api_docs_page_has_no_inline_script(client):
    page = client.get("/api/docs/").content.decode()

    assert "<script>" not in page  # every script has a src on this origin
    assert "<style" not in page  # and the page's own rules are a stylesheet file
    script_src = re.findall(r'<script src="([^"]+)"', page)
    assert script_src
    assert all(src.startswith("/") for src in script_src)
    init = [src for src in script_src if "script" in src.split("?")[-1]]
    assert init
    assert client.get(init[0].replace("&amp;", "&")).status_code == 200


# --- Access log ------------------------------------------------------------------------------


@pytest.fixture
def patient(clinic):
    return PatientFactory(clinic=clinic, first_name="Wilhelmina", last_name="Quackenbush")


def no_name_in(row: AccessLog) -> bool:
    text = " ".join(str(getattr(row, f.attname)) for f in AccessLog._meta.concrete_fields)
    return "Wilhelmina" not in text and "Quackenbush" not in text


def test_access_log_patient_detail_read_is_logged_without_names(
    client_for, clinic, receptionist, patient
):
    url = f"/api/v1/clinics/{clinic.public_id}/patients/{patient.public_id}/"

    response = client_for(receptionist).get(url + "?include=all")

    assert response.status_code == 200
    (row,) = AccessLog.objects.all()
    assert (row.clinic, row.actor, row.record, row.method) == (
        clinic,
        receptionist,
        AccessLog.Record.CHART,
        "GET",
    )
    assert row.patient_public_id == patient.public_id
    assert row.subject == f"patient:{patient.public_id}"
    assert row.path == url  # no query string
    assert no_name_in(row)


def test_access_log_evaluation_and_episode_reads_are_logged(client_for, clinic, therapist, patient):
    episode = EpisodeOfCareFactory(patient=patient, therapist=therapist)
    evaluation = EvaluationFactory(episode=episode)
    base = f"/api/v1/clinics/{clinic.public_id}"
    client = client_for(therapist)

    assert client.get(f"{base}/evaluations/{evaluation.public_id}/").status_code == 200
    assert client.get(f"{base}/episodes/{episode.public_id}/").status_code == 200
    assert client.get(f"{base}/patients/{patient.public_id}/episodes/").status_code == 200

    rows = list(AccessLog.objects.order_by("id"))
    assert [row.what for row in rows] == ["evaluation", "episode", "episode list"]
    assert {row.record for row in rows} == {AccessLog.Record.CLINICAL}
    assert {row.patient_public_id for row in rows} == {patient.public_id}
    assert all(no_name_in(row) for row in rows)


def test_access_log_not_written_for_a_read_that_is_refused(client_for, clinic, outsider, patient):
    url = f"/api/v1/clinics/{clinic.public_id}/patients/{patient.public_id}/"

    assert client_for(outsider).get(url).status_code == 404
    assert not AccessLog.objects.exists()


def test_access_log_rows_refuse_update_and_delete_in_the_database(clinic, receptionist):
    row = access_record(
        request_or_actor=receptionist, clinic=clinic, patient_public_id=uuid.uuid4(), what="x"
    )

    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        AccessLog.objects.filter(pk=row.pk).update(what="changed")
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        AccessLog.objects.filter(pk=row.pk).delete()

    row.refresh_from_db()
    assert row.what == "x"


@pytest.fixture
def log_rows(clinic, other_clinic):
    return AccessLogFactory(clinic=clinic), AccessLogFactory(clinic=other_clinic)


def test_access_log_admin_is_read_only_for_a_clinic_admin(clinic_admin, log_rows):
    mine, _ = log_rows
    client = Client()
    client.force_login(clinic_admin)
    base = "/admin/clinic/accesslog/"

    assert client.get(base).status_code == 200
    found = client.get(f"{base}?q={mine.patient_public_id}").context["cl"].result_list
    assert list(found) == [mine]
    assert client.get(f"{base}?q=not-a-uuid").status_code == 200
    page = client.get(f"{base}{mine.pk}/change/")
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert client.post(f"{base}{mine.pk}/change/", {"what": "edited"}).status_code == 403
    assert client.get(f"{base}{mine.pk}/delete/").status_code == 403
    assert client.post(f"{base}{mine.pk}/delete/", {"post": "yes"}).status_code == 403
    assert client.get(f"{base}add/").status_code == 403
    mine.refresh_from_db()
    assert mine.what == "patient"


def test_access_log_admin_shows_only_the_admins_clinics(clinic_admin, other_clinic, log_rows):
    mine, theirs = log_rows
    other_admin = UserFactory(clinic=other_clinic, role=Role.CLINIC_ADMIN)

    for user, visible, hidden in ((clinic_admin, mine, theirs), (other_admin, theirs, mine)):
        client = Client()
        client.force_login(user)
        listed = client.get("/admin/clinic/accesslog/").context["cl"].result_list
        assert list(listed) == [visible]
        assert client.get(f"/admin/clinic/accesslog/{hidden.pk}/change/").status_code == 302


def test_access_log_admin_refused_to_a_therapist(therapist, log_rows):
    client = Client()
    client.force_login(therapist)

    assert client.get("/admin/clinic/accesslog/").status_code == 302


# --- No patient data in logs -----------------------------------------------------------------

NAME, SURNAME = "Philippa", "Zwartendijk"
PHONE, EMAIL = "(860) 555-0199", "philippa.zwartendijk@mail.example.net"


def test_logs_carry_no_patient_name_phone_or_email(caplog, client_for, clinic, receptionist):
    caplog.set_level(logging.DEBUG)  # the root logger, and so every logger that propagates
    therapist = working_every_day(clinic)
    open_every_day(clinic)
    desk = client_for(receptionist)
    base = f"/api/v1/clinics/{clinic.public_id}"

    created = desk.post(
        f"{base}/patients/",
        {
            "first_name": NAME,
            "last_name": SURNAME,
            "date_of_birth": "1960-05-02",
            "sex": "female",
            "phone": PHONE,
            "email": EMAIL,
            "payer_type": "commercial",
        },
    )
    assert created.status_code == 201, created.content
    patient_id = created.json()["id"]
    assert desk.get(f"{base}/patients/{patient_id}/").status_code == 200
    day = timezone.localdate(None, clinic.tz) + dt.timedelta(days=8)
    booking = {
        "patient": patient_id,
        "therapist": str(therapist.public_id),
        "starts_at": f"{day.isoformat()}T10:00",
        "duration_minutes": 45,
    }
    assert desk.post(f"{base}/visits/", booking).status_code == 201
    assert desk.post(f"{base}/visits/", booking).status_code == 409
    assert desk.post(f"{base}/visits/", {**booking, "starts_at": "not a time"}).status_code == 400
    bad = desk.patch(f"{base}/patients/{patient_id}/", {"email": "not-an-address " + NAME})
    assert bad.status_code == 400

    assert caplog.records, "the flows above log their 4xx answers; nothing captured means no test"
    for record in caplog.records:
        text = f"{record.getMessage()} {record.args!r} {record.exc_text or ''}"
        for secret in (NAME, SURNAME, PHONE, EMAIL, "555-0199", "5550199"):
            assert secret not in text, (record.name, text)
