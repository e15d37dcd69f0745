"""Per-token rate limit of the API: one runaway integration (a retry loop, a bulk job
pointed at the live API) must not take the service from the other clinics' portals.
Counted in the cache (Redis in production, shared by every web process), keyed on the
token, or on the person for a signed-in session. Over the limit: 429 with Retry-After, in
the API's one error shape (config.errors.api_exception_handler)."""

import logging

from django.conf import settings
from redis.exceptions import RedisError
from rest_framework.throttling import SimpleRateThrottle

from accounts.models import ApiToken

logger = logging.getLogger(__name__)


class TokenRateThrottle(SimpleRateThrottle):
    scope = "api"

    def get_rate(self) -> str:
        # Read when each request is checked, not at import: DRF's class-level rate table
        # is frozen when the module loads, and the setting is env- and test-settable.
        return settings.API_RATE_PER_TOKEN

    def get_cache_key(self, request, view) -> str | None:
        if isinstance(request.auth, ApiToken):
            # The digest, not the row id: unique across databases sharing one cache.
            ident = f"token:{request.auth.digest[:24]}"
        elif request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            return None  # refused before throttling anyway (IsAuthenticated)
        return self.cache_format % {"scope": self.scope, "ident": ident}

    def allow_request(self, request, view) -> bool:
        # Set per request (see get_rate); DRF sets it once in __init__.
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        try:
            return super().allow_request(request, view)
        except RedisError as exc:
            # Redis down: the portal's posts are still stored (and routed once it is
            # back); refusing every call for want of a counter would undo that.
            logger.warning("API rate limit not checked, cache unavailable: %s", exc)
            return True
