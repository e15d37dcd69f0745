"""The operations dashboard in a real browser: a manager opens it and Chart.js draws one
line per acuity from the page's figures; a clinic administrator sees it too; a nurse who
is not a manager gets 404."""

import datetime

from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import Membership, Role
from routing.models import WorkItem
from tests.accounts.factories import ClinicFactory, StaffFactory
from tests.browser.pages import log_out, submit_login
from tests.routing.factories import routed_item

# Hours to first response per acuity, the same every week: the chart's medians.
ANSWERED_AFTER = {"emergent": 0.25, "urgent": 3.0, "routine": 20.0}


def answered_over_three_weeks(clinic, nurse) -> None:
    now = timezone.now()
    for weeks_ago in (1, 2, 3):
        received = now - datetime.timedelta(weeks=weeks_ago)
        for acuity, hours in ANSWERED_AFTER.items():
            item = routed_item(clinic, acuity=acuity, level="nurse")
            answered = received + datetime.timedelta(hours=hours)
            WorkItem.objects.filter(pk=item.pk).update(
                created_at=received,
                first_read_at=received + datetime.timedelta(hours=hours / 2),
                first_read_by=nurse,
                first_response_at=answered,
                first_response_by=nurse,
                first_response_role=Role.NURSE,
                closed_at=answered,
                status=WorkItem.Status.CLOSED,
            )


def chart_state(page) -> dict:
    """What Chart.js drew: its datasets, and whether the canvas has any painted pixel."""
    return page.evaluate(
        """() => {
            const canvas = document.querySelector("[data-operations-chart]");
            const chart = Chart.getChart(canvas);
            const pixels = canvas.getContext("2d")
                .getImageData(0, 0, canvas.width, canvas.height).data;
            let painted = 0;
            for (let i = 3; i < pixels.length; i += 4) { if (pixels[i] !== 0) painted++; }
            return {
                labels: chart.data.datasets.map((d) => d.label),
                data: chart.data.datasets.map((d) => d.data),
                weeks: chart.data.labels.length,
                painted: painted,
                width: canvas.width,
            };
        }"""
    )


def test_a_manager_sees_the_chart_and_a_nurse_gets_404(page):
    clinic = ClinicFactory(name="Primary Care - Downtown")
    manager = StaffFactory(username="rn.lead", clinic=clinic, role=Role.NURSE)
    Membership.objects.filter(user=manager).update(is_manager=True)
    nurse = StaffFactory(username="rn.shaw", clinic=clinic, role=Role.NURSE)
    StaffFactory(username="pc-admin", clinic=clinic, role=Role.ADMIN)
    answered_over_three_weeks(clinic, nurse)
    routed_item(clinic, acuity="urgent", level="nurse")  # waiting now: the backlog

    submit_login(page, "rn.lead")
    expect(page.locator("#queue-title")).to_be_visible()
    page.goto("/operations/")
    expect(page.locator("h1")).to_contain_text("Operations: Primary Care - Downtown")
    page.wait_for_function(
        "() => window.Chart && Chart.getChart(document.querySelector('[data-operations-chart]'))"
    )
    drawn = chart_state(page)
    assert drawn["labels"] == ["Emergent", "Urgent", "Routine"]
    assert drawn["weeks"] == 12
    # Each line: the known median in each of the three weeks with answered items.
    for line, hours in zip(drawn["data"], ANSWERED_AFTER.values(), strict=True):
        assert sorted(v for v in line if v is not None) == [hours] * 3
    assert drawn["width"] > 0
    assert drawn["painted"] > 1000  # lines, axes and legend, not a blank canvas
    expect(page.locator("#backlog-title + p")).to_contain_text("1 waiting for an answer")
    log_out(page)

    submit_login(page, "pc-admin")
    page.goto("/operations/")
    expect(page.locator("h1")).to_contain_text("Operations: Primary Care - Downtown")
    page.wait_for_function(
        "() => window.Chart && Chart.getChart(document.querySelector('[data-operations-chart]'))"
    )
    page.goto("/work/")
    log_out(page)

    submit_login(page, "rn.shaw")
    expect(page.locator("#queue-title")).to_be_visible()
    response = page.goto("/operations/")
    assert response.status == 404
    expect(page.locator("body")).not_to_contain_text("Primary Care - Downtown")
