"""Search and filters of the staff screens: GET /work/search?q=...&acuity=...; the query
string is the whole state, so a search or a filtered queue can be bookmarked. Thin: the
selector (routing.search) checks the role and writes the rows to the access log."""

from zoneinfo import ZoneInfo

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts.selectors import current_membership
from inbox.models import PatientDataAccess
from routing import search, selectors
from workspace.views import _refusals_by_role_as_403


@login_required
@require_GET
@_refusals_by_role_as_403
def work_search(request: HttpRequest) -> HttpResponse:
    membership = current_membership(user=request.user, session=request.session)
    if membership is None:
        raise Http404("You are not staff of any clinic.")
    selectors.refuse_unless_works(role=membership.role)
    timezone.activate(ZoneInfo(membership.clinic.time_zone))
    filters = search.parse_filters(request.GET)
    now = timezone.now()
    rows = (
        search.search_work_items(
            user=request.user,
            clinic=membership.clinic,
            role=membership.role,
            filters=filters,
            now=now,
            viewed_as=PatientDataAccess.What.SEARCH_RESULTS,
        )
        if filters.any
        else []
    )
    context = {
        "membership": membership,
        "rows": rows,
        "now": now,
        "show_preview": search.may_read_message_text(role=membership.role),
        "limit": search.RESULTS_MAX,
        "filters": filters,
    }
    return render(request, "workspace/search.html", context)
