"""A clinic administrator builds "chest pain on chemotherapy -> Oncology nurse pool, raise
to emergent" from the rule form (no JSON, the queue chosen by name), tests the unsaved
edit on a typed message and sees it match, saves it, and moves it to the top of the
clinic's rules with the keyboard. The stored JSON is what the engine routes by."""

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.contrib.auth.models import Group, Permission
from playwright.sync_api import expect

from accounts.models import CLINIC_ADMINISTRATORS_GROUP, Role
from routing.models import RoutingRule
from tests.accounts.factories import ClinicFactory, StaffFactory
from tests.browser.pages import PASSWORD
from tests.browser.test_accessibility import AXE_OPTIONS
from tests.inbox.factories import ConversationFactory, PatientFactory
from tests.routing.factories import QueueFactory, RoutingRuleFactory, routed_item

# Django admin's stock breadcrumbs fail link-in-text-block (docs/ui.md); the rest of
# each page is audited.
AXE_CONTEXT = {"exclude": [[".breadcrumbs"]]}


def clinic_administrators_group() -> Group:
    # A live-server test empties every table when it ends, the group made by a data
    # migration included; make it again.
    group, _ = Group.objects.get_or_create(name=CLINIC_ADMINISTRATORS_GROUP)
    group.permissions.add(
        *Permission.objects.filter(
            content_type__app_label="routing",
            codename__in=["view_routingrule", "add_routingrule", "change_routingrule"],
        )
    )
    return group


def violations(page) -> list:
    found = Axe().run(page, context=AXE_CONTEXT, options=AXE_OPTIONS).response["violations"]
    return [(v["id"], [n["target"] for n in v["nodes"]]) for v in found]


@pytest.fixture
def oncology_clinic(db):
    clinic = ClinicFactory(name="Oncology - Pasadena", time_zone="America/Los_Angeles")
    pool = QueueFactory(clinic=clinic, role="nurse", name="Oncology nurse pool")
    QueueFactory(clinic=clinic, role="nurse", name="Port and line care")
    # Another clinic's pool of the same name is never offered.
    QueueFactory(clinic=ClinicFactory(name="Cardiology - Glendale"), name="Oncology nurse pool")
    RoutingRuleFactory(
        clinic=clinic,
        name="Refills to clerical",
        order=10,
        conditions={"category": ["Medication refill"]},
        action={"raise_acuity": "urgent"},
    )
    admin_user = StaffFactory(username="admin.rules", clinic=clinic, role=Role.ADMIN, is_staff=True)
    admin_user.groups.add(clinic_administrators_group())
    return clinic, pool


def test_an_administrator_builds_tests_saves_and_orders_a_rule_without_json(
    page, oncology_clinic, active_model_version, screenshot
):
    clinic, pool = oncology_clinic
    page.goto("/admin/login/")
    page.get_by_label("Username").fill("admin.rules")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto("/admin/routing/routingrule/")
    page.get_by_role("link", name="Add routing rule").click()

    # The rule, from rows and drop-downs.
    page.get_by_label("Name").fill("Chest pain on chemotherapy")
    page.get_by_label("Order").fill("20")
    page.get_by_label("Words in the message").fill("chest pain")
    page.get_by_label("Patient is on chemotherapy").check()
    queue = page.get_by_label("Send to queue")
    expect(queue.locator("option", has_text="Oncology nurse pool")).to_have_count(1)
    queue.select_option(label="Oncology nurse pool (nurse)")
    page.get_by_label("Raise acuity to").select_option(label="Emergent")
    page.get_by_label("Patient is on chemotherapy").scroll_into_view_if_needed()
    page.evaluate("window.scrollBy(0, 200)")
    screenshot(page, "admin-rule-builder")
    assert violations(page) == []
    page.get_by_role("button", name="Test or replay this edit before saving").click()

    # The unsaved edit, carried to the test page, on a typed message.
    expect(page.get_by_label("Words in the message")).to_have_value("chest pain")
    assert not RoutingRule.objects.filter(name="Chest pain on chemotherapy").exists()
    page.get_by_label("Message text").fill(
        "I have had chest pain since last night, my chemo was on Monday"
    )
    page.get_by_label("Patient on chemotherapy").check()
    page.get_by_role("button", name="Test on this message").click()
    result = page.get_by_role("region", name="Where this message would go")
    expect(result).to_contain_text("This rule decides it.")
    queue_row = result.locator("tr", has=page.get_by_role("rowheader", name="Queue", exact=True))
    expect(queue_row).to_contain_text("Oncology nurse pool")
    acuity_row = result.locator("tr", has=page.get_by_role("rowheader", name="Acuity", exact=True))
    expect(acuity_row).to_contain_text("emergent")
    result.scroll_into_view_if_needed()
    screenshot(page, "admin-rule-builder-test")
    assert violations(page) == []

    page.get_by_role("button", name="Save rule").click()
    expect(page.get_by_text("was saved")).to_be_visible()

    rule = RoutingRule.objects.get(name="Chest pain on chemotherapy")
    assert rule.conditions == {"keyword": ["chest pain"], "patient_flag": "on_chemotherapy"}
    assert rule.action == {"queue": pool.pk, "raise_acuity": "emergent"}

    # The order: the new rule moved to the top by keyboard (focus + Enter, no dragging).
    page.get_by_role("link", name="Order rules").click()
    move_up = page.get_by_role("button", name="Move up: Chest pain on chemotherapy")
    move_up.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_text("“Chest pain on chemotherapy” moved up.")).to_be_visible()
    first_row = page.locator("table.rule-order tbody tr").first
    expect(first_row).to_contain_text("Chest pain on chemotherapy")
    expect(first_row).to_contain_text(
        "When words “chest pain”, patient on chemotherapy: to Oncology nurse pool, "
        "raise acuity to emergent."
    )
    # The keyboard stays on the moved rule (now first: its "Move down").
    expect(page.get_by_role("button", name="Move down: Chest pain on chemotherapy")).to_be_focused()
    screenshot(page, "admin-rule-order")
    assert violations(page) == []

    # The engine routes by what the form wrote.
    patient = PatientFactory(clinic=clinic, on_chemotherapy=True)
    item = routed_item(
        clinic,
        body="Chest pain again tonight",
        category="Medication refill",
        conversation=ConversationFactory(patient=patient),
    )
    assert (item.queue, item.acuity) == (pool, "emergent")
