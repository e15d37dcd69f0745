"""Domain errors and the one place that turns any error into an answer: JSON under /api/
(the portal is a program and must never get an HTML page), a plain page on the screens.

The handler views at the bottom are Django's handler400/403/404/500 (config/urls.py);
config.unavailable catches what views raise before Django's debug page would.
"""

import logging
import sys
import uuid

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from config.paths import API_PREFIX, is_api_request

logger = logging.getLogger(__name__)


# What psycopg raises (wrapped by Django) when PostgreSQL is stopped, restarting or
# unreachable: the request may work in a moment, so 503 with Retry-After, not a 500.
# Deadlocks and statement timeouts are OperationalErrors too; a retry is right for them.
DATABASE_ERRORS = (OperationalError, InterfaceError)


class DomainError(Exception):
    http_status = status.HTTP_400_BAD_REQUEST
    code = "domain_error"

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, DATABASE_ERRORS):
        _log_database_unavailable(exc)
        body, retry_after = _database_unavailable_answer()
        return Response(body, status=503, headers={"Retry-After": retry_after})
    if isinstance(exc, DomainError):
        return Response({"code": exc.code, "detail": exc.detail}, status=exc.http_status)
    if isinstance(exc, Http404):
        return Response(
            {"code": "not_found", "detail": "Not found."}, status=status.HTTP_404_NOT_FOUND
        )
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ParseError):
        response.data = {"code": "invalid_json", "detail": str(exc.detail)}
    elif isinstance(exc, exceptions.ValidationError):
        response.data = {
            "code": "invalid",
            "detail": "The request has missing or invalid fields.",
            "errors": exc.detail,
        }
    else:
        response.data = {"code": exc.default_code, "detail": str(getattr(exc, "detail", exc))}
    return response


# --- answers outside DRF's views ---------------------------------------------------------


def _database_unavailable_answer() -> tuple[dict, str]:
    retry_after = settings.DATABASE_UNAVAILABLE_RETRY_AFTER_SECONDS
    body = {
        "code": "database_unavailable",
        "detail": "The service cannot reach its database just now; try again in "
        f"{retry_after} seconds. A message posted again with the same external_id is "
        "never stored twice.",
    }
    return body, str(retry_after)


def _log_database_unavailable(exc: BaseException) -> None:
    # The class and first line only: a traceback per request would flood the log for the
    # whole outage, and the database's own error text carries no PHI.
    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    logger.error("database unavailable, answered 503: %s: %s", type(exc).__name__, first_line)


def database_unavailable(request: HttpRequest, exc: BaseException) -> HttpResponse:
    """503 with Retry-After: JSON under /api/, the plain "try again" page elsewhere."""
    _log_database_unavailable(exc)
    body, retry_after = _database_unavailable_answer()
    if is_api_request(request):
        response = JsonResponse(body, status=503)
    else:
        # No request context: its processors (the clinic switcher) read the database.
        page = render_to_string("503.html", {"retry_after": retry_after})
        response = HttpResponse(page, status=503)
    response["Retry-After"] = retry_after
    return response


def api_server_error(request: HttpRequest, exc: BaseException | None) -> JsonResponse:
    """JSON 500 with a reference the portal's team can quote; the traceback is in our log
    under the same reference, never in the answer."""
    reference = uuid.uuid4().hex[:12]
    logger.error(
        "unhandled error under %s, reference %s",
        API_PREFIX,
        reference,
        exc_info=(type(exc), exc, exc.__traceback__) if exc is not None else None,
    )
    return JsonResponse(
        {
            "code": "server_error",
            "detail": f"Something went wrong on our side. Quote reference {reference} to support.",
            "reference": reference,
        },
        status=500,
    )


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler400: SuspiciousOperation and unreadable requests."""
    if is_api_request(request):
        return JsonResponse(
            {"code": "bad_request", "detail": "The request could not be read."}, status=400
        )
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler403 (DRF answers its own views' 403s; this is for Django's, e.g. CSRF)."""
    if is_api_request(request):
        return JsonResponse(
            {"code": "permission_denied", "detail": "You may not do this."}, status=403
        )
    return defaults.permission_denied(request, exception)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler404: an unknown URL under /api/ is JSON too."""
    if is_api_request(request):
        return JsonResponse({"code": "not_found", "detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500, with DEBUG off: also what middleware raised (the session or user read
    from a stopped database), which never reaches config.unavailable."""
    exc = sys.exc_info()[1]
    if isinstance(exc, DATABASE_ERRORS):
        return database_unavailable(request, exc)
    if is_api_request(request):
        return api_server_error(request, exc)
    return defaults.server_error(request)
