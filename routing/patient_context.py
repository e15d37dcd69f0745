"""Patient context on a work item: the patient's other conversations in this clinic over
the last 12 months (subject, date, acuity, who answered), newest first. Minimum necessary:
only what the app stores about its own conversations; no allergies, problems or
medicines (the EHR holds those, not us). Reading it writes the access log."""

import datetime
from dataclasses import dataclass

from accounts.models import User
from inbox.audit import record_patient_data_access
from inbox.models import PatientDataAccess
from routing.models import WorkItem
from routing.selectors import work_clinics

CONTEXT_PERIOD = datetime.timedelta(days=365)
# The most shown: enough to see a pattern, never the whole chart.
CONTEXT_LIMIT = 20


@dataclass(frozen=True)
class EarlierConversation:
    item_id: int
    subject: str
    received_at: datetime.datetime
    acuity: str
    acuity_label: str
    status_label: str
    answered_by: str  # "" when nobody answered
    answered_role: str
    may_open: bool


@dataclass(frozen=True)
class PatientContext:
    conversations: list[EarlierConversation]
    more: bool  # more than CONTEXT_LIMIT in the period


def patient_context(*, user: User, item: WorkItem, now: datetime.datetime) -> PatientContext:
    """`item`'s patient's other conversations in `item`'s clinic received in the last 12
    months, one row each (its latest work item), newest first. The caller has fetched
    `item` through access_work_item (so the user reads this clinic's messages); each row
    links to its item only if the user may open it (the same check). Written to the access
    log as the patient context of `item`."""
    patient = item.conversation.patient
    items = (
        WorkItem.objects.filter(
            clinic_id=item.clinic_id,
            conversation__patient_id=patient.pk,
            created_at__gte=now - CONTEXT_PERIOD,
        )
        .exclude(conversation_id=item.conversation_id)
        .select_related("message", "conversation", "first_response_by")
        .order_by("-created_at", "-id")
    )
    may_open = work_clinics(user=user).filter(pk=item.clinic_id).exists()
    rows: dict[int, EarlierConversation] = {}
    # Several items of one conversation (reopened ones): the newest speaks for it.
    for earlier in items[: CONTEXT_LIMIT * 3]:
        if earlier.conversation_id in rows:
            continue
        rows[earlier.conversation_id] = EarlierConversation(
            item_id=earlier.pk,
            subject=earlier.conversation.subject or earlier.message.subject or "(no subject)",
            received_at=earlier.created_at,
            acuity=earlier.acuity,
            acuity_label=earlier.get_acuity_display(),
            status_label=earlier.get_status_display(),
            answered_by=(
                earlier.first_response_by.get_username() if earlier.first_response_by else ""
            ),
            answered_role=earlier.get_first_response_role_display()
            if earlier.first_response_role
            else "",
            may_open=may_open,
        )
    record_patient_data_access(
        user=user,
        patient=patient,
        what=PatientDataAccess.What.PATIENT_CONTEXT,
        object_id=item.pk,
    )
    conversations = list(rows.values())
    return PatientContext(
        conversations=conversations[:CONTEXT_LIMIT], more=len(conversations) > CONTEXT_LIMIT
    )
