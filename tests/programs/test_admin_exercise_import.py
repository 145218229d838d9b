"""CSV import of exercises into the practice-wide library: superusers only, every row checked
first with a preview of each row's problems, and all or nothing."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from programs.imports import exercise_import, exercise_import_preview
from programs.models import Exercise

pytestmark = pytest.mark.django_db

HEADER = "name,category,body_region,instructions,sets,reps,hold_seconds,active"
URL = "admin:programs_exercise_import"


def csv_text(*rows: str, header: str = HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


GOOD = csv_text(
    "Seated piriformis stretch,stretch,lumbar,Ankle over knee; lean in.,1,3,30,yes",
    "Wall sit,Strengthening,lumbar,Slide down the wall to a comfortable depth.,3,5,20,",
)


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_import_saves_every_row_with_history(superuser):
    before = Exercise.objects.count()
    created = exercise_import(text=GOOD, by=superuser)
    assert Exercise.objects.count() == before + 2
    wall = Exercise.objects.get(name="Wall sit")
    assert (wall.category, wall.slug, wall.sets, wall.reps) == ("strengthening", "wall-sit", 3, 5)
    assert wall.active is True
    assert wall.history.get().history_user == superuser
    assert {e.name for e in created} == {"Seated piriformis stretch", "Wall sit"}


def test_preview_names_each_rows_problems_and_import_saves_nothing(superuser):
    existing = Exercise.objects.order_by("pk").first()
    text = csv_text(
        "Good one,stretch,lumbar,Fine.,,,,",
        f"{existing.name},stretch,lumbar,Taken.,,,,",
        "Bad category,sideways,lumbar,No.,,,,",
        "Too many sets,stretch,lumbar,No.,99,,,",
        "Not a number,stretch,lumbar,No.,,ten,,",
        "Good one,stretch,lumbar,Twice in the file.,,,,",
        ",stretch,lumbar,No name.,,,,",
    )
    preview = exercise_import_preview(text=text)

    problems = {row.line: " ".join(row.errors) for row in preview.rows}
    assert problems[2] == ""
    assert "already has" in problems[3]
    assert problems[4].startswith("category:")
    assert problems[5].startswith("sets:")
    assert "not a whole number" in problems[6]
    assert "also on line 2" in problems[7]
    assert problems[8].startswith("name:")
    before = Exercise.objects.count()
    with pytest.raises(ValidationError, match="nothing was imported"):
        exercise_import(text=text, by=superuser)
    assert Exercise.objects.count() == before


def test_preview_refuses_missing_and_unknown_columns():
    preview = exercise_import_preview(text="name,colour\nX,red\n")
    assert preview.errors == [
        "Missing columns: category, body_region, instructions.",
        "Unknown columns: colour.",
    ]
    assert not preview.ok


def test_preview_takes_the_same_queries_for_2_or_40_rows():
    rows = [f"Drill {n},stretch,lumbar,Do it.,1,1,1,yes" for n in range(40)]
    with CaptureQueriesContext(connection) as few:
        exercise_import_preview(text=csv_text(*rows[:2]))
    with CaptureQueriesContext(connection) as many:
        preview = exercise_import_preview(text=csv_text(*rows))
    assert preview.ok
    assert len(many) == len(few) == 2


def test_admin_page_previews_then_imports(client, superuser):
    client.force_login(superuser)
    upload = SimpleUploadedFile("exercises.csv", GOOD.encode(), content_type="text/csv")

    page = client.post(reverse(URL), {"file": upload, "preview": "1"})

    assert page.status_code == 200
    assert page.context["preview"].ok
    assert not Exercise.objects.filter(name="Wall sit").exists()
    done = client.post(reverse(URL), {"text": GOOD, "confirm": "1"})
    assert done.status_code == 302
    assert Exercise.objects.filter(name="Wall sit").exists()


def test_admin_confirm_of_a_bad_file_imports_nothing(client, superuser):
    client.force_login(superuser)
    bad = csv_text("Wall sit,sideways,lumbar,No.,,,,")
    page = client.post(reverse(URL), {"text": bad, "confirm": "1"})
    assert page.status_code == 200
    assert not page.context["preview"].ok
    assert not Exercise.objects.filter(name="Wall sit").exists()


def test_clinic_admins_cannot_import_exercises(clinic_admin):
    response = signed_in(clinic_admin).post(reverse(URL), {"text": GOOD, "confirm": "1"})
    assert response.status_code == 403
    assert not Exercise.objects.filter(name="Wall sit").exists()


def test_the_change_list_offers_the_import_to_superusers_only(superuser, clinic_admin):
    link = reverse(URL)
    changelist = reverse("admin:programs_exercise_changelist")
    assert link in signed_in(superuser).get(changelist).content.decode()
    assert link not in signed_in(clinic_admin).get(changelist).content.decode()
