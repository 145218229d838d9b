"""Browser tests: Playwright (sync API) driving Debian's Chromium against pytest-django's live
server on 127.0.0.1. Never a browser download.

- Chromium is /usr/bin/chromium (override with CHROMIUM_PATH). `make test` installs it when it is
  missing and the user is root. When it is still missing the tests fail with a clear message in
  CI (CI=true) and skip on a developer machine.
- Playwright's sync API runs an event loop in the test's thread, so Django would refuse ORM calls
  from the test itself; DJANGO_ALLOW_ASYNC_UNSAFE is set for these tests only (monkeypatch).
- Every page is checked for Content Security Policy violations and console errors, and a
  screenshot of each page goes to $TEST_ARTIFACTS_DIR/screenshots (default
  var/test-artifacts/screenshots).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.color import no_style
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from playwright.sync_api import expect

from patients.models import PrecautionKind

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
TIMEOUT_MS = 10_000


def artifacts_dir() -> Path:
    base = os.environ.get("TEST_ARTIFACTS_DIR") or str(settings.BASE_DIR / "var" / "test-artifacts")
    path = Path(base) / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    message = (
        f"Chromium is not installed at {CHROMIUM}. Install Debian's package "
        "(`apt-get install -y chromium`, which `make test` does when run as root) or set "
        "CHROMIUM_PATH. The browser tests never download a browser."
    )
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def _migration_rows(django_db_setup: None) -> str:
    """The rows the migrations shipped (catalogues, vocabularies), as the test database setup
    serialized them, read before Playwright starts: once its event loop runs, Django's
    connection handler hands this thread another connection object, without them."""
    return str(getattr(connections[DEFAULT_DB_ALIAS], "_test_serialized_contents", ""))


@pytest.fixture(scope="module")
def browser(chromium_path: str, _migration_rows: str) -> Iterator[object]:
    """One Chromium per test module. Not per session: while Playwright runs, the tests that
    follow (other transactional tests) would get the other connection object too."""
    # Playwright's sync API starts an event loop in this thread; Django's async-safety check
    # would refuse the ORM calls the tests make around it.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    try:
        with sync_playwright() as playwright:
            instance = playwright.chromium.launch(
                executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True
            )
            try:
                yield instance
            finally:
                instance.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(autouse=True)
def _guarded_rows_flushable(transactional_db: None, _migration_rows: str) -> Iterator[None]:
    """Before the test: the rows the migrations shipped are there (serialized_rollback cannot
    put them back once Playwright runs, see `_migration_rows`).

    After it: signed notes and the access log are guarded by triggers that refuse DELETE. PostgreSQL
    empties the tables after a transactional test with TRUNCATE, which the triggers let through;
    SQLite deletes row by row, so there the guards are lifted, the tables emptied and the guards
    put back, in one transaction, before pytest-django's own flush finds them empty."""
    if _migration_rows and not hasattr(connection, "_test_serialized_contents"):
        # So that pytest-django's flush after this test leaves the tables empty (no
        # post_migrate rows), as the next transactional test's serialized_rollback expects.
        connection._test_serialized_contents = _migration_rows  # type: ignore[attr-defined]
    if _migration_rows and not PrecautionKind.objects.exists():
        # Emptied by an earlier test, then refilled by post_migrate (content types,
        # permissions) under new ids: empty it without post_migrate, then load the rows.
        call_command("flush", interactive=False, inhibit_post_migrate=True, verbosity=0)
        connection.creation.deserialize_db_from_string(_migration_rows)
    yield
    if connection.vendor != "sqlite":
        return
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
        triggers = cursor.fetchall()
        for name, _ in triggers:
            cursor.execute(f'DROP TRIGGER "{name}"')
        tables = connection.introspection.django_table_names(only_existing=True)
        for statement in connection.ops.sql_flush(no_style(), tables, allow_cascade=False):
            cursor.execute(statement)
        for _, sql in triggers:
            cursor.execute(sql)


@dataclass
class Watch:
    """What a page said that it should not have: CSP violations, console errors, page errors."""

    problems: list[str] = field(default_factory=list)

    def assert_clean(self) -> None:
        assert self.problems == [], "The browser reported:\n" + "\n".join(self.problems)


CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (e) => {
  console.error("CSP violation on " + location.pathname + ": " + e.violatedDirective + " " +
    (e.blockedURI || "inline") + " at " + (e.sourceFile || "?") + ":" + e.lineNumber +
    " " + (e.sample || ""));
});
"""


# Chromium logs every 4xx answer as a console error. A refused booking (400) or a conflict (409)
# is the page working as designed (the form shows the reason); anything else is a problem.
EXPECTED_REFUSALS = re.compile(r"Failed to load resource: .*status of (400|409) ")


def _console(watch: Watch, msg: object) -> None:
    if msg.type != "error":  # type: ignore[attr-defined]
        return
    text = msg.text  # type: ignore[attr-defined]
    if EXPECTED_REFUSALS.search(text):
        return
    where = (msg.location or {}).get("url", "")  # type: ignore[attr-defined]
    watch.problems.append(f"console error: {text} ({where})")


@pytest.fixture(scope="session")
def _static_root_exists() -> None:
    """The live server (a session fixture, so set up before the per-test settings) builds its
    WhiteNoise middleware once, from the configured STATIC_ROOT, which warns when that folder
    does not exist (collectstatic has not run in a fresh clone). The files themselves come from
    the apps' folders (WHITENOISE_USE_FINDERS)."""
    Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)


@pytest.fixture
def page(browser: object, _static_root_exists: None, live_server: object) -> Iterator[object]:
    """A fresh browser context (tablet-sized, 1180x820) on the live server; fails the test on any
    CSP violation or console error it saw."""
    context = browser.new_context(  # type: ignore[attr-defined]
        viewport={"width": 1180, "height": 820},
        base_url=live_server.url,  # type: ignore[attr-defined]
    )
    context.set_default_timeout(TIMEOUT_MS)
    context.add_init_script(CSP_LISTENER)
    watch = Watch()

    def watched(new_page: object) -> None:  # every page of the context, pop-ups too
        new_page.on("console", lambda msg: _console(watch, msg))  # type: ignore[attr-defined]
        new_page.on(  # type: ignore[attr-defined]
            "pageerror", lambda exc: watch.problems.append(f"page error: {exc}")
        )

    context.on("page", watched)
    page = context.new_page()
    page.watch = watch  # type: ignore[attr-defined]
    yield page
    context.close()
    watch.assert_clean()


def shoot(page: object, name: str) -> Path:
    """Save a full-page screenshot as a test artefact."""
    safe = re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-")
    path = artifacts_dir() / f"{safe}.png"
    page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
    return path


def sign_in(page: object, username: str, password: str) -> None:
    """Sign in and wait until the page the login redirects to has loaded: a test that goes on
    at once (a reload, say) would race the navigation still in flight ("Not attached to an
    active page")."""
    page.goto("/login/")  # type: ignore[attr-defined]
    page.get_by_label("Username").fill(username)  # type: ignore[attr-defined]
    page.get_by_label("Password").fill(password)  # type: ignore[attr-defined]
    page.get_by_role("button", name="Sign in").click()  # type: ignore[attr-defined]
    expect(page).not_to_have_url(re.compile(r"/login/"))
    page.wait_for_load_state("load")  # type: ignore[attr-defined]
