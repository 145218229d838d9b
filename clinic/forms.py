"""Forms of the staff pages that belong to the clinic app: signing in."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from clinic.security import LockedOut, lockout_check, lockout_succeeded


class PageLoginForm(AuthenticationForm):
    """Django's sign-in form with the same lockout as the admin and the token endpoint
    (clinic/security.py): a locked username or address is refused whatever the password."""

    def clean(self) -> dict[str, Any]:
        username = str(self.data.get("username", ""))
        try:
            lockout_check(request=self.request, username=username)
        except LockedOut as exc:
            raise ValidationError(exc.message, code="locked_out") from exc
        cleaned = super().clean()
        lockout_succeeded(request=self.request, username=username)
        return cleaned
