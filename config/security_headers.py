"""Response headers that keep patients' data out of browser and proxy caches."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase


class NoStoreMiddleware:
    """`Cache-Control: no-store` on every answer that reaches it: pages, htmx partials,
    /api/ answers and error pages alike, since any of them may name a patient, and a
    clinic's shared computer (or a proxy between it and us) must not keep a copy that the
    back button or the next person could show. Static files never get here: WhiteNoise,
    above this in MIDDLEWARE, answers them itself with its own long caching.

    A view that chose its own Cache-Control (Django's `never_cache` on the login page)
    keeps it (and gets no Pragma from here). `Pragma: no-cache` is for HTTP/1.0 caches,
    which ignore Cache-Control."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if not response.has_header("Cache-Control"):
            response["Cache-Control"] = "no-store"
            response["Pragma"] = "no-cache"
        return response
