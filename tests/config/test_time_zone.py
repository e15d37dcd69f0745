"""A staff page shows its clinic's times; the next request on the same thread does not
inherit that zone (Django keeps the active zone per thread)."""

import pytest
from django.utils import timezone

from accounts.models import Role
from tests.accounts.factories import ClinicFactory, StaffFactory
from tests.routing.factories import routed_item

pytestmark = pytest.mark.django_db


def test_a_clinic_page_leaves_the_thread_in_utc(client):
    clinic = ClinicFactory(time_zone="America/New_York")
    nurse = StaffFactory(clinic=clinic, role=Role.NURSE)
    item = routed_item(clinic, subject="Refill")
    client.force_login(nurse)

    for url in ("/work/", f"/work/items/{item.pk}/"):
        assert client.get(url).status_code == 200
        assert timezone.get_current_timezone_name() == "UTC", url


def test_a_request_starts_in_utc_whatever_the_thread_held(client):
    timezone.activate("Asia/Tokyo")  # as a previous request on this thread might have
    try:
        client.get("/health/live")
        assert timezone.get_current_timezone_name() == "UTC"
    finally:
        timezone.deactivate()
