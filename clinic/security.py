"""Authentication hardening: sign-in lockout, staff session timeouts, Content Security Policy.

Lockout: `LOCKOUT_MAX_PER_ACCOUNT` failed sign-ins for one username, or `LOCKOUT_MAX_PER_ADDRESS`
from one client address, within `LOCKOUT_WINDOW` lock that username (or address) out for the same
window, whatever the password. The admin login form and POST /api/v1/auth/token/ both ask
`lockout_check` first; failures are counted from Django's `user_login_failed` signal (sent by
`authenticate()` for both); a success clears the account's counter. Counters live in the default
cache, which must be shared between processes in production (CACHE_URL=redis://...).

Sessions: a signed-in session ends after `SESSION_IDLE_TIMEOUT` without a request and
`SESSION_ABSOLUTE_TIMEOUT` after sign-in, whichever comes first.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.core.cache import cache
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse

LOCKOUT_MAX_PER_ACCOUNT = 5
LOCKOUT_MAX_PER_ADDRESS = 20
LOCKOUT_WINDOW = timedelta(minutes=15)
LOCKOUT_MESSAGE = "Too many failed sign-in attempts. Try again in 15 minutes."

SESSION_IDLE_TIMEOUT = timedelta(minutes=15)
SESSION_ABSOLUTE_TIMEOUT = timedelta(hours=12)
SESSION_SIGNED_IN_AT = "_signed_in_at"
SESSION_LAST_SEEN = "_last_seen_at"


class LockedOut(Exception):
    """Raised by `lockout_check` when the account or the address is locked."""

    message = LOCKOUT_MESSAGE


def client_address(request: HttpRequest | None) -> str:
    """The client's address. Behind the TLS proxy (SECURE_PROXY_SSL_HEADER set) it is the last
    X-Forwarded-For entry, the one the proxy itself appended (a client can forge the earlier
    ones, not that one); otherwise REMOTE_ADDR."""
    if request is None:
        return "unknown"
    if getattr(settings, "SECURE_PROXY_SSL_HEADER", None):
        forwarded = str(request.META.get("HTTP_X_FORWARDED_FOR", "")).split(",")[-1].strip()
        if forwarded:
            return forwarded
    return str(request.META.get("REMOTE_ADDR") or "unknown")


def _key(kind: str, value: str) -> str:
    # Hashed, so that no username or address sits in the cache in clear.
    digest = hashlib.sha256(value.strip().lower().encode()).hexdigest()
    return f"lockout:{kind}:{digest}"


def _keys(request: HttpRequest | None, username: str) -> tuple[str, str]:
    return _key("account", username or ""), _key("address", client_address(request))


def lockout_check(*, request: HttpRequest | None, username: str) -> None:
    """Raise LockedOut if this username or this address has failed too often lately."""
    account, address = _keys(request, username)
    if (cache.get(account) or 0) >= LOCKOUT_MAX_PER_ACCOUNT:
        raise LockedOut(LOCKOUT_MESSAGE)
    if (cache.get(address) or 0) >= LOCKOUT_MAX_PER_ADDRESS:
        raise LockedOut(LOCKOUT_MESSAGE)


def lockout_failed(*, request: HttpRequest | None, username: str) -> None:
    """Count one failed sign-in for the username and for the address."""
    timeout = int(LOCKOUT_WINDOW.total_seconds())
    for key in _keys(request, username):
        if cache.add(key, 1, timeout):
            continue
        try:
            cache.incr(key)
        except ValueError:  # expired between add() and incr()
            cache.set(key, 1, timeout)


def lockout_succeeded(*, request: HttpRequest | None, username: str) -> None:
    """A correct password clears the account's counter (the address keeps its count)."""
    cache.delete(_keys(request, username)[0])


@receiver(user_login_failed, dispatch_uid="clinic.security.count_failed_login")
def _count_failed_login(sender: Any, credentials: dict[str, Any], request: Any = None, **kw: Any):
    lockout_failed(request=request, username=str(credentials.get("username", "")))


@receiver(user_logged_in, dispatch_uid="clinic.security.stamp_session")
def _stamp_session(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if request is not None and hasattr(request, "session"):
        now = time.time()
        request.session[SESSION_SIGNED_IN_AT] = now
        request.session[SESSION_LAST_SEEN] = now


class SessionTimeoutMiddleware:
    """Sign a session user out after 15 minutes idle or 12 hours in all (after the auth
    middleware). Token-authenticated API calls carry no session and are not affected."""

    # Refresh the last-seen stamp at most this often, so that not every request writes the session.
    TOUCH_EVERY = 30.0

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and hasattr(request, "session"):
            now = time.time()
            session = request.session
            signed_in = float(session.get(SESSION_SIGNED_IN_AT) or now)
            last_seen = float(session.get(SESSION_LAST_SEEN) or now)
            if (
                now - last_seen > SESSION_IDLE_TIMEOUT.total_seconds()
                or now - signed_in > SESSION_ABSOLUTE_TIMEOUT.total_seconds()
            ):
                logout(request)  # flushes the session; request.user becomes anonymous
            else:
                if SESSION_SIGNED_IN_AT not in session:
                    session[SESSION_SIGNED_IN_AT] = signed_in
                if now - last_seen >= self.TOUCH_EVERY or SESSION_LAST_SEEN not in session:
                    session[SESSION_LAST_SEEN] = now
        return self.get_response(request)


class RefuseNulBytesMiddleware:
    """A NUL character in the path or the query string is a 400 before any view runs: PostgreSQL
    cannot compare text with one (a search or a filter would be a 500), and no real client sends
    it. API paths answer with the API's error body."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "\x00" in request.path or _nul_in_query(request):
            message = "The address may not contain NUL (%00) characters."
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": message, "code": "invalid"}, status=400)
            return HttpResponseBadRequest(message)
        return self.get_response(request)


def _nul_in_query(request: HttpRequest) -> bool:
    return any(
        "\x00" in key or any("\x00" in v for v in values) for key, values in request.GET.lists()
    )


DEFAULT_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; frame-ancestors 'none'; "
    "base-uri 'self'; form-action 'self'"
)


class ContentSecurityPolicyMiddleware:
    """Send `settings.CONTENT_SECURITY_POLICY` (default `DEFAULT_CSP`) on every response that does
    not set its own. The pages, the admin and the Swagger UI (split view: its initialiser is a
    separate script) load scripts and styles only from this origin."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.policy = getattr(settings, "CONTENT_SECURITY_POLICY", DEFAULT_CSP)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if self.policy and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = self.policy
        return response
