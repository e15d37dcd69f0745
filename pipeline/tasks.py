"""The pipeline at the top of the layers: classify, then route. Thin: the work and its
idempotence live in the apps' services."""

import datetime
import logging

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from config.celery import DATABASE_RETRY
from inbox import services as inbox_services
from routing import services as routing_services
from triage import services as triage_services
from triage import shadow as triage_shadow

logger = logging.getLogger(__name__)
STUCK_BATCH = 500


@shared_task(**DATABASE_RETRY)
def classify_and_route(message_id: int) -> None:
    # Delivery is at least once: this can run twice for one message. Both services
    # re-check status under a row lock, so a second run changes nothing.
    triage_services.classify(message_id=message_id)
    routing_services.route(message_id=message_id)
    # After routing, so a candidate in shadow never delays or changes it; it logs and
    # ignores its own failures.
    triage_shadow.classify_in_shadow(message_id=message_id)


@shared_task(**DATABASE_RETRY)
def requeue_stuck_messages() -> int:
    return requeue_stuck(now=timezone.now())


def requeue_stuck(*, now: datetime.datetime) -> int:
    """Enqueue again every message still received or classified after the threshold, at
    most once per window each. This sweep, not the broker, is what guarantees nothing is
    lost."""
    taken = inbox_services.take_stuck_messages(
        now=now,
        older_than=datetime.timedelta(seconds=settings.STUCK_MESSAGE_AFTER_SECONDS),
        window=datetime.timedelta(seconds=settings.STUCK_REQUEUE_WINDOW_SECONDS),
        limit=STUCK_BATCH,
    )
    for message_id in taken:
        classify_and_route.delay(message_id)
    if taken:
        logger.warning("re-enqueued %s stuck messages", len(taken))
    return len(taken)
