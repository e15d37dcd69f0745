"""Staff screens of issue 24: the patient context of a work item (the patient's earlier
conversations) and the pending list. Thin: the
selectors write the access log, the services (routing.pending) decide and refuse."""

from zoneinfo import ZoneInfo

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from routing import patient_context as context_selectors
from routing import pending_selectors, selectors
from workspace.views import _refusals_by_role_as_403, _workspace


@login_required
@require_GET
@_refusals_by_role_as_403
def patient_context(request: HttpRequest, item_id: int) -> HttpResponse:
    """The patient's other conversations in this clinic (last 12 months): a partial for
    htmx (the work item page loads it on demand), a page of its own otherwise."""
    item = selectors.access_work_item(user=request.user, item_id=item_id, viewed_as=None)
    timezone.activate(ZoneInfo(item.clinic.time_zone))
    found = context_selectors.patient_context(user=request.user, item=item, now=timezone.now())
    context = {"item": item, "patient_context": found}
    template = (
        "workspace/_patient_context.html" if request.htmx else "workspace/patient_context.html"
    )
    return render(request, template, context)


@login_required
@require_GET
@_refusals_by_role_as_403
def pending_list(request: HttpRequest) -> HttpResponse:
    """The pended items of the pools this person sees in the clinic being worked in
    (?mine=1: the ones they pended), soonest back first."""
    membership, queues = _workspace(request)
    mine = request.GET.get("mine") == "1"
    rows = pending_selectors.pended_items(
        user=request.user, clinic=membership.clinic, queues=queues, mine=mine
    )
    context = {"rows": rows, "mine": mine, "clinic": membership.clinic}
    return render(request, "workspace/pending.html", context)
