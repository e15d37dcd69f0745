"""Idle sign-out for staff screens left open on a shared clinic computer."""

import time

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

LAST_ACTIVITY = "last_activity"
BACKGROUND_HEADER = "HTTP_X_BACKGROUND_POLL"


class IdleTimeoutMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and not request.path.startswith("/api/"):
            now = time.time()
            last = request.session.get(LAST_ACTIVITY)
            if last is not None and now - last > settings.SESSION_IDLE_TIMEOUT_SECONDS:
                logout(request)
                login = f"{reverse('login')}?idle=1"
                if request.headers.get("HX-Request"):
                    response = HttpResponse(status=204)
                    response["HX-Redirect"] = login  # htmx navigates the whole page
                    return response
                return redirect(login)
            # A background refresh (queue counts polling) is not a person at the screen.
            if BACKGROUND_HEADER not in request.META:
                request.session[LAST_ACTIVITY] = now
        return self.get_response(request)
