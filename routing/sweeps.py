"""The beat sweeps. Each is idempotent and safe to run in several processes at once:
they are what guarantees that nothing is lost and that deadlines are acted on, not the
broker (docs/architecture.md, lessons)."""

import datetime
import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from accounts.models import Clinic
from inbox import selectors as inbox_selectors
from inbox.models import OutgoingMessage
from routing import notifications, pending_return, services, work_items
from routing.events import record_event
from routing.models import Notification, SlaBreach, WorkEvent, WorkItem
from triage.ml.labels import Acuity

logger = logging.getLogger(__name__)
BATCH = 500


def sweep_sla(*, now: datetime.datetime | None = None) -> int:
    """Act on every unanswered item past its due time, once per breach (and, for an
    emergent item still unclaimed, once per repeat window)."""
    now = now or timezone.now()
    # A pended item whose clinic pauses the clock while pending is not late (routing.pending).
    overdue = WorkItem.objects.filter(
        status__in=services.UNANSWERED, due_at__lte=now, pend_pauses_sla=False
    ).values_list("pk", flat=True)
    acted = 0
    for item_id in list(overdue[:BATCH]):
        acted += _act_on_breach(item_id=item_id, now=now)
    return acted


def breach_window(*, acuity: str, due_at: datetime.datetime, now: datetime.datetime) -> int:
    if acuity != Acuity.EMERGENT:
        return 1
    repeat = datetime.timedelta(minutes=settings.EMERGENT_ALERT_REPEAT_MINUTES)
    return int((now - due_at) // repeat) + 1


def _act_on_breach(*, item_id: int, now: datetime.datetime) -> int:
    with transaction.atomic():
        item = (
            WorkItem.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("queue", "clinic")
            .filter(pk=item_id, status__in=services.UNANSWERED, due_at__lte=now)
            .filter(pend_pauses_sla=False)
            .first()
        )
        if item is None:
            return 0
        if item.acuity == Acuity.EMERGENT and item.status == WorkItem.Status.CLAIMED:
            return 0  # emergent alerts repeat until someone has it
        window = breach_window(acuity=item.acuity, due_at=item.due_at, now=now)
        if item.acuity == Acuity.EMERGENT:
            action = "on-call alert repeated"
        elif item.acuity == Acuity.URGENT:
            action = "escalated to the next role"
        else:
            action = "flagged overdue"
        try:
            with transaction.atomic():
                SlaBreach.objects.create(
                    work_item=item,
                    due_at=item.due_at,
                    window=window,
                    acuity=item.acuity,
                    action=action,
                )
        except IntegrityError:
            return 0  # this breach was already acted on
        if item.breached_at is None:
            item.breached_at = now
            item.save(update_fields=["breached_at", "updated_at"])
        late = now - item.due_at
        record_event(
            item,
            WorkEvent.Kind.SLA_BREACHED,
            to_user=None,
            reason=f"{int(late.total_seconds() // 60)} min past due: {action}",
        )
        if item.pended_until is not None:
            # The clock ran while pending (the clinic's policy): late work is not hidden.
            pending_return.return_locked(item=item, now=now, why="past its due time while pending")
        if item.acuity == Acuity.EMERGENT:
            services.alert_on_call(item=item, window=window)
        elif item.acuity == Acuity.URGENT:
            work_items.escalate_locked_by_sla(item=item)
        return 1


def retry_pending_notifications(*, now: datetime.datetime | None = None) -> int:
    """Send again what a lost task or a failing channel left pending."""
    now = now or timezone.now()
    cutoff = now - datetime.timedelta(seconds=settings.NOTIFICATION_RETRY_AFTER_SECONDS)
    pending = Notification.objects.filter(
        status=Notification.Status.PENDING, created_at__lt=cutoff
    ).values_list("pk", flat=True)
    sent = 0
    for notification_id in list(pending[:BATCH]):
        result = notifications.deliver(notification_id=notification_id)
        sent += bool(result and result.status == Notification.Status.SENT)
    return sent


def alert_undelivered_replies(*, now: datetime.datetime | None = None) -> int:
    """Once per reply, tell the clinic's administrators (and its alert webhook) about a
    reply the portal has not confirmed in time: the patient may not have it."""
    now = now or timezone.now()
    cutoff = now - datetime.timedelta(minutes=settings.UNDELIVERED_REPLY_ALERT_MINUTES)
    already_alerted = Notification.objects.filter(kind=Notification.Kind.REPLY_UNDELIVERED).values(
        "window"
    )
    late = list(
        OutgoingMessage.objects.filter(delivered_at__isnull=True, created_at__lte=cutoff)
        .exclude(pk__in=already_alerted)
        .select_related("clinic")
        .order_by("id")[:BATCH]
    )
    # One query for the batch: each conversation's latest work item.
    latest_item = {}
    for item in (
        WorkItem.objects.filter(conversation_id__in={r.conversation_id for r in late})
        .select_related("clinic")
        .order_by("conversation_id", "-id")
    ):
        latest_item.setdefault(item.conversation_id, item)
    recipients_of_clinic = {}
    alerted = 0
    for reply in late:
        item = latest_item.get(reply.conversation_id)
        if item is None:
            logger.error("reply %s is undelivered and has no work item to alert on", reply.pk)
            continue
        if reply.clinic_id not in recipients_of_clinic:
            recipients_of_clinic[reply.clinic_id] = notifications.administrator_recipients(
                clinic=reply.clinic
            )
        minutes = int((now - reply.created_at).total_seconds() // 60)
        with transaction.atomic():
            created = notifications.notify_once(
                item=item,
                kind=Notification.Kind.REPLY_UNDELIVERED,
                window=reply.pk,
                recipients=recipients_of_clinic[reply.clinic_id],
                subject=f"Reply not delivered to the portal for {minutes} min",
                body=(
                    f"The {reply.get_kind_display().lower()} of {reply.created_at:%Y-%m-%d %H:%M}"
                    f" UTC (work item {item.pk}) has not been confirmed by the patient portal"
                    f" after {minutes} minutes. Check the portal connection; if the patient"
                    " may be waiting, contact them another way."
                ),
            )
        alerted += bool(created)
    return alerted


def alert_unrouted_messages(*, now: datetime.datetime | None = None) -> int:
    """Tell a clinic's administrators (and its alert webhook) that messages have waited
    longer than UNROUTED_ALERT_MINUTES without reaching a queue: workers are down or the
    broker is stuck, and patients may be waiting. Each message is counted in one alert at
    most (the alert's window is the newest message it covers), and a clinic gets at most
    one alert per threshold period, so an outage is one alert, not one per sweep. The text
    holds counts and times only: a message's content is PHI and an alert is e-mail."""
    now = now or timezone.now()
    threshold = datetime.timedelta(minutes=settings.UNROUTED_ALERT_MINUTES)
    overdue = inbox_selectors.unrouted_messages_by_clinic(stored_before=now - threshold)
    last_alerts = {
        row["clinic_id"]: row
        for row in Notification.objects.filter(
            kind=Notification.Kind.MESSAGES_UNROUTED, clinic_id__in=overdue
        )
        .values("clinic_id")
        .annotate(window=Max("window"), at=Max("created_at"))
    }
    alerted = 0
    for clinic in Clinic.objects.filter(pk__in=overdue).order_by("pk"):
        unrouted = overdue[clinic.pk]
        last = last_alerts.get(clinic.pk)
        if last and (unrouted.newest_id <= last["window"] or last["at"] > now - threshold):
            continue  # every overdue message was in an alert, or one went out recently
        minutes = int((now - unrouted.oldest_stored_at).total_seconds() // 60)
        with transaction.atomic():
            created = notifications.notify_clinic_once(
                clinic=clinic,
                kind=Notification.Kind.MESSAGES_UNROUTED,
                window=unrouted.newest_id,
                recipients=notifications.administrator_recipients(clinic=clinic),
                subject=f"{unrouted.count} patient messages not routed for {minutes} min",
                body=(
                    f"{unrouted.count} patient messages stored more than"
                    f" {settings.UNROUTED_ALERT_MINUTES} minutes ago have not reached a work"
                    f" queue; the oldest has waited {minutes} minutes. The triage workers or"
                    " the broker may be down: check the system health page (/health/). Until"
                    " then, these messages are not in any queue."
                ),
            )
        alerted += bool(created)
    return alerted
