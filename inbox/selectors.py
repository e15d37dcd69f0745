"""Reads of the inbox: the clinic a portal posts for, and the outbox of replies."""

import datetime
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Count, Max, Min, QuerySet
from django.http import Http404

from accounts.models import Clinic, Integration, User
from inbox.audit import record_patient_data_accesses
from inbox.models import Message, OutgoingMessage


def integration_clinic(*, integration: Integration, clinic_slug: str) -> Clinic:
    """The integration's own clinic when `clinic_slug` names it; otherwise 404, never
    confirming that another clinic exists."""
    if integration.clinic.slug != clinic_slug:
        raise Http404("clinic not found")
    return integration.clinic


def undelivered_replies(*, clinic: Clinic) -> QuerySet[OutgoingMessage]:
    """The outbox: replies to the clinic's patients the portal has not yet confirmed,
    oldest first, so a portal that collects them in order never skips one."""
    return (
        OutgoingMessage.objects.filter(clinic=clinic, delivered_at__isnull=True)
        .select_related("conversation__patient", "in_reply_to", "author")
        .order_by("id")
    )


def integration_reply(*, integration: Integration, reply_id: int) -> OutgoingMessage:
    """A reply to a patient of the integration's clinic; otherwise 404."""
    reply = (
        OutgoingMessage.objects.filter(pk=reply_id, clinic_id=integration.clinic_id)
        .select_related("conversation__patient", "in_reply_to", "author", "clinic")
        .first()
    )
    if reply is None:
        raise Http404("reply not found")
    return reply


def replies_shown(*, user: User, replies: Iterable[OutgoingMessage], viewed_as: str) -> None:
    """Writes replies handed to someone to the access log: one row per patient, pointing
    at their first reply there. The outbox API calls it with the page DRF's paginator cut
    (only what the response holds) and with a reply whose delivery it confirms (the
    answer repeats it). The portal's integration user is still someone the data was
    handed to. Replies need conversation__patient loaded (undelivered_replies and
    access_reply do)."""
    record_patient_data_accesses(
        user=user,
        what=viewed_as,
        shown=[(reply.conversation.patient, reply.pk) for reply in replies],
    )


@dataclass(frozen=True)
class UnroutedMessages:
    """Counts and times only: what an alert or a health check may show (no PHI)."""

    count: int
    oldest_stored_at: datetime.datetime | None
    newest_id: int | None


def awaits_routing(*, message_id: int) -> bool:
    """Whether the message is still to be classified or routed: one read, no lock. A
    message once routed (or imported as history) stays so, so a False is final; a True
    must be checked again under the message's lock."""
    return Message.objects.filter(pk=message_id, status__in=Message.AWAITING_ROUTING).exists()


def unrouted_messages(*, stored_before: datetime.datetime | None = None) -> UnroutedMessages:
    """Messages stored (before `stored_before`) and not routed yet, over all clinics."""
    return UnroutedMessages(**_unrouted(stored_before).aggregate(**_SUMMARY))


def unrouted_messages_by_clinic(*, stored_before: datetime.datetime) -> dict[int, UnroutedMessages]:
    rows = _unrouted(stored_before).values("clinic_id").annotate(**_SUMMARY).order_by("clinic_id")
    return {row.pop("clinic_id"): UnroutedMessages(**row) for row in rows}


_SUMMARY = {"count": Count("pk"), "oldest_stored_at": Min("created_at"), "newest_id": Max("pk")}


def _unrouted(stored_before: datetime.datetime | None) -> QuerySet[Message]:
    # Served by the partial index message_unrouted_by_age. Imported history is not owed a
    # routing, so it never counts as unrouted.
    messages = Message.objects.filter(status__in=Message.AWAITING_ROUTING)
    if stored_before is not None:
        messages = messages.filter(created_at__lt=stored_before)
    return messages
