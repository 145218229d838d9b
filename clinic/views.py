"""Plain Django views of the project: health check, signing in and out, and where each role
lands (the front desk on the day calendar, therapists on their worklist)."""

from __future__ import annotations

from typing import Any, cast

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse

from clinic.capabilities import Capability, Role
from clinic.celery import app as celery_app
from clinic.forms import PageLoginForm
from clinic.models import Membership, User
from clinic.pages import SESSION_CLINIC, ClinicPageMixin
from clinic.selectors import user_memberships


def _database_ok() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any failure means "not reachable"; the kind is reported
        return False, type(exc).__name__
    return True, connection.vendor


def _broker_ok() -> tuple[bool, str]:
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:  # any failure means "not reachable"; the kind is reported
        return False, type(exc).__name__
    transport = settings.CELERY_BROKER_URL.split("://", 1)[0]
    return True, transport


def healthz(request: HttpRequest) -> JsonResponse:
    """Database and broker reachability, for load balancers and for humans. 503 if either fails."""
    db_ok, db_info = _database_ok()
    broker_ok, broker_info = _broker_ok()
    ok = db_ok and broker_ok
    body = {
        "status": "ok" if ok else "unavailable",
        "database": {"ok": db_ok, "info": db_info},
        "broker": {"ok": broker_ok, "info": broker_info},
    }
    return JsonResponse(body, status=200 if ok else 503)


def favicon(request: HttpRequest) -> HttpResponse:
    """The icon, for pages that name none (browsers then ask for /favicon.ico)."""
    return HttpResponsePermanentRedirect(static("clinic/favicon.svg"))


def home(request: HttpRequest) -> HttpResponse:
    """Signed-in staff land in the clinic they last worked in (else their first), on their
    role's page; a superuser or staff user without any clinic goes to the admin."""
    if not request.user.is_authenticated:
        return redirect("pages:login")
    memberships = list(user_memberships(user=cast(User, request.user)))
    if not memberships:
        if request.user.is_superuser or request.user.is_staff:
            return redirect("admin:index")
        return render(request, "pages/no_clinic.html", status=403)
    last = request.session.get(SESSION_CLINIC)
    chosen = next((m for m in memberships if str(m.clinic.public_id) == last), memberships[0])
    return redirect("pages:clinic_home", clinic_id=chosen.clinic.public_id)


class ClinicHomeView(ClinicPageMixin):
    """/c/<clinic>/: a therapist's worklist, the front desk's day calendar, an administrator
    without either role the admin."""

    capability = Capability.VIEW_CLINIC

    def get(self, request: HttpRequest, clinic_id: Any) -> HttpResponse:
        roles = set(
            Membership.objects.for_clinic(self.clinic)
            .filter(user_id=self.user.pk, active=True)
            .values_list("role", flat=True)
        )
        if Role.THERAPIST in roles and Capability.VIEW_CLINICAL in self.capabilities:
            return redirect("pages:worklist", clinic_id=self.clinic.public_id)
        if Capability.MANAGE_SCHEDULE in self.capabilities and (
            Role.RECEPTIONIST in roles or Capability.USE_ADMIN not in self.capabilities
        ):
            return redirect("pages:frontdesk", clinic_id=self.clinic.public_id)
        if Capability.USE_ADMIN in self.capabilities:
            return redirect("admin:index")
        return redirect("pages:frontdesk", clinic_id=self.clinic.public_id)


class PageLoginView(auth_views.LoginView):
    """The staff sign-in page, with the sign-in lockout (clinic.forms.PageLoginForm)."""

    form_class = PageLoginForm
    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def get_default_redirect_url(self) -> str:
        return reverse("home")


class PageLogoutView(auth_views.LogoutView):
    """Sign out (POST only, as Django requires) and back to the sign-in page."""

    next_page = "pages:login"
