"""Staff correcting the classifier's labels on a work item: "acuity was wrong" (with the
right acuity and a reason) and "not an e-visit". Each is a triage LabelCorrection,
proposed until a second person confirms it (triage.services.confirm_correction) or an
administrator accepts it; only then does it train a model.

What a correction does to the item, decided for safety:

- a higher acuity takes effect now: the item gets the acuity and its rank (it moves up
  the queue) and the earlier of its due time and the new acuity's SLA from the message's
  arrival; raised to emergent below nurse level, it moves to nurse triage (an emergent
  item stays with a nurse or physician) and the on-call clinician is alerted, as for a
  message classified emergent;
- a lower acuity changes nothing on the item: one person's judgement must not push a
  message down the queue unreviewed. It is recorded for training, and a clinician who
  may take the item can still reassign or answer it;
- "not an e-visit" changes nothing on the item either: it is a label for training.

Anyone who reads the item (the clinical roles of its clinic) may correct it, closed or
not: a label is about the message, not the state of the work.
"""

from django.db import transaction
from django.http import Http404

from accounts.models import User
from routing import clinic_settings, sla
from routing.events import record_event
from routing.exceptions import InvalidTarget
from routing.models import WorkEvent, WorkItem
from routing.services import alert_on_call, default_queue
from routing.work_items import _locked_item
from triage import services as triage_services
from triage.ml.labels import ACUITY_RANK, SERVICE_LEVEL_RANK, Acuity, ServiceLevel
from triage.models import Classification, LabelCorrection

# The API's and the form's words for the labels.
LABELS = {
    "acuity": LabelCorrection.Label.ACUITY,
    "evisit": LabelCorrection.Label.EVISIT_CANDIDATE,
    "evisit_candidate": LabelCorrection.Label.EVISIT_CANDIDATE,
}
_BOOL = {"true": True, "false": False}


def correct_label(
    *, actor: User, item_id: int, label: str, to: str, reason: str = ""
) -> tuple[LabelCorrection, bool]:
    """Record that the classifier's label of the item's message was wrong. Returns the
    correction and whether the item moved up (a raised acuity)."""
    label = LABELS.get((label or "").strip().lower(), "")
    to = (to or "").strip().lower()
    reason = (reason or "").strip()
    if not label:
        raise InvalidTarget('Correct "acuity" or "evisit".')
    with transaction.atomic():
        item = _locked_item(actor=actor, item_id=item_id)
        classification = Classification.objects.filter(message_id=item.message_id).first()
        if label == LabelCorrection.Label.ACUITY:
            if to not in Acuity.values:
                raise InvalidTarget("Choose the right acuity: emergent, urgent or routine.")
            if not reason:
                raise InvalidTarget("Say why the acuity was wrong.")
            from_value = classification.acuity if classification else item.acuity
        else:
            if to not in _BOOL:
                raise InvalidTarget('An e-visit correction is "true" or "false".')
            if classification is None or classification.unclassified:
                raise InvalidTarget("This message has no e-visit label to correct.")
            from_value = str(classification.evisit_candidate).lower()
        if to == from_value:
            raise InvalidTarget(f"The classifier already said {label.replace('_', ' ')} {to}.")
        pending = LabelCorrection.objects.filter(
            message_id=item.message_id, label=label, to_value=to
        ).exclude(review_status=LabelCorrection.ReviewStatus.REJECTED)
        if pending.exists():
            raise InvalidTarget("This correction is already recorded: confirm it instead.")
        correction = triage_services.record_label_correction(
            message=item.message,
            label=label,
            from_value=from_value,
            to_value=to,
            actor=actor,
            reason=reason,
        )
        raised = label == LabelCorrection.Label.ACUITY and _raise_acuity(
            item=item, acuity=to, actor=actor, reason=reason
        )
        return correction, raised


def _raise_acuity(*, item: WorkItem, acuity: str, actor: User, reason: str) -> bool:
    rank = ACUITY_RANK[Acuity(acuity)]
    if item.status == WorkItem.Status.CLOSED or rank >= item.acuity_rank:
        return False  # lower or equal: recorded for training only (module docstring)
    from_queue, from_user = item.queue, item.claimed_by
    item.acuity, item.acuity_rank = acuity, rank
    below_nurse = (
        SERVICE_LEVEL_RANK[ServiceLevel(item.service_level)]
        < (SERVICE_LEVEL_RANK[ServiceLevel.NURSE])
    )
    if acuity == Acuity.EMERGENT and below_nurse:
        item.service_level = ServiceLevel.NURSE
        item.queue = default_queue(clinic=item.clinic, role=ServiceLevel.NURSE)
        item.release()
    if item.status in (WorkItem.Status.OPEN, WorkItem.Status.CLAIMED):
        target = sla.pick_target(
            acuity=acuity,
            role=item.service_level,
            rules=clinic_settings.sla_rules(clinic=item.clinic),
        )
        due = sla.due_at(
            received_at=item.message.created_at,
            target=target,
            calendar=clinic_settings.business_calendar(clinic=item.clinic),
        )
        item.due_at = min(item.due_at, due)  # never later than it already was
    why = f"acuity raised to {acuity} by {actor.get_username()}: {reason}"
    item.routing_reason = why[:500]
    item.save()
    record_event(
        item,
        WorkEvent.Kind.ESCALATED,
        actor=actor,
        from_queue=from_queue,
        from_user=from_user,
        reason=why,
    )
    if acuity == Acuity.EMERGENT:
        alert_on_call(item=item, window=0)
    return True


def confirm_on_item(*, actor: User, item_id: int, correction_id: int) -> LabelCorrection:
    """Confirm, from a work item's page, a correction of that item's message."""
    with transaction.atomic():
        item = _locked_item(actor=actor, item_id=item_id)
        if not LabelCorrection.objects.filter(
            pk=correction_id, message__conversation_id=item.conversation_id
        ).exists():
            raise Http404("correction not found")
        return triage_services.confirm_correction(actor=actor, correction_id=correction_id)
