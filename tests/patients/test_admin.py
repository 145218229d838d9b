"""The patients admin: scoped to the clinics the user administers, archive-not-delete, CSV import
and transfer between clinics."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from clinic.capabilities import Role
from patients.models import Diagnosis, Patient, Precaution, PrecautionKind
from tests.factories import ClinicFactory, MembershipFactory, PatientFactory, PrecautionFactory

CHANGELIST = "admin:patients_patient_changelist"
IMPORT = "admin:patients_patient_import"
TOMORROW = (dt.date.today() + dt.timedelta(days=1)).isoformat()


def change_url(patient: Patient) -> str:
    return reverse("admin:patients_patient_change", args=[patient.pk])


def inline_management(**totals: int) -> dict[str, int]:
    """Management-form data of the patient page's inlines (no rows unless given)."""
    data = {}
    for prefix in ("precautions", "diagnoses"):
        data.update(
            {
                f"{prefix}-TOTAL_FORMS": totals.get(prefix, 0),
                f"{prefix}-INITIAL_FORMS": 0,
                f"{prefix}-MIN_NUM_FORMS": 0,
                f"{prefix}-MAX_NUM_FORMS": 1000,
            }
        )
    return data


def patient_form(clinic, **fields) -> dict:
    return {
        "clinic": clinic.pk,
        "first_name": "Margaret",
        "last_name": "Holloway",
        "date_of_birth": "1951-03-14",
        "sex": "female",
        "preferred_language": "en",
        "payer_type": "medicare",
        **inline_management(),
        **fields,
    }


@pytest.fixture
def admin_client(client, clinic_admin):
    client.force_login(clinic_admin)
    return client


@pytest.fixture
def both_clinics_admin(clinic_admin, other_clinic):
    MembershipFactory(user=clinic_admin, clinic=other_clinic, role=Role.CLINIC_ADMIN)
    return clinic_admin


@pytest.fixture
def ours(clinic):
    return PatientFactory(clinic=clinic, mrn="OURS-0001", first_name="Margaret", last_name="Hollo")


@pytest.fixture
def theirs(other_clinic):
    return PatientFactory(
        clinic=other_clinic, mrn="THEIRS-0001", first_name="Margot", last_name="Hollis"
    )


# --- Scoping -----------------------------------------------------------------------------------


def test_changelist_shows_only_the_administered_clinics_patients(admin_client, ours, theirs):
    response = admin_client.get(reverse(CHANGELIST))
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [ours]
    assert b"THEIRS-0001" not in response.content


@pytest.mark.parametrize("q", ["holl", "marg", "1951-03-14", "OURS-0001", "555-0111"])
def test_changelist_search_matches_names_dates_mrns_phones_within_scope(
    admin_client, clinic, other_clinic, q
):
    mine = PatientFactory(
        clinic=clinic,
        mrn="OURS-0001",
        first_name="Margaret",
        last_name="Holloway",
        date_of_birth=dt.date(1951, 3, 14),
        phone="860-555-0111",
    )
    PatientFactory(clinic=clinic, first_name="Daniel", last_name="Okafor", phone="")
    PatientFactory(
        clinic=other_clinic,
        mrn="OURS-0001",
        first_name="Margaret",
        last_name="Holloway",
        date_of_birth=dt.date(1951, 3, 14),
        phone="860-555-0111",
    )
    # The search box posts (names stay out of URLs): tests/clinic/test_admin_search.py.
    searched = admin_client.post(reverse("admin:patients_patient_search"), {"q": q})
    response = admin_client.get(searched.url)
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [mine]


def test_superuser_sees_every_clinics_patients(client, superuser, ours, theirs):
    client.force_login(superuser)
    response = client.get(reverse(CHANGELIST))
    assert set(response.context["cl"].result_list) == {ours, theirs}


def test_another_clinics_patient_page_cannot_be_opened(admin_client, theirs):
    response = admin_client.get(change_url(theirs))
    assert response.status_code == 302
    assert response.url == reverse("admin:index")
    history = reverse("admin:patients_patient_history", args=[theirs.pk])
    assert admin_client.get(history).status_code == 403
    response = admin_client.post(change_url(theirs), patient_form(theirs.clinic, last_name="X"))
    assert (response.status_code, response.url) == (302, reverse("admin:index"))
    theirs.refresh_from_db()
    assert theirs.last_name == "Hollis"


def test_own_patients_page_and_history_open(admin_client, ours):
    assert admin_client.get(change_url(ours)).status_code == 200
    history = reverse("admin:patients_patient_history", args=[ours.pk])
    assert admin_client.get(history).status_code == 200


def test_staff_without_an_admin_role_cannot_use_the_patients_admin(client, receptionist, ours):
    client.force_login(receptionist)
    response = client.get(reverse(CHANGELIST))
    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))


# --- Adding, changing, archiving ---------------------------------------------------------------


def test_adding_a_patient_generates_an_mrn(admin_client, clinic, clinic_admin):
    response = admin_client.post(reverse("admin:patients_patient_add"), patient_form(clinic))
    assert response.status_code == 302, response.context["adminform"].form.errors
    patient = Patient.objects.get()
    assert patient.clinic == clinic
    assert patient.mrn.endswith("-000001")
    assert patient.search_name == "holloway margaret"
    assert patient.history.get().history_user == clinic_admin


def test_adding_a_patient_refuses_a_future_date_of_birth(admin_client, clinic):
    response = admin_client.post(
        reverse("admin:patients_patient_add"), patient_form(clinic, date_of_birth=TOMORROW)
    )
    assert response.status_code == 200
    assert "date_of_birth" in response.context["adminform"].form.errors
    assert not Patient.objects.exists()


def test_adding_a_patient_offers_only_the_administered_clinics(admin_client, clinic, other_clinic):
    response = admin_client.get(reverse("admin:patients_patient_add"))
    assert list(response.context["adminform"].form.fields["clinic"].queryset) == [clinic]
    response = admin_client.post(reverse("admin:patients_patient_add"), patient_form(other_clinic))
    assert response.status_code == 200
    assert "clinic" in response.context["adminform"].form.errors
    assert not Patient.objects.exists()


def test_clinic_admin_records_precautions_and_diagnoses_on_the_patient_page(
    admin_client, ours, clinic
):
    response = admin_client.get(change_url(ours))
    assert response.status_code == 200
    prefixes = {f.formset.prefix for f in response.context["inline_admin_formsets"]}
    assert prefixes == {"precautions", "diagnoses"}
    malignancy = PrecautionKind.objects.get(code="malignancy")
    data = {
        **patient_form(clinic, last_name="Hollo", **inline_management(precautions=1, diagnoses=1)),
        "precautions-0-kind": malignancy.pk,
        "precautions-0-body_region": "thoracic",
        "precautions-0-noted_on": dt.date.today().isoformat(),
        "diagnoses-0-icd10_code": "M51.26",
        "diagnoses-0-description": "Disc displacement",
    }
    response = admin_client.post(change_url(ours), data)
    assert response.status_code == 302
    assert Precaution.objects.get().clinic == clinic
    assert Diagnosis.objects.get().clinic == clinic


def inline_errors(response, prefix: str) -> list[dict]:
    formsets = {f.formset.prefix: f.formset for f in response.context["inline_admin_formsets"]}
    return formsets[prefix].errors


@pytest.mark.parametrize("who", ["clinic_admin", "superuser"])
def test_the_patient_page_refuses_a_region_precaution_without_its_region(
    request, client, ours, clinic, who
):
    client.force_login(request.getfixturevalue(who))
    data = {
        **patient_form(clinic, last_name="Hollo", **inline_management(precautions=1)),
        "precautions-0-kind": PrecautionKind.objects.get(code="malignancy").pk,
        "precautions-0-noted_on": dt.date.today().isoformat(),
    }
    response = client.post(change_url(ours), data)
    assert response.status_code == 200
    assert list(inline_errors(response, "precautions")[0]) == ["body_region"]
    assert not Precaution.objects.exists()


def test_the_patient_page_refuses_a_diagnosis_resolved_before_onset(admin_client, ours, clinic):
    data = {
        **patient_form(clinic, last_name="Hollo", **inline_management(diagnoses=1)),
        "diagnoses-0-icd10_code": "M54.50",
        "diagnoses-0-description": "Low back pain",
        "diagnoses-0-onset_date": "2025-03-01",
        "diagnoses-0-resolved_on": "2025-02-01",
    }
    response = admin_client.post(change_url(ours), data)
    assert response.status_code == 200
    assert list(inline_errors(response, "diagnoses")[0]) == ["resolved_on"]
    assert not Diagnosis.objects.exists()


def test_the_precaution_admin_refuses_a_region_precaution_without_its_region(admin_client, ours):
    response = admin_client.post(
        reverse("admin:patients_precaution_add"),
        {
            "patient": ours.pk,
            "kind": PrecautionKind.objects.get(code="open_wound").pk,
            "noted_on": dt.date.today().isoformat(),
        },
    )
    assert response.status_code == 200
    assert list(response.context["adminform"].form.errors) == ["body_region"]
    assert not Precaution.objects.exists()


def test_changing_a_patient_keeps_the_search_in_step(admin_client, ours, clinic):
    response = admin_client.post(change_url(ours), patient_form(clinic, last_name="Byron"))
    assert response.status_code == 302
    ours.refresh_from_db()
    assert (ours.last_name, ours.search_name, ours.mrn) == ("Byron", "byron margaret", "OURS-0001")


def test_patients_cannot_be_deleted(admin_client, client, superuser, ours):
    for user_client in (admin_client,):
        response = user_client.get(reverse(CHANGELIST))
        assert "delete_selected" not in dict(
            response.context["action_form"].fields["action"].choices
        )
        response = user_client.get(reverse("admin:patients_patient_delete", args=[ours.pk]))
        assert response.status_code == 403
    client.force_login(superuser)
    assert client.get(reverse("admin:patients_patient_delete", args=[ours.pk])).status_code == 403
    assert Patient.objects.filter(pk=ours.pk).exists()


def test_an_archived_patient_is_read_only(admin_client, clinic):
    archived = PatientFactory(
        clinic=clinic, last_name="Gone", archived_at=dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    )
    PrecautionFactory(patient=archived)
    response = admin_client.get(change_url(archived))
    assert response.status_code == 200
    assert response.context["has_change_permission"] is False
    assert b'name="_save"' not in response.content
    assert len(response.context["inline_admin_formsets"]) == 2  # shown, read-only
    for inline in response.context["inline_admin_formsets"]:
        assert not inline.has_add_permission
        assert not inline.has_change_permission
    response = admin_client.post(change_url(archived), patient_form(clinic, last_name="Back"))
    assert response.status_code == 403
    archived.refresh_from_db()
    assert archived.last_name == "Gone"


def test_archive_and_restore_actions(admin_client, ours):
    admin_client.post(
        reverse(CHANGELIST), {"action": "archive_patients", ACTION_CHECKBOX_NAME: [ours.pk]}
    )
    ours.refresh_from_db()
    assert ours.is_archived
    admin_client.post(
        reverse(CHANGELIST), {"action": "restore_patients", ACTION_CHECKBOX_NAME: [ours.pk]}
    )
    ours.refresh_from_db()
    assert not ours.is_archived


# --- CSV import --------------------------------------------------------------------------------

VALID_CSV = (
    "first_name,last_name,date_of_birth,phone\n"
    "Margaret,Holloway,1951-03-14,860-555-0111\n"
    "Daniel,Okafor,1984-07-02,\n"
)


def upload(text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile("patients.csv", text.encode("utf-8"), content_type="text/csv")


def test_import_page_offers_only_the_administered_clinics(admin_client, clinic, other_clinic):
    response = admin_client.get(reverse(IMPORT))
    assert response.status_code == 200
    assert list(response.context["form"].fields["clinic"].queryset) == [clinic]


def test_import_into_a_clinic_not_administered_is_refused(admin_client, other_clinic):
    response = admin_client.post(
        reverse(IMPORT), {"clinic": other_clinic.pk, "file": upload(VALID_CSV), "confirm": "1"}
    )
    assert response.status_code == 200
    assert "clinic" in response.context["form"].errors
    assert not Patient.objects.exists()


def test_import_preview_lists_the_row_errors_and_imports_nothing(admin_client, clinic, ours):
    text = VALID_CSV + f"Eve,Future,{TOMORROW},\n"
    response = admin_client.post(
        reverse(IMPORT), {"clinic": clinic.pk, "file": upload(text), "preview": "Check file"}
    )
    assert response.status_code == 200
    preview = response.context["preview"]
    assert not preview.ok
    assert [(row.line, row.errors) for row in preview.rows if row.errors] == [
        (4, ["date_of_birth: Cannot be in the future."])
    ]
    assert "date_of_birth: Cannot be in the future." in response.content.decode()
    assert b'name="confirm"' not in response.content
    # Confirming the bad file anyway still imports nothing.
    response = admin_client.post(
        reverse(IMPORT), {"clinic": clinic.pk, "text": text, "confirm": "Import"}
    )
    assert response.status_code == 200
    assert list(Patient.objects.all()) == [ours]


def test_import_preview_then_confirm_imports_and_redirects(admin_client, clinic, clinic_admin):
    response = admin_client.post(
        reverse(IMPORT), {"clinic": clinic.pk, "file": upload(VALID_CSV), "preview": "Check file"}
    )
    assert response.status_code == 200
    assert response.context["preview"].ok
    assert b'name="confirm"' in response.content
    assert not Patient.objects.exists()
    form = response.context["form"]
    data = {"clinic": form.initial["clinic"].pk, "text": form.initial["text"], "confirm": "Import"}

    response = admin_client.post(reverse(IMPORT), data)

    assert response.status_code == 302
    assert response.url == reverse(CHANGELIST)
    patients = Patient.objects.for_clinic(clinic).order_by("mrn")
    assert [p.last_name for p in patients] == ["Holloway", "Okafor"]
    assert all(p.mrn for p in patients)
    assert patients[0].history.get().history_user == clinic_admin


def test_import_page_needs_an_administrator(client, receptionist):
    client.force_login(receptionist)
    response = client.post(reverse(IMPORT), {"text": VALID_CSV, "confirm": "1"})
    assert response.status_code == 302
    assert not Patient.objects.exists()


# --- Transfer ----------------------------------------------------------------------------------


def transfer(client, patients, **data):
    return client.post(
        reverse(CHANGELIST),
        {
            "action": "transfer_patients",
            ACTION_CHECKBOX_NAME: [p.pk for p in patients],
            **data,
        },
    )


@pytest.mark.parametrize("who", ["superuser", "both_clinics_admin"])
def test_transfer_action_asks_for_the_clinic_then_moves_the_patients(
    request, client, clinic, other_clinic, who
):
    client.force_login(request.getfixturevalue(who))
    patients = PatientFactory.create_batch(2, clinic=clinic)
    PrecautionFactory(patient=patients[0])
    staying = PatientFactory(clinic=clinic)

    page = transfer(client, patients)
    assert page.status_code == 200
    assert page.templates[0].name == "admin/patients/patient/transfer.html"
    assert {p.pk for p in page.context["patients"]} == {p.pk for p in patients}
    assert other_clinic in page.context["form"].fields["to_clinic"].queryset
    assert not Patient.objects.for_clinic(other_clinic).exists()

    response = transfer(client, patients, apply="Transfer", to_clinic=other_clinic.pk)

    assert response.status_code == 302
    moved = Patient.objects.for_clinic(other_clinic)
    assert {p.pk for p in moved} == {p.pk for p in patients}
    assert all(p.mrn not in {q.mrn for q in patients} for p in moved)
    assert Precaution.objects.get().clinic == other_clinic
    assert list(Patient.objects.for_clinic(clinic)) == [staying]


def test_transfer_action_offers_only_the_administered_clinics(admin_client, clinic, other_clinic):
    patient = PatientFactory(clinic=clinic)
    page = transfer(admin_client, [patient])
    assert list(page.context["form"].fields["to_clinic"].queryset) == [clinic]
    response = transfer(admin_client, [patient], apply="Transfer", to_clinic=other_clinic.pk)
    assert response.status_code == 200  # the intermediate page again, with the error
    assert "to_clinic" in response.context["form"].errors
    patient.refresh_from_db()
    assert patient.clinic == clinic


def test_transfer_action_to_the_same_clinic_moves_nothing(client, superuser, clinic):
    client.force_login(superuser)
    patient = PatientFactory(clinic=clinic)
    response = transfer(client, [patient], apply="Transfer", to_clinic=clinic.pk)
    assert response.status_code == 302
    patient.refresh_from_db()
    assert (patient.clinic, patient.history.count()) == (clinic, 1)


def test_precaution_kinds_are_read_only_for_clinic_admins(admin_client, client, superuser):
    kind = PrecautionKind.objects.get(code="dvt")
    url = reverse("admin:patients_precautionkind_change", args=[kind.pk])
    assert admin_client.get(reverse("admin:patients_precautionkind_changelist")).status_code == 200
    response = admin_client.post(url, {"code": "dvt", "label": "Changed", "active": "on"})
    assert response.status_code == 403
    client.force_login(superuser)
    response = client.post(
        reverse("admin:patients_precautionkind_add"),
        {"code": "metal_implant", "label": "Metal implant", "needs_region": "on", "active": "on"},
    )
    assert response.status_code == 302
    assert PrecautionKind.objects.filter(code="metal_implant").exists()


def test_a_new_clinic_admin_sees_no_patients_of_the_practice(client, ours, theirs):
    new_clinic = ClinicFactory()
    admin = MembershipFactory(clinic=new_clinic, role=Role.CLINIC_ADMIN).user
    client.force_login(admin)
    response = client.get(reverse(CHANGELIST))
    assert list(response.context["cl"].result_list) == []
