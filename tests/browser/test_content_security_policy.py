"""The Content-Security-Policy in a real browser: the staff, billing and admin screens
work under it with nothing refused (every script is a static file), and an inline handler
slipped into a page is refused."""

from playwright.sync_api import expect

from accounts.models import Role
from tests.accounts.factories import ClinicFactory, StaffFactory, UserFactory
from tests.browser.pages import submit_login
from tests.routing.factories import RoutingRuleFactory, routed_item


def refusals(page) -> list[str]:
    """Chromium's console reports of what the policy refused, from now on."""
    found: list[str] = []
    page.on(
        "console",
        lambda message: (
            found.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return found


def test_an_inline_handler_slipped_into_a_page_is_refused(page):
    refused = refusals(page)
    page.goto("/login/")
    page.evaluate(
        """() => {
            const button = document.createElement("button");
            button.id = "injected";
            button.setAttribute("onclick", "document.title = 'ran'");
            document.body.append(button);
        }"""
    )

    page.locator("#injected").click()

    expect(page).not_to_have_title("ran")
    page.wait_for_timeout(200)
    assert any("inline event handler" in text for text in refused), refused


def test_staff_screens_work_with_nothing_refused(page):
    refused = refusals(page)
    clinic = ClinicFactory()
    StaffFactory(username="rn.csp", clinic=clinic, role=Role.NURSE)
    routed_item(clinic, acuity="routine", level="nurse", subject="Port question", body="Hi")

    submit_login(page, "rn.csp")
    expect(page.locator("#queue-title")).to_be_visible()
    # htmx and the page scripts run: the live refresh polls and the keys move the selection.
    with page.expect_request("**/work/rows**", timeout=8000):
        pass
    page.keyboard.press("j")
    expect(page.locator("tbody#rows tr[data-item-url]").first).to_have_class("selected")
    page.keyboard.press("Enter")
    expect(page.get_by_label("Reply to the patient (r)")).to_be_visible()
    page.keyboard.press("?")
    expect(page.get_by_role("dialog", name="Keyboard")).to_be_visible()

    assert refused == []


def test_billing_revenue_chart_draws_with_nothing_refused(page):
    refused = refusals(page)
    StaffFactory(username="billing.csp", clinic=ClinicFactory(), role=Role.BILLING)

    submit_login(page, "billing.csp")
    page.goto("/billing/revenue")
    expect(page.locator("canvas").first).to_be_visible()
    assert page.evaluate("() => Boolean(Chart.getChart('revenue-chart'))")

    assert refused == []


def test_admin_pages_we_customise_work_with_nothing_refused(page):
    refused = refusals(page)
    UserFactory(username="root.csp", is_staff=True, is_superuser=True)
    rule = RoutingRuleFactory(clinic=ClinicFactory())

    submit_login(page, "root.csp")
    for url in [
        "/admin/routing/routingrule/",
        f"/admin/routing/routingrule/{rule.pk}/change/",
        f"/admin/routing/routingrule/{rule.pk}/try/",
        "/admin/routing/routingrule/order/",
        "/admin/triage/modelversion/",
    ]:
        page.goto(url)
        expect(page.locator("#content")).to_be_visible()

    assert refused == []
