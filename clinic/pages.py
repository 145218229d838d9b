"""The base of every staff page: the clinic from the URL, once per request, through the caller's
memberships, and the one capability map (clinic/capabilities.py) that the API and the admin use.

A page view declares `capability`. Its URL carries `clinic_id`, the clinic's public UUID:
- not signed in: to the sign-in page, back here afterwards;
- a clinic the user is not a member of (or no such clinic): 404, never a 403 that confirms it;
- a member whose roles lack `capability`: 403.

Pages call the same services and selectors as the API. `form_errors_from` turns what a service
raises (Django's `ValidationError`, `ApplicationError`, `ConflictError`, `PermissionDenied`) into
messages on the form's fields, so errors show inline beside the control they are about.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, ClassVar, cast

from django import forms
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponseBase
from django.template.response import SimpleTemplateResponse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers, patch_cache_control
from django.views import View
from django.views.generic import TemplateView

from clinic.capabilities import Capability
from clinic.errors import ApplicationError
from clinic.models import Clinic, User
from clinic.selectors import clinic_capabilities, clinic_get_for_member, user_memberships

SESSION_CLINIC = "pages_clinic"

# The status an error answers with on a page (the same meaning as in the API).
STATUS_INVALID = 400
STATUS_CONFLICT = 409


def page_clinic(request: HttpRequest) -> Clinic:
    return request.clinic  # type: ignore[attr-defined]


class ClinicPageMixin(View):
    """Resolve `clinic_id` once per request and require `capability` there."""

    capability: ClassVar[Capability]
    nav: ClassVar[str] = ""  # which entry of the main navigation is this page's

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if getattr(request, "clinic", None) is None:
            clinic = clinic_get_for_member(user=user, public_id=kwargs.get("clinic_id", ""))
            if clinic is None:
                raise Http404("No such clinic.")
            request.clinic = clinic  # type: ignore[attr-defined]
            request.capabilities = clinic_capabilities(user=user, clinic=clinic)  # type: ignore[attr-defined]
        if self.capability not in request.capabilities:  # type: ignore[attr-defined]
            raise PermissionDenied("Your role in this clinic does not allow this.")
        clinic = request.clinic  # type: ignore[attr-defined]
        if request.session.get(SESSION_CLINIC) != str(clinic.public_id):
            request.session[SESSION_CLINIC] = str(clinic.public_id)
        # Times on the page are the clinic's wall-clock times: render inside its zone.
        with timezone.override(clinic.tz):
            response = super().dispatch(request, *args, **kwargs)
            if isinstance(response, SimpleTemplateResponse) and not response.is_rendered:
                response.render()
        # Patient data: never kept in a browser's or a proxy's cache.
        add_never_cache_headers(response)
        patch_cache_control(response, private=True, no_store=True)
        return response

    @property
    def clinic(self) -> Clinic:
        return self.request.clinic  # type: ignore[attr-defined]

    @property
    def user(self) -> User:
        """The signed-in user (dispatch has sent anyone else to the sign-in page)."""
        return cast(User, self.request.user)

    @property
    def capabilities(self) -> frozenset[Capability]:
        return self.request.capabilities  # type: ignore[attr-defined]

    def page_context(self) -> dict[str, Any]:
        """What base.html needs: the clinic, what the user may do there, the clinic switcher."""
        memberships = list(user_memberships(user=self.user))
        clinics: dict[int, Clinic] = {}
        for membership in memberships:
            clinics.setdefault(membership.clinic_id, membership.clinic)
        return {
            "clinic": self.clinic,
            "caps": {str(c) for c in self.capabilities},
            "switch_clinics": list(clinics.values()),
            "is_htmx": bool(getattr(self.request, "htmx", False)),
            "nav": self.nav,
        }


class ClinicPageView(ClinicPageMixin, TemplateView):
    """A page rendered from a template; `get_context_data` adds the page's own data."""

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(self.page_context())
        return context


# --- Errors from services, shown on forms ------------------------------------------------------


@dataclass
class ServiceErrors:
    """What a service refused, per form field (`None` for the whole form), and the status."""

    status: int = STATUS_INVALID
    fields: dict[str | None, list[str]] = field(default_factory=dict)
    conflicts: list[str] = field(default_factory=list)
    code: str = "invalid"
    extra: dict[str, Any] = field(default_factory=dict)

    def add(self, name: str | None, message: str) -> None:
        self.fields.setdefault(name, []).append(message)


def service_errors(exc: Exception) -> ServiceErrors:
    """The messages of an exception a service raised, keyed by the field they name."""
    errors = ServiceErrors()
    if isinstance(exc, ValidationError):
        if hasattr(exc, "error_dict"):
            for name, messages in exc.message_dict.items():
                errors.add(None if name == "__all__" else name, " ".join(messages))
        else:
            errors.add(None, " ".join(exc.messages))
        errors.code = "invalid"
    elif isinstance(exc, ApplicationError):
        errors.status = exc.status_code
        errors.code = exc.code
        errors.extra = exc.extra
        conflicts = exc.extra.get("conflicts") or []
        if conflicts:
            errors.conflicts = [str(c.get("message", "")) for c in conflicts]
            errors.add(None, "This time is not free:")
        else:
            errors.add(exc.field, exc.message)
    elif isinstance(exc, PermissionDenied):
        errors.status = 403
        errors.code = "forbidden"
        errors.add(None, str(exc) or "Your role in this clinic does not allow this.")
    else:  # pragma: no cover - only the kinds above are passed in
        raise exc
    return errors


SERVICE_EXCEPTIONS = (ValidationError, ApplicationError, PermissionDenied)


def form_errors_from(
    form: forms.Form, exc: Exception, *, aliases: dict[str, str] | None = None
) -> ServiceErrors:
    """Put a service's refusal on the form: on the named field when the form has it (through
    `aliases` for service names that differ, e.g. starts_at -> time), else on the whole form."""
    errors = service_errors(exc)
    aliases = aliases or {}
    for name, messages in errors.fields.items():
        # "diagnoses.1.icd10_code" goes where "diagnoses" is aliased, unless named itself.
        head = re.split(r"[.\[]", name or "", maxsplit=1)[0]
        target = aliases.get(name or "", aliases.get(head, name))
        if target is not None and target not in form.fields:
            messages = [f"{name}: {m}" for m in messages]
            target = None
        for message in messages:
            form.add_error(target, message)
    return errors
