"""Who may do what: the one role-to-capability map.

The API permission, the admin and the pages all ask `capabilities_for()` or the querysets'
`visible_to(user, capability)`; nothing else decides what a role may do.
"""

from __future__ import annotations

from enum import StrEnum

from django.db import models


class Role(models.TextChoices):
    RECEPTIONIST = "receptionist", "Receptionist"
    THERAPIST = "therapist", "Therapist"
    CLINIC_ADMIN = "clinic_admin", "Clinic administrator"


class Capability(StrEnum):
    VIEW_CLINIC = "view_clinic"
    MANAGE_CLINIC = "manage_clinic"
    VIEW_STAFF = "view_staff"
    MANAGE_STAFF = "manage_staff"
    VIEW_SCHEDULE = "view_schedule"
    MANAGE_SCHEDULE = "manage_schedule"
    VIEW_DEMOGRAPHICS = "view_demographics"
    MANAGE_DEMOGRAPHICS = "manage_demographics"
    VIEW_PRECAUTIONS = "view_precautions"
    VIEW_CLINICAL = "view_clinical"
    MANAGE_CLINICAL = "manage_clinical"
    SIGN_CLINICAL = "sign_clinical"
    USE_ADMIN = "use_admin"
    VIEW_AUDIT = "view_audit"
    VIEW_REPORTS = "view_reports"
    EXPORT_RECORDS = "export_records"  # a patient's whole record, for a request of access


_FRONT_DESK = {
    Capability.VIEW_CLINIC,
    Capability.VIEW_STAFF,
    Capability.VIEW_SCHEDULE,
    Capability.MANAGE_SCHEDULE,
    Capability.VIEW_DEMOGRAPHICS,
    Capability.MANAGE_DEMOGRAPHICS,
    Capability.VIEW_PRECAUTIONS,
}

ROLE_CAPABILITIES: dict[str, frozenset[Capability]] = {
    Role.RECEPTIONIST: frozenset(_FRONT_DESK),
    Role.THERAPIST: frozenset(
        _FRONT_DESK
        | {Capability.VIEW_CLINICAL, Capability.MANAGE_CLINICAL, Capability.SIGN_CLINICAL}
    ),
    Role.CLINIC_ADMIN: frozenset(Capability) - {Capability.SIGN_CLINICAL},
}

ALL_CAPABILITIES: frozenset[Capability] = frozenset(Capability)


def capabilities_for(roles: list[str] | set[str] | tuple[str, ...]) -> frozenset[Capability]:
    """The union of what the given roles may do in one clinic."""
    caps: set[Capability] = set()
    for role in roles:
        caps |= ROLE_CAPABILITIES.get(role, frozenset())
    return frozenset(caps)


def roles_with(capability: Capability) -> list[str]:
    """The roles that carry a capability: what a membership filter needs."""
    return [role for role, caps in ROLE_CAPABILITIES.items() if capability in caps]
