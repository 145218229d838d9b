"""The reports as admin pages: who may read them, which clinics they offer and cover, the
period form's errors, CSV export, and a query count that does not grow with the data."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from clinic.capabilities import Role
from patients.models import Visit
from programs.reports import REPORTS
from tests.factories import MembershipFactory, VisitFactory

pytestmark = pytest.mark.django_db

PERIOD = {"starts_on": "2026-09-01", "ends_on": "2026-09-30"}


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def no_show(clinic, day: int) -> Visit:
    starts = dt.datetime(2026, 9, day, 10, tzinfo=clinic.tz)
    return VisitFactory(
        clinic=clinic,
        starts_at=starts,
        ends_at=starts + dt.timedelta(minutes=45),
        status=Visit.Status.NO_SHOW,
    )


@pytest.fixture
def practice_admin(clinic_admin, other_clinic):
    """An administrator of both clinics."""
    MembershipFactory(user=clinic_admin, clinic=other_clinic, role=Role.CLINIC_ADMIN)
    return clinic_admin


def test_index_links_the_reports_for_a_clinic_admin(clinic_admin):
    page = signed_in(clinic_admin).get(reverse("admin:index"))
    assert page.status_code == 200
    assert reverse("admin:reports") in page.content.decode()


@pytest.mark.parametrize("slug", list(REPORTS))
def test_every_report_opens_with_the_default_period(clinic_admin, clinic, slug):
    page = signed_in(clinic_admin).get(reverse("admin:report", args=[slug]))
    assert page.status_code == 200
    assert page.context["report"].clinics == [clinic]


def test_a_clinic_admin_of_one_clinic_sees_and_chooses_only_that_clinic(
    clinic_admin, clinic, other_clinic
):
    no_show(clinic, 3)
    no_show(other_clinic, 4)
    client = signed_in(clinic_admin)

    page = client.get(reverse("admin:report", args=["attendance"]), PERIOD)

    assert page.status_code == 200
    choices = [label for _, label in page.context["form"].fields["clinic"].choices]
    assert choices == ["All the clinics I administer", clinic.name]
    body = page.content.decode()
    assert clinic.name in body
    assert other_clinic.name not in body

    refused = client.get(
        reverse("admin:report", args=["attendance"]), {**PERIOD, "clinic": other_clinic.pk}
    )
    assert refused.status_code == 400
    assert "clinic" in refused.context["form"].errors
    assert other_clinic.name not in refused.content.decode()


def test_a_practice_admin_reads_both_clinics_or_one(practice_admin, clinic, other_clinic):
    no_show(clinic, 3)
    no_show(other_clinic, 4)
    client = signed_in(practice_admin)
    url = reverse("admin:report", args=["attendance"])

    both = client.get(url, PERIOD)
    assert {row["clinic"] for row in both.context["report"].table("clinics").rows} == {
        clinic.name,
        other_clinic.name,
    }
    one = client.get(url, {**PERIOD, "clinic": other_clinic.pk})
    assert [row["clinic"] for row in one.context["report"].table("clinics").rows] == [
        other_clinic.name
    ]


def test_csv_export_of_a_table(clinic_admin, clinic):
    no_show(clinic, 3)
    response = signed_in(clinic_admin).get(
        reverse("admin:report", args=["attendance"]),
        {**PERIOD, "format": "csv", "table": "therapists"},
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv"
    lines = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert lines[0][:3] == ["Clinic", "Month", "Therapist"]
    assert lines[1][0] == clinic.name
    assert lines[1][3:6] == ["1", "0", "1"]  # due, completed, no-shows


def test_csv_export_of_an_unknown_table_is_a_404(clinic_admin):
    response = signed_in(clinic_admin).get(
        reverse("admin:report", args=["attendance"]), {**PERIOD, "format": "csv", "table": "x"}
    )
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"starts_on": "2026-09-30", "ends_on": "2026-09-01"}, "ends_on"),
        ({"starts_on": "2025-01-01", "ends_on": "2026-09-01"}, "ends_on"),
        ({"starts_on": "not a date", "ends_on": "2026-09-01"}, "starts_on"),
    ],
)
def test_a_bad_period_is_a_400_naming_the_field(clinic_admin, params, field):
    page = signed_in(clinic_admin).get(reverse("admin:report", args=["visits"]), params)
    assert page.status_code == 400
    assert field in page.context["form"].errors
    assert "report" not in page.context


def test_an_unknown_report_is_a_404(clinic_admin):
    assert signed_in(clinic_admin).get(reverse("admin:report", args=["nope"])).status_code == 404


@pytest.mark.parametrize("who", ["receptionist", "therapist"])
def test_staff_without_the_reports_capability_are_sent_to_sign_in(request, who):
    user = request.getfixturevalue(who)
    response = signed_in(user).get(reverse("admin:report", args=["attendance"]), PERIOD)
    assert response.status_code == 302
    assert reverse("admin:login") in response.url


def test_the_report_page_keeps_its_query_count_as_visits_grow(clinic_admin, clinic):
    client = signed_in(clinic_admin)
    url = reverse("admin:report", args=["attendance"])
    no_show(clinic, 2)
    with CaptureQueriesContext(connection) as few:
        client.get(url, PERIOD)
    for day in range(3, 20):
        no_show(clinic, day)
    with CaptureQueriesContext(connection) as many:
        page = client.get(url, PERIOD)
    assert page.context["report"].table("clinics").rows[0]["no_shows"] == 18
    assert len(many) == len(few)
