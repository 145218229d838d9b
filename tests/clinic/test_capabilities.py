"""The role-to-capability map, as a table, and the selectors that read it from memberships."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clinic import selectors
from clinic.capabilities import (
    ALL_CAPABILITIES,
    ROLE_CAPABILITIES,
    Capability,
    Role,
    capabilities_for,
    roles_with,
)
from tests.factories import MembershipFactory, UserFactory

C = Capability
R, T, A = Role.RECEPTIONIST, Role.THERAPIST, Role.CLINIC_ADMIN

# Written out by hand, not derived from clinic.capabilities: a change to who may do what must
# change this table too.
#  capability                 receptionist therapist clinic_admin
CAPABILITY_TABLE = [
    (C.VIEW_CLINIC, True, True, True),
    (C.MANAGE_CLINIC, False, False, True),
    (C.VIEW_STAFF, True, True, True),
    (C.MANAGE_STAFF, False, False, True),
    (C.VIEW_SCHEDULE, True, True, True),
    (C.MANAGE_SCHEDULE, True, True, True),
    (C.VIEW_DEMOGRAPHICS, True, True, True),
    (C.MANAGE_DEMOGRAPHICS, True, True, True),
    (C.VIEW_PRECAUTIONS, True, True, True),
    (C.VIEW_CLINICAL, False, True, True),
    (C.MANAGE_CLINICAL, False, True, True),
    (C.SIGN_CLINICAL, False, True, False),
    (C.USE_ADMIN, False, False, True),
    (C.VIEW_AUDIT, False, False, True),
    (C.VIEW_REPORTS, False, False, True),
    (C.EXPORT_RECORDS, False, False, True),
]
ROLE_COLUMNS = (R, T, A)
ALLOWED = {
    (role, capability): allowed
    for capability, *columns in CAPABILITY_TABLE
    for role, allowed in zip(ROLE_COLUMNS, columns, strict=True)
}
CASES = [
    pytest.param(role, capability, allowed, id=f"{role}-{capability}")
    for (role, capability), allowed in ALLOWED.items()
]


def test_capability_table_covers_every_capability_and_role():
    assert {row[0] for row in CAPABILITY_TABLE} == set(Capability)
    assert set(ROLE_COLUMNS) == set(Role.values) == set(ROLE_CAPABILITIES)


@pytest.mark.parametrize(("role", "capability", "allowed"), CASES)
def test_capabilities_for_role_matches_table(role, capability, allowed):
    assert (capability in capabilities_for([role])) is allowed


@pytest.mark.parametrize(("role", "capability", "allowed"), CASES)
def test_roles_with_matches_table(role, capability, allowed):
    assert (role in roles_with(capability)) is allowed


def test_capabilities_for_receptionist_has_no_clinical_capability():
    caps = capabilities_for([R])
    assert not caps & {C.VIEW_CLINICAL, C.MANAGE_CLINICAL, C.SIGN_CLINICAL, C.USE_ADMIN}


def test_capabilities_for_therapist_may_record_and_sign_but_not_administer():
    caps = capabilities_for([T])
    assert {C.VIEW_CLINICAL, C.MANAGE_CLINICAL, C.SIGN_CLINICAL} <= caps
    assert C.USE_ADMIN not in caps
    assert C.MANAGE_STAFF not in caps


def test_capabilities_for_clinic_admin_uses_admin_but_cannot_sign():
    caps = capabilities_for([A])
    assert C.USE_ADMIN in caps
    assert C.SIGN_CLINICAL not in caps


def test_capabilities_for_no_role_or_unknown_role_is_nothing():
    assert capabilities_for([]) == frozenset()
    assert capabilities_for(["janitor"]) == frozenset()


@given(st.lists(st.sampled_from([*Role.values, "unknown"]), max_size=6))
def test_capabilities_for_is_the_union_of_the_roles(roles):
    expected = {
        capability for (role, capability), allowed in ALLOWED.items() if role in roles and allowed
    }
    assert capabilities_for(roles) == expected


def test_capabilities_for_therapist_and_admin_together_has_everything():
    assert capabilities_for([T, A]) == ALL_CAPABILITIES


# --- selectors.clinic_capabilities: the map applied to a user's memberships in one clinic -------


def test_clinic_capabilities_come_from_active_memberships_in_that_clinic_only(clinic, other_clinic):
    user = UserFactory(clinic=clinic, role=R)
    MembershipFactory(user=user, clinic=other_clinic, role=A)
    MembershipFactory(user=user, clinic=clinic, role=T, active=False)

    assert selectors.clinic_capabilities(user=user, clinic=clinic) == capabilities_for([R])
    assert selectors.clinic_capabilities(user=user, clinic=other_clinic) == capabilities_for([A])


def test_clinic_capabilities_superuser_has_all(clinic, superuser):
    assert selectors.clinic_capabilities(user=superuser, clinic=clinic) == ALL_CAPABILITIES


def test_clinic_capabilities_inactive_user_has_none(clinic, clinic_admin):
    clinic_admin.is_active = False
    clinic_admin.save(update_fields=["is_active"])
    assert selectors.clinic_capabilities(user=clinic_admin, clinic=clinic) == frozenset()


def test_clinic_capabilities_non_member_has_none(clinic, outsider):
    assert selectors.clinic_capabilities(user=outsider, clinic=clinic) == frozenset()
