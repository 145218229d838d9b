"""Health check, the API schema and docs, and the production settings (`check --deploy`)."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys

import pytest
from django.conf import settings
from django.db import connection
from drf_spectacular.validation import validate_schema


@pytest.mark.django_db
def test_healthz_reports_database_and_broker_ok(client):
    response = client.get("/healthz")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == {"ok": True, "info": connection.vendor}
    assert body["broker"] == {"ok": True, "info": settings.CELERY_BROKER_URL.split("://")[0]}


def test_healthz_is_503_when_the_database_is_unreachable(client):
    # Load balancers call it anonymously; without the db fixture the database is unreachable
    # for this test, so this is also the "database down" answer.
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["database"]["ok"] is False
    assert body["broker"]["ok"] is True


@pytest.mark.django_db
def test_api_schema_is_a_valid_openapi_document(client):
    response = client.get("/api/schema/", {"format": "json"})

    assert response.status_code == 200
    schema = response.json()
    validate_schema(schema)  # raises on an invalid OpenAPI 3 document
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/clinics/{clinic_id}/rooms/" in schema["paths"]


@pytest.mark.django_db
def test_api_schema_types_every_clinic_id_as_uuid(client):
    schema = client.get("/api/schema/", {"format": "json"}).json()
    clinic_ids = [
        parameter
        for path, operations in schema["paths"].items()
        if "{clinic_id}" in path
        for operation in operations.values()
        for parameter in operation.get("parameters", [])
        if parameter["name"] == "clinic_id"
    ]
    assert clinic_ids
    assert all(p["in"] == "path" for p in clinic_ids)
    assert all(p["schema"] == {"type": "string", "format": "uuid"} for p in clinic_ids)
    assert not any(
        p["name"] == "clinic_id"
        for path, operations in schema["paths"].items()
        if "{clinic_id}" not in path
        for operation in operations.values()
        for p in operation.get("parameters", [])
    )


@pytest.mark.django_db
def test_api_docs_serve_swagger_from_local_static_files(client, settings):
    settings.WHITENOISE_USE_FINDERS = True
    response = client.get("/api/docs/")

    assert response.status_code == 200
    html = response.content.decode()
    assert not re.search(r"cdn|jsdelivr|unpkg|googleapis", html, re.IGNORECASE)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assets = re.findall(r"""(?:src|href)="(/static/drf_spectacular_sidecar/[^"]+)""", html)
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets)
    assert any(a.endswith("swagger-ui.css") for a in assets)
    for asset in assets:
        served = client.get(asset)
        assert served.status_code == 200, asset
        served.close()


def test_check_deploy_with_production_settings_has_no_warnings(tmp_path):
    env = {
        **os.environ,
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(48),  # 64 characters
        "ALLOWED_HOSTS": "clinic.example.org",
        "SECURE_SSL_REDIRECT": "true",
        "SECURE_HSTS_PRELOAD": "true",
        "SECURE_PROXY_SSL_HEADER": "true",
        "VAR_DIR": str(tmp_path / "var"),
        "DJANGO_SETTINGS_MODULE": "clinic.settings",
    }
    assert len(env["SECRET_KEY"]) == 64

    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues" in output
    assert "WARNING" not in output


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL setting")
@pytest.mark.django_db
def test_postgresql_connections_run_without_jit_compilation():
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone() == ("off",)
