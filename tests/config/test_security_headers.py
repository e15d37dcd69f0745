"""Headers that protect patients' data in the browser: no caching of anything but static
files, a Content-Security-Policy that runs no inline script (and no template that would
need one), HTTPS redirect and HSTS as configured, framing and referrer limits."""

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.contrib import admin
from django.urls import reverse

from accounts.models import Role
from tests.accounts.factories import ClinicFactory, StaffFactory, UserFactory
from tests.routing.factories import RoutingRuleFactory, routed_item

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


@pytest.fixture
def nurse(client):
    clinic = ClinicFactory()
    user = StaffFactory(clinic=clinic, role=Role.NURSE)
    client.force_login(user)
    return user


def directives(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    return dict(part.strip().split(" ", 1) for part in header.split(";") if part.strip())


# --- Cache-Control ----------------------------------------------------------------------


def test_a_page_is_not_stored(client, nurse):
    response = client.get("/work/")

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    assert response["Pragma"] == "no-cache"


def test_an_api_answer_is_not_stored(client_for, nurse):
    response = client_for(nurse).get("/api/v1/work-items")

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    ("url", "signed_in", "statuses"),
    [
        ("/work/items/999999999/", True, {404}),
        ("/no-such-page/", True, {404}),
        ("/api/v1/work-items/999999999/claim", True, {404}),
        ("/api/v1/work-items", False, {401, 403}),
    ],
)
def test_an_error_answer_is_not_stored(client, url, signed_in, statuses):
    if signed_in:
        client.force_login(StaffFactory())

    response = (
        client.post(url, content_type="application/json")
        if url.endswith("claim")
        else client.get(url)
    )

    assert response.status_code in statuses
    assert response["Cache-Control"] == "no-store"


def test_the_login_page_keeps_djangos_own_no_store(client):
    response = client.get("/login/")

    assert "no-store" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]  # never_cache's, not overwritten


def test_static_files_stay_cacheable(client, settings):
    # WhiteNoise answers static files before the no-store middleware sees them.
    settings.WHITENOISE_USE_FINDERS = True

    response = client.get(django_settings.STATIC_URL.rstrip("/") + "/js/work.js")

    assert response.status_code == 200
    assert "no-store" not in response.get("Cache-Control", "")


# --- Content-Security-Policy ------------------------------------------------------------


def test_pages_carry_the_policy(client, nurse):
    response = client.get("/work/")

    assert directives(response) == POLICY
    assert "unsafe" not in response["Content-Security-Policy"]


def test_api_answers_and_the_login_page_carry_the_policy_too(client, client_for, nurse):
    assert directives(client_for(nurse).get("/api/v1/work-items")) == POLICY
    client.logout()
    assert directives(client.get("/login/")) == POLICY


def test_frames_sniffing_and_referrers_are_limited(client, nurse):
    response = client.get("/work/")

    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


class InlineCode(HTMLParser):
    """What a policy without 'unsafe-inline' would block (or what only runs because it
    is inline): <script> without src (JSON data blocks excepted: never run), on*=
    handlers, javascript: URLs, <style> blocks and style= attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._script: str | None = None

    def handle_starttag(self, tag, attrs):
        named = dict(attrs)
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}=...>")
            if name == "style":
                self.found.append(f"<{tag} style=...>")
            if (value or "").strip().lower().startswith("javascript:"):
                self.found.append(f"<{tag} {name}={value}>")
        if tag == "style":
            self.found.append("<style>")
        if tag == "script" and "src" not in named and named.get("type") != "application/json":
            self._script = ""

    def handle_data(self, data):
        if self._script is not None:
            self._script += data

    def handle_endtag(self, tag):
        if tag == "script" and self._script is not None:
            if self._script.strip():
                self.found.append(f"<script>{self._script.strip()[:60]}")
            self._script = None


def inline_code(html: str) -> list[str]:
    parser = InlineCode()
    parser.feed(html)
    parser.close()
    return parser.found


@pytest.mark.parametrize(
    "html",
    [
        "<script>alert(1)</script>",
        '<button onclick="go()">x</button>',
        '<a href="javascript:go()">x</a>',
        '<div style="color: red">x</div>',
        "<style>p {}</style>",
    ],
)
def test_the_inline_code_finder_finds_each_kind(html):
    assert inline_code(html)


def test_the_inline_code_finder_passes_script_files_and_json_data():
    assert not inline_code(
        '<script src="/static/js/work.js" defer></script>'
        '<script id="d" type="application/json">{"a": 1}</script>'
        '<button data-help type="button">?</button>'
    )


def template_files() -> list[Path]:
    found = []
    for folder in ROOT.glob("**/templates"):
        if ".venv" in folder.parts or "var" in folder.parts:
            continue
        found += sorted(folder.glob("**/*.html"))
    return found


def test_the_template_files_are_found():
    names = {path.relative_to(ROOT).as_posix() for path in template_files()}

    assert "templates/base.html" in names
    assert "routing/templates/admin/routing/rulereplay/change_form.html" in names


@pytest.mark.parametrize("path", template_files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_no_template_has_inline_script_or_style(path):
    source = path.read_text()
    # Template tags can sit inside a tag's attributes; the markup around them is checked.
    markup = re.sub(r"{%.*?%}|{#.*?#}", "", source)

    assert inline_code(markup) == []


@pytest.fixture
def superuser_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_rendered_staff_and_billing_pages_have_no_inline_code(client):
    clinic = ClinicFactory()
    item = routed_item(clinic, subject="Port question", body="Is the port site red?")
    client.force_login(StaffFactory(clinic=clinic, role=Role.NURSE))
    pages = ["/work/", f"/work/items/{item.pk}/"]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        assert inline_code(response.content.decode()) == [], url

    client.force_login(StaffFactory(clinic=clinic, role=Role.BILLING))
    for url in ["/billing/", "/billing/revenue"]:
        response = client.get(url)
        assert response.status_code == 200, url
        assert inline_code(response.content.decode()) == [], url

    client.logout()
    assert inline_code(client.get("/login/").content.decode()) == []


def test_every_admin_list_and_add_page_has_no_inline_code(superuser_client):
    pages = []
    for model in admin.site._registry:
        app, name = model._meta.app_label, model._meta.model_name
        pages += [reverse(f"admin:{app}_{name}_changelist"), reverse(f"admin:{app}_{name}_add")]
    for url in pages:
        response = superuser_client.get(url)
        assert response.status_code in {200, 403}, url
        assert inline_code(response.content.decode()) == [], url


def test_rendered_admin_pages_we_customise_have_no_inline_code(superuser_client):
    rule = RoutingRuleFactory(clinic=ClinicFactory())
    for url in [
        "/admin/",
        "/admin/routing/routingrule/",
        f"/admin/routing/routingrule/{rule.pk}/change/",
        f"/admin/routing/routingrule/{rule.pk}/try/",
        "/admin/routing/routingrule/order/",
        "/admin/routing/rulereplay/",
        "/admin/triage/modelversion/",
    ]:
        response = superuser_client.get(url)
        assert response.status_code == 200, url
        assert inline_code(response.content.decode()) == [], url


# --- HTTPS ------------------------------------------------------------------------------


@pytest.fixture
def https_only(settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31_536_000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_HSTS_PRELOAD = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")


def test_plain_http_is_redirected_to_https(client, https_only):
    response = client.get("/login/")

    assert response.status_code == 301
    assert response["Location"].startswith("https://")


def test_the_health_probes_answer_over_plain_http(client, https_only):
    # A load balancer probing over HTTP must not be redirected forever (no PHI there).
    response = client.get("/health/live")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_https_through_the_proxy_header_is_served_with_hsts(client, https_only):
    response = client.get("/login/", headers={"x-forwarded-proto": "https"})

    assert response.status_code == 200
    assert response["Strict-Transport-Security"] == ("max-age=31536000; includeSubDomains; preload")
