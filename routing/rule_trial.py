"""Administrators test a rule edit before saving it: where a typed message would go (the
active model classifies it, nothing is stored), and a replay over the clinic's recent
routed messages, on the slow queue, that counts what the edit would move."""

import datetime
import logging
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from celery import shared_task
from django.db import InterfaceError, OperationalError, transaction
from django.utils import timezone

from accounts.models import Clinic, User
from config.celery import DATABASE_RETRY
from routing import clinic_settings, replay, rules, selectors, sla
from routing.facts import facts_from_labels, message_facts
from routing.models import RuleReplay
from triage.classification import labels_for
from triage.ml.classifier import TriageInput

logger = logging.getLogger(__name__)


# --- a typed message -----------------------------------------------------------------------


@dataclass(frozen=True)
class SampleMessage:
    """A message an administrator types to see where the rules would send it."""

    body: str
    subject: str = ""
    category: str = ""
    language: str = "en"
    on_chemotherapy: bool = False
    received_at: datetime.datetime | None = None


@dataclass(frozen=True)
class RoutingPreview:
    classification: dict  # acuity, service level, e-visit, confidences, red flags
    before: replay.Outcome
    after: replay.Outcome
    before_reasons: tuple[str, ...]
    after_reasons: tuple[str, ...]
    changes: tuple[str, ...]
    rule_decides: bool
    sla: str
    due_at: datetime.datetime
    time_zone: str
    queue_names: dict[int, str]
    staff_names: dict[int, str] = field(default_factory=dict)

    def _person(self, user_id: int | None) -> str:
        return self.staff_names.get(user_id, f"user {user_id}") if user_id else "—"

    @property
    def before_assignee(self) -> str:
        return self._person(self.before.assignee_id)

    @property
    def after_assignee(self) -> str:
        return self._person(self.after.assignee_id)

    @property
    def before_notified(self) -> str:
        return ", ".join(map(self._person, self.before.notify_user_ids)) or "—"

    @property
    def after_notified(self) -> str:
        return ", ".join(map(self._person, self.after.notify_user_ids)) or "—"

    @property
    def before_queue(self) -> str:
        return self.queue_names.get(self.before.queue_id, f"{self.before.role} (default)")

    @property
    def after_queue(self) -> str:
        return self.queue_names.get(self.after.queue_id, f"{self.after.role} (default)")

    @property
    def due_at_local(self) -> datetime.datetime:
        return self.due_at.astimezone(ZoneInfo(self.time_zone))


def _sample_classification(sample: SampleMessage) -> dict:
    """The classifier's labels for a typed message, by the worker's own code path; when
    no model can run, what the worker does then: nurse triage, urgent, needs review."""
    item = TriageInput(
        subject=sample.subject, body=sample.body, on_chemotherapy=sample.on_chemotherapy
    )
    return labels_for(item)


def routing_preview(
    *, clinic: Clinic, edited: rules.Rule, sample: SampleMessage, now: datetime.datetime
) -> RoutingPreview:
    """Where the clinic's rules send a typed message now, and where they would with
    `edited` in place. Nothing is stored."""
    labels = _sample_classification(sample)
    received_at = sample.received_at or now
    facts = facts_from_labels(
        subject=sample.subject,
        body=sample.body,
        category=sample.category,
        language=sample.language,
        on_chemotherapy=sample.on_chemotherapy,
        received_at=received_at,
        time_zone=clinic.time_zone,
        labels=labels,
    )
    current = clinic_settings.routing_rules(clinic=clinic)
    seen = replay.compare(
        facts,
        current=current,
        after_rules=replay.proposed_rules(current, edited),
        queue_roles=clinic_settings.queue_roles(clinic=clinic),
        default_queues=clinic_settings.default_queue_ids(clinic=clinic),
    )
    after = seen.after
    target = sla.pick_target(
        acuity=after.acuity, role=after.role, rules=clinic_settings.sla_rules(clinic=clinic)
    )
    return RoutingPreview(
        classification=labels,
        before=seen.before_outcome,
        after=seen.after_outcome,
        before_reasons=seen.before.reasons,
        after_reasons=after.reasons,
        changes=seen.changes,
        rule_decides=replay.decided_by(after, edited),
        sla=target.describe(),
        due_at=sla.due_at(
            received_at=received_at,
            target=target,
            calendar=clinic_settings.business_calendar(clinic=clinic),
        ),
        time_zone=clinic.time_zone,
        queue_names=clinic_settings.queue_names(clinic=clinic),
        staff_names=_staff_names(clinic, seen.before_outcome, seen.after_outcome),
    )


def _staff_names(clinic: Clinic, *outcomes: replay.Outcome) -> dict[int, str]:
    ids = {i for o in outcomes for i in (o.assignee_id, *o.notify_user_ids) if i}
    people = User.objects.filter(pk__in=ids, memberships__clinic=clinic)
    return {user.pk: user.get_full_name() or user.username for user in people}


# --- replaying a rule edit over past messages -------------------------------------------

REPLAY_CHUNK = 1000


def request_rule_replay(
    *, actor: User, clinic: Clinic, edited: rules.Rule, days: int
) -> RuleReplay:
    """Ask a worker (slow queue) what `edited` would change over the clinic's messages
    of the last `days` days. `edited.id` is the saved rule it replaces, None for a new
    rule; the edit is validated by the caller (RoutingRule.clean)."""
    now = timezone.now()
    replay_request = RuleReplay.objects.create(
        clinic=clinic,
        requested_by=actor,
        rule_id=edited.id,
        proposed_rule={
            "name": edited.name,
            "order": edited.order,
            "enabled": edited.enabled,
            "conditions": dict(edited.conditions),
            "action": dict(edited.action),
        },
        days=days,
        since=now - datetime.timedelta(days=days),
    )
    transaction.on_commit(_after_commit_enqueue(replay_request.pk), robust=True)
    return replay_request


def _after_commit_enqueue(replay_id: int):
    def enqueue_rule_replay() -> None:
        replay_routing_rules.delay(replay_id)

    return enqueue_rule_replay


@shared_task(**DATABASE_RETRY)
def replay_routing_rules(replay_id: int) -> None:
    # Defined beside the service it wraps: request_rule_replay enqueues it, and a tasks
    # module importing this one could not be imported back without a cycle.
    run_rule_replay(replay_id=replay_id)


def run_rule_replay(*, replay_id: int) -> RuleReplay | None:
    """Compute a requested replay. Safe to run twice: a finished one is left alone, and
    the work only reads, so a run cut short by a dead worker is simply done again."""
    with transaction.atomic():
        request = (
            RuleReplay.objects.select_for_update(of=("self",))
            .select_related("clinic")
            .filter(pk=replay_id)
            .first()
        )
        if request is None or request.is_finished:
            return request
        messages = selectors.routed_messages_since(clinic=request.clinic, since=request.since)
        request.status = RuleReplay.Status.RUNNING
        request.started_at = timezone.now()
        request.total = messages.count()
        request.processed = 0
        request.save(update_fields=["status", "started_at", "total", "processed"])
    try:
        report = _replay_report(request, messages)
    except (OperationalError, InterfaceError):
        raise  # the database went away: the task retries
    except Exception:
        # No message text in the error: the report page is seen by administrators.
        logger.exception("rule replay %s failed", request.pk)
        request.status = RuleReplay.Status.FAILED
        request.error = "The replay failed; the error is in the worker's log."
        request.finished_at = timezone.now()
        request.save(update_fields=["status", "error", "finished_at"])
        return request
    request.report = report
    request.status = RuleReplay.Status.DONE
    request.finished_at = timezone.now()
    request.save(update_fields=["report", "status", "processed", "finished_at"])
    return request


def _replay_report(request: RuleReplay, messages) -> dict:
    clinic = request.clinic
    # proposed_rule holds exactly the Rule fields but the id (request_rule_replay).
    edited = rules.Rule(id=request.rule_id, **request.proposed_rule)
    current = clinic_settings.routing_rules(clinic=clinic)
    roles = clinic_settings.queue_roles(clinic=clinic)
    defaults = clinic_settings.default_queue_ids(clinic=clinic)
    report = replay.ReplayReport()
    after_pk = 0
    while True:
        chunk = list(messages.filter(pk__gt=after_pk)[:REPLAY_CHUNK])
        if not chunk:
            break
        after_pk = chunk[-1].pk
        items = selectors.latest_item_ids(conversation_ids={m.conversation_id for m in chunk})
        replay.replay(
            (
                replay.PastMessage(
                    message_id=message.pk,
                    work_item_id=items.get(message.conversation_id),
                    facts=message_facts(
                        message=message,
                        classification=message.classification,
                        time_zone=clinic.time_zone,
                    ),
                )
                for message in chunk
            ),
            current=current,
            edited=edited,
            queue_roles=roles,
            default_queues=defaults,
            report=report,
        )
        request.processed = report.messages
        RuleReplay.objects.filter(pk=request.pk).update(processed=report.messages)
    names = clinic_settings.queue_names(clinic=clinic)
    return replay_report_as_json(report, queue_names=names)


CHANGE_NAMES = {
    "queue": "queue",
    "acuity": "acuity",
    "assignee": "assigned person",
    "notify": "notified staff",
    "auto_reply": "automatic reply",
}


def replay_report_as_json(report: replay.ReplayReport, *, queue_names: dict[int, str]) -> dict:
    def name(queue_id):
        return queue_names.get(queue_id, f"queue {queue_id}")

    return {
        "messages": report.messages,
        "moved": report.moved,
        "matched_before": report.matched_before,
        "matched_after": report.matched_after,
        "by_change": {CHANGE_NAMES[k]: n for k, n in report.by_change.most_common()},
        "queue_moves": [
            {"from": name(before), "to": name(after), "messages": count}
            for (before, after), count in report.queue_moves.most_common()
        ],
        "acuity_moves": [
            {"from": before, "to": after, "messages": count}
            for (before, after), count in report.acuity_moves.most_common()
        ],
        "examples": [
            {
                "message_id": move.message_id,
                "work_item_id": move.work_item_id,
                "changes": [CHANGE_NAMES[k] for k in move.changes],
                "from_queue": name(move.before.queue_id),
                "to_queue": name(move.after.queue_id),
                "from_acuity": move.before.acuity,
                "to_acuity": move.after.acuity,
                "why": move.why,
            }
            for move in report.examples
        ],
        "example_limit": replay.EXAMPLE_LIMIT,
    }
