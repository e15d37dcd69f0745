"""Probes for load balancers and orchestrators: no login, no PHI, never cached."""

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

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
