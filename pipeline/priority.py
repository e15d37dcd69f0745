"""Which messages jump the triage queue: the broker priority a message's classify-and-route
task is sent with (issue 23, "emergent messages first under a burst").

Decided at enqueue time by the deterministic red-flag layer (triage.ml.redflags), the
only part of triage that is cheap enough to run in the web request and needs no model:
a few hundred microseconds of pure Python over subject and body. A message the red-flag
layer marks emergent goes ahead of every routine message waiting in the `triage` queue;
an urgent red flag goes ahead of the routine ones but behind the emergent ones. A message
that only the learned model classifies emergent (no red flag) cannot be known here and
waits its turn like any other: the red-flag phrases are the list of what must never wait.

The mechanism is kombu's Redis message priorities (config/settings.py, CELERY_TASK_ROUTES
and CELERY_BROKER_TRANSPORT_OPTIONS): one Redis list per priority step, and a worker's
BRPOP names the lists highest priority first, so an emergent task is the next one any
free worker process takes. With Redis, priority 0 is the highest.
"""

from django.conf import settings

from inbox.models import Message
from triage.ml.labels import Acuity
from triage.ml.redflags import find_red_flags, red_flag_acuity


def triage_priority(*, subject: str, body: str, on_chemotherapy: bool) -> int:
    """The broker priority for this message's classify-and-route task. No database."""
    hits = find_red_flags(subject=subject, body=body, on_chemotherapy=on_chemotherapy)
    acuity = red_flag_acuity(hits)
    if acuity == Acuity.EMERGENT:
        return settings.TRIAGE_PRIORITY_EMERGENT
    if acuity == Acuity.URGENT:
        return settings.TRIAGE_PRIORITY_URGENT
    return settings.TRIAGE_PRIORITY_ROUTINE


def message_triage_priority(*, message_id: int) -> int:
    """triage_priority of a stored message: one query (subject, body and the patient's
    chemotherapy flag). A message not found is enqueued as routine; its task finds out."""
    row = (
        Message.objects.filter(pk=message_id)
        .values_list("subject", "body", "conversation__patient__on_chemotherapy")
        .first()
    )
    if row is None:
        return settings.TRIAGE_PRIORITY_ROUTINE
    subject, body, on_chemotherapy = row
    return triage_priority(subject=subject, body=body, on_chemotherapy=bool(on_chemotherapy))


def message_triage_priorities(*, message_ids: list[int]) -> dict[int, int]:
    """triage_priority of many stored messages by id, in one query (a batch's announce:
    its emergent messages are sent on their own, ahead of the batch's chunks)."""
    rows = Message.objects.filter(pk__in=message_ids).values_list(
        "pk", "subject", "body", "conversation__patient__on_chemotherapy"
    )
    priorities = dict.fromkeys(message_ids, settings.TRIAGE_PRIORITY_ROUTINE)
    for pk, subject, body, on_chemotherapy in rows.iterator():
        priorities[pk] = triage_priority(
            subject=subject, body=body, on_chemotherapy=bool(on_chemotherapy)
        )
    return priorities
