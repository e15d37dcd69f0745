"""Limits on what a request may carry, answered before any view reads it.

A fuzzing run found a 3 MB body answered with Django's HTML 400, a 12 MB body with a
connection reset, a NUL byte in a query parameter reaching PostgreSQL (DataError, 500)
and JSON nested 100,000 deep overflowing the parser's recursion (500). The portal is a
program: it needs a JSON answer it can log, and the staff screens a plain one.
"""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http import HttpRequest, HttpResponse, JsonResponse
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from config.input import has_nul
from config.paths import is_api_request

# An over-limit body this small is read and thrown away before answering: a server that
# closes the connection with the body unread makes the client's TCP stack report a reset
# instead of the 413. Bigger bodies are not read at all (the reset is cheaper than
# reading them; a reverse proxy's own body limit should refuse them first).
DRAIN_MAX_BYTES = 32 * 1024 * 1024
_DRAIN_CHUNK = 64 * 1024
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _refusal(request: HttpRequest, *, status: int, code: str, detail: str) -> HttpResponse:
    if is_api_request(request):
        return JsonResponse({"code": code, "detail": detail}, status=status)
    return HttpResponse(detail, status=status, content_type="text/plain; charset=utf-8")


def _too_large(request: HttpRequest) -> HttpResponse:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return _refusal(
        request,
        status=413,
        code="too_large",
        detail=f"The request body is larger than {limit} bytes.",
    )


def _has_nul_field(request: HttpRequest) -> bool:
    fields = [request.GET]
    # Form posts of the staff screens; the API reads JSON only (its CharFields refuse NUL).
    if not is_api_request(request) and request.content_type in _FORM_TYPES:
        fields.append(request.POST)
    return any(has_nul(name for name in form) or has_nul(form.values()) for form in fields)


def _drain(request: HttpRequest, length: int) -> None:
    if length > DRAIN_MAX_BYTES:
        return
    while request.read(_DRAIN_CHUNK):
        pass


class RequestLimitsMiddleware:
    """Refuses, before any view or other middleware reads the body: a body over
    DATA_UPLOAD_MAX_MEMORY_SIZE (413), a malformed Content-Length, and a NUL byte in a
    query parameter or form field (400). JSON for /api/ paths, plain text elsewhere."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        declared = request.META.get("CONTENT_LENGTH") or "0"
        if not declared.isascii() or not declared.isdigit():
            return _refusal(
                request, status=400, code="bad_request", detail="Content-Length is not a number."
            )
        length = int(declared)
        if length > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            _drain(request, length)
            return _too_large(request)
        try:
            nul = _has_nul_field(request)
        except TooManyFieldsSent:
            return _refusal(request, status=400, code="bad_request", detail="Too many parameters.")
        if nul:
            return _refusal(
                request,
                status=400,
                code="nul_character",
                detail="A parameter contains a NUL character (\\x00), which is never valid.",
            )
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        # A view that reads the body itself (not through the check above: a chunked
        # upload has no Content-Length) still answers 413, not an HTML 400.
        if isinstance(exception, RequestDataTooBig):
            return _too_large(request)
        return None


def _deeper_than(value: object, limit: int) -> bool:
    """True when lists and objects nest more than `limit` levels (an explicit stack: no
    recursion however deep the document)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


class DepthLimitedJSONParser(JSONParser):
    """DRF's JSON parser, refusing JSON nested deeper than JSON_MAX_DEPTH levels with a
    400. No payload of this API nests more than three; the standard library's parser
    recurses per level, so a deep document would otherwise be a RecursionError (500)."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.JSON_MAX_DEPTH
        detail = f"JSON nested deeper than {limit} levels is refused."
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError(detail) from exc
        if _deeper_than(data, limit):
            raise ParseError(detail)
        return data
