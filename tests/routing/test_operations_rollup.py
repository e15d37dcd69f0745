"""Stored operations figures (routing.operations_rollup): a large clinic's page reads what
beat stored, with the backlog live; a small clinic's is computed on every view."""

import datetime

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import Role
from routing import operations, operations_rollup
from routing.models import OperationsSnapshot, WorkItem
from routing.tasks import refresh_operations_snapshots
from tests.accounts.factories import ClinicFactory, StaffFactory
from tests.routing.factories import routed_item

pytestmark = pytest.mark.django_db


def answered_items(clinic, count: int) -> None:
    """`count` urgent items received two hours ago, answered an hour later, closed."""
    received = timezone.now() - datetime.timedelta(hours=2)
    for _ in range(count):
        item = routed_item(clinic, acuity="urgent", level="nurse")
        WorkItem.objects.filter(pk=item.pk).update(
            created_at=received,
            first_read_at=received + datetime.timedelta(minutes=30),
            first_response_at=received + datetime.timedelta(hours=1),
            first_response_role=Role.NURSE,
            closed_at=received + datetime.timedelta(hours=1),
            status=WorkItem.Status.CLOSED,
        )


@pytest.fixture
def large(settings):
    settings.OPERATIONS_SNAPSHOT_MIN_ITEMS = 3
    settings.OPERATIONS_SNAPSHOT_MAX_AGE_SECONDS = 600
    return settings


def test_stored_figures_are_the_live_ones_and_the_backlog_stays_live(large):
    clinic = ClinicFactory()
    answered_items(clinic, 3)
    now = timezone.now()
    live = operations.dashboard(period=operations.Period.last_weeks(clinics=[clinic], now=now))

    first = operations_rollup.dashboard_for(clinic=clinic, now=now)
    assert first["as_of"] is None  # computed by this view, and stored for the next
    assert OperationsSnapshot.objects.get(clinic=clinic).items == 3

    routed_item(clinic, acuity="emergent", level="nurse")  # arrives after the snapshot
    later = now + datetime.timedelta(minutes=1)
    stored = operations_rollup.dashboard_for(clinic=clinic, now=later)

    assert stored["as_of"] == now
    assert stored["response_times"] == live["response_times"]
    assert stored["fairness"] == live["fairness"]
    assert stored["acuity_weekly_series"] == live["acuity_weekly_series"]
    urgent = next(r for r in stored["response_times"]["acuity"] if r["group"] == "Urgent")
    assert (urgent["items"], urgent["first_response"]["median_hours"]) == (3, 1.0)
    assert stored["backlog"]["open"] == 1  # the new emergent item, not in the snapshot


def test_a_small_clinic_is_computed_on_every_view(large):
    clinic = ClinicFactory()
    answered_items(clinic, 2)

    figures = operations_rollup.dashboard_for(clinic=clinic, now=timezone.now())

    assert figures["as_of"] is None
    assert not OperationsSnapshot.objects.filter(clinic=clinic).exists()


def test_stale_figures_are_computed_again(large):
    clinic = ClinicFactory()
    answered_items(clinic, 3)
    then = timezone.now() - datetime.timedelta(seconds=601)
    operations_rollup.dashboard_for(clinic=clinic, now=then)
    answered_items(clinic, 1)

    figures = operations_rollup.dashboard_for(clinic=clinic, now=timezone.now())

    assert figures["as_of"] is None
    assert OperationsSnapshot.objects.get(clinic=clinic).items == 4


def test_beat_stores_the_large_clinics_only(large):
    big, small = ClinicFactory(), ClinicFactory()
    answered_items(big, 3)
    answered_items(small, 1)

    assert refresh_operations_snapshots() == 1

    snapshot = OperationsSnapshot.objects.get()
    assert snapshot.clinic == big
    assert snapshot.figures["who_answered"]["answered"] == 3


def test_the_page_says_how_old_stored_figures_are(large):
    clinic = ClinicFactory()
    answered_items(clinic, 3)
    refresh_operations_snapshots()
    client = Client()
    client.force_login(StaffFactory(clinic=clinic, role=Role.ADMIN))

    response = client.get("/operations/")

    assert response.status_code == 200
    assert response.context["figures"]["as_of"] is not None
    assert b"Figures as of" in response.content
