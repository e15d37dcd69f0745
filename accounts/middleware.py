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
        if user is None or request.path.startswith("/api/"):
            return self.get_response(request)
        if user.is_authenticated:
            now = time.time()
            last = request.session.get(LAST_ACTIVITY)
            if last is not None and now - last > settings.SESSION_IDLE_TIMEOUT_SECONDS:
                logout(request)
                return self._signed_out(request)
            # A background refresh (queue counts polling) is not a person at the screen.
            if BACKGROUND_HEADER not in request.META:
                request.session[LAST_ACTIVITY] = now
        elif self._session_expired(request) and request.path not in {
            reverse("login"),
            reverse("admin:login"),
        }:
            return self._signed_out(request)
        return self.get_response(request)

    @staticmethod
    def _session_expired(request) -> bool:
        """The browser sent a session cookie whose stored session is gone. The session
        lasts SESSION_COOKIE_AGE (the idle window) from the last click, the cookie until
        the browser closes, so a page left open past the window lands here rather than
        above: it is the same sign-out. (Signing out deletes the cookie.)"""
        if not request.COOKIES.get(settings.SESSION_COOKIE_NAME):
            return False
        request.session.get(LAST_ACTIVITY)  # loads it; a missing or expired one has no key
        return request.session.session_key is None

    @staticmethod
    def _signed_out(request) -> HttpResponse:
        login = f"{reverse('login')}?idle=1"
        if request.headers.get("HX-Request"):
            response = HttpResponse(status=204)
            response["HX-Redirect"] = login  # htmx navigates the whole page
            return response
        return redirect(login)
