"""The pipeline at the top of the layers: classify, then route. Thin: the work and its
idempotence live in the apps' services."""

import datetime
import logging

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from config.celery import DATABASE_RETRY
from inbox import selectors as inbox_selectors
from inbox import services as inbox_services
from inbox.models import Message
from pipeline.priority import message_triage_priority
from routing import services as routing_services
from triage import services as triage_services
from triage import shadow as triage_shadow
from triage.models import Classification

logger = logging.getLogger(__name__)
STUCK_BATCH = 500


@shared_task(**DATABASE_RETRY)
def classify_and_route(message_id: int) -> None:
    # Delivery is at least once: this can run twice for one message. Both steps re-check
    # the status under the message's row lock, so a second run changes nothing. One
    # transaction: the message is classified with the others waiting, in one model call,
    # and all of them are routed (routing_services.route_classified_many), as
    # classification loaded them and under the locks it took. Under load most tasks then
    # find their message routed already, which one read without a transaction tells.
    if not inbox_selectors.awaits_routing(message_id=message_id):
        return
    try:
        with transaction.atomic():
            classifications = triage_services.classify_with_waiting_in_transaction(
                message_id=message_id
            )
            routing_services.route_classified_many(classifications=classifications)
            _check_all_routed(classifications)
    except DATABASE_RETRY["autoretry_for"]:
        raise
    except Exception:
        # Nothing of it was kept. A waiting message that cannot be routed must not hold
        # back this one, nor (the oldest waiting, so in every batch) every message after
        # it: this message goes on alone, and the others wait for their own tasks.
        logger.exception(
            "routing message %s with the messages waiting failed; routing it alone", message_id
        )
        classify_and_route_alone(message_id)
        return
    _classify_in_shadow(classifications)


def _check_all_routed(classifications: list[Classification]) -> None:
    # The messages classified with this one were never written as classified (they are
    # routed in the same transaction): one left unrouted would be committed received,
    # with a classification. Rolled back instead, and this message goes on alone.
    unrouted = [c.message_id for c in classifications if c.message.status != Message.Status.ROUTED]
    if unrouted:
        raise RuntimeError(f"messages {unrouted} were classified but not routed")


def classify_and_route_alone(message_id: int) -> None:
    """classify_and_route routing only its own message (it still classifies the others
    waiting with it, in one model call)."""
    with transaction.atomic():
        classification = triage_services.classify_in_transaction(message_id=message_id)
        if classification is None:
            return
        routing_services.route_classified(
            message=classification.message, classification=classification
        )
    _classify_in_shadow([classification])


def _classify_in_shadow(classifications: list[Classification]) -> None:
    # After routing, so a candidate in shadow never delays or changes it; it logs and
    # ignores its own failures.
    for classification in classifications:
        triage_shadow.classify_in_shadow(
            message_id=classification.message_id, clinic=classification.message.clinic
        )


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
        # At the priority the message's red flags give it: a stuck emergent message
        # still goes ahead of the routine ones waiting (pipeline/priority.py).
        classify_and_route.apply_async(
            (message_id,), priority=message_triage_priority(message_id=message_id)
        )
    if taken:
        logger.warning("re-enqueued %s stuck messages", len(taken))
    return len(taken)


@shared_task(**DATABASE_RETRY)
def classify_and_route_many(message_ids: list[int]) -> None:
    """A burst's messages (the bulk intake: pipeline.receivers sends one task per chunk):
    classified in one model call and routed, all in one transaction. Should anything in
    it fail, nothing of it is kept and each message goes through classify_and_route_alone;
    one that fails there is logged and left received (or classified), and the others go
    on: the stuck-message sweep enqueues it again. A database error is the
    exception: it would fail the rest as well, so the whole chunk is retried (each
    message re-checks its status, so the ones already routed change nothing). Messages
    of the chunk that another worker holds, or that were classified already, also go on
    their own."""
    routed: list[Classification] = []
    try:
        # The fast path: the chunk classified in one model call and two statements, and
        # routed in the same transaction (conversations locked in one order).
        with transaction.atomic():
            classifications = triage_services.classify_many_in_transaction(message_ids=message_ids)
            routing_services.route_classified_many(classifications=classifications)
        routed = classifications
    except DATABASE_RETRY["autoretry_for"]:
        raise
    except Exception:
        # Nothing of the chunk was kept: each message goes on its own below, so one that
        # cannot be routed does not hold back the others.
        logger.exception("a chunk of %s messages failed; routing them one by one", len(message_ids))
    _classify_in_shadow(routed)
    done = {classification.message_id for classification in routed}
    for message_id in message_ids:
        if message_id in done:
            continue
        try:
            classify_and_route_alone(message_id)
        except DATABASE_RETRY["autoretry_for"]:
            raise
        except Exception:
            logger.exception("classify_and_route of message %s failed in a batch", message_id)
