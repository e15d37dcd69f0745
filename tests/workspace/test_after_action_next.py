"""Saving the after-action choice goes back to the form's page (`next`) only when it is a
path on this site; anything else goes to the work page, never to an error."""

import pytest

from accounts.models import Role
from tests.accounts.factories import ClinicFactory, StaffFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "next_url",
    ["//evil.example/", "/\\evil.example/", "javascript:alert(1)", "work-item", "no-such-name"],
)
def test_a_next_that_is_not_a_path_here_goes_to_the_work_page(client, next_url):
    client.force_login(StaffFactory(clinic=ClinicFactory(), role=Role.NURSE))

    response = client.post("/work/after-action", {"after_action": "stay", "next": next_url})

    assert response.status_code == 302
    assert response["Location"] == "/work/"
