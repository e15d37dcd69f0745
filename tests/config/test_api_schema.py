"""The API's OpenAPI description (/api/schema/) and Swagger UI (/api/docs/): readable by any
signed-in principal and nobody else, complete (every API route, every operation with a
success body and the error shape), and the docs page within the CSP (no inline script
or style). Whether the answers match the description: test_api_schema_conformance.py."""

import re

import pytest
from django.urls import URLResolver, get_resolver
from rest_framework.test import APIClient

from accounts.models import Role
from accounts.services import issue_api_token
from tests.accounts.factories import ClinicFactory, IntegrationFactory, StaffFactory

pytestmark = pytest.mark.django_db


def _schema(client) -> dict:
    response = client.get("/api/schema/?format=json")
    assert response.status_code == 200
    return response.json()


@pytest.fixture
def nurse_client():
    client = APIClient()
    client.force_login(StaffFactory(clinic=ClinicFactory(), role=Role.NURSE))
    return client


@pytest.mark.parametrize("url", ["/api/schema/", "/api/docs/"])
def test_nobody_signed_in_gets_401(url):
    response = APIClient().get(url)

    assert response.status_code == 401
    assert "paths" not in response.content.decode()


def test_an_integration_token_without_any_scope_reads_the_schema():
    # Integrators generate their client from it before they know which scopes they need.
    integration = IntegrationFactory()
    _row, token = issue_api_token(user=integration.account, created_by=None, scopes=[])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    schema = _schema(client)

    assert schema["openapi"].startswith("3.")
    assert schema["info"]["version"] == "1.0.0"
    assert schema["components"]["securitySchemes"]["apiToken"]["scheme"] == "bearer"
    assert schema["components"]["schemas"]["Error"]["required"] == ["code", "detail"]


def _api_routes(patterns=None, prefix: str = ""):
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _api_routes(pattern.url_patterns, route)
        elif route.startswith("api/v"):
            yield "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)


def test_every_api_route_is_described(nurse_client):
    # A view drf-spectacular cannot read (no serializer it can find) is left out with only
    # a warning: the description would silently lose the endpoint.
    described = set(_schema(nurse_client)["paths"])

    assert sorted(set(_api_routes()) - described) == []


def test_every_operation_has_a_success_body_and_the_error_shape(nurse_client):
    schema = _schema(nurse_client)
    error = {"$ref": "#/components/schemas/Error"}
    incomplete = []
    for path, operations in schema["paths"].items():
        if not path.startswith("/api/"):
            continue  # FHIR answers an OperationOutcome (tests/inbox/ FHIR tests)
        for method, operation in operations.items():
            responses = operation["responses"]
            success = [s for s in responses if s.startswith("2")]
            errors_described = all(
                responses.get(status, {}).get("content", {}).get("application/json", {})
                == {"schema": error}
                for status in ("400", "401", "403", "404")
            )
            if not success or not errors_described:
                incomplete.append(f"{method.upper()} {path}")

    assert incomplete == []


def test_the_docs_page_has_no_inline_script_or_style_and_its_script_is_ours(nurse_client):
    response = nurse_client.get("/api/docs/")
    page = response.content.decode()

    assert response.status_code == 200
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page, flags=re.S)
    assert scripts, "Swagger UI's scripts"
    assert all('src="' in attributes and not body.strip() for attributes, body in scripts)
    assert "<style" not in page
    assert not re.search(r"\sstyle=", page)
    assert not re.search(r"\son[a-z]+=", page)
    # From our origin only: the sidecar's copies, and the init script from this view.
    sources = [re.search(r'src="([^"]+)"', attributes).group(1) for attributes, _ in scripts]
    assert all(source.startswith("/") for source in sources)
    init = nurse_client.get(sources[-1].replace("&amp;", "&"))
    assert init.status_code == 200
    assert init["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in init.content.decode()
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
