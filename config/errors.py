"""Domain errors and the one place that turns any error into a JSON API answer."""

from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler


class DomainError(Exception):
    http_status = status.HTTP_400_BAD_REQUEST
    code = "domain_error"

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
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
