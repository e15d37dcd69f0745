"""Every request starts and ends in UTC: a view that shows a clinic's times activates the
clinic's zone (timezone.activate), and Django keeps the active zone per thread, so
without this the next request on the same thread (another clinic's, or the admin's)
would start in that zone."""

from django.utils import timezone


class ResetTimeZoneMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
