"""Probes for load balancers and orchestrators (no login, no PHI, never cached), and the
same checks as a page for clinic administrators."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from accounts.models import Clinic, Role
from accounts.selectors import clinics_for_user
from pipeline import health


@require_GET
@never_cache
def live(request: HttpRequest) -> JsonResponse:
    # No database or broker: a process that answers is alive. Restarting it for an
    # outage elsewhere would not help and would drop requests in flight.
    return JsonResponse({"status": "ok"})


@require_GET
@never_cache
def ready(request: HttpRequest) -> JsonResponse:
    readiness = health.readiness()
    return JsonResponse(readiness.as_json(), status=200 if readiness.ok else 503)


@require_GET
@login_required
def health_page(request: HttpRequest) -> HttpResponse:
    """The readiness checks and each administered clinic's unrouted messages (counts and
    ages): where an administrator alerted about unrouted messages looks first."""
    user = request.user
    clinics = (
        Clinic.objects.all() if user.is_superuser else clinics_for_user(user=user, role=Role.ADMIN)
    )
    if not user.is_superuser and not clinics.exists():
        return render(
            request,
            "pipeline/refused.html",
            {"reason": "The system health page is for clinic administrators."},
            status=403,
        )
    readiness = health.readiness()
    return render(
        request,
        "pipeline/health.html",
        {
            "readiness": readiness,
            "backlogs": health.clinic_backlogs(clinics=clinics),
            "alert_after_minutes": readiness.as_json()["unrouted"]["alert_after_seconds"] // 60,
        },
        status=200 if readiness.ok else 503,
    )
