"""First read and first response: facts on the work item, recorded once each by the
services the screens and the API already call (routing.work_items), by someone who may act
on the item, and never reset (not by a reopen either)."""

import datetime

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import Role
from routing import work_items
from routing.exceptions import OutsideScopeOfPractice
from routing.models import WorkItem
from tests.accounts.factories import ClinicFactory, StaffFactory
from tests.routing.test_work_items_scope import make_item

pytestmark = pytest.mark.django_db


@pytest.fixture
def clinic():
    return ClinicFactory()


def open_page(user, item: WorkItem) -> int:
    client = Client()
    client.force_login(user)
    return client.get(f"/work/items/{item.pk}/").status_code


def test_the_first_nurse_to_open_the_page_is_the_first_read_and_only_once(clinic):
    first, second = StaffFactory.create_batch(2, clinic=clinic, role=Role.NURSE)
    item = make_item(clinic, level="nurse", acuity="urgent")
    before = timezone.now()

    assert open_page(first, item) == 200
    item.refresh_from_db()
    read_at = item.first_read_at
    assert item.first_read_by == first
    assert before <= read_at <= timezone.now()
    assert read_at.utcoffset() == datetime.timedelta(0)  # stored and read back in UTC

    assert open_page(second, item) == 200
    assert open_page(first, item) == 200
    item.refresh_from_db()
    assert (item.first_read_at, item.first_read_by) == (read_at, first)


def test_someone_who_may_not_act_on_the_item_does_not_count_as_reading_it(clinic):
    # A clerk may open an urgent nurse-level item's page, but may neither claim nor reply.
    clerk = StaffFactory(clinic=clinic, role=Role.CLERICAL)
    billing = StaffFactory(clinic=clinic, role=Role.BILLING)
    admin = StaffFactory(clinic=clinic, role=Role.ADMIN)
    outsider = StaffFactory(role=Role.NURSE)  # a nurse of another clinic
    nurse = StaffFactory(clinic=clinic, role=Role.NURSE)
    item = make_item(clinic, level="nurse", acuity="urgent")

    assert open_page(clerk, item) == 200
    assert open_page(billing, item) == 403
    assert open_page(admin, item) == 403
    assert open_page(outsider, item) == 404
    item.refresh_from_db()
    assert item.first_read_at is None

    assert open_page(nurse, item) == 200
    item.refresh_from_db()
    assert item.first_read_by == nurse


def test_a_clerk_reads_a_routine_clerical_item(clinic):
    clerk = StaffFactory(clinic=clinic, role=Role.CLERICAL)
    item = make_item(clinic, level="clerical", acuity="routine")

    assert open_page(clerk, item) == 200

    item.refresh_from_db()
    assert item.first_read_by == clerk


def test_a_claim_through_the_api_is_a_first_read_without_any_page(clinic, client_for):
    nurse = StaffFactory(clinic=clinic, role=Role.NURSE)
    item = make_item(clinic, level="nurse", acuity="routine")

    response = client_for(nurse).post(f"/api/v1/work-items/{item.pk}/claim", format="json")

    assert response.status_code == 200
    item.refresh_from_db()
    assert item.first_read_by == nurse
    assert item.first_read_at == item.claimed_at


def test_claim_next_is_a_first_read(clinic):
    ma = StaffFactory(clinic=clinic, role=Role.MA)
    item = make_item(clinic, level="ma", acuity="routine")

    assert work_items.claim_next(actor=ma) == item

    item.refresh_from_db()
    assert item.first_read_by == ma


def test_an_api_reply_is_the_first_response_and_a_reopen_resets_neither(clinic, client_for):
    nurse = StaffFactory(clinic=clinic, role=Role.NURSE)
    physician = StaffFactory(clinic=clinic, role=Role.PHYSICIAN)
    item = make_item(clinic, level="nurse", acuity="urgent")
    api = client_for(nurse)

    replied = api.post(f"/api/v1/work-items/{item.pk}/reply", {"body": "Rest."}, format="json")

    assert replied.status_code == 200
    item.refresh_from_db()
    answered = (item.first_response_at, item.first_response_by, item.first_response_role)
    assert answered[1:] == (nurse, Role.NURSE)
    # Answering without opening the page is reading it, at the same moment.
    assert (item.first_read_at, item.first_read_by) == (item.first_response_at, nurse)

    assert api.post(f"/api/v1/work-items/{item.pk}/close", format="json").status_code == 200
    work_items.reopen(actor=physician, item_id=item.pk, reason="new symptoms")
    assert open_page(physician, item) == 200
    work_items.respond(actor=physician, item_id=item.pk, body="Come in today.")

    item.refresh_from_db()
    assert item.status == WorkItem.Status.RESPONDED
    assert (item.first_response_at, item.first_response_by, item.first_response_role) == answered
    assert (item.first_read_at, item.first_read_by) == (answered[0], nurse)


def test_a_refused_reply_records_no_response(clinic):
    clerk = StaffFactory(clinic=clinic, role=Role.CLERICAL)
    item = make_item(clinic, level="nurse", acuity="urgent")

    with pytest.raises(OutsideScopeOfPractice):
        work_items.respond(actor=clerk, item_id=item.pk, body="Hello")

    item.refresh_from_db()
    assert (item.first_read_at, item.first_response_at) == (None, None)


def test_two_readers_with_the_item_loaded_at_once_record_one_read(clinic):
    # Both requests loaded the item before either recorded: the conditional update
    # decides, not the stale copy each holds.
    first, second = StaffFactory.create_batch(2, clinic=clinic, role=Role.NURSE)
    item = make_item(clinic, level="nurse", acuity="routine")
    seen_by_first = WorkItem.objects.get(pk=item.pk)
    seen_by_second = WorkItem.objects.get(pk=item.pk)

    assert work_items.record_first_read(actor=first, item=seen_by_first) is True
    assert work_items.record_first_read(actor=second, item=seen_by_second) is False

    item.refresh_from_db()
    assert item.first_read_by == first
