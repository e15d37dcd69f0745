"""Billing screens: e-visit review, export, revenue. Billing role only (else 404). The
selectors that load patients' data write it to the access log themselves (told what the
screen shows); no view here calls the recorder."""

import datetime
import json
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from billing import cpt, exclusions, selectors, services
from billing.models import ClaimExport, EVisit, TimeEntry
from config.errors import DomainError
from config.input import parse_id
from inbox.models import PatientDataAccess


def _date(value: str | None) -> datetime.date | None:
    try:
        return datetime.date.fromisoformat(value) if value else None
    except ValueError:
        return None


@login_required
@require_GET
def evisit_list(request: HttpRequest) -> HttpResponse:
    clinics = selectors.require_billing(user=request.user)
    filters = {
        "status": request.GET.get("status", selectors.TO_REVIEW),
        "clinic": request.GET.get("clinic", ""),
        "code": request.GET.get("code", ""),
        "date_from": request.GET.get("from", ""),
        "date_to": request.GET.get("to", ""),
    }
    # The form offers only these values; anything else is a hand-made URL.
    if filters["status"] not in selectors.STATUS_FILTERS:
        return HttpResponseBadRequest("Unknown status filter.")
    if filters["code"] and filters["code"] not in cpt.ALL_CODES:
        return HttpResponseBadRequest("Unknown code filter.")
    wanted = {
        "status": filters["status"],
        "clinic_id": parse_id(filters["clinic"]),
        "code": filters["code"] or None,
        "date_from": _date(filters["date_from"]),
        "date_to": _date(filters["date_to"]),
    }
    shown = selectors.evisit_list(
        user=request.user, viewed_as=PatientDataAccess.What.EVISIT_LIST, **wanted
    )
    # Counts and sums of every e-visit the filters match: they name no patient.
    totals = selectors.evisit_totals(
        evisits=selectors.evisits_for_billing(user=request.user, **wanted)
    )
    context = {
        "items": shown,
        "totals": totals,
        "filters": filters,
        "clinics": clinics,
        "statuses": EVisit.Status.choices,
        "codes": cpt.ALL_CODES,
        "exports": selectors.recent_exports(clinics=clinics),
        "reason_text": cpt.REASON_TEXT,
    }
    return render(request, "billing/list.html", context)


@login_required
@require_GET
def evisit_detail(request: HttpRequest, evisit_id: int) -> HttpResponse:
    evisit = selectors.access_evisit(
        user=request.user, evisit_id=evisit_id, viewed_as=PatientDataAccess.What.EVISIT_RECORD
    )
    timezone.activate(ZoneInfo(evisit.clinic.time_zone))  # times in the clinic's zone
    entries = TimeEntry.objects.filter(conversation=evisit.conversation).select_related("user")
    context = {
        "evisit": evisit,
        "patient": evisit.conversation.patient,
        "entries": entries.order_by("started_at"),
        "visits": evisit.conversation.patient.visits.order_by("-on")[:10],
        "reasons": [
            (exclusions.exclusion_label(r), exclusions.exclusion_text(r)) for r in evisit.reasons
        ],
        "explanation": [exclusions.readable_explanation(line) for line in evisit.explanation],
    }
    return render(request, "billing/detail.html", context)


@login_required
@require_POST
def review(request: HttpRequest) -> HttpResponse:
    selectors.require_billing(user=request.user)
    ids = [i for i in map(parse_id, request.POST.getlist("evisit")) if i is not None]
    decision = request.POST.get("decision")
    reason = request.POST.get("reason", "")
    try:
        if decision == "approve":
            outcome = services.approve_with_reasons(actor=request.user, ids=ids, reason=reason)
            messages.success(request, f"Approved {outcome.done} of {len(ids)}.")
            for evisit, why in outcome.refused:
                messages.warning(request, f"{evisit} was not approved. {why}")
        elif decision == "reject":
            outcome = services.reject_with_reasons(actor=request.user, ids=ids, reason=reason)
            messages.success(request, f"Rejected {outcome.done} of {len(ids)}.")
            for evisit, why in outcome.refused:
                messages.warning(request, f"{evisit} was not rejected. {why}")
        else:
            messages.error(request, "Choose approve or reject.")
    except DomainError as error:
        messages.error(request, error.detail)
    return HttpResponseRedirect(_back_to(request, request.POST.get("next", "")))


def _back_to(request: HttpRequest, url: str) -> str:
    """The page a form came from (its `next`, a path: the forms send one), when it is one
    of ours; else the list. A link elsewhere would send a user who trusts this site to a
    look-alike."""
    if url.startswith("/") and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return reverse("billing")


def _download(export: ClaimExport) -> HttpResponse:
    is_csv = export.format == ClaimExport.Format.CSV
    response = HttpResponse(
        export.content, content_type="text/csv" if is_csv else "application/fhir+json"
    )
    extension = "csv" if is_csv else "json"
    response["Content-Disposition"] = f'attachment; filename="claims-{export.pk}.{extension}"'
    return response


@login_required
@require_POST
def export(request: HttpRequest) -> HttpResponse:
    selectors.require_billing(user=request.user)
    export_format = request.POST.get("format", "csv")
    # Claims without an NPI or a fee are listed before the file is made; the export goes
    # ahead once the user has seen exactly those (a row that became a problem since the
    # page was shown is listed again rather than sent unseen).
    seen = {parse_id(value) for value in request.POST.getlist("acknowledged")}
    problems = selectors.export_problems(user=request.user, viewed_as=None)
    if export_format in ClaimExport.Format.values and any(
        p.evisit.pk not in seen for p in problems
    ):
        problems = selectors.export_problems(
            user=request.user, viewed_as=PatientDataAccess.What.EVISIT_LIST
        )
        return render(
            request,
            "billing/export_confirm.html",
            {"problems": problems, "format": export_format},
        )
    try:
        result = services.export_approved(actor=request.user, export_format=export_format)
    except DomainError as error:
        messages.error(request, error.detail)
        return redirect("billing")
    if result is None:
        messages.info(request, "Nothing approved is waiting for export.")
        return redirect("billing")
    # The file just made is handed over with this response: logged as its download is.
    selectors.claims_file_shown(
        user=request.user, export=result, viewed_as=PatientDataAccess.What.CLAIMS_EXPORT
    )
    return _download(result)


@login_required
@require_GET
def export_download(request: HttpRequest, export_id: int) -> HttpResponse:
    result = selectors.access_export(
        user=request.user, export_id=export_id, viewed_as=PatientDataAccess.What.CLAIMS_EXPORT
    )
    return _download(result)


@login_required
@require_GET
def revenue(request: HttpRequest) -> HttpResponse:
    rows = selectors.revenue_report(user=request.user)
    chart = {
        "labels": [f"{r['clinic']} {r['month']}" for r in rows],
        "captured": [float(r["captured_amount"]) for r in rows],
        "missed": [float(r["missed_amount"]) for r in rows],
    }
    context = {"rows": rows, "chart": json.dumps(chart), "reason_text": cpt.REASON_TEXT}
    return render(request, "billing/revenue.html", context)
