"""The clinic API: wiring, permissions, status codes, error bodies, pagination, query counts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.apps import apps
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from clinic.api.pagination import Pagination
from clinic.capabilities import Role
from clinic.models import (
    Clinic,
    Closure,
    Membership,
    OpeningHours,
    Room,
    TimeOff,
    User,
    Weekday,
    WorkingHours,
)
from tests.factories import (
    DEFAULT_PASSWORD,
    ClinicFactory,
    ClosureFactory,
    MembershipFactory,
    OpeningHoursFactory,
    RoomFactory,
    TimeOffFactory,
    UserFactory,
    WorkingHoursFactory,
    therapist_in,
)

pytestmark = pytest.mark.django_db


def list_url(name: str, clinic: Clinic) -> str:
    return reverse(f"{name}-list", kwargs={"clinic_id": clinic.public_id})


def detail_url(name: str, clinic: Clinic, obj: Any) -> str:
    return reverse(
        f"{name}-detail", kwargs={"clinic_id": clinic.public_id, "public_id": obj.public_id}
    )


def clinic_url(clinic: Clinic) -> str:
    return reverse("clinic-detail", kwargs={"clinic_id": clinic.public_id})


def table_counts() -> dict[str, int]:
    """Rows in every table of the project's apps (history tables and tokens included)."""
    models = [*apps.get_app_config("clinic").get_models(), Token]
    return {m._meta.label: m._default_manager.count() for m in models}


def assert_400(response, field: str) -> None:
    """A 400 with the one error body of the API, naming `field`."""
    assert response.status_code == 400, response.content
    body = response.json()
    assert set(body) == {"detail", "code", "errors"}
    assert isinstance(body["detail"], str)
    assert body["detail"]
    assert body["code"] == "invalid"
    assert field in body["errors"], body
    reasons = body["errors"][field]
    assert isinstance(reasons, list)
    assert reasons
    assert all(isinstance(reason, str) and reason for reason in reasons)


def assert_refused(response, status: int) -> None:
    """A 401/403/404 with {"detail", "code"}."""
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"detail", "code"}
    assert isinstance(body["detail"], str)
    assert body["detail"]


def rows(response) -> list[dict[str, Any]]:
    body = response.json()
    return body["results"] if isinstance(body, dict) else body


# --- Authentication ---------------------------------------------------------------------------


def test_token_obtain_gives_a_token_that_authenticates(api_client, receptionist):
    response = api_client.post(
        reverse("auth-token"),
        {"username": receptionist.username, "password": DEFAULT_PASSWORD},
    )
    assert response.status_code == 200, response.content
    key = response.json()["token"]
    assert Token.objects.get(user=receptionist).key == key

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    me = client.get(reverse("me"))
    assert me.status_code == 200
    assert me.json()["username"] == receptionist.username


def test_token_obtain_twice_returns_the_same_token(api_client, receptionist):
    data = {"username": receptionist.username, "password": DEFAULT_PASSWORD}
    first = api_client.post(reverse("auth-token"), data).json()["token"]
    second = api_client.post(reverse("auth-token"), data).json()["token"]
    assert first == second


@pytest.mark.parametrize(
    "data",
    [
        {"username": "nobody", "password": DEFAULT_PASSWORD},
        {"username": "USER", "password": "wrong-password-123"},
        {"username": "USER"},
    ],
    ids=["unknown-user", "wrong-password", "no-password"],
)
def test_token_obtain_refuses_bad_credentials(api_client, receptionist, data):
    data = {k: receptionist.username if v == "USER" else v for k, v in data.items()}
    before = table_counts()
    response = api_client.post(reverse("auth-token"), data)
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"detail", "code", "errors"}
    assert table_counts() == before


def test_token_obtain_refuses_inactive_user(api_client, receptionist):
    receptionist.is_active = False
    receptionist.save(update_fields=["is_active"])
    response = api_client.post(
        reverse("auth-token"), {"username": receptionist.username, "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 400
    assert not Token.objects.exists()


def test_token_revoke_then_the_token_no_longer_works(api_client, receptionist):
    key = api_client.post(
        reverse("auth-token"), {"username": receptionist.username, "password": DEFAULT_PASSWORD}
    ).json()["token"]
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")

    assert api_client.delete(reverse("auth-token")).status_code == 204
    assert not Token.objects.filter(user=receptionist).exists()

    response = api_client.get(reverse("me"))
    assert_refused(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Token")


def test_token_revoke_only_removes_the_callers_token(client_for, receptionist, therapist):
    Token.objects.create(user=therapist)
    Token.objects.create(user=receptionist)
    assert client_for(receptionist).delete(reverse("auth-token")).status_code == 204
    assert list(Token.objects.values_list("user", flat=True)) == [therapist.pk]


def test_token_revoke_anonymous_is_refused(api_client, receptionist):
    Token.objects.create(user=receptionist)
    response = api_client.delete(reverse("auth-token"))
    assert response.status_code in (401, 403)
    assert Token.objects.count() == 1


@pytest.mark.parametrize("method", ["get", "post", "patch", "delete"])
@pytest.mark.parametrize(
    "name", ["me", "clinic-list", "room-list", "staff-list", "working-hours-list"]
)
def test_unauthenticated_requests_are_401(api_client, clinic, name, method):
    url = reverse(name) if name in ("me", "clinic-list") else list_url(name[:-5], clinic)
    before = table_counts()
    response = getattr(api_client, method)(url, {})
    assert_refused(response, 401)
    assert table_counts() == before


def test_garbage_token_is_401(api_client, clinic):
    api_client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert_refused(api_client.get(list_url("room", clinic)), 401)


# --- Me and clinics ----------------------------------------------------------------------------


def test_me_lists_active_memberships_and_discipline(client_for, clinic, other_clinic, therapist):
    MembershipFactory(user=therapist, clinic=clinic, role=Role.CLINIC_ADMIN)
    MembershipFactory(user=therapist, clinic=other_clinic, role=Role.THERAPIST, active=False)

    body = client_for(therapist).get(reverse("me")).json()

    assert body["id"] == str(therapist.public_id)
    assert body["discipline"] == "PT"
    assert body["is_superuser"] is False
    assert sorted((m["clinic"], m["role"]) for m in body["memberships"]) == [
        (str(clinic.public_id), Role.CLINIC_ADMIN),
        (str(clinic.public_id), Role.THERAPIST),
    ]
    assert {m["clinic_name"] for m in body["memberships"]} == {clinic.name}


def test_me_without_profile_has_no_discipline(client_for, receptionist):
    assert client_for(receptionist).get(reverse("me")).json()["discipline"] is None


def test_clinic_list_shows_only_the_callers_active_clinics(
    client_for, clinic, other_clinic, receptionist
):
    closed = ClinicFactory(active=False)
    MembershipFactory(user=receptionist, clinic=closed)

    body = client_for(receptionist).get(reverse("clinic-list")).json()

    assert body["count"] == 1
    assert [c["id"] for c in body["results"]] == [str(clinic.public_id)]


def test_clinic_list_superuser_sees_every_active_clinic(
    client_for, clinic, other_clinic, superuser
):
    body = client_for(superuser).get(reverse("clinic-list")).json()
    assert {c["id"] for c in body["results"]} == {
        str(clinic.public_id),
        str(other_clinic.public_id),
    }


def test_clinic_retrieve_returns_the_clinic(client_for, clinic, receptionist):
    body = client_for(receptionist).get(clinic_url(clinic)).json()
    assert body["id"] == str(clinic.public_id)
    assert body["timezone"] == "America/New_York"


def test_clinic_patch_by_clinic_admin_updates_and_records_who(client_for, clinic, clinic_admin):
    response = client_for(clinic_admin).patch(
        clinic_url(clinic), {"timezone": "America/Chicago", "phone": "555"}
    )
    assert response.status_code == 200, response.content
    assert response.json()["timezone"] == "America/Chicago"
    clinic.refresh_from_db()
    assert (clinic.timezone, clinic.phone) == ("America/Chicago", "555")
    assert clinic.history.latest("history_id").history_user == clinic_admin


def test_clinic_patch_invalid_timezone_is_400_naming_timezone(client_for, clinic, clinic_admin):
    before = table_counts()
    response = client_for(clinic_admin).patch(clinic_url(clinic), {"timezone": "Mars/Olympus"})
    assert_400(response, "timezone")
    assert table_counts() == before
    assert Clinic.objects.get(pk=clinic.pk).timezone == "America/New_York"


def test_clinic_patch_duplicate_slug_is_400_naming_slug(
    client_for, clinic, other_clinic, superuser
):
    before = table_counts()
    response = client_for(superuser).patch(clinic_url(clinic), {"slug": other_clinic.slug})
    assert_400(response, "slug")
    assert table_counts() == before


@pytest.mark.parametrize("role", [Role.RECEPTIONIST, Role.THERAPIST])
def test_clinic_patch_without_manage_clinic_is_403(client_for, clinic, role):
    user = UserFactory(clinic=clinic, role=role)
    before = table_counts()
    response = client_for(user).patch(clinic_url(clinic), {"name": "Renamed"})
    assert_refused(response, 403)
    assert table_counts() == before
    assert Clinic.objects.get(pk=clinic.pk).name == clinic.name


def test_clinic_create_by_clinic_admin_is_403(client_for, clinic_admin):
    before = table_counts()
    response = client_for(clinic_admin).post(
        reverse("clinic-list"), {"name": "New", "slug": "new", "timezone": "UTC"}
    )
    assert_refused(response, 403)
    assert table_counts() == before


@pytest.mark.parametrize(("country", "medicare"), [("US", True), ("DE", False)])
def test_clinic_create_by_superuser_defaults_medicare_by_country(
    client_for, superuser, country, medicare
):
    response = client_for(superuser).post(
        reverse("clinic-list"),
        {"name": "New", "slug": "new", "timezone": "Europe/Berlin", "country": country},
    )
    assert response.status_code == 201, response.content
    assert response.json()["medicare_rules"] is medicare
    assert Clinic.objects.get(slug="new").medicare_rules is medicare


def test_clinic_create_invalid_timezone_is_400_and_writes_nothing(client_for, superuser):
    before = table_counts()
    response = client_for(superuser).post(
        reverse("clinic-list"), {"name": "New", "slug": "new", "timezone": "Mars/Olympus"}
    )
    assert_400(response, "timezone")
    assert table_counts() == before


# --- Rooms -------------------------------------------------------------------------------------


def test_room_list_shows_the_clinics_rooms_only(client_for, clinic, other_clinic, receptionist):
    RoomFactory(clinic=clinic, name="Gym", kind=Room.Kind.GYM)
    RoomFactory(clinic=clinic, name="Pool", kind=Room.Kind.POOL)
    RoomFactory(clinic=other_clinic, name="Elsewhere")

    body = client_for(receptionist).get(list_url("room", clinic)).json()

    assert body["count"] == 2
    assert [r["name"] for r in body["results"]] == ["Gym", "Pool"]


def test_room_list_filters_by_kind(client_for, clinic, receptionist):
    RoomFactory(clinic=clinic, name="Gym", kind=Room.Kind.GYM)
    RoomFactory(clinic=clinic, name="Pool", kind=Room.Kind.POOL)
    body = client_for(receptionist).get(list_url("room", clinic), {"kind": "pool"}).json()
    assert [r["name"] for r in body["results"]] == ["Pool"]


def test_room_retrieve(client_for, clinic, receptionist):
    room = RoomFactory(clinic=clinic)
    body = client_for(receptionist).get(detail_url("room", clinic, room)).json()
    assert body == {
        "id": str(room.public_id),
        "name": room.name,
        "kind": "treatment",
        "active": True,
    }


def test_room_retrieve_non_uuid_is_404(client_for, clinic, receptionist):
    url = reverse("room-detail", kwargs={"clinic_id": clinic.public_id, "public_id": "12"})
    assert_refused(client_for(receptionist).get(url), 404)


def test_room_create_by_clinic_admin(client_for, clinic, clinic_admin):
    response = client_for(clinic_admin).post(
        list_url("room", clinic), {"name": "Gym", "kind": "gym"}
    )
    assert response.status_code == 201, response.content
    room = Room.objects.get(public_id=response.json()["id"])
    assert (room.clinic, room.name, room.kind) == (clinic, "Gym", "gym")
    assert room.history.get().history_user == clinic_admin


def test_room_create_duplicate_name_is_400_naming_name(client_for, clinic, clinic_admin):
    RoomFactory(clinic=clinic, name="Gym")
    before = table_counts()
    response = client_for(clinic_admin).post(list_url("room", clinic), {"name": "gym"})
    assert_400(response, "name")
    assert table_counts() == before


def test_room_create_missing_name_is_400_naming_name(client_for, clinic, clinic_admin):
    before = table_counts()
    assert_400(client_for(clinic_admin).post(list_url("room", clinic), {"kind": "gym"}), "name")
    assert table_counts() == before


def test_room_create_by_receptionist_is_403(client_for, clinic, receptionist):
    before = table_counts()
    response = client_for(receptionist).post(list_url("room", clinic), {"name": "Gym"})
    assert_refused(response, 403)
    assert table_counts() == before


def test_room_patch_renames(client_for, clinic, clinic_admin):
    room = RoomFactory(clinic=clinic, name="A")
    response = client_for(clinic_admin).patch(
        detail_url("room", clinic, room), {"name": "B", "active": False}
    )
    assert response.status_code == 200, response.content
    room.refresh_from_db()
    assert (room.name, room.active) == ("B", False)


def test_room_patch_duplicate_name_is_400_naming_name(client_for, clinic, clinic_admin):
    RoomFactory(clinic=clinic, name="A")
    room = RoomFactory(clinic=clinic, name="B")
    before = table_counts()
    response = client_for(clinic_admin).patch(detail_url("room", clinic, room), {"name": "A"})
    assert_400(response, "name")
    assert table_counts() == before
    assert Room.objects.get(pk=room.pk).name == "B"


def test_room_patch_by_therapist_is_403(client_for, clinic, therapist):
    room = RoomFactory(clinic=clinic, name="A")
    assert_refused(
        client_for(therapist).patch(detail_url("room", clinic, room), {"name": "B"}), 403
    )
    assert Room.objects.get(pk=room.pk).name == "A"


# --- Staff -------------------------------------------------------------------------------------


def test_staff_list_shows_members_with_their_profiles(
    client_for, clinic, receptionist, therapist, outsider
):
    body = client_for(receptionist).get(list_url("staff", clinic)).json()
    by_user = {m["user"]["id"]: m for m in body["results"]}
    assert set(by_user) == {str(receptionist.public_id), str(therapist.public_id)}
    assert by_user[str(therapist.public_id)]["discipline"] == "PT"
    assert by_user[str(therapist.public_id)]["licence_number"]
    assert by_user[str(receptionist.public_id)]["discipline"] is None


def test_staff_grant_existing_user_a_new_role(client_for, clinic, clinic_admin, receptionist):
    response = client_for(clinic_admin).post(
        list_url("staff", clinic), {"user": str(receptionist.public_id), "role": "clinic_admin"}
    )
    assert response.status_code == 201, response.content
    assert response.json()["role"] == "clinic_admin"
    assert receptionist.memberships.filter(clinic=clinic, role=Role.CLINIC_ADMIN).exists()


def test_staff_grant_duplicate_role_is_400_naming_role(
    client_for, clinic, clinic_admin, receptionist
):
    before = table_counts()
    response = client_for(clinic_admin).post(
        list_url("staff", clinic), {"user": str(receptionist.public_id), "role": "receptionist"}
    )
    assert_400(response, "role")
    assert table_counts() == before


def test_staff_grant_unknown_role_is_400_naming_role(
    client_for, clinic, clinic_admin, receptionist
):
    before = table_counts()
    response = client_for(clinic_admin).post(
        list_url("staff", clinic), {"user": str(receptionist.public_id), "role": "janitor"}
    )
    assert_400(response, "role")
    assert table_counts() == before


def test_staff_grant_user_of_another_clinic_is_400_naming_user(
    client_for, clinic, clinic_admin, outsider
):
    before = table_counts()
    response = client_for(clinic_admin).post(
        list_url("staff", clinic), {"user": str(outsider.public_id), "role": "receptionist"}
    )
    assert_400(response, "user")
    assert table_counts() == before


@pytest.mark.parametrize(
    "data",
    [{"role": "receptionist"}, {"user": "USER", "username": "both", "role": "receptionist"}],
    ids=["neither", "both"],
)
def test_staff_grant_needs_exactly_one_of_user_and_username(
    client_for, clinic, clinic_admin, receptionist, data
):
    data = {k: str(receptionist.public_id) if v == "USER" else v for k, v in data.items()}
    before = table_counts()
    assert_400(client_for(clinic_admin).post(list_url("staff", clinic), data), "user")
    assert table_counts() == before


def test_staff_grant_new_user_creates_user_and_membership(client_for, clinic, clinic_admin):
    response = client_for(clinic_admin).post(
        list_url("staff", clinic),
        {
            "username": "new.pt",
            "password": DEFAULT_PASSWORD,
            "first_name": "Nina",
            "role": "therapist",
            "licence_number": "PT-77",
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["role"], body["discipline"], body["licence_number"]) == (
        "therapist",
        "PT",
        "PT-77",
    )
    assert "password" not in body
    user = User.objects.get(username="new.pt")
    assert user.check_password(DEFAULT_PASSWORD)
    assert user.memberships.get().clinic == clinic


def test_staff_grant_new_user_weak_password_is_400_naming_password(
    client_for, clinic, clinic_admin
):
    before = table_counts()
    response = client_for(clinic_admin).post(
        list_url("staff", clinic),
        {"username": "weak", "password": "12345", "role": "receptionist"},
    )
    assert_400(response, "password")
    assert table_counts() == before
    assert not User.objects.filter(username="weak").exists()


def test_staff_grant_new_therapist_without_licence_writes_nothing(client_for, clinic, clinic_admin):
    before = table_counts()
    response = client_for(clinic_admin).post(
        list_url("staff", clinic), {"username": "nolicence", "role": "therapist"}
    )
    assert_400(response, "licence_number")
    assert table_counts() == before


def test_staff_grant_by_therapist_is_403(client_for, clinic, therapist):
    before = table_counts()
    response = client_for(therapist).post(
        list_url("staff", clinic), {"username": "x", "role": "receptionist"}
    )
    assert_refused(response, 403)
    assert table_counts() == before


def test_staff_delete_deactivates_the_membership(client_for, clinic, clinic_admin, receptionist):
    membership = receptionist.memberships.get()
    response = client_for(clinic_admin).delete(detail_url("staff", clinic, membership))
    assert response.status_code == 200, response.content
    assert response.json()["active"] is False
    assert Membership.objects.get(pk=membership.pk).active is False


# --- Opening hours and closures ----------------------------------------------------------------


def test_hours_create(client_for, clinic, clinic_admin):
    response = client_for(clinic_admin).post(
        list_url("opening-hours", clinic), {"weekday": 0, "opens": "08:00", "closes": "12:00"}
    )
    assert response.status_code == 201, response.content
    assert response.json()["weekday_name"] == "Monday"
    assert OpeningHours.objects.for_clinic(clinic).get().closes == dt.time(12)


def test_hours_create_closes_before_opens_is_400_naming_closes(client_for, clinic, clinic_admin):
    before = table_counts()
    response = client_for(clinic_admin).post(
        list_url("opening-hours", clinic), {"weekday": 0, "opens": "12:00", "closes": "08:00"}
    )
    assert_400(response, "closes")
    assert table_counts() == before


def test_hours_create_overlapping_is_400_naming_opens(client_for, clinic, clinic_admin):
    OpeningHoursFactory(clinic=clinic, weekday=Weekday.MONDAY, opens=dt.time(8), closes=dt.time(12))
    before = table_counts()
    response = client_for(clinic_admin).post(
        list_url("opening-hours", clinic), {"weekday": 0, "opens": "11:00", "closes": "14:00"}
    )
    assert_400(response, "opens")
    assert table_counts() == before


def test_hours_create_back_to_back_is_accepted(client_for, clinic, clinic_admin):
    OpeningHoursFactory(clinic=clinic, weekday=Weekday.MONDAY, opens=dt.time(8), closes=dt.time(12))
    response = client_for(clinic_admin).post(
        list_url("opening-hours", clinic), {"weekday": 0, "opens": "12:00", "closes": "14:00"}
    )
    assert response.status_code == 201, response.content


def test_hours_create_bad_weekday_is_400_naming_weekday(client_for, clinic, clinic_admin):
    response = client_for(clinic_admin).post(
        list_url("opening-hours", clinic), {"weekday": 7, "opens": "08:00", "closes": "12:00"}
    )
    assert_400(response, "weekday")


def test_hours_list_is_ordered_by_weekday_and_time(client_for, clinic, other_clinic, receptionist):
    OpeningHoursFactory(clinic=clinic, weekday=1, opens=dt.time(8), closes=dt.time(12))
    OpeningHoursFactory(clinic=clinic, weekday=0, opens=dt.time(13), closes=dt.time(17))
    OpeningHoursFactory(clinic=clinic, weekday=0, opens=dt.time(8), closes=dt.time(12))
    OpeningHoursFactory(clinic=other_clinic, weekday=0)

    body = rows(client_for(receptionist).get(list_url("opening-hours", clinic)))

    assert [(b["weekday"], b["opens"]) for b in body] == [
        (0, "08:00:00"),
        (0, "13:00:00"),
        (1, "08:00:00"),
    ]


def test_hours_delete(client_for, clinic, clinic_admin):
    block = OpeningHoursFactory(clinic=clinic)
    response = client_for(clinic_admin).delete(detail_url("opening-hours", clinic, block))
    assert response.status_code == 204
    assert not OpeningHours.objects.filter(pk=block.pk).exists()


def test_hours_create_by_receptionist_is_403(client_for, clinic, receptionist):
    before = table_counts()
    response = client_for(receptionist).post(
        list_url("opening-hours", clinic), {"weekday": 0, "opens": "08:00", "closes": "12:00"}
    )
    assert_refused(response, 403)
    assert table_counts() == before


def test_closure_create_single_day(client_for, clinic, clinic_admin):
    response = client_for(clinic_admin).post(
        list_url("closure", clinic), {"starts_on": "2030-12-25", "reason": "Christmas"}
    )
    assert response.status_code == 201, response.content
    assert response.json()["ends_on"] == "2030-12-25"


def test_closure_create_end_before_start_is_400_naming_ends_on(client_for, clinic, clinic_admin):
    before = table_counts()
    response = client_for(clinic_admin).post(
        list_url("closure", clinic),
        {"starts_on": "2030-12-25", "ends_on": "2030-12-24", "reason": "x"},
    )
    assert_400(response, "ends_on")
    assert table_counts() == before


def test_closure_list_and_delete(client_for, clinic, other_clinic, clinic_admin):
    closure = ClosureFactory(clinic=clinic)
    ClosureFactory(clinic=other_clinic)
    client = client_for(clinic_admin)

    assert [c["id"] for c in rows(client.get(list_url("closure", clinic)))] == [
        str(closure.public_id)
    ]
    assert client.delete(detail_url("closure", clinic, closure)).status_code == 204
    assert not Closure.objects.filter(pk=closure.pk).exists()


# --- Working hours and time off ----------------------------------------------------------------


def working_hours_body(therapist: User, **overrides: Any) -> dict[str, Any]:
    return {
        "therapist": str(therapist.public_id),
        "weekday": 0,
        "starts": "09:00",
        "ends": "13:00",
        **overrides,
    }


def test_working_hours_create(client_for, clinic, clinic_admin, therapist):
    response = client_for(clinic_admin).post(
        list_url("working-hours", clinic), working_hours_body(therapist)
    )
    assert response.status_code == 201, response.content
    assert response.json()["therapist"] == str(therapist.public_id)
    assert WorkingHours.objects.get().clinic == clinic


def test_working_hours_create_therapist_of_another_clinic_is_400_and_never_created(
    client_for, clinic, clinic_admin, outsider
):
    before = table_counts()
    response = client_for(clinic_admin).post(
        list_url("working-hours", clinic), working_hours_body(outsider)
    )
    assert_400(response, "therapist")
    assert table_counts() == before
    assert not WorkingHours.objects.exists()


def test_working_hours_create_for_a_receptionist_is_400_naming_therapist(
    client_for, clinic, clinic_admin, receptionist
):
    before = table_counts()
    response = client_for(clinic_admin).post(
        list_url("working-hours", clinic), working_hours_body(receptionist)
    )
    assert_400(response, "therapist")
    assert table_counts() == before


def test_working_hours_create_overlap_is_400_naming_starts(
    client_for, clinic, clinic_admin, therapist
):
    WorkingHoursFactory(clinic=clinic, therapist=therapist)
    before = table_counts()
    response = client_for(clinic_admin).post(
        list_url("working-hours", clinic),
        working_hours_body(therapist, starts="12:00", ends="15:00"),
    )
    assert_400(response, "starts")
    assert table_counts() == before


def test_working_hours_create_ends_before_starts_is_400_naming_ends(
    client_for, clinic, clinic_admin, therapist
):
    response = client_for(clinic_admin).post(
        list_url("working-hours", clinic),
        working_hours_body(therapist, starts="13:00", ends="09:00"),
    )
    assert_400(response, "ends")
    assert not WorkingHours.objects.exists()


def test_working_hours_list_filters_by_therapist(client_for, clinic, receptionist, therapist):
    mine = WorkingHoursFactory(clinic=clinic, therapist=therapist)
    WorkingHoursFactory(clinic=clinic)
    body = (
        client_for(receptionist)
        .get(list_url("working-hours", clinic), {"therapist__public_id": str(therapist.public_id)})
        .json()
    )
    assert [b["id"] for b in body["results"]] == [str(mine.public_id)]


def test_working_hours_create_by_receptionist_is_403(client_for, clinic, receptionist, therapist):
    before = table_counts()
    response = client_for(receptionist).post(
        list_url("working-hours", clinic), working_hours_body(therapist)
    )
    assert_refused(response, 403)
    assert table_counts() == before


def test_working_hours_delete(client_for, clinic, clinic_admin, therapist):
    block = WorkingHoursFactory(clinic=clinic, therapist=therapist)
    assert (
        client_for(clinic_admin).delete(detail_url("working-hours", clinic, block)).status_code
        == 204
    )
    assert not WorkingHours.objects.exists()


def time_off_body(therapist: User, hours: int = 8) -> dict[str, Any]:
    starts = timezone.now().replace(microsecond=0) + dt.timedelta(days=3)
    return {
        "therapist": str(therapist.public_id),
        "starts_at": starts.isoformat(),
        "ends_at": (starts + dt.timedelta(hours=hours)).isoformat(),
        "reason": "Course",
    }


def test_time_off_create(client_for, clinic, clinic_admin, therapist):
    response = client_for(clinic_admin).post(list_url("time-off", clinic), time_off_body(therapist))
    assert response.status_code == 201, response.content
    assert TimeOff.objects.get().therapist == therapist


def test_time_off_create_end_before_start_is_400_naming_ends_at(
    client_for, clinic, clinic_admin, therapist
):
    before = table_counts()
    response = client_for(clinic_admin).post(
        list_url("time-off", clinic), time_off_body(therapist, hours=-1)
    )
    assert_400(response, "ends_at")
    assert table_counts() == before


def test_time_off_create_therapist_of_another_clinic_is_400_naming_therapist(
    client_for, clinic, clinic_admin, outsider
):
    before = table_counts()
    response = client_for(clinic_admin).post(list_url("time-off", clinic), time_off_body(outsider))
    assert_400(response, "therapist")
    assert table_counts() == before


def test_time_off_create_for_receptionist_who_is_a_therapist_elsewhere_is_400(
    client_for, clinic, other_clinic, clinic_admin, receptionist
):
    MembershipFactory(user=receptionist, clinic=other_clinic, role=Role.THERAPIST)
    before = table_counts()
    response = client_for(clinic_admin).post(
        list_url("time-off", clinic), time_off_body(receptionist)
    )
    assert_400(response, "therapist")
    assert table_counts() == before


def test_time_off_list_and_delete(client_for, clinic, other_clinic, clinic_admin, therapist):
    mine = TimeOffFactory(therapist=therapist)
    TimeOffFactory(clinic=other_clinic)
    client = client_for(clinic_admin)

    assert [t["id"] for t in rows(client.get(list_url("time-off", clinic)))] == [
        str(mine.public_id)
    ]
    assert client.delete(detail_url("time-off", clinic, mine)).status_code == 204
    assert not TimeOff.objects.filter(pk=mine.pk).exists()


# --- Every list: paginated, and a constant number of queries ------------------------------------


def _more_clinics(clinic: Clinic, caller: User, n: int) -> None:
    for _ in range(n):
        MembershipFactory(user=caller, clinic=ClinicFactory())


def _more_staff(clinic: Clinic, caller: User, n: int) -> None:
    for i in range(n):
        if i % 2:
            therapist_in(clinic)
        else:
            MembershipFactory(clinic=clinic)


def _more_working_hours(clinic: Clinic, caller: User, n: int) -> None:
    for _ in range(n):
        WorkingHoursFactory(clinic=clinic)  # a new therapist each


def _more_time_off(clinic: Clinic, caller: User, n: int) -> None:
    for _ in range(n):
        TimeOffFactory(clinic=clinic)  # a new therapist each


def _more_rooms(clinic: Clinic, caller: User, n: int) -> None:
    RoomFactory.create_batch(n, clinic=clinic)


def _more_hours(clinic: Clinic, caller: User, n: int) -> None:
    start = OpeningHours.objects.count()
    for i in range(start, start + n):
        OpeningHoursFactory(
            clinic=clinic, weekday=i % 7, opens=dt.time(i // 7), closes=dt.time(i // 7, 30)
        )


def _more_closures(clinic: Clinic, caller: User, n: int) -> None:
    ClosureFactory.create_batch(n, clinic=clinic)


def _more_memberships(clinic: Clinic, caller: User, n: int) -> None:
    _more_clinics(clinic, caller, n)


# name -> (url for the caller's clinic, a maker of n more rows in the list)
LISTS: dict[str, tuple[Callable[[Clinic], str], Callable[[Clinic, User, int], None]]] = {
    "me": (lambda c: reverse("me"), _more_memberships),
    "clinic-list": (lambda c: reverse("clinic-list"), _more_clinics),
    "room-list": (lambda c: list_url("room", c), _more_rooms),
    "staff-list": (lambda c: list_url("staff", c), _more_staff),
    "opening-hours-list": (lambda c: list_url("opening-hours", c), _more_hours),
    "closure-list": (lambda c: list_url("closure", c), _more_closures),
    "working-hours-list": (lambda c: list_url("working-hours", c), _more_working_hours),
    "time-off-list": (lambda c: list_url("time-off", c), _more_time_off),
}
# Opening hours are a handful of blocks per weekday (overlaps are refused), so not paged.
UNPAGINATED = {"me", "opening-hours-list"}
MAX_LIST_QUERIES = 4  # clinic, caller's roles, count, page


def _items(name: str, response) -> list[Any]:
    body = response.json()
    return body["memberships"] if name == "me" else rows(response)


@pytest.mark.parametrize("name", LISTS)
def test_list_query_count_does_not_grow_with_rows(
    name, client_for, clinic, clinic_admin, django_assert_max_num_queries
):
    url_for, more = LISTS[name]
    client = client_for(clinic_admin)
    more(clinic, clinic_admin, 3)

    with django_assert_max_num_queries(MAX_LIST_QUERIES) as few_rows:
        response = client.get(url_for(clinic))
    assert response.status_code == 200
    shown = len(_items(name, response))

    more(clinic, clinic_admin, 7)
    with django_assert_max_num_queries(len(few_rows)):
        response = client.get(url_for(clinic))
    assert len(_items(name, response)) == shown + 7


@pytest.mark.parametrize("name", sorted(set(LISTS) - UNPAGINATED))
def test_list_is_paginated(name, client_for, clinic, clinic_admin):
    url_for, more = LISTS[name]
    more(clinic, clinic_admin, 3)
    client = client_for(clinic_admin)
    total = client.get(url_for(clinic)).json()["count"]
    assert total >= 3

    body = client.get(url_for(clinic), {"page_size": 2}).json()

    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == total
    assert len(body["results"]) == 2
    assert body["previous"] is None
    assert body["next"] is not None
    last = client.get(url_for(clinic), {"page_size": 2, "page": (total + 1) // 2}).json()
    assert last["next"] is None


@pytest.mark.parametrize("name", sorted(set(LISTS) - UNPAGINATED))
def test_list_page_size_is_capped(name, client_for, clinic, clinic_admin, monkeypatch):
    url_for, more = LISTS[name]
    more(clinic, clinic_admin, 3)
    monkeypatch.setattr(Pagination, "max_page_size", 2)  # the real cap is 200 rows
    body = client_for(clinic_admin).get(url_for(clinic), {"page_size": 100000}).json()
    assert body["count"] >= 3
    assert len(body["results"]) == 2
