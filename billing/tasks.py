from celery import shared_task
from django.db import InterfaceError, OperationalError

from billing import services


@shared_task(
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    max_retries=5,
)
def recompute_evisit_task(conversation_id: int) -> None:
    services.recompute_evisit(conversation_id=conversation_id)


@shared_task(acks_late=True)
def recompute_open_windows() -> int:
    """Beat: candidates whose 7-day window has closed become ready for review."""
    return services.recompute_open_windows()
