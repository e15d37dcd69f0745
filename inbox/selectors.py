"""Reads of the inbox: the clinic a portal posts for, and the outbox of replies."""

from collections.abc import Iterable

from django.db.models import QuerySet
from django.http import Http404

from accounts.models import Clinic, User
from accounts.selectors import clinics_for_user
from inbox.audit import record_patient_data_accesses
from inbox.models import OutgoingMessage


def access_clinic(*, user: User, clinic_slug: str) -> Clinic:
    """The clinic if the user is a member; otherwise 404, never confirming it exists."""
    clinic = clinics_for_user(user=user).filter(slug=clinic_slug).first()
    if clinic is None:
        raise Http404("clinic not found")
    return clinic


def undelivered_replies(*, clinic: Clinic) -> QuerySet[OutgoingMessage]:
    """The outbox: replies to the clinic's patients the portal has not yet confirmed,
    oldest first, so a portal that collects them in order never skips one."""
    return (
        OutgoingMessage.objects.filter(clinic=clinic, delivered_at__isnull=True)
        .select_related("conversation__patient", "in_reply_to", "author")
        .order_by("id")
    )


def access_reply(*, user: User, reply_id: int) -> OutgoingMessage:
    """A reply to a patient of one of the user's clinics; otherwise 404."""
    reply = (
        OutgoingMessage.objects.filter(pk=reply_id, clinic__in=clinics_for_user(user=user))
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
