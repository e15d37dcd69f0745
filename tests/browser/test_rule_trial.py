"""A clinic administrator widens a rule, tests it on a typed message, replays it over the
clinic's past messages on a real worker (the page follows the progress and shows the
report by itself), then saves it. Axe audits both pages."""

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.contrib.auth.models import Group, Permission
from playwright.sync_api import expect

from accounts.models import CLINIC_ADMINISTRATORS_GROUP, Role
from routing.models import RuleReplay
from tests.accounts.factories import ClinicFactory, StaffFactory
from tests.browser.pages import PASSWORD
from tests.browser.test_accessibility import AXE_OPTIONS
from tests.integration.conftest import Workers, flush_broker
from tests.routing.factories import QueueFactory, RoutingRuleFactory, routed_item

pytestmark = pytest.mark.integration

# Django admin's stock breadcrumbs fail link-in-text-block (docs/ui.md); the rest of
# each page is audited.
AXE_CONTEXT = {"exclude": [[".breadcrumbs"]]}


@pytest.fixture
def slow_worker(transactional_db, tmp_path):
    """A real worker process that consumes only the slow queue."""
    flush_broker()
    pool = Workers(tmp_path)
    pool.start("slow-only", queues="slow")
    yield pool
    pool.stop_all()
    flush_broker()


def clinic_administrators_group() -> Group:
    # A live-server test empties every table when it ends, the group made by a data
    # migration included (permissions come back by themselves); make it again.
    group, _ = Group.objects.get_or_create(name=CLINIC_ADMINISTRATORS_GROUP)
    group.permissions.add(
        *Permission.objects.filter(
            content_type__app_label="routing",
            codename__in=[
                "view_routingrule",
                "add_routingrule",
                "change_routingrule",
                "view_rulereplay",
                "view_workitem",
            ],
        )
    )
    return group


def violations(page) -> list:
    found = Axe().run(page, context=AXE_CONTEXT, options=AXE_OPTIONS).response["violations"]
    return [(v["id"], [n["target"] for n in v["nodes"]]) for v in found]


def test_an_administrator_tests_replays_and_saves_a_rule(
    page, slow_worker, active_model_version, screenshot
):
    clinic = ClinicFactory(name="Oncology - Pasadena")
    pool = QueueFactory(clinic=clinic, role="nurse", name="Port and line care")
    rule = RoutingRuleFactory(
        clinic=clinic,
        name="Ports to line care",
        order=1,
        conditions={"keyword": ["port"]},
        action={"queue": pool.pk},
    )
    for body in ("My port site is red", "The PICC dressing is loose", "Refill please"):
        routed_item(clinic, body=body)
    admin_user = StaffFactory(username="admin.audit", clinic=clinic, role=Role.ADMIN, is_staff=True)
    admin_user.groups.add(clinic_administrators_group())

    page.goto("/admin/login/")
    page.get_by_label("Username").fill("admin.audit")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto(f"/admin/routing/routingrule/{rule.pk}/change/")
    page.get_by_role("link", name="Test or replay before saving").click()

    page.get_by_label("Words in the message").fill("port, picc")
    page.get_by_label("Message text").fill("The dressing on my PICC line came off, what now?")
    page.get_by_role("button", name="Test on this message").click()
    result = page.get_by_role("region", name="Where this message would go")
    expect(result).to_contain_text("The edit changes queue.")
    expect(result).to_contain_text("This rule decides it.")
    queue_row = result.locator("tr", has=page.get_by_role("rowheader", name="Queue", exact=True))
    expect(queue_row).to_contain_text("Nurse triage")
    expect(queue_row).to_contain_text("Port and line care")
    result.scroll_into_view_if_needed()
    screenshot(page, "admin-rule-test")
    assert violations(page) == []

    page.get_by_role("button", name="Replay over past messages").click()
    report = page.get_by_role("region", name="What the edit would change")
    # The worker finishes; the page notices and shows the report without a click.
    expect(report).to_contain_text("1 of 3", timeout=20_000)
    expect(report.get_by_role("table", name="Queue changes")).to_contain_text("Port and line care")
    assert RuleReplay.objects.get().status == RuleReplay.Status.DONE
    screenshot(page, "admin-rule-replay")
    assert violations(page) == []

    page.get_by_role("link", name="Back to the rule's test page").click()
    # The page holds the edit that was replayed, still unsaved.
    expect(page.get_by_label("Words in the message")).to_have_value("port, picc")
    page.get_by_role("button", name="Save rule").click()
    expect(page.get_by_text("was saved")).to_be_visible()
    rule.refresh_from_db()
    assert rule.conditions == {"keyword": ["port", "picc"]}
