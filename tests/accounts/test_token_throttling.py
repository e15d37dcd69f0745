"""The API's rate limit is per token (accounts.throttling), counted in the suite's real
Redis cache: over it, 429 with Retry-After in the API's one error shape; another token,
even of the same integration, is not slowed; with the cache unreachable, calls go through."""

import pytest
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from rest_framework.test import APIClient

from accounts.services import issue_api_token
from tests.accounts.factories import IntegrationFactory

pytestmark = pytest.mark.django_db

OUTBOX = "/api/v1/outgoing-messages"


def bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def test_the_suite_counts_in_redis_as_production_does():
    # Else the tests below would only prove an in-process counter works.
    assert isinstance(caches["default"], RedisCache)


def test_a_token_over_its_rate_gets_429_with_retry_after_and_others_are_not_slowed(settings):
    settings.API_RATE_PER_TOKEN = "3/min"
    portal = IntegrationFactory()
    _, busy = issue_api_token(user=portal.account, created_by=None)
    _, other = issue_api_token(user=portal.account, created_by=None)
    query = {"clinic": portal.clinic.slug}

    answers = [bearer(busy).get(OUTBOX, query).status_code for _ in range(4)]
    refused = bearer(busy).get(OUTBOX, query)

    assert answers == [200, 200, 200, 429]
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    body = refused.json()
    assert body["code"] == "throttled"
    assert "seconds" in body["detail"]
    assert bearer(other).get(OUTBOX, query).status_code == 200


def test_the_rate_is_read_from_settings_on_each_request(settings):
    portal = IntegrationFactory()
    _, token = issue_api_token(user=portal.account, created_by=None)
    query = {"clinic": portal.clinic.slug}

    settings.API_RATE_PER_TOKEN = "1/min"
    assert [bearer(token).get(OUTBOX, query).status_code for _ in range(2)] == [200, 429]
    settings.API_RATE_PER_TOKEN = "600/min"
    assert bearer(token).get(OUTBOX, query).status_code == 200


def test_with_the_cache_unreachable_calls_are_let_through(settings):
    # A port nothing listens on: the same refused connection as a stopped Redis.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    settings.API_RATE_PER_TOKEN = "1/min"
    portal = IntegrationFactory()
    _, token = issue_api_token(user=portal.account, created_by=None)

    answers = [
        bearer(token).get(OUTBOX, {"clinic": portal.clinic.slug}).status_code for _ in range(3)
    ]

    assert answers == [200, 200, 200]
