"""Connects the inbox to the pipeline: a stored message is classified and routed."""

from django.dispatch import receiver

from inbox.signals import message_received
from pipeline.tasks import classify_and_route


@receiver(message_received, dispatch_uid="pipeline.classify_and_route")
def enqueue_classify_and_route(*, message_id: int, **kwargs) -> None:
    classify_and_route.delay(message_id)
