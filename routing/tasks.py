"""Celery tasks: thin wrappers; the work and its idempotence live in services/sweeps."""

from celery import shared_task
from django.db import InterfaceError, OperationalError

from routing import notifications, services, sweeps

RETRY = {
    "acks_late": True,
    "autoretry_for": (OperationalError, InterfaceError),
    "retry_backoff": True,
    "max_retries": 5,
}


@shared_task(**RETRY)
def deliver_notification(notification_id: int) -> None:
    notifications.deliver(notification_id=notification_id)


@shared_task(**RETRY)
def requeue_stuck_messages() -> int:
    return sweeps.requeue_stuck_messages()


@shared_task(**RETRY)
def sweep_sla() -> int:
    return sweeps.sweep_sla()


@shared_task(**RETRY)
def apply_coverage() -> int:
    return services.apply_coverage()


@shared_task(**RETRY)
def retry_pending_notifications() -> int:
    return sweeps.retry_pending_notifications()


@shared_task(**RETRY)
def alert_undelivered_replies() -> int:
    return sweeps.alert_undelivered_replies()


@shared_task(**RETRY)
def replay_routing_rules(replay_id: int) -> None:
    services.run_rule_replay(replay_id=replay_id)
