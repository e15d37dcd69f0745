"""Beat task of billing (the per-conversation recompute is
billing.services.recompute_evisit_task, beside the service that enqueues it)."""

from celery import shared_task

from billing import services
from config.celery import DATABASE_RETRY


@shared_task(**DATABASE_RETRY)
def recompute_open_windows() -> int:
    """Beat: candidates whose 7-day window has closed become ready for review."""
    return services.recompute_open_windows()
