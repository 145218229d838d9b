"""The scoped admin's generic CSV export and its change lists' counting on large tables."""

from __future__ import annotations

import csv
import io

import pytest
from django.contrib.admin import helpers
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from clinic.admin_base import csv_cell
from clinic.models import Room
from clinic.paginators import LargeTablePaginator
from patients.models import Visit
from tests.factories import PatientFactory, RoomFactory, VisitFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def as_admin(clinic_admin) -> Client:
    client = Client()
    client.force_login(clinic_admin)
    return client


def export(client: Client, changelist: str, pks: list[int], **extra: str) -> list[list[str]]:
    response = client.post(
        reverse(changelist),
        {"action": "export_csv", helpers.ACTION_CHECKBOX_NAME: [str(pk) for pk in pks], **extra},
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv"
    assert response.streaming
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


def test_export_writes_the_change_list_columns_of_the_selected_rows(as_admin, clinic):
    visit = VisitFactory(clinic=clinic, patient=PatientFactory(clinic=clinic, mrn="RIV-000777"))
    VisitFactory(clinic=clinic)  # not selected

    rows = export(as_admin, "admin:patients_visit_changelist", [visit.pk])

    assert rows[0] == [
        "Starts (clinic time)",
        "Patient (MRN)",
        "Therapist",
        "Room",
        "Kind",
        "Status",
        "Clinic",
    ]
    assert len(rows) == 2
    assert rows[1][1] == "RIV-000777"
    assert rows[1][4:] == ["Treatment", "Booked", clinic.name]
    assert rows[1][0].endswith(("EST", "EDT"))  # clinic time, as on the change list


def test_export_leaves_out_rows_of_clinics_not_administered(as_admin, clinic, other_clinic):
    ours = VisitFactory(clinic=clinic)
    theirs = VisitFactory(clinic=other_clinic)

    rows = export(as_admin, "admin:patients_visit_changelist", [ours.pk, theirs.pk])

    assert len(rows) == 2  # header and our one visit
    assert other_clinic.name not in {cell for row in rows for cell in row}


def test_export_of_everything_takes_the_same_queries_for_3_or_30_rows(as_admin, clinic):
    VisitFactory.create_batch(3, clinic=clinic)
    url = "admin:patients_visit_changelist"
    with CaptureQueriesContext(connection) as few:
        rows = export(as_admin, url, [0], select_across="1", index="0")
    assert len(rows) == 4
    VisitFactory.create_batch(27, clinic=clinic)
    with CaptureQueriesContext(connection) as many:
        rows = export(as_admin, url, [0], select_across="1", index="0")
    assert len(rows) == 31
    assert len(many) == len(few)


def test_export_keeps_spreadsheet_formulas_inert():
    assert csv_cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert csv_cell("+1 860 555") == "'+1 860 555"
    assert csv_cell("@SUM") == "'@SUM"
    assert csv_cell(-3) == "-3"
    assert csv_cell(True) == "yes"
    assert csv_cell(None) == ""


def test_export_is_offered_on_every_scoped_change_list(as_admin, clinic):
    RoomFactory(clinic=clinic)
    response = as_admin.get(reverse("admin:clinic_room_changelist"))
    choices = dict(response.context["action_form"].fields["action"].choices)
    assert "export_csv" in choices


class TinyCap(LargeTablePaginator):
    exact_up_to = 5


def test_paginator_counts_exactly_up_to_the_cap(clinic):
    RoomFactory.create_batch(4, clinic=clinic)
    assert TinyCap(Room.objects.order_by("pk"), 2).count == 4


def test_paginator_beyond_the_cap_never_counts_the_whole_table(clinic):
    RoomFactory.create_batch(9, clinic=clinic)
    with CaptureQueriesContext(connection) as queries:
        count = TinyCap(Room.objects.order_by("pk"), 2).count
    assert count >= 6  # what was counted, or the planner's estimate when higher
    counts = [q["sql"] for q in queries if "COUNT(" in q["sql"].upper()]
    assert counts
    assert all("LIMIT" in sql.upper() for sql in counts)
    assert len(queries) <= 2


def test_paginator_takes_the_same_statements_below_and_beyond_the_cap(clinic):
    """The estimate is asked for whatever the size, so a change list costs the same number of
    queries on a small and a huge table (two on PostgreSQL, one elsewhere)."""
    RoomFactory.create_batch(4, clinic=clinic)
    with CaptureQueriesContext(connection) as small:
        assert TinyCap(Room.objects.order_by("pk"), 2).count == 4
    RoomFactory.create_batch(5, clinic=clinic)
    with CaptureQueriesContext(connection) as large:
        assert TinyCap(Room.objects.order_by("pk"), 2).count >= 6
    assert len(small) == len(large) == (2 if connection.vendor == "postgresql" else 1)
    for queries in (small, large):
        sqls = [q["sql"].upper() for q in queries]
        assert sum(sql.startswith("EXPLAIN") for sql in sqls) == len(sqls) - 1


def test_visit_change_list_never_counts_every_row(as_admin, clinic):
    VisitFactory.create_batch(3, clinic=clinic)
    with CaptureQueriesContext(connection) as queries:
        response = as_admin.get(reverse("admin:patients_visit_changelist"))
    assert response.status_code == 200
    assert response.context["cl"].result_count == 3
    for query in queries:
        sql = query["sql"].upper()
        if "COUNT(" in sql and '"PATIENTS_VISIT"' in sql:
            assert "LIMIT" in sql, sql
    assert Visit.objects.count() == 3


def test_export_is_not_offered_in_a_popup_or_where_actions_are_off(as_admin, clinic):
    RoomFactory(clinic=clinic)
    popup = as_admin.get(reverse("admin:clinic_room_changelist"), {"_popup": "1"})
    assert popup.context["action_form"] is None or "export_csv" not in dict(
        popup.context["action_form"].fields["action"].choices
    )
    log = as_admin.get(reverse("admin:clinic_accesslog_changelist"))
    assert log.context["action_form"] is None
