"""After a review, POST /billing/review goes back to the page the form came from (`next`),
only when that page is this site's: never to another site (an open redirect would lend
this site's name to a look-alike login page)."""

import pytest

from accounts.models import Role
from tests.accounts.factories import ClinicFactory, StaffFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def billing_client(client):
    client.force_login(StaffFactory(clinic=ClinicFactory(), role=Role.BILLING))
    return client


def review(client, next_url: str, **extra):
    return client.post("/billing/review", {"decision": "approve", "next": next_url}, **extra)


@pytest.mark.parametrize(
    "next_url",
    [
        "https://evil.example/billing/",
        "//evil.example/billing/",
        "/\\evil.example/",
        "http://testserver.evil.example/",
        "javascript:alert(1)",
        "billing-revenue",  # a URL name is not a page
        "",
    ],
)
def test_a_next_that_is_not_this_sites_page_goes_to_the_billing_list(billing_client, next_url):
    response = review(billing_client, next_url)

    assert response.status_code == 302
    assert response["Location"] == "/billing/"


@pytest.mark.parametrize("next_url", ["/billing/?status=approved&clinic=3", "/billing/evisits/12/"])
def test_a_next_on_this_site_is_followed(billing_client, next_url):
    response = review(billing_client, next_url)

    assert response.status_code == 302
    assert response["Location"] == next_url


def test_over_https_a_next_over_plain_http_is_not_followed(billing_client):
    response = review(billing_client, "http://testserver/billing/?status=approved", secure=True)

    assert response["Location"] == "/billing/"
