"""Honest answers when something under a view fails: an unreachable database is a 503
with Retry-After (the request may work in a moment, and nothing was half-stored: every
write is one transaction), and nothing under /api/ is ever Django's HTML error page.

Exceptions raised in DRF views reach config.errors.api_exception_handler first; this
middleware sees the rest of what views raise (the screens, and anything DRF re-raises),
in DEBUG too. What other middleware raises goes to handler500 (config.errors.server_error).
"""

from collections.abc import Callable

from django.core.signals import got_request_exception
from django.http import HttpRequest, HttpResponse

from config import errors


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, errors.DATABASE_ERRORS):
            return errors.database_unavailable(request, exception)
        if errors.is_api_request(request):
            # A bug, not an outage: tell what Django would have told (error reporters, and
            # the test client, which re-raises it so a test sees the real traceback).
            got_request_exception.send(sender=None, request=request)
            return errors.api_server_error(request, exception)
        return None
