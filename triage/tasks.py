from celery import shared_task
from django.db import InterfaceError, OperationalError

from routing import services as routing_services
from triage import services as triage_services


@shared_task(
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    max_retries=5,
)
def classify_and_route(message_id: int) -> None:
    # Delivery is at least once: this can run twice for one message. Both services
    # re-check status under a row lock, so a second run changes nothing.
    triage_services.classify(message_id=message_id)
    routing_services.route(message_id=message_id)
