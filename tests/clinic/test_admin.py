"""The admin, scoped to the clinics the user administers: change lists, forms, autocomplete,
filters, object pages, who may enter, and the services' rules on the admin's forms."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.contrib import admin
from django.db.models import Model
from django.test import Client
from django.urls import reverse

from clinic.admin_base import ClinicFilter, ClinicScopedAdmin
from clinic.capabilities import Role
from clinic.models import AccessLog, Clinic, Membership, OpeningHours, Room, User, Weekday
from tests.factories import (
    CLINIC_ROW_FACTORIES,
    DEFAULT_PASSWORD,
    MembershipFactory,
    OpeningHoursFactory,
    RoomFactory,
    UserFactory,
    WorkingHoursFactory,
)

pytestmark = pytest.mark.django_db

SCOPED_ADMINS = sorted(
    (
        model
        for model, model_admin in admin.site._registry.items()
        if isinstance(model_admin, ClinicScopedAdmin)
    ),
    key=lambda model: model._meta.label,
)
SCOPED_IDS = [model._meta.label for model in SCOPED_ADMINS]
# Listed in the admin but written only by the services (never added there).
WRITTEN_BY_SERVICES_ONLY = {
    "patients.VisitSeries",
    "patients.PatientMessage",
    "patients.EvaluationAddendum",
    "programs.TreatmentNoteAddendum",
    "programs.FollowUp",
    "programs.ProgressSummary",
    "programs.HomeProgram",
    "programs.HomeProgramLink",
}


def admin_url(model: type[Model], view: str, *args: Any) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def row_factory(model: type[Model]):
    if model not in CLINIC_ROW_FACTORIES:
        pytest.fail(
            f"{model._meta.label} has a ClinicScopedAdmin but no factory in tests/factories.py "
            "CLINIC_ROW_FACTORIES; register one so the admin scoping tests cover it."
        )
    return CLINIC_ROW_FACTORIES[model]


def only_in(model: type[Model], clinic: Clinic, not_in: Clinic) -> set[Any]:
    """Primary keys of `model` rows that belong to `clinic` and not to `not_in`."""
    manager = model._default_manager
    return set(manager.for_clinic(clinic).values_list("pk", flat=True)) - set(
        manager.for_clinic(not_in).values_list("pk", flat=True)
    )


@pytest.fixture
def admin_client_for():
    def make(user: User) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return make


@pytest.fixture
def as_clinic_admin(admin_client_for, clinic_admin) -> Client:
    return admin_client_for(clinic_admin)


# --- Who may enter ---------------------------------------------------------------------------


def test_admin_index_opens_for_a_clinic_admin(as_clinic_admin):
    response = as_clinic_admin.get("/admin/")
    assert response.status_code == 200
    assert admin_url(Room, "changelist") in response.content.decode()


def test_admin_login_form_lets_a_clinic_admin_in(clinic_admin):
    client = Client()
    response = client.post(
        "/admin/login/?next=/admin/",
        {"username": clinic_admin.username, "password": DEFAULT_PASSWORD},
    )
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200


def test_admin_login_form_refuses_a_receptionist(receptionist):
    client = Client()
    response = client.post(
        "/admin/login/?next=/admin/",
        {"username": receptionist.username, "password": DEFAULT_PASSWORD},
    )
    assert response.status_code == 200  # the form again, with its error
    assert response.context["form"].errors
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize("who", ["receptionist", "therapist", "no_membership", "former_admin"])
def test_admin_without_an_admin_role_is_sent_to_login(request, admin_client_for, clinic, who):
    if who == "no_membership":
        user = UserFactory()
    elif who == "former_admin":
        user = UserFactory(clinic=clinic, role=Role.CLINIC_ADMIN)
        user.memberships.update(active=False)
    else:
        user = request.getfixturevalue(who)
    client = admin_client_for(user)
    for url in ("/admin/", admin_url(Room, "changelist"), admin_url(Room, "add")):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.url.startswith("/admin/login/"), url


def test_admin_anonymous_is_sent_to_login(client):
    response = client.get(admin_url(Room, "changelist"))
    assert response.status_code == 302
    assert response.url.startswith("/admin/login/")


def test_admin_outsider_sees_only_their_own_clinic(
    admin_client_for, clinic, other_clinic, outsider
):
    """The outsider administers other_clinic, so enters the admin, but never sees `clinic`."""
    theirs = RoomFactory(clinic=other_clinic)
    ours = RoomFactory(clinic=clinic)
    client = admin_client_for(outsider)

    shown = {r.pk for r in client.get(admin_url(Room, "changelist")).context["cl"].result_list}
    assert shown == {theirs.pk}
    response = client.get(admin_url(Room, "change", ours.pk))
    assert response.status_code in (302, 404)
    assert ours.name not in response.content.decode()


# --- Change lists ------------------------------------------------------------------------------


def test_admin_scoped_models_include_the_clinic_models():
    assert {
        "clinic.Clinic",
        "clinic.Room",
        "clinic.Membership",
        "clinic.OpeningHours",
        "clinic.Closure",
        "clinic.WorkingHours",
        "clinic.TimeOff",
        "clinic.User",
    } <= set(SCOPED_IDS)


@pytest.mark.parametrize("model", SCOPED_ADMINS, ids=SCOPED_IDS)
def test_admin_changelist_shows_no_row_of_another_clinic(
    model, clinic, other_clinic, as_clinic_admin
):
    make = row_factory(model)
    ours = make(clinic=clinic)
    theirs = make(clinic=other_clinic)
    hidden = only_in(model, other_clinic, clinic)
    assert theirs.pk in hidden

    response = as_clinic_admin.get(admin_url(model, "changelist"))

    assert response.status_code == 200
    shown = {obj.pk for obj in response.context["cl"].result_list}
    assert ours.pk in shown
    assert not shown & hidden
    page = response.content.decode()
    for pk in hidden:
        assert admin_url(model, "change", pk) not in page


@pytest.mark.parametrize("model", SCOPED_ADMINS, ids=SCOPED_IDS)
def test_admin_object_pages_of_another_clinic_are_not_shown(
    model, clinic, other_clinic, as_clinic_admin
):
    theirs = row_factory(model)(clinic=other_clinic)
    for view in ("change", "delete", "history"):
        response = as_clinic_admin.get(admin_url(model, view, theirs.pk))
        assert response.status_code in (302, 403, 404), view
        if response.status_code == 302:
            assert response.url == reverse("admin:index"), view
    response = as_clinic_admin.post(admin_url(model, "delete", theirs.pk), {"post": "yes"})
    assert response.status_code in (302, 403, 404)
    assert model._default_manager.filter(pk=theirs.pk).exists()


@pytest.mark.parametrize("model", SCOPED_ADMINS, ids=SCOPED_IDS)
def test_admin_history_page_of_own_row_opens(model, clinic, as_clinic_admin):
    ours = row_factory(model)(clinic=clinic)
    response = as_clinic_admin.get(admin_url(model, "history", ours.pk))
    assert response.status_code == 200


def test_admin_change_url_of_another_clinics_room_redirects_not_the_page(
    clinic, other_clinic, as_clinic_admin
):
    theirs = RoomFactory(clinic=other_clinic, name="Hydrotherapy pool B")
    response = as_clinic_admin.get(admin_url(Room, "change", theirs.pk), follow=True)
    assert response.redirect_chain[0][1] == 302
    assert "Hydrotherapy pool B" not in response.content.decode()
    assert "adminform" not in response.context


def test_admin_clinic_admin_may_open_their_own_rooms_change_page(clinic, as_clinic_admin):
    ours = RoomFactory(clinic=clinic, name="Gym A")
    response = as_clinic_admin.get(admin_url(Room, "change", ours.pk))
    assert response.status_code == 200
    assert response.context["adminform"].form.instance == ours


# --- Forms -------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", SCOPED_ADMINS, ids=SCOPED_IDS)
def test_admin_add_form_offers_only_the_admins_clinics_rows(
    model, clinic, other_clinic, make_clinic_rows, as_clinic_admin
):
    make_clinic_rows(clinic)
    make_clinic_rows(other_clinic)

    response = as_clinic_admin.get(admin_url(model, "add"))

    if model in (Clinic, AccessLog) or model._meta.label in WRITTEN_BY_SERVICES_ONLY:
        # only superusers add clinics; nobody adds log rows or rows only services write
        assert response.status_code == 403
        return
    assert response.status_code == 200
    forms = [response.context["adminform"].form] + [
        form for inline in response.context["inline_admin_formsets"] for form in inline.formset
    ]
    for form in forms:
        for name, field in form.fields.items():
            queryset = getattr(field, "queryset", None)
            if queryset is None or not hasattr(queryset.model._default_manager, "for_clinic"):
                continue
            offered = set(queryset.values_list("pk", flat=True))
            assert not offered & only_in(queryset.model, other_clinic, clinic), name


def test_admin_room_add_form_offers_only_the_admins_clinic(clinic, other_clinic, as_clinic_admin):
    form = as_clinic_admin.get(admin_url(Room, "add")).context["adminform"].form
    assert list(form.fields["clinic"].queryset) == [clinic]


def test_admin_room_add_with_another_clinic_is_refused_and_saves_nothing(
    clinic, other_clinic, as_clinic_admin
):
    response = as_clinic_admin.post(
        admin_url(Room, "add"), {"clinic": other_clinic.pk, "name": "Sneaky", "kind": "gym"}
    )
    assert response.status_code == 200
    assert "clinic" in response.context["adminform"].form.errors
    assert not Room.objects.filter(name="Sneaky").exists()


def test_admin_room_add_in_own_clinic_saves(clinic, clinic_admin, as_clinic_admin):
    response = as_clinic_admin.post(
        admin_url(Room, "add"), {"clinic": clinic.pk, "name": "Gym", "kind": "gym", "active": "on"}
    )
    assert response.status_code == 302
    room = Room.objects.get(name="Gym")
    assert room.clinic == clinic
    assert room.history.get().history_user == clinic_admin


def test_admin_opening_hours_overlap_shows_the_service_error_and_saves_nothing(
    clinic, as_clinic_admin
):
    OpeningHoursFactory(clinic=clinic, weekday=Weekday.MONDAY, opens=dt.time(8), closes=dt.time(12))
    data = {"clinic": clinic.pk, "weekday": Weekday.MONDAY, "opens": "11:00", "closes": "14:00"}

    response = as_clinic_admin.post(admin_url(OpeningHours, "add"), data)

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "Overlaps another opening block" in " ".join(errors["opens"])
    assert OpeningHours.objects.count() == 1


def test_admin_opening_hours_closes_before_opens_is_refused(clinic, as_clinic_admin):
    data = {"clinic": clinic.pk, "weekday": Weekday.MONDAY, "opens": "14:00", "closes": "11:00"}
    response = as_clinic_admin.post(admin_url(OpeningHours, "add"), data)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    assert not OpeningHours.objects.exists()


def test_admin_opening_hours_back_to_back_saves(clinic, clinic_admin, as_clinic_admin):
    OpeningHoursFactory(clinic=clinic, weekday=Weekday.MONDAY, opens=dt.time(8), closes=dt.time(12))
    data = {"clinic": clinic.pk, "weekday": Weekday.MONDAY, "opens": "12:00", "closes": "14:00"}
    response = as_clinic_admin.post(admin_url(OpeningHours, "add"), data)
    assert response.status_code == 302
    block = OpeningHours.objects.get(opens=dt.time(12))
    assert block.history.get().history_user == clinic_admin


def test_admin_working_hours_for_a_non_therapist_is_an_error_on_therapist(
    clinic, receptionist, as_clinic_admin
):
    data = {
        "clinic": clinic.pk,
        "therapist": receptionist.pk,
        "weekday": 0,
        "starts": "09:00",
        "ends": "12:00",
    }
    response = as_clinic_admin.post(admin_url(WorkingHoursFactory._meta.model, "add"), data)
    assert response.status_code == 200
    assert "therapist" in response.context["adminform"].form.errors


# --- Autocomplete and filters --------------------------------------------------------------------


def test_admin_autocomplete_offers_only_staff_of_the_admins_clinics(
    clinic, other_clinic, clinic_admin, therapist, receptionist, outsider, as_clinic_admin
):
    UserFactory(clinic=other_clinic, role=Role.THERAPIST)
    UserFactory()  # no clinic at all

    response = as_clinic_admin.get(
        "/admin/autocomplete/",
        {
            "app_label": "clinic",
            "model_name": "workinghours",
            "field_name": "therapist",
            "term": "",
        },
    )

    assert response.status_code == 200
    offered = {int(result["id"]) for result in response.json()["results"]}
    assert offered == {therapist.pk}  # a therapist field offers therapists, of this clinic only


def test_admin_autocomplete_search_term_stays_within_the_clinic(
    clinic, other_clinic, therapist, as_clinic_admin
):
    UserFactory(clinic=other_clinic, last_name=therapist.last_name, role=Role.THERAPIST)
    response = as_clinic_admin.get(
        "/admin/autocomplete/",
        {
            "app_label": "clinic",
            "model_name": "workinghours",
            "field_name": "therapist",
            "term": therapist.last_name,
        },
    )
    assert [int(r["id"]) for r in response.json()["results"]] == [therapist.pk]


def test_admin_autocomplete_refused_to_non_admins(admin_client_for, receptionist):
    response = admin_client_for(receptionist).get(
        "/admin/autocomplete/",
        {
            "app_label": "clinic",
            "model_name": "workinghours",
            "field_name": "therapist",
            "term": "",
        },
    )
    assert response.status_code in (302, 403)


def _clinic_filter(response) -> ClinicFilter:
    specs = [s for s in response.context["cl"].filter_specs if isinstance(s, ClinicFilter)]
    assert len(specs) == 1
    return specs[0]


def test_admin_clinic_filter_lists_only_the_admins_clinics(clinic, other_clinic, as_clinic_admin):
    spec = _clinic_filter(as_clinic_admin.get(admin_url(Room, "changelist")))
    assert spec.lookup_choices == [(str(clinic.pk), clinic.name)]


def test_admin_clinic_filter_lists_every_clinic_for_a_superuser(
    clinic, other_clinic, admin_client_for, superuser
):
    spec = _clinic_filter(admin_client_for(superuser).get(admin_url(Room, "changelist")))
    assert {pk for pk, _ in spec.lookup_choices} == {str(clinic.pk), str(other_clinic.pk)}


def test_admin_clinic_filter_with_another_clinics_id_shows_nothing(
    clinic, other_clinic, as_clinic_admin
):
    RoomFactory(clinic=clinic)
    RoomFactory(clinic=other_clinic)
    response = as_clinic_admin.get(admin_url(Room, "changelist"), {"clinic": other_clinic.pk})
    assert list(response.context["cl"].result_list) == []


def test_admin_clinic_filter_narrows_to_one_clinic(clinic, admin_client_for, superuser):
    other = RoomFactory(name="Elsewhere")
    ours = RoomFactory(clinic=clinic)
    response = admin_client_for(superuser).get(admin_url(Room, "changelist"), {"clinic": clinic.pk})
    assert [r.pk for r in response.context["cl"].result_list] == [ours.pk]
    assert other.pk != ours.pk


# --- Users -------------------------------------------------------------------------------------

PRACTICE_WIDE_FIELDS = {"is_superuser", "is_staff", "groups", "user_permissions"}


def test_admin_user_form_hides_practice_wide_powers_from_a_clinic_admin(
    receptionist, as_clinic_admin
):
    response = as_clinic_admin.get(admin_url(User, "change", receptionist.pk))
    assert response.status_code == 200
    fields = set(response.context["adminform"].form.fields)
    assert not fields & PRACTICE_WIDE_FIELDS
    assert {"username", "first_name", "last_name", "email", "is_active"} <= fields


def test_admin_user_form_shows_practice_wide_powers_to_a_superuser(
    receptionist, admin_client_for, superuser
):
    response = admin_client_for(superuser).get(admin_url(User, "change", receptionist.pk))
    assert set(response.context["adminform"].form.fields) >= PRACTICE_WIDE_FIELDS


def _post_data(context) -> dict[str, Any]:
    """The data a browser would post back for an admin change page, unchanged."""
    data: dict[str, Any] = {}

    def add(form) -> None:
        for name in form.fields:
            bound = form[name]
            if bound.field.disabled:
                continue
            value = bound.value()
            if value is None or value is False:
                continue
            data[bound.html_name] = "on" if value is True else value

    add(context["adminform"].form)
    for inline in context["inline_admin_formsets"]:
        add(inline.formset.management_form)
        for form in inline.formset:
            add(form)
    return data


def test_admin_clinic_admin_cannot_make_a_superuser(receptionist, as_clinic_admin):
    url = admin_url(User, "change", receptionist.pk)
    data = _post_data(as_clinic_admin.get(url).context)
    data.update({"first_name": "Renamed", "is_superuser": "on", "is_staff": "on"})

    response = as_clinic_admin.post(url, data)

    assert response.status_code == 302, (
        response.context and response.context["adminform"].form.errors
    )
    receptionist.refresh_from_db()
    assert receptionist.first_name == "Renamed"  # the post was accepted...
    assert not receptionist.is_superuser  # ...without the practice-wide powers
    assert not receptionist.is_staff


def test_admin_user_membership_inline_offers_only_the_admins_clinics(
    clinic, receptionist, other_clinic, as_clinic_admin
):
    MembershipFactory(user=receptionist, clinic=other_clinic)
    response = as_clinic_admin.get(admin_url(User, "change", receptionist.pk))
    [inline] = [
        i for i in response.context["inline_admin_formsets"] if i.formset.model is Membership
    ]
    assert [form.instance.clinic for form in inline.formset.initial_forms] == [clinic]
    assert list(inline.formset.empty_form.fields["clinic"].queryset) == [clinic]


def test_user_admin_clinic_admin_cannot_change_superuser_or_shared_staff(
    client, clinic, other_clinic, clinic_admin, superuser
):
    """A clinic administrator must not reset the password of a superuser, nor of staff who also
    work at a clinic they do not administer (that would be a way into the other clinic)."""
    from clinic.capabilities import Role
    from tests.factories import MembershipFactory, UserFactory

    MembershipFactory(user=superuser, clinic=clinic, role=Role.THERAPIST)
    shared = UserFactory(clinic=clinic, role=Role.RECEPTIONIST)
    MembershipFactory(user=shared, clinic=other_clinic, role=Role.RECEPTIONIST)
    own = UserFactory(clinic=clinic, role=Role.RECEPTIONIST)
    client.force_login(clinic_admin)
    for user in (superuser, shared):
        assert client.get(f"/admin/clinic/user/{user.pk}/password/").status_code == 403
        page = client.post(
            f"/admin/clinic/user/{user.pk}/change/", {"username": "taken-over", "is_active": "on"}
        )
        assert page.status_code == 403
        user.refresh_from_db()
        assert user.username != "taken-over"
    assert client.get(f"/admin/clinic/user/{own.pk}/password/").status_code == 200
