"""The front desk in a real browser: book, move and check in a visit; a double booking shows
what is in the way. Every page is screenshotted and checked for CSP violations."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from patients.models import Visit
from tests.browser.conftest import shoot, sign_in
from tests.factories import DEFAULT_PASSWORD
from tests.pages.scenario import make_practice

pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def _slot(page, practice, therapist, hhmm: str):
    return page.locator(f'[data-slot="{therapist.pk}-{hhmm}"]')


def test_receptionist_books_moves_and_checks_in_a_visit(page, live_server):
    practice = make_practice()
    page.goto("/login/")
    shoot(page, "login")
    sign_in(page, practice.receptionist.username, DEFAULT_PASSWORD)
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"{practice.today():%B %Y}")
    expect(page.locator("#lists")).to_contain_text("Patients with no next visit")
    shoot(page, "frontdesk-day")
    page.get_by_role("link", name="To book").click()
    expect(page.get_by_role("heading", name="To book")).to_be_visible()
    shoot(page, "frontdesk-to-book")
    page.get_by_role("link", name="Front desk").click()

    # A free slot opens the booking panel on that therapist and time.
    _slot(page, practice, practice.therapist, "12:00").click()
    panel = page.locator("#panel")
    expect(panel.get_by_role("heading", name="Book a visit")).to_be_visible()
    expect(panel.get_by_label("Time")).to_have_value("12:00")
    panel.get_by_label("Find a patient").press_sequentially("Lop", delay=40)
    result = panel.get_by_label("Lopez, Maria")
    expect(result).to_be_visible()
    result.check()
    panel.get_by_label("Room").select_option(label="Room A")
    panel.get_by_label("Duration").select_option("30")
    shoot(page, "frontdesk-booking-form")
    panel.get_by_role("button", name="Book", exact=True).click()
    expect(panel.get_by_role("status")).to_have_text("Booked.")
    visit = Visit.objects.get(
        patient=practice.patient,
        status="booked",
        room=practice.room,
        starts_at=practice.local(practice.today(), "12:00"),
    )
    calendar_visit = page.locator(f'#calendar a.visit[data-visit="{visit.public_id}"]')
    expect(calendar_visit).to_contain_text("12:00\u201312:30")

    # Move it an hour later, with the other therapist.
    panel.get_by_role("link", name="Move").click()
    expect(panel.get_by_role("heading", name="Move the visit")).to_be_visible()
    panel.get_by_label("Time").fill("13:00")
    shoot(page, "frontdesk-move-form")
    panel.get_by_role("button", name="Move").click()
    expect(panel.get_by_role("status")).to_have_text("Moved.")
    visit.refresh_from_db()
    assert visit.starts_at == practice.local(practice.today(), "13:00")
    expect(page.locator(f'#calendar a.visit[data-visit="{visit.public_id}"]')).to_contain_text(
        "13:00\u201313:30"
    )

    # Check the patient in from the calendar.
    page.locator(f'#calendar a.visit[data-visit="{visit.public_id}"]').click()
    expect(panel.get_by_role("status")).to_have_count(0)  # the fresh panel, not "Moved."
    panel.get_by_role("button", name="Check in").click()
    expect(panel.get_by_role("status")).to_have_text("Checked in.")
    expect(panel.locator("[data-status]")).to_have_text("Checked in")
    expect(page.locator(f'#calendar a.visit[data-visit="{visit.public_id}"]')).to_have_class(
        "visit status-checked_in"
    )
    visit.refresh_from_db()
    assert visit.status == Visit.Status.CHECKED_IN
    shoot(page, "frontdesk-checked-in")

    # The therapist's week view.
    page.get_by_role("link", name="Sarah Kim").first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Sarah Kim")
    shoot(page, "frontdesk-week")


def test_double_booking_shows_what_is_in_the_way(page, live_server):
    practice = make_practice()
    today = practice.today()
    # Written before the browser opens a page: on SQLite the live server and the test share one
    # in-memory database, and a write while a page is still loading its calendar finds the table
    # locked.
    Visit.objects.create(
        clinic=practice.clinic,
        patient=practice.patient,
        therapist=practice.therapist,
        starts_at=practice.local(today, "14:00"),
        ends_at=practice.local(today, "14:45"),
    )
    sign_in(page, practice.receptionist.username, DEFAULT_PASSWORD)
    # Book a new patient (quick form) into a free slot, then change the time onto the visit.
    _slot(page, practice, practice.therapist, "15:00").click()
    panel = page.locator("#panel")
    panel.get_by_text("New patient").click()
    panel.get_by_label("First name").fill("Tom")
    panel.get_by_label("Last name").fill("Reyes")
    panel.get_by_label("Date of birth").fill("1980-04-02")
    panel.get_by_role("button", name="Add patient").click()
    expect(panel.get_by_label("Reyes, Tom")).to_be_checked()
    panel.get_by_label("Time").fill("14:15")
    panel.get_by_role("button", name="Book", exact=True).click()
    alert = panel.locator("#book-errors")
    expect(alert).to_contain_text("This time is not free")
    expect(alert).to_contain_text("Sarah Kim is booked")
    expect(alert).to_contain_text(f"{today:%Y-%m-%d} 14:00 to 14:45")
    shoot(page, "frontdesk-double-booking")
    assert not Visit.objects.filter(patient__last_name="Reyes").exists()
