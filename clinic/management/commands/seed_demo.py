"""`manage.py seed_demo`: load the demo practice into the database, idempotently.

clinic may not import patients or programs, so this command names no app. It walks the project's
own apps (those whose package sits in BASE_DIR) in INSTALLED_APPS order, so clinic's data exists
before the apps that build on it, and runs each app's optional `demo` module.

The contract of `<app>/demo.py`:

    def seed(*, stdout: OutputWrapper) -> Iterable[tuple[str, str, str]]

- Add whatever of the app's demo data is missing. Write through the app's services, and look
  each row up by its natural key first, so that running the command again changes nothing and
  raises nothing. Rows that already exist are left as they are.
- The command runs `seed` inside `transaction.atomic()`: a ValidationError rolls the app's whole
  seed back and stops the command with its message.
- `stdout` is the command's output (`stdout.write()` ends the line). Write a line or two of what
  was added; never patient data (names, dates of birth, contact details, notes).
- Return the demo logins the app is responsible for as (username, role(s), clinic(s)) rows, or
  nothing. Every demo login uses `clinic.demo.DEMO_PASSWORD`; the command prints the table.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from importlib import import_module
from pathlib import Path
from types import ModuleType
from typing import Any

from django.apps import AppConfig, apps
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils.module_loading import module_has_submodule

from clinic.demo import DEMO_PASSWORD

ADMIN_URL = "http://127.0.0.1:8000/admin/"


def project_apps() -> Iterator[AppConfig]:
    """The apps of this project (not Django's or third parties'), in INSTALLED_APPS order."""
    base_dir = Path(settings.BASE_DIR).resolve()
    for app_config in apps.get_app_configs():
        if Path(app_config.path).resolve().parent == base_dir:
            yield app_config


def demo_module(app_config: AppConfig) -> ModuleType | None:
    """The app's `demo` module, or None; an error inside an existing one is not swallowed."""
    if app_config.module is None or not module_has_submodule(app_config.module, "demo"):
        return None
    return import_module(f"{app_config.name}.demo")


class Command(BaseCommand):
    help = (
        "Load demo clinics, staff and (as the apps provide them) demo data of the other apps. "
        "Safe to run again: only what is missing is added. For development databases only."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--force",
            action="store_true",
            help="Seed even with DEBUG off (the demo superuser's password is public).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not options["force"]:
            raise CommandError(
                "seed_demo creates logins whose password is printed and published: run it on a "
                "development database with DEBUG=true, or pass --force if you mean it."
            )
        logins: list[tuple[str, str, str]] = []
        for app_config in project_apps():
            module = demo_module(app_config)
            if module is None:
                continue
            seed = getattr(module, "seed", None)
            if not callable(seed):
                raise CommandError(f"{module.__name__} has no seed(*, stdout) function.")
            try:
                with transaction.atomic():
                    rows: Iterable[tuple[str, str, str]] | None = seed(stdout=self.stdout)
            except ValidationError as exc:
                raise CommandError(
                    f"The {app_config.label} demo data was rolled back: {exc}"
                ) from exc
            logins.extend(rows or ())
        self._print_logins(logins)

    def _print_logins(self, logins: list[tuple[str, str, str]]) -> None:
        if not logins:
            self.stdout.write("No demo logins.")
            return
        header = ("username", "role(s)", "clinic(s)", "password")
        table = [header, *((*row, DEMO_PASSWORD) for row in logins)]
        widths = [max(len(row[i]) for row in table) for i in range(len(header))]
        self.stdout.write("")
        for number, row in enumerate(table):
            line = "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
            self.stdout.write(line.rstrip())
            if number == 0:
                self.stdout.write("  ".join("-" * width for width in widths))
        self.stdout.write("")
        self.stdout.write(f"Sign in at {ADMIN_URL} (superuser and clinic administrators).")
