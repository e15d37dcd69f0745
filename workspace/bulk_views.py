"""Bulk actions from the queue page (routing.bulk): the selected items claimed, closed or
reassigned one by one through the same services as on an item's page, and one summary of
what was done and what was refused, with the reason for each item. Thin: the service
acts, the selector names the patients (and writes them to the access log)."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

from config.input import parse_id
from inbox.models import PatientDataAccess
from routing import bulk, bulk_selectors
from workspace.views import MINE, _refusals_by_role_as_403, _refused, _workspace


def _back_to(value: str) -> str:
    back = reverse("work")
    if value == MINE or parse_id(value) is not None:
        back += "?" + urlencode({"queue": value})
    return back


@login_required
@require_POST
@_refusals_by_role_as_403
def bulk_action(request: HttpRequest) -> HttpResponse:
    """POST items (ids, repeated), action (claim, close, reassign), target and reason (a
    reassign), queue (the page to go back to). From the queue page's form with htmx: the
    summary alone, put above the rows; without script: a page with the summary."""
    membership, _ = _workspace(request)  # 403 for billing and administrators, with why
    back_to = _back_to(request.POST.get("queue", ""))
    decision = bulk.decide_bulk(role=membership.role)
    if not decision.allowed:
        return _refused(request, decision.reason)
    try:
        outcomes = bulk.act_on_items(
            actor=request.user,
            clinic=membership.clinic,
            action=request.POST.get("action", ""),
            item_ids=bulk.parse_item_ids(request.POST.getlist("items")),
            reason=request.POST.get("reason", ""),
            target=bulk.parse_target(request.POST.get("target", "")),
        )
    except bulk.BulkRequestRefused as refusal:
        context = {"error": refusal.detail, "back_to": back_to}
        # htmx swaps a 2xx answer only: the form's summary area shows the reason.
        return _render(request, context, status=200 if request.htmx else 400)
    lines = bulk_selectors.bulk_summary(
        user=request.user,
        clinic=membership.clinic,
        outcomes=outcomes,
        viewed_as=PatientDataAccess.What.QUEUE_LIST,
    )
    context = {
        "action": request.POST.get("action"),
        "done": [line for line in lines if line.done],
        "refused": [line for line in lines if not line.done],
        "total": len(lines),
        "back_to": back_to,
    }
    return _render(request, context)


def _render(request: HttpRequest, context: dict, *, status: int = 200) -> HttpResponse:
    if request.htmx:
        response = render(request, "workspace/_bulk_summary.html", context, status=status)
        # The page redraws its rows at once (static/js/bulk.js) and clears the selection.
        response["HX-Trigger-After-Swap"] = "bulk-done"
        return response
    return render(request, "workspace/bulk_done.html", context, status=status)
