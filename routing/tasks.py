"""Celery beat tasks of routing: thin wrappers; the work and its idempotence live in the
sweeps and services. (A task that a service enqueues is defined beside that service:
notifications.deliver_notification, webhooks.deliver_webhook,
rule_trial.replay_routing_rules.)"""

from celery import shared_task
from django.utils import timezone

from config.celery import DATABASE_RETRY
from routing import coverage, operations_rollup, pending, sweeps, webhooks


@shared_task(**DATABASE_RETRY)
def sweep_sla() -> int:
    return sweeps.sweep_sla()


@shared_task(**DATABASE_RETRY)
def return_pended_items() -> int:
    return pending.return_due_items()


@shared_task(**DATABASE_RETRY)
def apply_coverage() -> int:
    return coverage.apply_coverage()


@shared_task(**DATABASE_RETRY)
def retry_pending_notifications() -> int:
    return sweeps.retry_pending_notifications()


@shared_task(**DATABASE_RETRY)
def retry_webhook_deliveries() -> int:
    return webhooks.retry_due_deliveries()


@shared_task(**DATABASE_RETRY)
def alert_undelivered_replies() -> int:
    return sweeps.alert_undelivered_replies()


@shared_task(**DATABASE_RETRY)
def alert_unrouted_messages() -> int:
    return sweeps.alert_unrouted_messages()


@shared_task(**DATABASE_RETRY)
def refresh_operations_snapshots() -> int:
    return operations_rollup.refresh_snapshots(now=timezone.now())
