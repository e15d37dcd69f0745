"""Connects the inbox to the pipeline: a stored message is classified and routed."""

from django.conf import settings
from django.dispatch import receiver

from inbox.signals import message_received, messages_received
from pipeline.priority import (
    message_triage_priorities,
    message_triage_priority,
    triage_priority,
)
from pipeline.tasks import classify_and_route, classify_and_route_many


@receiver(message_received, dispatch_uid="pipeline.classify_and_route")
def enqueue_classify_and_route(*, message_id: int, **kwargs) -> None:
    # A message with an emergent red flag is sent ahead of every routine one waiting in
    # the triage queue (pipeline/priority.py). The text comes with the signal when the
    # sender has it at hand; otherwise one query by id reads it.
    if "body" in kwargs:
        priority = triage_priority(
            subject=kwargs.get("subject", ""),
            body=kwargs["body"],
            on_chemotherapy=bool(kwargs.get("on_chemotherapy")),
        )
    else:
        priority = message_triage_priority(message_id=message_id)
    classify_and_route.apply_async((message_id,), priority=priority)


# Messages per classify_and_route_many task: a burst of 500 is 10 tasks, not 500, and a
# worker still hands a free process the next chunk well within a second or two.
ROUTING_CHUNK = 50


# A chunk of messages with an emergent or urgent red flag: small, so that several worker
# processes take them at once and the last of a chunk waits little for the first.
ACUTE_CHUNK = 5


@receiver(messages_received, dispatch_uid="pipeline.classify_and_route_many")
def enqueue_classify_and_route_many(*, message_ids: list[int], **kwargs) -> None:
    """A batch (the bulk intake) in chunks, one classify_and_route_many task each, by the
    priority of their red flags: the emergent ones first and in small chunks, then the
    urgent ones, then the routine ones in chunks of 50, so an emergent message never
    waits behind routine ones. One query reads the batch's text for the red flags. Every
    message of a batch goes through its chunk: with a task per message, most tasks would
    find their message routed already by another's batch, a broker round trip each for
    nothing."""
    priority = message_triage_priorities(message_ids=message_ids)
    by_priority: dict[int, list[int]] = {}
    for message_id in message_ids:
        # Not found (cannot happen after commit): routine; its task finds out.
        at = priority.get(message_id, settings.TRIAGE_PRIORITY_ROUTINE)
        by_priority.setdefault(at, []).append(message_id)
    for at in sorted(by_priority):
        ids = by_priority[at]
        size = ROUTING_CHUNK if at == settings.TRIAGE_PRIORITY_ROUTINE else ACUTE_CHUNK
        for start in range(0, len(ids), size):
            classify_and_route_many.apply_async((ids[start : start + size],), priority=at)
